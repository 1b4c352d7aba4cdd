/**
 * One bench run: the sections asked for, one after the other so they do not compete for the cores.
 * Progress goes to stderr. Pair and demo need the ceiling for their ratios, so it runs with them; the
 * footprint reads the pair's peak RSS and BitTorrent compares with the pair and demo when they ran.
 * A warm-up runs before any transfer section (warm-up.ts), so every transfer and anchor runs warm.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { err } from '../cli/output';
import { errorMessage } from '../shared/errors';
import { measureFootprint } from './footprint';
import { runDemoTopology, runPair } from './pair';
import { cpuProfileEnv } from './profile';
import { bittorrentSection, ceilingSection, labSwarmSection, swarmSection, trackerSection } from './sections';
import type { MeasureSection } from './sections';
import { MIB } from './types';
import type { BenchInit, BenchResult, BenchSizes } from './types';
import { warmUp } from './warm-up';

/** What a run measured, keyed in the order it measured it; a section left out has no key. */
export type Measured = Partial<Omit<BenchResult, 'quick' | 'totalS'>> & { totalS: number };

export interface Measurement {
  results: Measured;
  /** Every transfer that ran verified its file, the tracker answered without errors and the lab ran. */
  verified: boolean;
}

export async function measure(
  sizes: BenchSizes,
  sections: ReadonlySet<MeasureSection>,
  init: BenchInit,
): Promise<Measurement> {
  const startMs = performance.now();
  const step = (what: string): void => err(`bench: ${what} (${((performance.now() - startMs) / 1000).toFixed(1)} s)`);
  const results: Partial<Measured> = {};
  let verified = true;

  if (['ceiling', 'pair', 'demo', 'bittorrent'].some((name) => sections.has(name as MeasureSection))) {
    const bytes = 2 * Math.max(sizes.pairBytes, sizes.demoBytes);
    step(`warm-up: writing and deleting ${Math.round(bytes / MIB)} MiB`);
    results.warmedUp = await warmUp(bytes);
  }
  if (sections.has('ceiling') || sections.has('pair') || sections.has('demo')) {
    step('ceiling');
    results.ceiling = await ceilingSection(sizes);
  }
  const ceiling = results.ceiling;
  const transfer = ceiling && { cliPath: init.cliPath, limitMBps: ceiling.limitMBps, cpuFloor: ceiling.cpuFloor };
  if (sections.has('pair') && transfer) {
    step('pair');
    const env = init.profileDir === undefined ? undefined : await profileEnv(init.profileDir);
    results.pair = await runPair({ ...transfer, fileBytes: sizes.pairBytes, ...(env ? { env } : {}) });
    verified &&= results.pair.verified;
  }
  if (sections.has('demo') && transfer) {
    step('demo topology');
    results.demo = await runDemoTopology({ ...transfer, fileBytes: sizes.demoBytes });
    verified &&= results.demo.leechers.every((leecher) => leecher.verified);
  }
  if (sections.has('swarm')) {
    results.swarm = await swarmSection(sizes, init.cliPath, step);
    verified &&= results.swarm.every((run) => run.verified);
  }
  if (sections.has('tracker')) {
    step('tracker');
    results.tracker = await trackerSection(sizes, init.cliPath);
    verified &&= results.tracker.errors === 0;
  }
  if (sections.has('footprint')) {
    step('footprint');
    results.footprint = await measureFootprint(results.pair?.leecherPeakRssMB ?? null);
  }
  if (sections.has('bittorrent')) {
    step('bittorrent');
    results.bittorrent = await bittorrentSection(sizes, results.pair, results.demo);
  }
  if (sections.has('lab')) {
    // A lab that cannot run (no Docker) is a note in the report, not a crash of the whole bench.
    results.lab = null;
    results.swarmLab = [];
    try {
      for await (const run of labSwarmSection(sizes, init.cliPath, step)) results.swarmLab.push(run);
    } catch (error) {
      results.lab = { note: `--lab: ${errorMessage(error)}` };
      err(`bench: ${results.lab.note}`);
    }
    verified &&= results.lab === null && results.swarmLab.every((run) => run.verified);
  }
  return { results: { ...results, totalS: (performance.now() - startMs) / 1000 }, verified };
}

async function profileEnv(dir: string): Promise<NodeJS.ProcessEnv> {
  const profileDir = resolve(dir);
  await mkdir(profileDir, { recursive: true });
  const env = await cpuProfileEnv(profileDir);
  err(`bench: CPU profiles of the pair's processes go to ${profileDir}`);
  return env;
}
