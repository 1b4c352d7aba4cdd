/**
 * Runs: a bridge network, a tracker and N peers, all labelled `swarmlab.run=NAME`, and their teardown.
 *
 * `LabController.up()` returns a `LabRun` that owns its containers; disposing it (or `down()`) removes
 * everything labelled with the run, and only that. Creation registers teardown first: if `up()` fails or
 * is aborted half way, whatever was created is removed before the error propagates.
 */
import { createLogger } from '../src/shared/logger';
import { rejectOnAbort, sleep, throwIfAborted, withTimeout } from './abort';
import { mapBounded } from './bounded-map';
import {
  CONTROL_SOCKET,
  DATA_DIR,
  LAB_CONTROL_TCP_PORT,
  LAB_CONTROL_TOKEN,
  PEER_PORT,
  TRACKER_CPU_SHARES,
  TRACKER_METRICS_PORT,
  TRACKER_NAME,
  TRACKER_PORT,
} from './constants';
import {
  DockerError,
  ContainerExitedError,
  HealthTimeoutError,
  RunExistsError,
  RunNotFoundError,
  UnknownPeerError,
  TeardownIncompleteError,
  UsageError,
  messageOf,
} from './errors';
import { LABEL_RUN, type CallInit, type Healthcheck, type LabContainer, type LabDocker, type LabNetwork } from './engine/lab-docker';
import { assertMemoryFits, estimateRunMemory, hostMemory, type HostMemory } from './memory-estimate';
import { ensureNeighbourTable, hostNeighbourTable, type NeighbourTable, type NeighbourTableOutcome } from './neighbour-table';
import { PeerControl } from './peer-control';
import type { ScenarioPeer } from './scenario/schema';

const log = createLogger('lab');

export const DEFAULT_RUN_NAME = 'lab';
export const HEALTH_TIMEOUT_MS = 90_000;
/** First wait between readiness probes; it grows by half up to HEALTH_POLL_MAX_MS. */
const HEALTH_POLL_MS = 300;
const HEALTH_POLL_MAX_MS = 2_000;
/**
 * Peers created, started and probed at the same time by `up()`. Every peer is a node process starting,
 * and its first probe starts the node process of its control channel: all 50 at once only make them
 * queue for the two cores, and make dockerd serialise the rest anyway.
 */
export const PEER_START_CONCURRENCY = 8;
/** The images' HEALTHCHECK interval (Dockerfile.peer). */
export const IMAGE_HEALTHCHECK_INTERVAL_MS = 5_000;
/**
 * Healthchecks a run may start per second across its peers. Each one is a shell `test` of the control
 * socket, but also an exec through dockerd, containerd and runc, which 200 peers every 5 s would turn
 * into most of a core. The lab does not wait for them (see `waitReady`).
 */
const HEALTHCHECKS_PER_S = 1;
/**
 * Above this many peers Docker's HEALTHCHECK is off for the lab's peers: even one check a second costs
 * the swarm a tenth of a core or more for the whole run (docs/benchmarks.md), and the lab already knows
 * each peer's health from its control channel, which answered `status` at `up` and carries every
 * command and event after it.
 */
export const CHANNEL_HEALTH_ABOVE_PEERS = 30;

/**
 * The tracker's readiness probe: its port listening in /proc/net/tcp (as the image's HEALTHCHECK checks),
 * a `grep` that starts no Node process (`swarmlab ping` was a Node start of about a quarter CPU-second).
 */
export function trackerListeningArgv(port: number = TRACKER_PORT): string[] {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  return ['grep', '-qs', `:${portHex} [0-9A-F]*:0000 0A `, '/proc/net/tcp', '/proc/net/tcp6'];
}

/**
 * The HEALTHCHECK for the peers of a run of `peers`: the image's (undefined) in small runs, spaced out
 * to about HEALTHCHECKS_PER_S in bigger ones, none above CHANNEL_HEALTH_ABOVE_PEERS.
 */
