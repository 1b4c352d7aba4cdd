/**
 * `LabDocker` on Docker Swarm mode (`npm run lab -- ... --engine swarm`), through dockerode's service API.
 *
 * DEV DOCS
 * - One overlay network per run (attachable, so a plain container can join it too) and **one service per
 *   lab node**, named as the bridge engine names its containers (`<run>-tracker`, `<run>-peer-N`), with
 *   one replica, restart condition `none` and DNS round robin. One service per node rather than one
 *   `peer` service with N replicas, because a scenario addresses nodes by name and acts on one of them
 *   (kill peer-2, pause peer-1, start the late joiner): with a service per node each of those is a
 *   service-level fact that Swarm keeps, instead of a task slot that Swarm may renumber.
 * - A `LabContainer` here stands for a service: its `id` is the service id, and every container-level
 *   operation (exec, kill, stop, pause, network disconnect, ...) goes to the container of the service's
 *   current task. Exec, kill and pause need the daemon of the task's node, so every service is pinned to
 *   the manager the lab talks to (a placement constraint on its node id); a task found on another node
 *   all the same is refused with `UnsupportedError`. Spreading over hosts is the stack's job
 *   (compose.yaml, docs/swarm.md).
 * - Swarm must not undo the lab's faults, hence restart condition `none`: a killed or stopped task stays
 *   dead until a `start`, which scales the service back to 1 or forces an update (a new task, a new
 *   container). A peer's directory lives in a volume `<service>-data`, so that a restarted peer finds
 *   its files and partial downloads again, as a restarted container does.
 * - `removeContainer` removes the service and waits until its task containers are gone: an overlay
 *   network cannot be removed while any lingers. `removeNetwork` then removes the network and the run's
 *   volumes.
 * - The images' HEALTHCHECK is switched off for lab services: Swarm shuts unhealthy tasks down, a fault
 *   the bridge engine never injects. The controller's readiness probe (`status` on the peer's control
 *   channel, `swarmlab ping`) stands in for it. Swarm publishes a task's DNS name (`tracker`, `peer-3`) once the task runs; until
 *   then `inspect` reports the task's own state (`preparing`, `starting`), not `running`.
 * - The virtual-IP endpoint mode is not used: it needs IPVS in the kernel, which not every host has;
 *   peers reach each other by the task addresses the tracker hands out anyway.
 */
import { buffer } from 'node:stream/consumers';

import type Docker from 'dockerode';

import { createLogger } from '../../src/shared/logger';
import { sleep } from '../abort';
import { DATA_DIR } from '../constants';
import { DockerodeLabDocker, demuxBuffer, labelFilters, roleOf, short } from './dockerode-lab-docker';
import { DockerError, LabTimeoutError, UnsupportedError, statusCodeOf } from '../errors';
import {
  LABEL_PEER,
  LABEL_ROLE,
  LABEL_RUN,
  type ContainerLogs,
  type CreateContainerInit,
  type CreateNetworkInit,
  type ExecInit,
  type ExecResult,
  type ExecStream,
  type LabContainer,
  type LabDocker,
  type LabNetwork,
  type OpenExecInit,
} from './lab-docker';
import {
  currentTask,
  isTerminalTask,
  labState,
  taskAddress,
  taskNetworkName,
  type SwarmService,
  type SwarmTask,
} from './swarm-objects';
import { ENGINE_SWARM, LABEL_ENGINE, serviceSpec } from './swarm-service-spec';
import { requireSwarmManager } from './swarm-mode';

const log = createLogger('swarm-lab-docker');

/** Docker's own label on a task's container. */
const LABEL_SWARM_SERVICE_ID = 'com.docker.swarm.service.id';

/** How long `removeContainer` waits for a removed service's containers to go. */
const REMOVE_TIMEOUT_MS = 90_000;
/** How long `start` waits for Swarm to create the new task. */
const START_TIMEOUT_MS = 30_000;
/** How long `removeNetwork` retries while the overlay still has endpoints. */
const NETWORK_REMOVE_TIMEOUT_MS = 30_000;
const POLL_MS = 300;

