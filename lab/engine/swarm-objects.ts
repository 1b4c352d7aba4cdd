/**
 * The few fields of the Engine's Swarm objects (services, tasks) that the lab reads, and the pure rules
 * that turn a service's tasks into the state of one lab node. No I/O here: `swarm-lab-docker.ts` fetches,
 * these functions decide.
 */

/** A task as `GET /tasks` returns it (only what the lab reads). */
export interface SwarmTask {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  CreatedAt?: string;
  DesiredState?: string;
  Status?: {
    State?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
  };
  NetworksAttachments?: { Network?: { ID?: string; Spec?: { Name?: string } }; Addresses?: string[] }[];
}

/** A service as `GET /services` returns it (only what the lab reads and writes back on update). */
export interface SwarmService {
  ID: string;
  Version: { Index: number };
  Spec: {
    Name: string;
    Labels?: Record<string, string>;
    TaskTemplate?: { ForceUpdate?: number; [key: string]: unknown };
    Mode?: { Replicated?: { Replicas?: number } };
    [key: string]: unknown;
  };
}

/** Task states before the container runs (https://docs.docker.com/engine/swarm/how-swarm-mode-works/swarm-task-states/). */
const PENDING_TASK_STATES = new Set(['new', 'allocated', 'pending', 'assigned', 'accepted', 'preparing', 'ready']);

/**
 * The task that stands for the service's one replica now: the newest one that Swarm wants running, else
 * the newest one of all (a killed or stopped task, kept in the task history), else none.
 */
export function currentTask(tasks: readonly SwarmTask[]): SwarmTask | undefined {
  const newestFirst = [...tasks].sort((a, b) => (b.CreatedAt ?? '').localeCompare(a.CreatedAt ?? ''));
  return newestFirst.find((task) => task.DesiredState === 'running') ?? newestFirst[0];
}

/** Whether the task has reached a state it never leaves (its container exited or never ran). */
export function isTerminalTask(task: SwarmTask): boolean {
  const state = task.Status?.State ?? 'new';
  return !PENDING_TASK_STATES.has(state) && state !== 'starting' && state !== 'running';
}

/**
 * The lab's `state` of a node whose service has this current task and, when its container exists on this
 * daemon, that container's state. The container's own state wins once Swarm counts the task as running
 * (so `paused` shows); before that the task's state is reported (`preparing`, `starting`), because Swarm
 * publishes a task's DNS name only once it is running (and, for an image with a HEALTHCHECK, healthy),
 * and a peer cannot reach the tracker before. A task that ended is `exited`, as a stopped container is;
 * a service scaled to 0 is `created`.
 */
export function labState(task: SwarmTask | undefined, containerState: string | undefined): string {
  if (task === undefined) return 'created';
  const taskState = task.Status?.State ?? 'new';
  if (isTerminalTask(task)) return containerState === 'dead' ? 'dead' : 'exited';
  if (taskState === 'running') return containerState ?? 'running';
  if (containerState !== undefined && containerState !== 'running' && containerState !== 'created') {
    return containerState;
  }
  return taskState;
}

/** The task's address on the named network, without the prefix length (`10.0.1.5/24` → `10.0.1.5`). */
export function taskAddress(task: SwarmTask | undefined, networkName: string | undefined): string | undefined {
  const attachment = task?.NetworksAttachments?.find(
    (a) => networkName === undefined || a.Network?.Spec?.Name === networkName,
  );
  return attachment?.Addresses?.[0]?.split('/')[0];
}

/** The name of the first network a service's tasks attach to, as the task reports it. */
export function taskNetworkName(task: SwarmTask | undefined): string | undefined {
  return task?.NetworksAttachments?.find((a) => a.Network?.Spec?.Name !== 'ingress')?.Network?.Spec?.Name;
}
