/**
 * Whether this Docker daemon takes part in a swarm, as `docker info` reports it. `--engine swarm` needs
 * a manager; the lab never turns Swarm mode on or off by itself (that is a change to the whole daemon).
 */
import type Docker from 'dockerode';

import { DockerError, SwarmInactiveError } from '../errors';

export interface SwarmNodeInfo {
  /** `inactive`, `pending`, `active`, `error` or `locked`. */
  state: string;
  /** This node's id in the swarm ('' when inactive). */
  nodeId: string;
  /** True on a manager (the only kind of node that may create services). */
  isManager: boolean;
}

export async function swarmNodeInfo(docker: Docker): Promise<SwarmNodeInfo> {
  let info: { Swarm?: { LocalNodeState?: string; NodeID?: string; ControlAvailable?: boolean } };
  try {
    info = (await docker.info()) as typeof info;
  } catch (err) {
    throw new DockerError('info', err);
  }
  return {
    state: info.Swarm?.LocalNodeState ?? 'inactive',
    nodeId: info.Swarm?.NodeID ?? '',
    isManager: info.Swarm?.ControlAvailable === true,
  };
}

/** Resolves with this manager's node id; throws `SwarmInactiveError` unless the daemon is an active manager. */
export async function requireSwarmManager(docker: Docker): Promise<string> {
  const node = await swarmNodeInfo(docker);
  if (node.state !== 'active' || !node.isManager) {
    throw new SwarmInactiveError(node.state === 'active' ? 'active, but a worker' : node.state);
  }
  return node.nodeId;
}