export interface SwarmLabDockerComponents {
  docker: Docker;
}

export interface SwarmLabDockerInit {
  /** A peer's directory, kept in a volume across restarts (default `/data`). */
  peerDataDir?: string;
  /** How long removing a service waits for its containers to go, in ms. */
  removeTimeoutMs?: number;
}

export class SwarmLabDocker implements LabDocker {
  private readonly docker: Docker;
  /** Container-level calls (exec, kill, logs of one container, images) are the bridge engine's. */
  private readonly containers: DockerodeLabDocker;
  private readonly peerDataDir: string;
  private readonly removeTimeoutMs: number;
  private localNodeId: Promise<string> | undefined;

  constructor(components: SwarmLabDockerComponents, init: SwarmLabDockerInit = {}) {
    this.docker = components.docker;
    this.containers = new DockerodeLabDocker({ docker: components.docker });
    this.peerDataDir = init.peerDataDir ?? DATA_DIR;
    this.removeTimeoutMs = init.removeTimeoutMs ?? REMOVE_TIMEOUT_MS;
  }

  /** This manager's node id; throws `SwarmInactiveError` when the daemon is not a Swarm manager. */
  async nodeId(): Promise<string> {
    this.localNodeId ??= requireSwarmManager(this.docker).catch((err: unknown) => {
      this.localNodeId = undefined;
      throw err;
    });
    return this.localNodeId;
  }

  async createNetwork(init: CreateNetworkInit): Promise<LabNetwork> {
    await this.nodeId();
    log.info('Creating overlay network...', { network: init.name });
    try {
      const network = await this.docker.createNetwork({
        Name: init.name,
        Driver: 'overlay',
        Attachable: true,
        CheckDuplicate: true,
        Labels: { [LABEL_RUN]: init.run, [LABEL_ENGINE]: ENGINE_SWARM },
      });
      log.info('Created overlay network', { network: init.name, networkId: network.id });
      return { id: network.id, name: init.name };
    } catch (err) {
      throw new DockerError(`create overlay network ${init.name}`, err);
    }
  }

  async startTracker(init: Omit<CreateContainerInit, 'role'>): Promise<LabContainer> {
    return this.createService({ ...init, role: 'tracker' });
  }

  async startPeer(init: Omit<CreateContainerInit, 'role'>): Promise<LabContainer> {
    return this.createService({ ...init, role: 'peer' });
  }

  private async createService(init: CreateContainerInit): Promise<LabContainer> {
    const nodeId = await this.nodeId();
    log.info(`Creating ${init.role} service...`, { service: init.name, image: init.image });
    let service: Docker.Service;
    try {
      service = await this.docker.createService(serviceSpec(init, { nodeId, peerDataDir: this.peerDataDir }));
    } catch (err) {
      throw new DockerError(`create service ${init.name}`, err);
    }
    log.info(`Created ${init.role} service`, { service: init.name, serviceId: service.id });
    return this.inspect(service.id);
  }

