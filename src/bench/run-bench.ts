/**
 * `swarmlab bench [--json] [--quick] [--lab] [--profile DIR] [--only SECTION,...]`: every measurement of
 * issue 4 in one run, one after the other so they do not compete for the cores. Progress goes to
 * stderr; the table, and with --json one JSON object as the last line, go to stdout. `--only` runs
 * some sections (ceiling, pair, demo, swarm, tracker, bittorrent) and prints their raw results as one
 * JSON object: a quick way to measure one thing while working on it.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { err, out } from '../cli/output';
import { errorMessage } from '../shared/errors';
import { BENCH_SECTIONS, measureOnly, parseSections } from './only';
import { measureFootprint } from './footprint';
import { runLabSwarmDistribution } from './lab-swarm';
import { runDemoTopology, runPair } from './pair';
import { cpuProfileEnv } from './profile';
import { benchJson, benchTable } from './report';
import { bittorrentSection, ceilingSection, swarmSection, trackerSection } from './sections';
import { runTeardowns } from './teardown';
import { MIB } from './types';
import type { BenchResult } from './types';

export interface BenchSizes {
  tcpBytes: number;
  sha256Bytes: number;
  pairBytes: number;
  demoBytes: number;
  swarmNs: number[];
  swarmFileBytes: number;
  swarmUploadBytesPerS: number;
  trackerPeers: number;
  trackerFiles: number;
  trackerRequests: number;
  trackerConnections: number;
  trackerWindow: number;
  /** `--lab`: leechers per run, file and upload limit of the container runs. */
  labSwarmNs: number[];
  labSwarmFileBytes: number;
  labSwarmUploadBytesPerS: number;
}

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

/** Lab scenarios hold up to 64 peers: the seeder and at most 63 downloaders. */
export const MAX_LAB_LEECHERS = 63;

/** `--lab-leechers N`: N, or null when it is not a whole number from 1 to MAX_LAB_LEECHERS. */
export function parseLabLeechers(value: string): number | null {
  if (!/^\d+$/.test(value)) return null;
  const n = Number(value);
  return n >= 1 && n <= MAX_LAB_LEECHERS ? n : null;
}

export async function runBench(args: string[], init: { cliPath: string }): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean' },
      quick: { type: 'boolean' },
      lab: { type: 'boolean' },
      'lab-leechers': { type: 'string' },
      profile: { type: 'string' },
      only: { type: 'string' },
    },
  });
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
  // `--lab-leechers 49` is the 50-peer swarm of the lab as a bench run (one seeder, 49 downloaders).
  const sizes = labLeechers === undefined ? defaults : { ...defaults, labSwarmNs: [labLeechers] };
  const interrupted = (): void => void runTeardowns().then(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    if (only) return await measureOnly(sizes, only, { cliPath: init.cliPath, quick });
    return await measureAll(sizes, {
      cliPath: init.cliPath,
      quick,
      json: values.json === true,
      lab: values.lab === true || labLeechers !== undefined,
      ...(values.profile ? { profile: values.profile } : {}),
    });
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}

interface BenchOptions {
  cliPath: string;
  quick: boolean;
  json: boolean;
  lab: boolean;
  profile?: string;
}

async function measureAll(sizes: BenchSizes, options: BenchOptions): Promise<number> {
  const startMs = performance.now();
  const step = (what: string): void => err(`bench: ${what} (${((performance.now() - startMs) / 1000).toFixed(1)} s)`);

  step('ceiling');
  const ceiling = await ceilingSection(sizes);
  const transfer = { cliPath: options.cliPath, limitMBps: ceiling.limitMBps, cpuFloor: ceiling.cpuFloor };

  step('pair');
  let pairEnv: NodeJS.ProcessEnv | undefined;
  if (options.profile) {
    const profileDir = resolve(options.profile);
    await mkdir(profileDir, { recursive: true });
    pairEnv = await cpuProfileEnv(profileDir);
    err(`bench: CPU profiles of the pair's processes go to ${profileDir}`);
  }
  const pair = await runPair({ ...transfer, fileBytes: sizes.pairBytes, ...(pairEnv ? { env: pairEnv } : {}) });

  step('demo topology');
  const demo = await runDemoTopology({ ...transfer, fileBytes: sizes.demoBytes });

  const swarm = await swarmSection(sizes, options.cliPath, step);

  step('tracker');
  const tracker = await trackerSection(sizes, options.cliPath);

  step('footprint and bittorrent');
  const footprint = await measureFootprint(pair.leecherPeakRssMB);
  const bittorrent = await bittorrentSection(sizes, pair, demo);

  let lab: BenchResult['lab'] = null;
  const swarmLab = [];
  if (options.lab) {
    try {
      for (const n of sizes.labSwarmNs) {
        step(`swarm distribution in lab containers, N = ${n}`);
        swarmLab.push(
          await runLabSwarmDistribution({
            cliPath: options.cliPath,
            n,
            fileBytes: sizes.labSwarmFileBytes,
            uploadBytesPerS: sizes.labSwarmUploadBytesPerS,
          }),
        );
      }
    } catch (error) {
      lab = { note: `--lab: ${errorMessage(error)}` };
      err(`bench: ${lab.note}`);
    }
  }

  const result: BenchResult = {
    quick: options.quick,
    ceiling,
    pair,
    demo,
    swarm,
    tracker,
    footprint,
    bittorrent,
    lab,
    ...(options.lab ? { swarmLab } : {}),
    totalS: (performance.now() - startMs) / 1000,
  };
  out(benchTable(result));
  if (options.json) out(JSON.stringify(benchJson(result)));
  const verified =
    pair.verified &&
    demo.leechers.every((l) => l.verified) &&
    swarm.every((s) => s.verified) &&
    tracker.errors === 0 &&
    lab === null &&
    swarmLab.every((s) => s.verified);
  return verified ? 0 : 1;
}
