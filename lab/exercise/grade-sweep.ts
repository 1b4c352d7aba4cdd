/**
 * The checks of a sweep over the number of downloaders, read from each run's events (the report's
 * minimum line: max(F/u_s, N·F/(u_s + Σu_i)) from the rates the run set, and the time from the first
 * request to the last chunk). Several runs at one N count by their median. Pure.
 *
 * - `sweep-bound`: at every N the distribution took at most `atMost` × its minimum.
 * - `sweep-growth`: the time at the largest N over the time at the smallest is at most `atMost`; the
 *   client-server prediction N·F/u_s grows by the ratio of the counts (4 from N = 4 to 16).
 *
 * Both refuse an experiment that is not one: a run at N must download the file on N peers from one
 * seeder, and F, u_s and u_i must be the same at every N (else a faster seeder at N = 16 would hide
 * the growth).
 */
import { minimumTimes } from '../observe/distribution-minimum';
import type { RunEvent } from '../observe/run-events';

export interface SweepRun {
  events: readonly RunEvent[];
  /** The count of downloaders this run was made with. */
  downloaders?: number;
}

export interface SweepMeasurement {
  passed: boolean;
  measured: number | null;
  words: string;
}

interface AtN {
  n: number;
  distributionMs: number;
  minMs: number;
  ratio: number;
  /** F, u_s and the u_i, as text: the same at every N. */
  setup: string;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** One run's measurement at its N, or why it does not count. */
function measureRun(run: SweepRun, file: string): (AtN & { ok: true }) | { ok: false; why: string } {
  const n = run.downloaders ?? 0;
  const minimum = minimumTimes(run.events).find((m) => m.file === file);
  if (minimum === undefined) return { ok: false, why: `N=${n}: ${file} was never downloaded` };
  if (!('minMs' in minimum)) return { ok: false, why: `N=${n}: ${minimum.note}` };
  if (minimum.downloaders.length !== n) {
    return {
      ok: false,
      why: `N=${n}: ${minimum.downloaders.length} peer(s) downloaded ${file}, not the ${n} downloaders`,
    };
  }
  if (minimum.seeders.length !== 1) {
    return {
      ok: false,
      why: `N=${n}: ${minimum.seeders.length} peers held ${file} at the start; the experiment has one seeder`,
    };
  }
  if (minimum.measured === undefined) {
    return { ok: false, why: `N=${n}: not every downloader verified ${file}` };
  }
  const uploads = [...new Set(minimum.downloaders.map((d) => d.uploadBps))].sort((a, b) => a - b);
  return {
    ok: true,
    n,
    distributionMs: minimum.measured.distributionMs,
    minMs: minimum.minMs,
    ratio: minimum.measured.ratio,
    setup: `F=${minimum.fileBytes} u_s=${minimum.seeders[0]!.uploadBps} u_i=${uploads.join('/')}`,
  };
}

/** Each N's median over its runs, in order of N, or the first reason a run does not count. */
function perN(runs: readonly SweepRun[], file: string): AtN[] | string {
  const byN = new Map<number, AtN[]>();
  for (const run of runs) {
    const measured = measureRun(run, file);
    if (!measured.ok) return measured.why;
    byN.set(measured.n, [...(byN.get(measured.n) ?? []), measured]);
  }
  if (byN.size < 2) return 'the sweep needs runs at two counts of downloaders at least';
  const result = [...byN.entries()]
    .sort(([a], [b]) => a - b)
    .map(([n, list]): AtN => {
      const distributionMs = median(list.map((m) => m.distributionMs));
      const minMs = list[0]!.minMs;
      return { n, distributionMs, minMs, ratio: distributionMs / minMs, setup: list[0]!.setup };
    });
  const setups = new Set(result.map((m) => m.setup));
  if (setups.size > 1) {
    return `F, u_s and u_i must be the same at every N; they were ${result.map((m) => `N=${m.n}: ${m.setup}`).join('; ')}`;
  }
  return result;
}

export function measureSweepBound(runs: readonly SweepRun[], file: string, atMost: number): SweepMeasurement {
  const measured = perN(runs, file);
  if (typeof measured === 'string') return { passed: false, measured: null, words: measured };
  const worst = Math.max(...measured.map((m) => m.ratio));
  const each = measured
    .map((m) => `N=${m.n}: ${seconds(m.distributionMs)}, bound ${seconds(m.minMs)} (${m.ratio.toFixed(2)})`)
    .join('; ');
  const verdict =
    worst <= atMost ? `${worst.toFixed(2)} ≤ ${atMost.toFixed(2)}` : `${worst.toFixed(2)} > ${atMost.toFixed(2)}`;
  return { passed: worst <= atMost, measured: worst, words: `${each}; worst ${verdict}` };
}

export function measureSweepGrowth(runs: readonly SweepRun[], file: string, atMost: number): SweepMeasurement {
  const measured = perN(runs, file);
  if (typeof measured === 'string') return { passed: false, measured: null, words: measured };
  const first = measured[0]!;
  const last = measured[measured.length - 1]!;
  const growth = last.distributionMs / first.distributionMs;
  const predicted = last.n / first.n;
  const verdict =
    growth <= atMost ? `${growth.toFixed(2)} ≤ ${atMost.toFixed(2)}` : `${growth.toFixed(2)} > ${atMost.toFixed(2)}`;
  return {
    passed: growth <= atMost,
    measured: growth,
    words:
      `from N=${first.n} to N=${last.n} the distribution time went ${seconds(first.distributionMs)} → ` +
      `${seconds(last.distributionMs)}, ×${growth.toFixed(2)}; client-server (N·F/u_s) predicts ×${predicted.toFixed(2)}; ${verdict}`,
  };
}