  /** Scales the service back to one task, or replaces its ended task, and waits until the new task exists. */
  async start(id: string): Promise<void> {
    const service = await this.service(id);
    const before = currentTask(await this.tasksOf([service.ID]));
    const replicas = service.Spec.Mode?.Replicated?.Replicas ?? 1;
    // Swarm learns of a killed or stopped container a moment later: until then its task still looks alive,
    // so the container's own state decides whether the task has ended.
    const containerState = (await this.localContainer(before))?.State.Status;
    const alive =
      before !== undefined && !isTerminalTask(before) && containerState !== 'exited' && containerState !== 'dead';
    if (replicas >= 1 && alive) return;
    log.info('Starting service...', { service: service.Spec.Name });
    const taskTemplate = service.Spec.TaskTemplate ?? {};
    const spec = {
      ...service.Spec,
      Mode: { Replicated: { Replicas: 1 } },
      // With one replica already wanted, only a forced update makes Swarm replace an ended task.
      TaskTemplate: { ...taskTemplate, ForceUpdate: (taskTemplate.ForceUpdate ?? 0) + (replicas >= 1 ? 1 : 0) },
    };
    try {
      await this.docker.getService(service.ID).update({ version: service.Version.Index, ...spec });
    } catch (err) {
      throw new DockerError(`start service ${service.Spec.Name}`, err);
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const task = currentTask(await this.tasksOf([service.ID]));
      if (task !== undefined && task.ID !== before?.ID && task.DesiredState === 'running') break;
      if (Date.now() > deadline) {
        throw new LabTimeoutError(`Swarm made no new task for ${service.Spec.Name} in ${START_TIMEOUT_MS} ms`);
      }
      await sleep(POLL_MS);
    }
    log.info('Started service', { service: service.Spec.Name });
  }

  async inspect(id: string): Promise<LabContainer> {
    const service = await this.service(id);
    return this.toLabContainer(service, await this.tasksOf([service.ID]));
  }

  async exec(id: string, cmd: string[], init: ExecInit = {}): Promise<ExecResult> {
    return this.containers.exec(await this.taskContainer(id, `exec ${cmd.join(' ')}`), cmd, init);
  }

  async openExec(id: string, cmd: string[], init: OpenExecInit): Promise<ExecStream> {
    return this.containers.openExec(await this.taskContainer(id, `exec ${cmd[0] ?? ''}`), cmd, init);
  }

  /** Stops the current task's container; Swarm then counts the task as ended and, by policy, leaves it. */
  async stop(id: string, timeoutS?: number): Promise<void> {
    const containerId = await this.taskContainer(id, 'stop', { ended: 'skip' });
    if (containerId !== undefined) await this.containers.stop(containerId, timeoutS);
  }

  async kill(id: string, signal?: string): Promise<void> {
    const containerId = await this.taskContainer(id, 'kill', { ended: 'skip' });
    if (containerId !== undefined) await this.containers.kill(containerId, signal);
  }

  async pause(id: string): Promise<void> {
    await this.containers.pause(await this.taskContainer(id, 'pause'));
  }

  async unpause(id: string): Promise<void> {
    await this.containers.unpause(await this.taskContainer(id, 'unpause'));
  }

  async disconnectNetwork(networkId: string, id: string): Promise<void> {
    await this.containers.disconnectNetwork(networkId, await this.taskContainer(id, 'network disconnect'));
  }

  async connectNetwork(networkId: string, id: string, aliases?: string[]): Promise<void> {
    await this.containers.connectNetwork(networkId, await this.taskContainer(id, 'network connect'), aliases);
  }

  /** The service's logs: every task's, so a restarted node's earlier lines are kept, as a container's are. */
  async logs(id: string, init: { tail?: number } = {}): Promise<ContainerLogs> {
    try {
      const raw: unknown = await this.docker.getService(id).logs({
        stdout: true,
        stderr: true,
        follow: false,
        ...(init.tail === undefined ? {} : { tail: init.tail }),
      });
      return demuxBuffer(Buffer.isBuffer(raw) ? raw : await buffer(raw as NodeJS.ReadableStream));
    } catch (err) {
      throw new DockerError(`service logs ${short(id)}`, err);
    }
  }

