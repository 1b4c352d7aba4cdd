/**
 * `swarmlab bench --only swarm,pair`: runs a few sections of the bench and prints their raw results as
 * one JSON object (last line). Pair and demo need the ceiling for their ratios, so it runs with them.
 */
import { err, out } from '../cli/output';
import { runDemoTopology, runPair } from './pair';
import type { BenchSizes } from './run-bench';
import { bittorrentSection, ceilingSection, swarmSection, trackerSection } from './sections';
import type { CeilingResult, DemoResult, PairResult } from './types';

export const BENCH_SECTIONS = ['ceiling', 'pair', 'demo', 'swarm', 'tracker', 'bittorrent'] as const;
export type BenchSection = (typeof BENCH_SECTIONS)[number];

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

export async function measureOnly(
  sizes: BenchSizes,
  only: ReadonlySet<BenchSection>,
  options: { cliPath: string; quick: boolean },
): Promise<number> {
  const startMs = performance.now();
  const step = (what: string): void => err(`bench: ${what} (${((performance.now() - startMs) / 1000).toFixed(1)} s)`);
  const result: Record<string, unknown> = { quick: options.quick, only: [...only] };
  let verified = true;

  let ceiling: CeilingResult | undefined;
  if (only.has('ceiling') || only.has('pair') || only.has('demo')) {
    step('ceiling');
    ceiling = await ceilingSection(sizes);
    result['ceiling'] = ceiling;
  }
  let pair: PairResult | undefined;
  if (only.has('pair') && ceiling) {
    step('pair');
    pair = await runPair({ cliPath: options.cliPath, limitMBps: ceiling.limitMBps, cpuFloor: ceiling.cpuFloor, fileBytes: sizes.pairBytes });
    result['pair'] = pair;
    verified &&= pair.verified;
  }
  let demo: DemoResult | undefined;
  if (only.has('demo') && ceiling) {
    step('demo topology');
    demo = await runDemoTopology({
      cliPath: options.cliPath,
      limitMBps: ceiling.limitMBps,
      cpuFloor: ceiling.cpuFloor,
      fileBytes: sizes.demoBytes,
    });
    result['demo'] = demo;
    verified &&= demo.leechers.every((leecher) => leecher.verified);
  }
  if (only.has('swarm')) {
    const swarm = await swarmSection(sizes, options.cliPath, step);
    verified &&= swarm.every((run) => run.verified);
    result['swarm'] = swarm;
  }
  if (only.has('tracker')) {
    step('tracker');
    const tracker = await trackerSection(sizes, options.cliPath);
    result['tracker'] = tracker;
    verified &&= tracker.errors === 0;
  }
  if (only.has('bittorrent')) {
    step('bittorrent');
    result['bittorrent'] = await bittorrentSection(sizes, pair, demo);
  }
  result['totalS'] = (performance.now() - startMs) / 1000;
  out(JSON.stringify(result));
  return verified ? 0 : 1;
}