export function peerHealthcheck(peers: number): Healthcheck | undefined {
  if (peers > CHANNEL_HEALTH_ABOVE_PEERS) return 'none';
  const intervalMs = Math.max(IMAGE_HEALTHCHECK_INTERVAL_MS, Math.ceil(peers / HEALTHCHECKS_PER_S) * 1000);
  return intervalMs === IMAGE_HEALTHCHECK_INTERVAL_MS ? undefined : { intervalMs };
}

export interface LabImages {
  tracker: string;
  peer: string;
  base?: string;
}

export type EnsureImages = (init?: { rebuild?: boolean }) => Promise<LabImages>;

export interface LabControllerComponents {
  docker: LabDocker;
  ensureImages: EnsureImages;
  /** The machine's memory, which a run must fit in (default: the host's, lab/memory-estimate.ts). */
  hostMemory?: () => HostMemory;
  /** The kernel's neighbour (ARP) table a run's containers share (default: the host's, lab/neighbour-table.ts). */
  neighbourTable?: NeighbourTable;
}

export interface LabControllerInit {
  /** How long `up()` waits for every container to be healthy, in ms. */
  healthTimeoutMs?: number;
  /** Peers `up()` starts at the same time (default PEER_START_CONCURRENCY). */
  peerStartConcurrency?: number;
}

export interface UpInit {
  run?: string;
  peers: ScenarioPeer[];
  /** Chunk size for every peer (SWARMLAB_CHUNK_SIZE). */
  chunkSize?: number;
  /** Host files every peer sees read-only at `target` (an exercise's picker module). */
  peerFiles?: { source: string; target: string }[];
  /** Peers connect to the tracker by themselves (SWARMLAB_AUTOCONNECT=1). */
  autoConnect?: boolean;
  /** Peers publish what their directory holds at start-up (SWARMLAB_AUTOPUBLISH=1). */
  autoPublish?: boolean;
  /** Peer name to the image it starts from instead of the lab's peer image (another build to compare). */
  peerImages?: Record<string, string>;
  /**
   * Wait for Docker to report every container healthy (default false: ready as soon as the lab's own probe
   * answers, which saves the healthcheck's first interval). Only where the peers keep the image's interval
   * (small runs): in big runs the first check would come too late.
   */
  waitHealthy?: boolean;
  signal?: AbortSignal;
}

export interface RunPeer {
  name: string;
  container: LabContainer;
  control: PeerControl;
  /** Whether the container was started with the run. */
  started: boolean;
}

export interface TeardownResult {
  containers: number;
  networks: number;
}

export function networkName(run: string): string {
  return `swarmlab-${run}`;
}

export function containerName(run: string, shortName: string): string {
  return `${run}-${shortName}`;
}

/** Says what the neighbour-table check did: nothing when the limits were enough. */
function reportNeighbourTable(outcome: NeighbourTableOutcome, run: string): void {
  if (outcome.kind === 'raised') {
    log.info(
      `Raised the host's neighbour (ARP) table limits from ${outcome.before.gcThresh3} to ${outcome.after.gcThresh3} entries ` +
        `(net.ipv4.neigh.default.gc_thresh1/2/3 = ${outcome.after.gcThresh1}/${outcome.after.gcThresh2}/${outcome.after.gcThresh3}): ` +
        `the run's containers may need ${outcome.needed}; the setting stays until the host reboots`,
      { run },
    );
  } else if (outcome.kind === 'too-small') {
    log.warn(
      `The host's neighbour (ARP) table holds ${outcome.limits.gcThresh3} entries and this run's containers may need ` +
        `${outcome.needed}: past the limit the kernel drops packets ("neighbor table overflow") and downloads stall. ` +
        `The lab could not raise it (${outcome.reason}); as root on the Docker host run: ${outcome.command}`,
      { run },
    );
  }
}

export class LabController {
  readonly docker: LabDocker;
  private readonly ensureImagesFn: EnsureImages;
  private readonly hostMemory: () => HostMemory;
  private readonly neighbourTable: NeighbourTable;
  private readonly healthTimeoutMs: number;
  private readonly peerStartConcurrency: number;

