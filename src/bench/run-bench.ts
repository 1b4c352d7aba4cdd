/**
 * `swarmlab bench [--json] [--quick] [--lab] [--profile DIR] [--only SECTION,...]`: every measurement
 * in one run (measure.ts), one after the other so they do not compete for the cores. Progress goes to
 * stderr; the table, and with --json one JSON object as the last line, go to stdout. `--only` runs
 * some sections (ceiling, pair, demo, swarm, tracker, bittorrent) and prints their raw results as one
 * JSON object: a quick way to measure one thing while working on it.
 */
import { parseArgs } from 'node:util';
import { err, out } from '../cli/output';
import { measure } from './measure';
import type { Measured } from './measure';
import { benchJson, benchTable } from './report';
import { BENCH_SECTIONS, parseSections } from './sections';
import type { MeasureSection } from './sections';
import { LOCAL_LEECHERS_DEFAULT_MIB, LOCAL_LEECHERS_UPLOAD_BYTES_PER_S, runLocalSwarm } from './swarm';
import { runTeardowns } from './teardown';
import { MIB } from './types';
import type { BenchResult, BenchSizes } from './types';

export const FULL_SIZES: BenchSizes = {
  tcpBytes: 2048 * MIB,
  sha256Bytes: 1024 * MIB,
  pairBytes: 1024 * MIB,
  demoBytes: 1024 * MIB,
  swarmNs: [8, 16],
  swarmFileBytes: 32 * MIB,
  swarmUploadBytesPerS: 4 * MIB,
  trackerPeers: 10_000,
  trackerFiles: 1_000,
  trackerRequests: 200_000,
  trackerConnections: 4,
  trackerWindow: 128,
  // Every container's bytes cross the same two cores, so the lab moves less than the local swarm:
  // 16 MiB at 512 KiB/s is a minimum of 32 s for N = 8 and 16.
  labSwarmNs: [8, 16],
  labSwarmFileBytes: 16 * MIB,
  labSwarmUploadBytesPerS: 512 * 1024,
};

/** Under a minute on a 2-core machine: a CI smoke run, not a measurement. */
export const QUICK_SIZES: BenchSizes = {
  tcpBytes: 256 * MIB,
  sha256Bytes: 128 * MIB,
  pairBytes: 64 * MIB,
  demoBytes: 64 * MIB,
  swarmNs: [4, 8],
  swarmFileBytes: 2 * MIB,
  swarmUploadBytesPerS: 2 * MIB,
  trackerPeers: 1_000,
  trackerFiles: 200,
  trackerRequests: 20_000,
  trackerConnections: 4,
  trackerWindow: 128,
  labSwarmNs: [4],
  labSwarmFileBytes: 4 * MIB,
  labSwarmUploadBytesPerS: 1024 * 1024,
};

/** Lab scenarios hold up to 200 peers (lab/scenario/schema.ts MAX_PEERS): the seeder and 199 downloaders. */
export const MAX_LAB_LEECHERS = 199;

/**
 * `--lab-leechers N` is the lab at scale as a bench run, with or without --quick: the file and upload
 * limit of `lab run fifty` (64 MiB, every upload 512 KiB/s: a minimum of 128 s for any N of 1 or more),
 * so that the lab's own costs are measured over a distribution long enough to show them.
 */
export const LAB_LEECHERS_FILE_BYTES = 64 * MIB;
export const LAB_LEECHERS_UPLOAD_BYTES_PER_S = 512 * 1024;
/**
 * Twice the protocol's default chunk: a hundred peers on a few cores spend their CPU on what they do per
 * chunk and per message, so half as many chunks move the same bytes sooner, although each chunk takes a
 * source a second to send at 512 KiB/s (docs/benchmarks.md, "No Docker healthchecks in big runs").
 * `--chunk-kib K` measures other sizes.
 */
export const LAB_LEECHERS_CHUNK_BYTES = 512 * 1024;

/** The sizes of a run with `--lab-leechers N`: the other sections as they were, the lab run at scale. */
export function labLeechersSizes(sizes: BenchSizes, n: number): BenchSizes {
  return {
    ...sizes,
    labSwarmNs: [n],
    labSwarmFileBytes: LAB_LEECHERS_FILE_BYTES,
    labSwarmUploadBytesPerS: LAB_LEECHERS_UPLOAD_BYTES_PER_S,
    labSwarmChunkBytes: LAB_LEECHERS_CHUNK_BYTES,
  };
}

/** `--lab-leechers N`: N, or null when it is not a whole number from 1 to MAX_LAB_LEECHERS. */
export function parseLabLeechers(value: string): number | null {
  if (!/^\d+$/.test(value)) return null;
  const n = Number(value);
  return n >= 1 && n <= MAX_LAB_LEECHERS ? n : null;
}

/** `--local-mib M`: the file of a `--local-leechers` run, MiB. */
export const MAX_LOCAL_MIB = 1024;

/** A whole number from `min` to `max`, or null. */
function parseWhole(value: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(value)) return null;
  const n = Number(value);
  return n >= min && n <= max ? n : null;
}

/** `--chunk-kib K`: the chunk size of an at-scale run, KiB, inside the protocol's 1 KiB to 4 MiB (src/protocol/schemas.ts). */
export const MIN_CHUNK_KIB = 16;
export const MAX_CHUNK_KIB = 1024;

