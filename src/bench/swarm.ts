/**
 * Swarm distribution against its theoretical bound: one seeder and N leechers, every upload limited to
 * the same rate u with swarmlab's own limiter, downloads unlimited. With server upload u_s, the
 * fastest any scheme can give F to N peers is max(F/u_s, N·F/(u_s + N·u)) (the server must send every
 * byte once; the swarm as a whole must upload N·F).
 */
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import type { LocalSwarm } from '../cli/local-swarm';
import { DEFAULT_CHUNK_BYTES } from '../protocol';
import { createBenchSwarm, publishBenchFile, startPeers, stopBenchSwarm, timedDownload } from './transfer';
import type { TimedDownload } from './transfer';
import type { DistributionResult, SwarmRunResult } from './types';

const SEEDER = 'seed-1';

export interface SwarmBenchInit {
  cliPath: string;
  n: number;
  fileBytes: number;
  uploadBytesPerS: number;
  env?: NodeJS.ProcessEnv;
  /** Every peer's chunk size (default: the peers' own). */
  chunkSize?: number;
}

/** Seconds; `seederUploadBytesPerS` is u_s, `peerUploadBytesPerS` is every leecher's u. */
export function minimumDistributionS(
  fileBytes: number,
  n: number,
  seederUploadBytesPerS: number,
  peerUploadBytesPerS: number,
): number {
  return Math.max(
    fileBytes / seederUploadBytesPerS,
    (n * fileBytes) / (seederUploadBytesPerS + n * peerUploadBytesPerS),
  );
}

/** The fields of a run that follow from its size and its measured time. */
export function distributionTiming(
  init: { n: number; fileBytes: number; uploadBytesPerS: number },
  measuredS: number,
): Pick<DistributionResult, 'n' | 'fileBytes' | 'uploadBytesPerS' | 'measuredS' | 'minimumS' | 'ratio'> {
  const minimumS = minimumDistributionS(init.fileBytes, init.n, init.uploadBytesPerS, init.uploadBytesPerS);
  return {
    n: init.n,
    fileBytes: init.fileBytes,
    uploadBytesPerS: init.uploadBytesPerS,
    measuredS,
    minimumS,
    ratio: measuredS / minimumS,
  };
}

export async function runSwarmDistribution(init: SwarmBenchInit): Promise<SwarmRunResult> {
  const { result } = await distribute(init, undefined);
  return result;
}

/**
 * `bench --local-leechers N`: the lab's 100-peer swarm as local processes on 127.0.0.1 (no Docker),
 * which measures the swarm's algorithm apart from the containers' cost: 1 seeder and N leechers, the lab
 * run's chunks (the protocol's default, lab-swarm.ts says why; `--chunk-kib` for others), every upload 512 KiB/s, a file of `--local-mib` MiB (default
 * 8, a minimum of 16 s).
 */
export const LOCAL_LEECHERS_CHUNK_BYTES = DEFAULT_CHUNK_BYTES;
export const LOCAL_LEECHERS_UPLOAD_BYTES_PER_S = 512 * 1024;
export const LOCAL_LEECHERS_DEFAULT_MIB = 8;
/** How often the seeder's upload is sampled during a local run. */
export const SEEDER_SAMPLE_MS = 2_000;

/** A local run at scale, with what says where its time went. */
export interface LocalSwarmRunResult extends SwarmRunResult {
  chunkBytes: number;
  /** The seeder's upload over what its rate allowed during the run (1: never idle). */
  seederUse: number;
  /** The seeder's upload rate in each SEEDER_SAMPLE_MS interval, KiB/s (its limit is uploadBytesPerS). */
  seederKiBps: number[];
  /** When the downloads finished, s from the start: the first, the median and the last. */
  finishS: { first: number; median: number; last: number };
  /** Requests the leechers gave up on (a source that did not answer within the request timeout). */
  requestTimeouts: number;
  /**
   * The share of the machine's CPU time (every core, from /proc/stat) that was busy while the downloads
   * ran: near 1, the run was short of CPU (its own processes' or anyone else's); null without /proc.
   */
  machineCpuBusy: number | null;
  /** The machine's load average (1, 5, 15 min) when the downloads started and when they ended. */
  loadAverageStart: number[];
  loadAverageEnd: number[];
}

