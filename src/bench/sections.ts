/**
 * The sections of a bench run and each one run at the sizes of the run: one place that maps BenchSizes
 * to a section's parameters, for measure.ts.
 */
import { runBittorrentComparison } from './bittorrent';
import { measureCeiling } from './ceiling';
import { runLabSwarmDistribution } from './lab-swarm';
import { runSwarmDistribution } from './swarm';
import { runTrackerLoad } from './tracker-load';
import type {
  BenchSizes,
  BittorrentResult,
  CeilingResult,
  DemoResult,
  LabSwarmRunResult,
  PairResult,
  SwarmRunResult,
  TrackerLoadResult,
} from './types';

/** The sections `--only` accepts, in the order a run measures them. */
export const BENCH_SECTIONS = ['ceiling', 'pair', 'demo', 'swarm', 'tracker', 'bittorrent'] as const;
export type BenchSection = (typeof BENCH_SECTIONS)[number];

/**
 * Every section a run can measure. A whole run adds the footprint (the pair's peak RSS and the image
 * sizes) and, with `--lab`, the swarm in lab containers; `--only` never runs those two.
 */
export type MeasureSection = BenchSection | 'footprint' | 'lab';

/** The sections named in `list`, or null when one of them is unknown. */
export function parseSections(list: string): Set<BenchSection> | null {
  const names = list
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.length === 0) return null;
  const known = new Set<string>(BENCH_SECTIONS);
  if (!names.every((name) => known.has(name))) return null;
  return new Set(names as BenchSection[]);
}

export function ceilingSection(sizes: BenchSizes): Promise<CeilingResult> {
  return measureCeiling({ tcpBytes: sizes.tcpBytes, sha256Bytes: sizes.sha256Bytes, fileBytes: sizes.pairBytes });
}

/** The swarm distribution for every N of the run, one after another; `step` announces each. */
export async function swarmSection(
  sizes: BenchSizes,
  cliPath: string,
  step: (what: string) => void,
): Promise<SwarmRunResult[]> {
  const runs: SwarmRunResult[] = [];
  for (const n of sizes.swarmNs) {
    step(`swarm distribution, N = ${n}`);
    runs.push(
      await runSwarmDistribution({
        cliPath,
        n,
        fileBytes: sizes.swarmFileBytes,
        uploadBytesPerS: sizes.swarmUploadBytesPerS,
      }),
    );
  }
  return runs;
}

export function trackerSection(sizes: BenchSizes, cliPath: string): Promise<TrackerLoadResult> {
  return runTrackerLoad({
    cliPath,
    peers: sizes.trackerPeers,
    files: sizes.trackerFiles,
    requests: sizes.trackerRequests,
    connections: sizes.trackerConnections,
    window: sizes.trackerWindow,
  });
}

/** BitTorrent side by side with the pair and demo results when they ran (null speed-ups otherwise). */
export function bittorrentSection(
  sizes: BenchSizes,
  pair: PairResult | undefined,
  demo: DemoResult | undefined,
): Promise<BittorrentResult> {
  return runBittorrentComparison({
    pairBytes: sizes.pairBytes,
    demoBytes: sizes.demoBytes,
    swarmlabPairMBps: pair?.MBps ?? null,
    swarmlabDemoMBps: demo ? demo.leechers.map((leecher) => leecher.MBps) : null,
  });
}

/**
 * The swarm distribution in lab containers for every lab N of the run, yielded one by one so that the
 * runs before a failed one stay in the report; `step` announces each.
 */
export async function* labSwarmSection(
  sizes: BenchSizes,
  cliPath: string,
  step: (what: string) => void,
): AsyncGenerator<LabSwarmRunResult> {
  for (const n of sizes.labSwarmNs) {
    step(`swarm distribution in lab containers, N = ${n}`);
    yield await runLabSwarmDistribution({
      cliPath,
      n,
      fileBytes: sizes.labSwarmFileBytes,
      uploadBytesPerS: sizes.labSwarmUploadBytesPerS,
      ...(sizes.labSwarmDataTmpfs === true ? { dataTmpfs: true } : {}),
      ...(sizes.labSwarmChunkBytes === undefined ? {} : { chunkBytes: sizes.labSwarmChunkBytes }),
    });
  }
}