export async function runBench(args: string[], init: { cliPath: string }): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean' },
      quick: { type: 'boolean' },
      lab: { type: 'boolean' },
      'lab-leechers': { type: 'string' },
      'lab-tmpfs': { type: 'boolean' },
      'local-leechers': { type: 'string' },
      'local-mib': { type: 'string' },
      'chunk-kib': { type: 'string' },
      profile: { type: 'string' },
      only: { type: 'string' },
    },
  });
  const chunkKib = values['chunk-kib'] === undefined ? undefined : parseWhole(values['chunk-kib'], MIN_CHUNK_KIB, MAX_CHUNK_KIB);
  if (chunkKib === null) {
    err(`bench: --chunk-kib takes a whole number from ${MIN_CHUNK_KIB} to ${MAX_CHUNK_KIB}`);
    return 2;
  }
  if (chunkKib !== undefined && values['local-leechers'] === undefined && values['lab-leechers'] === undefined) {
    err('bench: --chunk-kib goes with --local-leechers N or --lab-leechers N');
    return 2;
  }
  const chunkBytes = chunkKib === undefined ? undefined : chunkKib * 1024;
  if (values['local-leechers'] !== undefined) {
    const n = parseWhole(values['local-leechers'], 1, MAX_LAB_LEECHERS);
    const mib = values['local-mib'] === undefined ? LOCAL_LEECHERS_DEFAULT_MIB : parseWhole(values['local-mib'], 1, MAX_LOCAL_MIB);
    if (n === null || mib === null) {
      err(`bench: --local-leechers takes a whole number from 1 to ${MAX_LAB_LEECHERS}, --local-mib one from 1 to ${MAX_LOCAL_MIB}`);
      return 2;
    }
    return runLocalLeechers(init.cliPath, n, mib, chunkBytes);
  }
  const only = values.only === undefined ? undefined : parseSections(values.only);
  if (only === null) {
    err(`bench: --only takes a comma-separated list of ${BENCH_SECTIONS.join(', ')}`);
    return 2;
  }
  const quick = values.quick === true;
  const labLeechers = values['lab-leechers'] === undefined ? undefined : parseLabLeechers(values['lab-leechers']);
  if (labLeechers === null) {
    err(`bench: --lab-leechers takes a whole number from 1 to ${MAX_LAB_LEECHERS}`);
    return 2;
  }
  const defaults = quick ? QUICK_SIZES : FULL_SIZES;
  // `--lab-leechers 99` is the 100-peer swarm of the lab as a bench run (one seeder, 99 downloaders).
  const labSizes = labLeechers === undefined ? defaults : labLeechersSizes(defaults, labLeechers);
  const lab = values.lab === true || labLeechers !== undefined;
  if (values['lab-tmpfs'] === true && !lab) {
    err('bench: --lab-tmpfs goes with --lab or --lab-leechers N');
    return 2;
  }
  // Chunk writes then cost the host's filesystem nothing, and memory instead: a variant, said in each row.
  const sizes = {
    ...labSizes,
    ...(values['lab-tmpfs'] === true ? { labSwarmDataTmpfs: true } : {}),
    ...(chunkBytes === undefined ? {} : { labSwarmChunkBytes: chunkBytes }),
  };
  const interrupted = (): void => void runTeardowns().then(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const json = values.json === true;
  // A whole run measures everything (the lab only when asked); `--only` the sections it names.
  const sections = new Set<MeasureSection>(only ?? [...BENCH_SECTIONS, 'footprint', ...(lab ? ['lab' as const] : [])]);
  const benchInit = { cliPath: init.cliPath, ...(values.profile ? { profileDir: values.profile } : {}) };
  try {
    const { results, verified } = await measure(sizes, sections, benchInit);
    if (only) {
      // `--only` prints the raw results as they were measured: a quick look while working on one thing.
      out(JSON.stringify({ quick, only: [...only], ...results }));
    } else {
      const result = wholeRun(quick, lab, results);
      out(benchTable(result));
      if (json) out(JSON.stringify(benchJson(result)));
    }
    return verified ? 0 : 1;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}

/**
 * `--local-leechers N [--local-mib M]`: the swarm at scale as local processes only (swarm.ts
 * runLocalSwarm), one JSON line `{"localSwarm": ...}` on stdout; exit 1 when a copy did not verify.
 */
async function runLocalLeechers(cliPath: string, n: number, mib: number, chunkBytes: number | undefined): Promise<number> {
  const interrupted = (): void => void runTeardowns().then(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    err(`bench: local swarm, 1 seeder + ${n} leechers, ${mib} MiB${chunkBytes === undefined ? '' : ` in ${chunkBytes / 1024} KiB chunks`}`);
    const run = await runLocalSwarm({
      cliPath,
      n,
      fileBytes: mib * MIB,
      uploadBytesPerS: LOCAL_LEECHERS_UPLOAD_BYTES_PER_S,
      ...(chunkBytes === undefined ? {} : { chunkSize: chunkBytes }),
    });
    out(JSON.stringify({ localSwarm: run }));
    return run.verified ? 0 : 1;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}

/** The report of a whole run, which measured every section. */
function wholeRun(quick: boolean, lab: boolean, results: Measured): BenchResult {
  const { ceiling, pair, demo, swarm, tracker, footprint, bittorrent, swarmLab, totalS } = results;
  if (!ceiling || !pair || !demo || !swarm || !tracker || !footprint || !bittorrent)
    throw new Error('a whole bench run measures every section');
  return {
    quick,
    warmedUp: results.warmedUp ?? null,
    ceiling,
    pair,
    demo,
    swarm,
    tracker,
    footprint,
    bittorrent,
    lab: results.lab ?? null,
    ...(lab ? { swarmLab: swarmLab ?? [] } : {}),
    totalS,
  };
}