export async function runLocalSwarm(init: SwarmBenchInit): Promise<LocalSwarmRunResult> {
  const chunkBytes = init.chunkSize ?? LOCAL_LEECHERS_CHUNK_BYTES;
  let requestTimeouts = 0;
  const onLog = (_source: string, line: string): void => {
    if (line.includes('source timed out')) requestTimeouts++;
  };
  const samples: number[] = [];
  let loadAverageStart: number[] = [];
  let cpuStart: CpuTimes | null = null;
  let cpuEnd: CpuTimes | null = null;
  const { result, downloads } = await distribute(
    { ...init, chunkSize: chunkBytes, onLog },
    async (swarm, done) => {
      // The seeder's own count of what it sent, read through its control socket while the downloads run.
      loadAverageStart = loadavg();
      cpuStart = await machineCpuTimes();
      let last = 0;
      while (!(await Promise.race([done.then(() => true), delay(SEEDER_SAMPLE_MS).then(() => false)]))) {
        const bytes = await uploadedBytes(swarm, SEEDER).catch(() => last);
        samples.push((bytes - last) / 1024 / (SEEDER_SAMPLE_MS / 1000));
        last = bytes;
      }
      cpuEnd = await machineCpuTimes();
    },
  );
  const finished = downloads.map((download) => download.wallS).sort((a, b) => a - b);
  return {
    ...result,
    chunkBytes,
    seederUse: (result.seederCopies * init.fileBytes) / (init.uploadBytesPerS * result.measuredS),
    seederKiBps: samples.map((kiBps) => Math.round(kiBps)),
    finishS: {
      first: finished[0] ?? Number.NaN,
      median: finished[Math.floor(finished.length / 2)] ?? Number.NaN,
      last: finished[finished.length - 1] ?? Number.NaN,
    },
    requestTimeouts,
    machineCpuBusy: busyShare(cpuStart, cpuEnd),
    loadAverageStart: loadAverageStart.map(round2),
    loadAverageEnd: loadavg().map(round2),
  };
}

/** One distribution; `observe` runs beside the downloads until `done` settles. */
async function distribute(
  init: SwarmBenchInit & { onLog?: (source: string, line: string) => void },
  observe: ((swarm: LocalSwarm, done: Promise<unknown>) => Promise<void>) | undefined,
): Promise<{ result: SwarmRunResult; downloads: TimedDownload[] }> {
  const swarm = await createBenchSwarm(init);
  try {
    const leechers = Array.from({ length: init.n }, (_, i) => `leech-${i + 1}`);
    await startPeers(swarm, [SEEDER, ...leechers], {
      uploadRate: init.uploadBytesPerS,
      ...(init.chunkSize ? { chunkSize: init.chunkSize } : {}),
    });
    const sha256 = await publishBenchFile(swarm, [SEEDER], init.fileBytes);
    const startedAtMs = performance.now();
    const all = Promise.all(leechers.map((name) => timedDownload(swarm, name, sha256, startedAtMs)));
    const observed = observe?.(swarm, all.catch(() => undefined));
    const downloads = await all;
    await observed;
    const measuredS = Math.max(...downloads.map((download) => download.wallS));
    // The F/u_s bound assumes the seeder sends each chunk once; every extra copy it sends costs time.
    const uploaded = await Promise.all([SEEDER, ...leechers].map((name) => uploadedBytes(swarm, name)));
    const seederBytes = uploaded[0] ?? 0;
    const leecherBytes = uploaded.slice(1).reduce((sum, bytes) => sum + bytes, 0);
    const result: SwarmRunResult = {
      ...distributionTiming(init, measuredS),
      verified: downloads.every((download) => download.verified),
      seederCopies: seederBytes / init.fileBytes,
      // Every byte the leechers received beyond one copy each is waste (endgame duplicates).
      receivedCopies: (seederBytes + leecherBytes) / (init.n * init.fileBytes),
      leecherUploadUse: leecherBytes / (init.n * init.uploadBytesPerS * measuredS),
    };
    return { result, downloads };
  } finally {
    await stopBenchSwarm(swarm);
  }
}

interface CpuTimes {
  busy: number;
  total: number;
}

/** The machine's CPU time since boot, in ticks, busy and in all (the `cpu` line of /proc/stat). */
async function machineCpuTimes(): Promise<CpuTimes | null> {
  const stat = await readFile('/proc/stat', 'utf8').catch(() => '');
  const fields = /^cpu\s+([\d\s]+)/.exec(stat)?.[1]?.trim().split(/\s+/).map(Number);
  if (!fields || fields.length < 5) return null;
  const total = fields.slice(0, 8).reduce((sum, ticks) => sum + ticks, 0);
  // idle and iowait are the idle columns.
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
}

function busyShare(start: CpuTimes | null, end: CpuTimes | null): number | null {
  if (!start || !end || end.total <= start.total) return null;
  return round2((end.busy - start.busy) / (end.total - start.total));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Chunk bytes a peer has served since it started (duplicates included). */
async function uploadedBytes(swarm: LocalSwarm, name: string): Promise<number> {
  const status = await swarm.control(name, 'status');
  return Number(status['uploadedBytes'] ?? Number.NaN);
}