  constructor(components: LabControllerComponents, init: LabControllerInit = {}) {
    this.docker = components.docker;
    this.ensureImagesFn = components.ensureImages;
    this.hostMemory = components.hostMemory ?? hostMemory;
    this.neighbourTable = components.neighbourTable ?? hostNeighbourTable;
    this.healthTimeoutMs = init.healthTimeoutMs ?? HEALTH_TIMEOUT_MS;
    this.peerStartConcurrency = init.peerStartConcurrency ?? PEER_START_CONCURRENCY;
  }

  async ensureImages(init: { rebuild?: boolean } = {}): Promise<LabImages> {
    return this.ensureImagesFn(init);
  }

  /** Creates the network, tracker and peers of a new run and waits until they are healthy. */
  async up(init: UpInit): Promise<LabRun> {
    const runName = init.run ?? DEFAULT_RUN_NAME;
    const { signal } = init;
    if (!/^[a-z0-9][a-z0-9_.-]{0,40}$/.test(runName)) {
      throw new UsageError(`invalid run name "${runName}" (lowercase letters, digits, '.', '_' and '-')`);
    }
    assertMemoryFits(
      estimateRunMemory(init.peers, { chunkBytes: init.chunkSize }),
      this.hostMemory(),
      `run ${runName}`,
    );
    reportNeighbourTable(await ensureNeighbourTable(this.neighbourTable, init.peers.length), runName);
    if (await this.exists(runName)) throw new RunExistsError(runName);
    const images = await this.ensureImagesFn({});
    throwIfAborted(signal);

    const run = new LabRun({ docker: this.docker }, { name: runName });
    run.images = images;
    try {
      run.network = await this.docker.createNetwork({ name: networkName(runName), run: runName });
      throwIfAborted(signal);
      const firstContainerAtMs = Date.now();
      run.tracker = await this.docker.startTracker({
        run: runName,
        name: containerName(runName, TRACKER_NAME),
        shortName: TRACKER_NAME,
        image: images.tracker,
        network: run.network,
        aliases: [TRACKER_NAME],
        env: { LOG_FORMAT: 'json', SWARMLAB_METRICS_PORT: String(TRACKER_METRICS_PORT) },
        cpuShares: TRACKER_CPU_SHARES,
      });
      run.tracker = await this.waitReady(run.tracker, undefined, signal, { waitHealthy: init.waitHealthy ?? false });

      const healthcheck = peerHealthcheck(init.peers.length);
      const readyInit = { waitHealthy: (init.waitHealthy ?? false) && healthcheck === undefined };
      const peers = await mapBounded(init.peers, this.peerStartConcurrency, async (peer) => {
        const started = peer.start ?? true;
        const env: Record<string, string> = {
          SWARMLAB_TRACKER: `${TRACKER_NAME}:${TRACKER_PORT}`,
          SWARMLAB_NAME: peer.name,
          SWARMLAB_DIR: DATA_DIR,
          SWARMLAB_PORT: String(PEER_PORT),
          SWARMLAB_CONTROL: CONTROL_SOCKET,
          // The loopback listener the control channel's `nc` connects to (lab/control-bridge.ts).
          SWARMLAB_CONTROL_TCP: `127.0.0.1:${LAB_CONTROL_TCP_PORT}`,
          SWARMLAB_CONTROL_TOKEN: LAB_CONTROL_TOKEN,
          SWARMLAB_AUTOCONNECT: init.autoConnect === true ? '1' : '0',
          SWARMLAB_AUTOPUBLISH: init.autoPublish === true ? '1' : '0',
          LOG_FORMAT: 'json',
          ...(init.chunkSize === undefined ? {} : { SWARMLAB_CHUNK_SIZE: String(init.chunkSize) }),
          ...(peer.uploadRate === undefined ? {} : { SWARMLAB_UPLOAD_RATE: String(peer.uploadRate) }),
          ...(peer.downloadRate === undefined ? {} : { SWARMLAB_DOWNLOAD_RATE: String(peer.downloadRate) }),
          ...(peer.env ?? {}),
        };
        const network = run.network as LabNetwork;
        let container = await this.docker.startPeer({
          run: runName,
          name: containerName(runName, peer.name),
          shortName: peer.name,
          image: init.peerImages?.[peer.name] ?? images.peer,
          network,
          env,
          ...(init.peerFiles === undefined ? {} : { readOnlyFiles: init.peerFiles }),
          ...(peer.dataTmpfsBytes === undefined
            ? {}
            : { tmpfs: [{ target: DATA_DIR, sizeBytes: peer.dataTmpfsBytes }] }),
          start: started,
          ...(healthcheck === undefined ? {} : { healthcheck }),
        });
        const control = new PeerControl({ docker: this.docker }, { containerId: container.id, peer: peer.name });
        if (started) container = await this.waitReady(container, control, signal, readyInit);
        return { name: peer.name, container, control, started };
      });
      for (const peer of peers) run.peers.set(peer.name, peer);
      run.upMs = Date.now() - firstContainerAtMs;
      log.info('Run is up', { run: runName, peers: peers.length, upMs: run.upMs });
      return run;
    } catch (err) {
      log.warn('Run failed to come up; tearing it down', { run: runName, error: messageOf(err) });
      await this.down(runName).catch((downErr: unknown) =>
        log.error('Teardown after a failed up failed', { run: runName, error: messageOf(downErr) }),
      );
      throw err;
    }
  }

