/**
 * The LocalSwarm plumbing the transfer benches share: start peers in small batches, publish a
 * deterministic file, and time one control `download` from the caller's side.
 */
import { LocalSwarm } from '../cli/local-swarm';
import type { PeerStartOptions } from '../cli/local-swarm';
import { SwarmlabError } from '../shared/errors';
import { hashFile } from '../shared/files';
import { procCpuSeconds } from './footprint';
import { registerTeardown } from './teardown';
import { BYTES_PER_MB } from './types';
import type { TransferResult } from './types';
import { BenchErrorCode } from './errors';

export const BENCH_FILE = 'swarmlab-bench.bin';
const BENCH_SEED = 'swarmlab-bench';
/** Peers started at once; a 2-core machine cannot boot many Node processes inside LocalSwarm's 10 s wait. */
const START_BATCH = 4;

export interface BenchSwarmInit {
  cliPath: string;
  env?: NodeJS.ProcessEnv;
  /** Every log line of the swarm's processes (dropped when absent). */
  onLog?: (source: string, line: string) => void;
}

const unregisterBySwarm = new Map<LocalSwarm, () => void>();

/** A LocalSwarm with its tracker started; stop it with `stopBenchSwarm` (an interrupt stops it too). */
export async function createBenchSwarm(init: BenchSwarmInit): Promise<LocalSwarm> {
  const swarm = await LocalSwarm.create({
    cliPath: init.cliPath,
    ...(init.env ? { env: init.env } : {}),
    ...(init.onLog ? { onLog: init.onLog } : {}),
  });
  unregisterBySwarm.set(
    swarm,
    registerTeardown(() => swarm.stop()),
  );
  try {
    await swarm.startTracker();
  } catch (error) {
    await stopBenchSwarm(swarm);
    throw error;
  }
  return swarm;
}

/** Stops every process of the swarm and deletes its directory. */
export async function stopBenchSwarm(swarm: LocalSwarm): Promise<void> {
  unregisterBySwarm.get(swarm)?.();
  unregisterBySwarm.delete(swarm);
  await swarm.stop();
}

/** Starts and connects every named peer, a few at a time. */
export async function startPeers(swarm: LocalSwarm, names: string[], options: PeerStartOptions = {}): Promise<void> {
  for (let i = 0; i < names.length; i += START_BATCH) {
    await Promise.all(
      names.slice(i, i + START_BATCH).map(async (name) => {
        await swarm.startPeer(name, options);
        await swarm.control(name, 'connect');
      }),
    );
  }
}

/** Each seeder writes the same deterministic file and publishes it; returns its SHA-256. */
export async function publishBenchFile(swarm: LocalSwarm, seeders: string[], bytes: number): Promise<string> {
  const hashes = await Promise.all(
    seeders.map(async (name) => {
      const generated = await swarm.control(name, 'generate', { name: BENCH_FILE, size: bytes, seed: BENCH_SEED });
      await swarm.control(name, 'upload');
      return String(generated['sha256']);
    }),
  );
  if (new Set(hashes).size !== 1) throw new SwarmlabError(BenchErrorCode.Seed, 'the seeders generated different files');
  return hashes[0]!;
}

export interface TimedDownload {
  name: string;
  /** Seconds from `startedAtMs` until the control call answered. */
  wallS: number;
  schedulerS: number;
  bytes: number;
  /**
   * The peer's `verified`, and the file's SHA-256 equal to the publisher's: as the peer reported it, or,
   * for a download timed without the peer's digest, once `checkOnDisk` has hashed the file.
   */
  verified: boolean;
  /** Chunks fetched from each source peer, by name. */
  chunksBySource: Record<string, number>;
  /** The peer's own `verified` (every chunk checked, the file of the manifest's size). */
  peerVerified: boolean;
  /** The downloaded file (the peer's `path`). */
  path: string;
}

export interface TimedDownloadInit {
  /**
   * false: the peer computes no whole-file digest during the timed transfer (as a BitTorrent client
   * checks pieces only), and the result stays unverified until `checkOnDisk` hashes the file, after
   * the timing. Default true: the peer's own `sha256` is compared.
   */
  peerDigest?: boolean;
}

/** Downloads the bench file on `name`; the wall clock runs from `startedAtMs` to the answer. */
export async function timedDownload(
  swarm: LocalSwarm,
  name: string,
  expectedSha256: string,
  startedAtMs = performance.now(),
  init: TimedDownloadInit = {},
): Promise<TimedDownload> {
  const peerDigest = init.peerDigest !== false;
  // Progress events only: the bench measures the transfer, not the line the control socket writes per chunk.
  const result = await swarm.control(name, 'download', { name: BENCH_FILE, chunkEvents: false, ...(peerDigest ? {} : { digest: false }) });
  const wallS = (performance.now() - startedAtMs) / 1000;
  return {
    name,
    wallS,
    schedulerS: Number(result['ms']) / 1000,
    bytes: Number(result['bytes']),
    verified: peerDigest && result['verified'] === true && result['sha256'] === expectedSha256,
    chunksBySource: (result['chunksBySource'] ?? {}) as Record<string, number>,
    peerVerified: result['verified'] === true,
    path: String(result['path']),
  };
}

/**
 * Verifies downloads timed with `peerDigest: false`: each file on disk, hashed here after the timing
 * (as the BitTorrent side by side checks libtorrent's and aria2's files), must have the publisher's
 * SHA-256. Returns the downloads with `verified` set from what is on disk.
 */
export async function checkOnDisk(downloads: TimedDownload[], expectedSha256: string): Promise<TimedDownload[]> {
  const checked: TimedDownload[] = [];
  // One at a time: hashing two 1 GiB files at once on 2 cores only makes each slower.
  for (const download of downloads) {
    const onDisk = await hashFile(download.path).catch(() => undefined);
    checked.push({ ...download, verified: download.peerVerified && onDisk === expectedSha256 });
  }
  return checked;
}

/** `floorMBps`: the CPU floor of the download's topology (pair or demo leecher), if measured. */
export function transferResult(download: TimedDownload, limitMBps: number, floorMBps: number | null): TransferResult {
  const MBps = download.bytes / BYTES_PER_MB / download.wallS;
  return {
    MBps,
    ratio: MBps / limitMBps,
    ofCpuFloor: floorMBps === null ? null : MBps / floorMBps,
    bytes: download.bytes,
    wallS: download.wallS,
    schedulerS: download.schedulerS,
    verified: download.verified,
  };
}

/**
 * CPU used by each named peer process between `start` and `stop`, in cores (CPU seconds over wall
 * seconds): near 1 means that process's main thread was the bottleneck.
 */
export async function startCpuMeter(
  swarm: LocalSwarm,
  names: string[],
): Promise<{ stop: () => Promise<Record<string, number | null>> }> {
  const pids = names.map((name) => swarm.peer(name).process.pid);
  const startMs = performance.now();
  const before = await Promise.all(pids.map((pid) => procCpuSeconds(pid)));
  return {
    stop: async () => {
      const after = await Promise.all(pids.map((pid) => procCpuSeconds(pid)));
      const wallS = (performance.now() - startMs) / 1000;
      const cores: Record<string, number | null> = {};
      names.forEach((name, i) => {
        const a = after[i];
        const b = before[i];
        cores[name] = a === null || a === undefined || b === null || b === undefined ? null : (a - b) / wallS;
      });
      return cores;
    },
  };
}
