/**
 * Each bench section run at the sizes of a bench run: one place that maps BenchSizes to a section's
 * parameters, for the whole bench (run-bench.ts) and for `--only` (only.ts).
 */
import { runBittorrentComparison } from './bittorrent';
import { measureCeiling } from './ceiling';
import type { BenchSizes } from './run-bench';
import { runSwarmDistribution } from './swarm';
import { runTrackerLoad } from './tracker-load';
import type {
  BittorrentResult,
  CeilingResult,
  DemoResult,
  PairResult,
  SwarmRunResult,
  TrackerLoadResult,
} from './types';

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
