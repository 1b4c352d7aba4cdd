/**
 * Whether a run fits in the machine's memory, decided before anything starts. A run that does not fit
 * gets far: dozens of containers come up, then the kernel's OOM killer picks peers (or dockerd) in the
 * middle of the distribution and the lab waits on peers that are gone. So the lab estimates what the
 * run asks for and refuses it up front, with the numbers.
 *
 * The estimate is per peer: the idle figure of a peer container, plus the chunk buffers a downloading
 * peer may hold, plus the tmpfs it was given (tmpfs pages are memory). Files written to a container's
 * disk are page cache, which the kernel reclaims, so they do not count.
 */
import { freemem, hostname, totalmem } from 'node:os';

import { DEFAULT_CHUNK_BYTES } from '../src/protocol';
import { MemoryExceededError } from './errors';

const MIB = 1024 * 1024;

/**
 * One idle peer container, cgroup usage without reclaimable page cache: the peer daemon (Node) idles at
 * 22–28 MiB (docs/benchmarks.md, footprint), rounded up.
 */
export const PEER_IDLE_BYTES = 32 * MIB;
/**
 * Chunk-sized buffers one downloading peer may hold at once: the idle buffers its pool keeps
 * (src/peer/buffer-pool.ts DEFAULT_MAX_IDLE_PER_SIZE, 32) and a full request window to one source
 * (src/peer/download-scheduler.ts DEFAULT_MAX_INFLIGHT_PER_SOURCE, 16).
 */
export const PEER_CHUNK_BUFFERS = 32 + 16;
/** The tracker container, with room for its registry. */
export const TRACKER_BYTES = 64 * MIB;

/** What the lab knows of a peer when it estimates (a ScenarioPeer fits). */
export interface PeerMemoryInput {
  /** tmpfs at the data directory, in bytes. */
  dataTmpfsBytes?: number;
  /** The peer's environment: SWARMLAB_CHUNK_SIZE there (peerDefaults) overrides the run's chunk size. */
  env?: Record<string, string>;
}

export interface MemoryEstimate {
  peers: number;
  /** The largest chunk size of the run's peers. */
  chunkBytes: number;
  /** Every peer's idle figure. */
  idleBytes: number;
  /** Every peer's chunk buffers. */
  chunkBufferBytes: number;
  /** Every tmpfs of the run. */
  tmpfsBytes: number;
  /** Everything: peers, their tmpfs, the tracker. */
  totalBytes: number;
}

/** The machine's memory as the kernel sees it. */
export interface HostMemory {
  totalBytes: number;
  /** What can be had without swapping (MemAvailable): free memory plus reclaimable cache. */
  availableBytes: number;
}

/** os.totalmem() and os.freemem() (libuv reads MemAvailable on Linux). */
export function hostMemory(): HostMemory {
  return { totalBytes: totalmem(), availableBytes: freemem() };
}

/** The Docker daemon the lab drives, as `docker info` describes it (`Name`, `MemTotal`). */
export interface DaemonHost {
  hostname: string;
  memTotalBytes: number;
}

/**
 * The memory a run on the Swarm engine must fit in. However many nodes the swarm has, the lab pins every
 * service to the manager it talks to (swarm-service-spec.ts: exec, kill and pause go through that
 * daemon), so all the peers count against that one node: this machine's figures when the manager is this
 * machine, else the node's total memory as its daemon reports it (the Engine API has no free-memory
 * figure, so the check is then against the total).
 */
export function swarmHostMemory(
  manager: DaemonHost,
  local: () => HostMemory = hostMemory,
  localHostname: string = hostname(),
): () => HostMemory {
  return () =>
    manager.hostname === localHostname
      ? local()
      : { totalBytes: manager.memTotalBytes, availableBytes: manager.memTotalBytes };
}

export function estimateRunMemory(
  peers: readonly PeerMemoryInput[],
  init: { chunkBytes?: number | undefined } = {},
): MemoryEstimate {
  const chunkOf = (peer: PeerMemoryInput): number => {
    const env = Number(peer.env?.['SWARMLAB_CHUNK_SIZE']);
    return Number.isInteger(env) && env > 0 ? env : (init.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  };
  const chunks = peers.map(chunkOf);
  const idleBytes = peers.length * PEER_IDLE_BYTES;
  const chunkBufferBytes = chunks.reduce((sum, chunk) => sum + PEER_CHUNK_BUFFERS * chunk, 0);
  const tmpfsBytes = peers.reduce((sum, peer) => sum + (peer.dataTmpfsBytes ?? 0), 0);
  return {
    peers: peers.length,
    chunkBytes: Math.max(init.chunkBytes ?? DEFAULT_CHUNK_BYTES, ...chunks),
    idleBytes,
    chunkBufferBytes,
    tmpfsBytes,
    totalBytes: idleBytes + chunkBufferBytes + tmpfsBytes + TRACKER_BYTES,
  };
}

/** Throws MemoryExceededError, with the figures, when the estimate exceeds the memory available. */
export function assertMemoryFits(estimate: MemoryEstimate, host: HostMemory, what = 'the run'): void {
  if (estimate.totalBytes <= host.availableBytes) return;
  const tmpfs = estimate.tmpfsBytes === 0 ? '' : ` + ${mib(estimate.tmpfsBytes)} of tmpfs`;
  throw new MemoryExceededError(
    `${what} needs about ${mib(estimate.totalBytes)} of memory: ${estimate.peers} peers × ${mib(PEER_IDLE_BYTES)} idle ` +
      `+ ${mib(estimate.chunkBufferBytes)} of chunk buffers (${PEER_CHUNK_BUFFERS} per peer, chunks up to ` +
      `${kib(estimate.chunkBytes)})${tmpfs} + ${mib(TRACKER_BYTES)} for the tracker; this machine has ` +
      `${mib(host.availableBytes)} available of ${mib(host.totalBytes)}`,
  );
}

function mib(bytes: number): string {
  return `${Math.ceil(bytes / MIB).toLocaleString('en-US')} MiB`;
}

function kib(bytes: number): string {
  return `${Math.ceil(bytes / 1024).toLocaleString('en-US')} KiB`;
}