  /** Removes the service and waits until its task containers are gone; a missing service counts as success. */
  async removeContainer(id: string): Promise<void> {
    log.info('Removing service...', { serviceId: short(id) });
    let name: string | undefined;
    let labels: Record<string, string> = {};
    try {
      const service = (await this.docker.getService(id).inspect()) as SwarmService;
      name = service.Spec.Name;
      labels = service.Spec.Labels ?? {};
      await this.docker.getService(id).remove();
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw new DockerError(`remove service ${short(id)}`, err);
    }
    const deadline = Date.now() + this.removeTimeoutMs;
    while ((await this.containersOfService(id)).length > 0) {
      if (Date.now() > deadline) {
        throw new LabTimeoutError(`the containers of service ${name ?? short(id)} outlived ${this.removeTimeoutMs} ms`);
      }
      await sleep(POLL_MS);
    }
    const run = labels[LABEL_RUN];
    const peer = labels[LABEL_PEER];
    if (run !== undefined && peer !== undefined) {
      const volumes = await this.volumes({ [LABEL_RUN]: run, [LABEL_PEER]: peer, [LABEL_ENGINE]: ENGINE_SWARM });
      await Promise.all(volumes.map(async (volume) => this.removeVolume(volume)));
    }
    log.info('Removed service', { serviceId: short(id), service: name });
  }

  /** Removes an overlay network (retrying while endpoints linger) and the volumes left by its run. */
  async removeNetwork(id: string): Promise<void> {
    log.info('Removing overlay network...', { networkId: short(id) });
    let run: string | undefined;
    const deadline = Date.now() + NETWORK_REMOVE_TIMEOUT_MS;
    for (;;) {
      try {
        const info = (await this.docker.getNetwork(id).inspect()) as { Labels?: Record<string, string> };
        run = info.Labels?.[LABEL_RUN];
        await this.docker.getNetwork(id).remove();
        break;
      } catch (err) {
        const status = statusCodeOf(err);
        if (status === 404) break;
        if (Date.now() > deadline) throw new DockerError(`remove overlay network ${short(id)}`, err);
        await sleep(POLL_MS);
      }
    }
    if (run !== undefined) {
      const volumes = await this.volumes({ [LABEL_RUN]: run, [LABEL_ENGINE]: ENGINE_SWARM });
      await Promise.all(volumes.map(async (volume) => this.removeVolume(volume)));
    }
    log.info('Removed overlay network', { networkId: short(id) });
  }

  async inspectImage(name: string): Promise<{ id: string; sizeBytes: number } | undefined> {
    return this.containers.inspectImage(name);
  }

  /** The run's services (carrying all `labels`), each as the lab node it stands for. */
  async listContainers(labels: Record<string, string>): Promise<LabContainer[]> {
    let services: SwarmService[];
    try {
      services = (await this.docker.listServices({
        filters: { label: labelFilters({ ...labels, [LABEL_ENGINE]: ENGINE_SWARM }) },
      })) as unknown as SwarmService[];
    } catch (err) {
      throw new DockerError('list services', err);
    }
    if (services.length === 0) return [];
    const tasks = await this.tasksOf(services.map((service) => service.ID));
    return Promise.all(
      services.map(async (service) =>
        this.toLabContainer(
          service,
          tasks.filter((task) => task.ServiceID === service.ID),
        ),
      ),
    );
  }

