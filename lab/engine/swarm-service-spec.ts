/**
 * What a Swarm service of the lab looks like: the spec `SwarmLabDocker` hands to `createService` for one
 * lab node, its labels, and the mounts that keep a peer's directory. Pure: no Engine call here.
 */
import type Docker from 'dockerode';

import { IMAGE_UID } from '../constants';
import { LABEL_PEER, LABEL_ROLE, LABEL_RUN, type CreateContainerInit } from './lab-docker';

/** Carried by every service, task container, network and volume the Swarm engine creates. */
export const LABEL_ENGINE = 'swarmlab.engine';
export const ENGINE_SWARM = 'swarm';

/** Grace period before a stopped task is killed (Swarm's default is 10 s). */
const STOP_GRACE_PERIOD_MS = 2_000;
const NS_PER_MS = 1_000_000;

export interface ServiceSpecInit {
  /** The manager the lab talks to: the service is pinned to it. */
  nodeId: string;
  /** A peer's directory, kept in a volume across restarts. */
  peerDataDir: string;
}

/** The service of one lab node: one replica (none when it starts later), never restarted by Swarm. */
export function serviceSpec(init: CreateContainerInit, spec: ServiceSpecInit): Docker.CreateServiceOptions {
  const labels = {
    [LABEL_RUN]: init.run,
    [LABEL_ROLE]: init.role,
    [LABEL_PEER]: init.shortName,
    [LABEL_ENGINE]: ENGINE_SWARM,
  };
  return {
    Name: init.name,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: init.image,
        Hostname: init.shortName,
        Env: Object.entries(init.env ?? {}).map(([key, value]) => `${key}=${value}`),
        ...(init.cmd === undefined ? {} : { Args: init.cmd }),
        Labels: labels,
        StopGracePeriod: STOP_GRACE_PERIOD_MS * NS_PER_MS,
        // Swarm shuts an unhealthy task down, which would add faults of its own to a scenario's (a paused
        // source cannot run its check); the lab probes readiness itself, over the peer's control channel.
        HealthCheck: { Test: ['NONE'] },
        Mounts: mountsOf(init, labels, spec.peerDataDir),
      },
      RestartPolicy: { Condition: 'none' },
      // Pinned to this manager: the lab drives a node by exec, which only the task's own daemon can do.
      Placement: { Constraints: [`node.id == ${spec.nodeId}`] },
      Networks: [{ Target: init.network.id, Aliases: [init.shortName, ...(init.aliases ?? [])] }],
    },
    Mode: { Replicated: { Replicas: (init.start ?? true) ? 1 : 0 } },
    EndpointSpec: { Mode: 'dnsrr' },
  };
}

/**
 * A peer's directory in its own volume, so that it survives restarts as a container's filesystem does;
 * a tmpfs where the scenario asks for a small disk. Swarm's own tmpfs mounts take no owner and, on
 * Engine 20.10, drop the mode, which leaves them root's and unwritable for the images' user: so a
 * "tmpfs" here is a local volume of type tmpfs, mounted with the images' uid and gid.
 */
function mountsOf(
  init: CreateContainerInit,
  labels: Record<string, string>,
  peerDataDir: string,
): Docker.MountSettings[] {
  const volumeOptions = (options: Record<string, string>): Docker.MountSettings['VolumeOptions'] => ({
    // NoCopy false: a new volume starts as a copy of the image's directory, owned by the image's user.
    NoCopy: false,
    Labels: labels,
    DriverConfig: { Name: 'local', Options: options },
  });
  const tmpfs: Docker.MountSettings[] = (init.tmpfs ?? []).map((mount, index) => ({
    Type: 'volume',
    Source: mount.target === peerDataDir ? volumeName(init.name) : `${volumeName(init.name)}-${index}`,
    Target: mount.target,
    VolumeOptions: volumeOptions({
      type: 'tmpfs',
      device: 'tmpfs',
      o: `size=${mount.sizeBytes},uid=${IMAGE_UID},gid=${IMAGE_UID},mode=0755`,
    }),
  }));
  // A bind reads the file on the node the task runs on: the manager's own path on a one-node swarm.
  const files: Docker.MountSettings[] = (init.readOnlyFiles ?? []).map((file) => ({
    Type: 'bind',
    Source: file.source,
    Target: file.target,
    ReadOnly: true,
  }));
  tmpfs.push(...files);
  if (init.role !== 'peer' || tmpfs.some((mount) => mount.Target === peerDataDir)) return tmpfs;
  const volume: Docker.MountSettings = {
    Type: 'volume',
    Source: volumeName(init.name),
    Target: peerDataDir,
    VolumeOptions: volumeOptions({}),
  };
  return [...tmpfs, volume];
}

/** The volume that keeps a peer service's directory. */
export function volumeName(serviceName: string): string {
  return `${serviceName}-data`;
}