  /**
   * Waits until a container is ready: healthy, or running and answering the lab's own probe (a `status`
   * request on the peer's control channel, which opens the channel; its port listening for the tracker),
   * which is faster than waiting for the healthcheck's first interval.
   */
  async waitReady(
    container: LabContainer,
    control?: PeerControl,
    signal?: AbortSignal,
    init: { waitHealthy?: boolean } = {},
  ): Promise<LabContainer> {
    const deadline = Date.now() + this.healthTimeoutMs;
    let current = container;
    let pollMs = HEALTH_POLL_MS;
    for (;;) {
      throwIfAborted(signal);
      current = await this.docker.inspect(container.id);
      if (current.health === 'healthy') return current;
      if (current.state === 'exited' || current.state === 'dead') {
        const { stdout, stderr } = await this.docker
          .logs(container.id, { tail: 20 })
          .catch(() => ({ stdout: '', stderr: '' }));
        throw new ContainerExitedError(current.name, current.state, (stdout + stderr).trim());
      }
      const mustWaitForDocker = init.waitHealthy === true && current.health !== undefined;
      if (current.state === 'running' && current.health !== 'unhealthy' && !mustWaitForDocker) {
        if (await this.probe(current, control, deadline, signal)) return this.docker.inspect(container.id);
      }
      if (Date.now() > deadline) {
        throw new HealthTimeoutError(
          current.name,
          this.healthTimeoutMs,
          `${current.state}/${current.health ?? 'no healthcheck'}`,
        );
      }
      await sleep(pollMs, signal);
      pollMs = Math.min(HEALTH_POLL_MAX_MS, Math.round(pollMs * 1.5));
    }
  }

  private async probe(
    container: LabContainer,
    control: PeerControl | undefined,
    deadlineMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const init = signal === undefined ? {} : { signal };
    try {
      if (control !== undefined) {
        // The first request opens the peer's control channel; its bridge waits for the socket to appear.
        await control.request('status', {}, { ...init, timeoutMs: Math.max(1_000, deadlineMs - Date.now()) });
        return true;
      }
      if (container.role === 'tracker') {
        const result = await this.docker.exec(container.id, trackerListeningArgv(), init);
        return result.exitCode === 0;
      }
      return container.health === undefined;
    } catch {
      return false;
    }
  }

