/**
 * The narrow view of Docker that the lab needs. `DockerodeLabDocker` implements it with dockerode;
 * tests and the scenario runner only ever see this interface.
 */

export const LABEL_RUN = 'swarmlab.run';
export const LABEL_ROLE = 'swarmlab.role';
export const LABEL_PEER = 'swarmlab.peer';

export type LabRole = 'tracker' | 'peer';

export interface CreateNetworkInit {
  name: string;
  run: string;
}

export interface LabNetwork {
  id: string;
  name: string;
}

export interface CreateContainerInit {
  run: string;
  role: LabRole;
  /** Container name, e.g. `lab-peer-1`. */
  name: string;
  /** Name inside the run (`tracker`, `peer-1`), stored in the `swarmlab.peer` label. */
  shortName: string;
  image: string;
  network: LabNetwork;
  aliases?: string[];
  env?: Record<string, string>;
  cmd?: string[];
  /** Host files mounted read-only, e.g. an exercise's picker module (`check --picker PATH`). */
  readOnlyFiles?: { source: string; target: string }[];
  /** tmpfs mounts owned by the images' user, e.g. a small disk at the data directory. */
  tmpfs?: { target: string; sizeBytes: number }[];
  /** Start the container right away (default true). */
  start?: boolean;
  /**
   * Overrides the image's HEALTHCHECK: another interval (same command), or `none` to run no check at
   * all. Each check is an exec in the container. Absent: the image's.
   */
  healthcheck?: Healthcheck;
  /** CPU weight against the other containers (cgroup cpu.shares, default 1024); Swarm mode has no such setting. */
  cpuShares?: number;
}

/** A container's HEALTHCHECK when not the image's: spaced out, or switched off. */
export type Healthcheck = { intervalMs: number } | 'none';

export interface LabContainer {
  id: string;
  /** Container name without the leading slash. */
  name: string;
  run: string;
  role: LabRole | undefined;
  shortName: string | undefined;
  /** `running`, `exited`, `paused`, ... */
  state: string;
  /** `healthy`, `starting`, `unhealthy`, or undefined when the image has no HEALTHCHECK. */
  health: string | undefined;
  /** Address on the run's network, or undefined when not attached / not running. */
  ip: string | undefined;
  /** The container's main process on this host (a local engine only), for tools entering its namespaces. */
  pid?: number;
  labels: Record<string, string>;
}

export interface ExecInit {
  /** Called with each complete stdout line as it arrives (events stream live). */
  onStdoutLine?: (line: string) => void;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface OpenExecInit {
  /** Called with each complete stdout line as it arrives. */
  onStdoutLine: (line: string) => void;
  /**
   * Called once when the output ends: the process exited, the container stopped, or `close()` was
   * called. `stderr` is the tail of what the process wrote there, for an error message.
   */
  onClose: (info: { stderr: string; error?: Error }) => void;
}

/** A running exec with its stdin open: a byte stream both ways into a container. */
export interface ExecStream {
  /** Writes to the process's stdin (ignored once closed). */
  write(text: string): void;
  /** Drops the connection: the process sees its stdin end, and `onClose` follows. */
  close(): void;
  /**
   * Whether the open connection keeps the lab process alive. An idle stream must not (a `lab up` would
   * never exit); one with a request in flight must (nothing else may wait for the answer).
   */
  setKeepAlive(keep: boolean): void;
}

/** A call that may be given up: the teardown bounds every call it makes to dockerd. */
export interface CallInit {
  signal?: AbortSignal;
}

export interface ContainerLogs {
  stdout: string;
  stderr: string;
  combined: string;
}

export interface LabDocker {
  createNetwork(init: CreateNetworkInit): Promise<LabNetwork>;
  /** Creates (and by default starts) a tracker container. */
  startTracker(init: Omit<CreateContainerInit, 'role'>): Promise<LabContainer>;
  /** Creates (and by default starts) a peer container. */
  startPeer(init: Omit<CreateContainerInit, 'role'>): Promise<LabContainer>;
  start(id: string): Promise<void>;
  inspect(id: string): Promise<LabContainer>;
  exec(id: string, cmd: string[], init?: ExecInit): Promise<ExecResult>;
  /** Starts `cmd` in the container with its stdin attached, for a long-lived stream (the control channel). */
  openExec(id: string, cmd: string[], init: OpenExecInit): Promise<ExecStream>;
  /** Graceful stop; an already stopped container (304) counts as success. */
  stop(id: string, timeoutS?: number): Promise<void>;
  kill(id: string, signal?: string): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  disconnectNetwork(networkId: string, containerId: string): Promise<void>;
  connectNetwork(networkId: string, containerId: string, aliases?: string[]): Promise<void>;
  /** Demultiplexed logs of a container; `combined` keeps both streams in the order they were written. */
  logs(id: string, init?: { tail?: number }): Promise<ContainerLogs>;
  /**
   * Force-removes a container; a missing one (404) counts as success. An aborted `signal` stops waiting
   * for dockerd's answer (the removal may still finish inside dockerd).
   */
  removeContainer(id: string, init?: CallInit): Promise<void>;
  /** Removes a network; a missing one (404) counts as success. */
  removeNetwork(id: string, init?: CallInit): Promise<void>;
  /** Size and id of a local image, or undefined when it does not exist. */
  inspectImage(name: string): Promise<{ id: string; sizeBytes: number } | undefined>;
  /** Containers (running or not) carrying all the given labels. */
  listContainers(labels: Record<string, string>, init?: CallInit): Promise<LabContainer[]>;
  /** Networks carrying all the given labels. */
  listNetworks(
    labels: Record<string, string>,
    init?: CallInit,
  ): Promise<(LabNetwork & { labels: Record<string, string> })[]>;
}