  async listNetworks(labels: Record<string, string>): Promise<(LabNetwork & { labels: Record<string, string> })[]> {
    try {
      const networks = await this.docker.listNetworks({
        filters: { label: labelFilters({ ...labels, [LABEL_ENGINE]: ENGINE_SWARM }), driver: ['overlay'] },
      });
      return networks.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} }));
    } catch (err) {
      throw new DockerError('list networks', err);
    }
  }

  private async service(id: string): Promise<SwarmService> {
    try {
      return (await this.docker.getService(id).inspect()) as SwarmService;
    } catch (err) {
      throw new DockerError(`inspect service ${short(id)}`, err);
    }
  }

  private async tasksOf(serviceIds: string[]): Promise<SwarmTask[]> {
    try {
      return (await this.docker.listTasks({ filters: { service: serviceIds } })) as SwarmTask[];
    } catch (err) {
      throw new DockerError('list tasks', err);
    }
  }

  private async containersOfService(serviceId: string): Promise<Docker.ContainerInfo[]> {
    try {
      return await this.docker.listContainers({
        all: true,
        filters: { label: [`${LABEL_SWARM_SERVICE_ID}=${serviceId}`] },
      });
    } catch (err) {
      throw new DockerError('list containers', err);
    }
  }

  /**
   * The container of the service's current task, on this daemon. With `ended: 'skip'` a service whose
   * task has ended (or not started) gives undefined, as stopping a stopped container is no error.
   */
  private async taskContainer(id: string, operation: string): Promise<string>;
  private async taskContainer(id: string, operation: string, init: { ended: 'skip' }): Promise<string | undefined>;
  private async taskContainer(
    id: string,
    operation: string,
    init: { ended?: 'skip' } = {},
  ): Promise<string | undefined> {
    const service = await this.service(id);
    const task = currentTask(await this.tasksOf([service.ID]));
    const containerId = task?.Status?.ContainerStatus?.ContainerID;
    if (task === undefined || isTerminalTask(task) || containerId === undefined || containerId === '') {
      if (init.ended === 'skip') return undefined;
      const state = task === undefined ? 'no task' : `task ${task.Status?.State ?? 'new'}`;
      throw new DockerError(
        `${operation} in ${service.Spec.Name}`,
        new Error(`the service has no running task (${state})`),
      );
    }
    if (task.NodeID !== undefined && task.NodeID !== (await this.nodeId())) {
      throw new UnsupportedError(
        `${operation} in ${service.Spec.Name}: its task runs on swarm node ${short(task.NodeID)}, and the lab ` +
          "can only reach containers through this node's daemon (see docs/swarm.md)",
      );
    }
    return containerId;
  }

  private async toLabContainer(service: SwarmService, tasks: SwarmTask[]): Promise<LabContainer> {
    const labels = service.Spec.Labels ?? {};
    const task = currentTask(tasks);
    const networkName = taskNetworkName(task);
    const container = await this.localContainer(task);
    const ipOnNetwork =
      container === undefined
        ? undefined
        : Object.entries(container.NetworkSettings.Networks ?? {}).find(
            ([name, settings]) => (networkName === undefined || name === networkName) && settings.IPAddress !== '',
          )?.[1].IPAddress;
    const state = labState(task, container?.State.Status);
    const ended = task === undefined || isTerminalTask(task);
    return {
      id: service.ID,
      name: service.Spec.Name,
      run: labels[LABEL_RUN] ?? '',
      role: roleOf(labels[LABEL_ROLE]),
      shortName: labels[LABEL_PEER],
      state,
      health: ended ? undefined : container?.State.Health?.Status,
      // A container disconnected from the overlay has no address there, as on the bridge engine.
      ip: container === undefined ? (ended ? undefined : taskAddress(task, networkName)) : ipOnNetwork,
      labels,
    };
  }

  /** The task's container when this daemon runs it, else undefined (not created yet, gone, or elsewhere). */
  private async localContainer(task: SwarmTask | undefined): Promise<Docker.ContainerInspectInfo | undefined> {
    const containerId = task?.Status?.ContainerStatus?.ContainerID;
    if (task === undefined || containerId === undefined || containerId === '') return undefined;
    if (task.NodeID !== undefined && task.NodeID !== (await this.nodeId())) return undefined;
    try {
      return await this.docker.getContainer(containerId).inspect();
    } catch (err) {
      if (statusCodeOf(err) === 404) return undefined;
      throw new DockerError(`inspect ${short(containerId)}`, err);
    }
  }

  private async volumes(labels: Record<string, string>): Promise<string[]> {
    try {
      const result = await this.docker.listVolumes({ filters: { label: labelFilters(labels) } });
      return (result.Volumes ?? []).map((volume) => volume.Name);
    } catch (err) {
      throw new DockerError('list volumes', err);
    }
  }

  private async removeVolume(name: string): Promise<void> {
    try {
      await this.docker.getVolume(name).remove();
      log.info('Removed volume', { volume: name });
    } catch (err) {
      const status = statusCodeOf(err);
      // 404: already removed (by a concurrent teardown).
      if (status !== 404) throw new DockerError(`remove volume ${name}`, err);
    }
  }
}