  /** True when any container or network carries the run's label. */
  async exists(run: string): Promise<boolean> {
    const [containers, networks] = await Promise.all([
      this.docker.listContainers({ [LABEL_RUN]: run }),
      this.docker.listNetworks({ [LABEL_RUN]: run }),
    ]);
    return containers.length > 0 || networks.length > 0;
  }

  /** Names of the runs that have containers or networks. */
  async listRuns(): Promise<string[]> {
    const [containers, networks] = await Promise.all([
      this.docker.listContainers({ [LABEL_RUN]: '' }),
      this.docker.listNetworks({ [LABEL_RUN]: '' }),
    ]);
    const runs = new Set<string>();
    for (const c of containers) if (c.run !== '') runs.add(c.run);
    for (const n of networks) {
      const run = n.labels[LABEL_RUN];
      if (run !== undefined && run !== '') runs.add(run);
    }
    return [...runs].sort();
  }

  /** Containers of a run, tracker first then peers by number. */
  async containers(run: string): Promise<LabContainer[]> {
    const containers = await this.docker.listContainers({ [LABEL_RUN]: run });
    return containers.sort(compareContainers);
  }

  /** Reattaches to an existing run (for `status`, `logs`). */
  async attach(run: string): Promise<LabRun> {
    const containers = await this.containers(run);
    const networks = await this.docker.listNetworks({ [LABEL_RUN]: run });
    if (containers.length === 0 && networks.length === 0) throw new RunNotFoundError(run);
    const labRun = new LabRun({ docker: this.docker }, { name: run });
    const network = networks[0];
    if (network !== undefined) labRun.network = { id: network.id, name: network.name };
    for (const container of containers) {
      if (container.role === 'tracker') labRun.tracker = container;
      else if (container.role === 'peer' && container.shortName !== undefined) {
        labRun.peers.set(container.shortName, {
          name: container.shortName,
          container,
          control: new PeerControl({ docker: this.docker }, { containerId: container.id, peer: container.shortName }),
          started: true,
        });
      }
    }
    return labRun;
  }

  /** Removes every container and network labelled with the run (or with any run when `run` is undefined). */
  async down(run: string | undefined, init: TeardownInit = {}): Promise<TeardownResult> {
    return teardown(this.docker, run, init);
  }
}

/** A started run. Dispose it to remove everything it created. */
export class LabRun {
  readonly name: string;
  network: LabNetwork | undefined;
  tracker: LabContainer | undefined;
  readonly peers = new Map<string, RunPeer>();
  /** From the first container created to every started peer ready, in ms (a run `up()` started). */
  upMs: number | undefined;
  /** The images this run's containers were created from (set by `up`; unknown for an attached run). */
  images: LabImages | undefined;
  private readonly docker: LabDocker;
  private tornDown: Promise<TeardownResult> | undefined;

  constructor(components: { docker: LabDocker }, init: { name: string }) {
    this.docker = components.docker;
    this.name = init.name;
  }

  peer(name: string): RunPeer {
    const peer = this.peers.get(name);
    if (peer === undefined) throw new UnknownPeerError(name);
    return peer;
  }

  /** The container of `tracker` or a peer. */
  container(name: string): LabContainer {
    if (name === TRACKER_NAME) {
      if (this.tracker === undefined) throw new UnknownPeerError(name);
      return this.tracker;
    }
    return this.peer(name).container;
  }

  /** Re-reads a container's state and address (they change on stop/start and network reconnects). */
  async refresh(name: string): Promise<LabContainer> {
    const fresh = await this.docker.inspect(this.container(name).id);
    if (name === TRACKER_NAME) this.tracker = fresh;
    else this.peer(name).container = fresh;
    return fresh;
  }

  /** Every container of the run, tracker first. */
  all(): LabContainer[] {
    return [...(this.tracker === undefined ? [] : [this.tracker]), ...[...this.peers.values()].map((p) => p.container)];
  }

  /** Drops every peer's control channel (their bridges exit); a later request reopens one. */
  closeControls(): void {
    for (const peer of this.peers.values()) peer.control.close();
  }

  /** Removes the run's containers and network; idempotent. */
  async teardown(): Promise<TeardownResult> {
    this.closeControls();
    this.tornDown ??= teardown(this.docker, this.name);
    return this.tornDown;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.teardown();
  }
}

/**
 * Containers a teardown removes at the same time. A force-remove is SIGKILL, wait for the exit, release
 * the network endpoint, unmount and delete, mostly serialised inside dockerd: a hundred at once finish no
 * sooner, and under load have left an endpoint behind on the run's network, which then refuses removal.
 */
export const TEARDOWN_CONCURRENCY = 16;
/**
 * How long the teardown waits for dockerd to answer one call (a removal, a list). Past it the lab stops
 * waiting for that call and goes on with the others; what is still there is tried again and reported.
 */
export const TEARDOWN_CALL_TIMEOUT_MS = 30_000;
/** The whole teardown's bound: after it the lab reports what is left instead of waiting on dockerd. */
export const TEARDOWN_TIMEOUT_MS = 120_000;
/** Passes over what is left (re-listed from dockerd) before the teardown gives up. */
const TEARDOWN_PASSES = 3;
/** Before a pass after the first: a removal dockerd had in progress gets a moment to land. */
const TEARDOWN_PASS_PAUSE_MS = 500;
/** A network whose last endpoints dockerd is still releasing refuses removal (403) for a moment. */
const NETWORK_REMOVE_ATTEMPTS = 5;
const NETWORK_REMOVE_RETRY_MS = 1_000;

export interface TeardownInit {
  /** Bound of one call to dockerd (default TEARDOWN_CALL_TIMEOUT_MS). */
  callTimeoutMs?: number;
  /** Bound of the whole teardown (default TEARDOWN_TIMEOUT_MS). */
  timeoutMs?: number;
}

/**
 * Removes a run's containers, then its network, in bounded time: every call to dockerd has its own
 * deadline and the whole has one, so a dockerd that stops answering (as it did removing 99 containers
 * that had just written 64 MiB each) costs at most `timeoutMs` and ends in a `TeardownIncompleteError`
 * naming what is left, never a hung lab. Every container gets its removal even when others fail; what a
 * pass did not remove is listed again and retried while time remains.
 */
async function teardown(docker: LabDocker, run: string | undefined, init: TeardownInit = {}): Promise<TeardownResult> {
  const labels = { [LABEL_RUN]: run ?? '' };
  const runLabel = run ?? '(all)';
  const callTimeoutMs = init.callTimeoutMs ?? TEARDOWN_CALL_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(init.timeoutMs ?? TEARDOWN_TIMEOUT_MS);
  // Not AbortSignal.any with AbortSignal.timeout: Node 20 may drop that timeout (withTimeout says why).
  const call = <T>(fn: (init: CallInit) => Promise<T>): Promise<T> => bounded(deadline, callTimeoutMs, fn);
  log.info('Tearing down...', { run: runLabel });
  const failures: unknown[] = [];
  const removed = new Set<string>();
  let left: LabContainer[] = [];
  let listed = false;
  // Each pass lists what is still there (a removal dockerd answered may land later, one that timed out
  // may have landed) and removes it; the list after the last pass decides.
  for (let pass = 1; pass <= TEARDOWN_PASSES + 1 && !deadline.aborted; pass++) {
    try {
      left = await call((init) => docker.listContainers(labels, init));
      listed = true;
    } catch (err) {
      failures.push(err);
      continue;
    }
    if (left.length === 0 || pass > TEARDOWN_PASSES) break;
    if (pass > 1) {
      log.warn('Containers still there after a teardown pass; removing again', { run: runLabel, left: left.length });
      await sleep(TEARDOWN_PASS_PAUSE_MS, deadline).catch(() => undefined);
    }
    await mapBounded(left, TEARDOWN_CONCURRENCY, async (c) => {
      if (deadline.aborted) return;
      try {
        await call((init) => docker.removeContainer(c.id, init));
        removed.add(c.id);
      } catch (err) {
        failures.push(err);
      }
    });
  }
  // Last: a network is only removable once no container is attached to it.
  let networks: LabNetwork[] = [];
  const networksLeft: string[] = [];
  if (left.length === 0 && listed) {
    try {
      networks = await call((init) => docker.listNetworks(labels, init));
    } catch (err) {
      failures.push(err);
    }
    for (const network of networks) {
      try {
        await removeNetwork(docker, network.id, deadline, call);
      } catch (err) {
        failures.push(err);
        networksLeft.push(network.name);
      }
    }
  }
  if (!listed || left.length > 0 || networksLeft.length > 0) {
    const first = failures[0];
    const leakedEndpoints = left.length === 0 && networksLeft.length > 0 && failures.some(isNetworkBusy);
    const detail = leakedEndpoints
      ? 'dockerd still counts endpoints on the network though no container is left on it (its endpoint ' +
        'count leaks when many containers leave a network at once, moby/moby#42119; the leaked network ' +
        'blocks only its own name and address range); restart dockerd first, it cannot be removed before'
      : deadline.aborted
        ? `dockerd did not finish within ${init.timeoutMs ?? TEARDOWN_TIMEOUT_MS} ms`
        : first === undefined
          ? 'dockerd reported them after every removal'
          : messageOf(first);
    const leftNames = listed ? left.map((c) => c.name) : ['(could not list them)'];
    const error = new TeardownIncompleteError(
      runLabel,
      { containers: leftNames, networks: networksLeft },
      detail,
      first === undefined ? undefined : { cause: first },
    );
    log.error('Teardown incomplete', { run: runLabel, error: error.message });
    throw error;
  }
  log.info('Torn down', { run: runLabel, containers: removed.size, networks: networks.length });
  return { containers: removed.size, networks: networks.length };
}

async function removeNetwork(
  docker: LabDocker,
  id: string,
  deadline: AbortSignal,
  call: <T>(fn: (init: CallInit) => Promise<T>) => Promise<T>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await call((init) => docker.removeNetwork(id, init));
      return;
    } catch (err) {
      const busy = isNetworkBusy(err);
      if (!busy || attempt >= NETWORK_REMOVE_ATTEMPTS || deadline.aborted) throw err;
      log.info('Network still has endpoints; retrying', { networkId: id.slice(0, 12), attempt });
      await sleep(NETWORK_REMOVE_RETRY_MS, deadline).catch(() => undefined);
      if (deadline.aborted) throw err;
    }
  }
}

/**
 * Runs a teardown call with its signal, and stops waiting for it once the signal fires even when the
 * engine does not honour it (a `LabDocker` may ignore the signal; the bound must not depend on that).
 */
async function bounded<T>(deadline: AbortSignal, callTimeoutMs: number, fn: (init: CallInit) => Promise<T>): Promise<T> {
  const { signal, clear } = withTimeout(deadline, callTimeoutMs);
  try {
    return await Promise.race([
      fn({ signal }),
      rejectOnAbort(signal, (s) => new DockerError('teardown call', s.reason ?? new Error('timed out'))),
    ]);
  } finally {
    clear();
  }
}

/** dockerd refuses to remove a network that (it believes) still has endpoints with a 403. */
function isNetworkBusy(err: unknown): boolean {
  return err instanceof DockerError && err.statusCode === 403;
}

function compareContainers(a: LabContainer, b: LabContainer): number {
  if (a.run !== b.run) return a.run < b.run ? -1 : 1;
  if (a.role !== b.role) return a.role === 'tracker' ? -1 : 1;
  const an = Number(/(\d+)$/.exec(a.shortName ?? '')?.[1] ?? Number.NaN);
  const bn = Number(/(\d+)$/.exec(b.shortName ?? '')?.[1] ?? Number.NaN);
  if (!Number.isNaN(an) && !Number.isNaN(bn) && an !== bn) return an - bn;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
