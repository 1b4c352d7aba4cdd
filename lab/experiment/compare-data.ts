/**
 * A comparison's figures, derived from each run's recorded events and scenario report: pure functions,
 * no I/O (like lab/observe/report-data.ts), so compare.json, compare.html and `--json` show the same
 * numbers and each can be checked in a unit test.
 *
 * A run's figures are about its main file: the downloaded file with the longest theoretical minimum (the
 * one the experiment is about), or the first downloaded file when no minimum could be computed.
 */
import type { ScenarioReport } from '../report-types';
import { downloadLanes, failedDownloads, minimumTimes, type MinimumTime } from '../observe/report-data';
import { happenedT } from '../observe/run-events';
import type { RunEvent } from '../observe/run-events';
import type { EventOf } from '../observe/run-state';
import { median, range } from './stats';
import { variantLabel, type Variant, type VaryAxis } from './vary';

/** One run of one variant. Times in seconds, from the start of the main file's distribution. */
export interface RunFigures {
  /** The run's name (its containers' prefix). */
  run: string;
  /** 1..N. */
  repeat: number;
  /** The run seed (generated files derive theirs from it). */
  seed: string;
  file: string | null;
  /** From the first chunk request to the last chunk's arrival, once every downloader verified the file. */
  distributionS: number | null;
  /** The theoretical minimum max(F/u_s, N·F/(u_s + Σu_i)); null when some upload rate was not set. */
  minimumS: number | null;
  /** distributionS / minimumS. */
  ratio: number | null;
  /** Bytes the seeders uploaded, in copies of the file (1: each chunk left a seeder once). */
  seederCopies: number | null;
  /** Bytes of the main file received from its seeders, and from other downloaders. */
  bytesFromSeeders: number;
  bytesFromPeers: number;
  /** Each downloader that verified the file: when its last chunk arrived. */
  completionS: number[];
  /** The scenario passed and every download verified. */
  verified: boolean;
  /** What went wrong: the scenario's error, downloads that failed or did not verify. */
  failures: string[];
  /** The single run's report.html. */
  reportPath?: string;
}

export interface VariantSummary {
  vary: Variant;
  label: string;
  runs: RunFigures[];
  median: { distributionS: number | null; ratio: number | null; minimumS: number | null; seederCopies: number | null };
  range: { distributionS: [number, number] | null; ratio: [number, number] | null };
}

export interface CompareData {
  scenario: string;
  /** The scenario file as given. */
  scenarioFile: string;
  /** The compare's seed; repeat r of every variant runs with the run seed `<seed>-<r>`. */
  seed: string;
  repeat: number;
  axes: VaryAxis[];
  /** Wall clock of the compare's start (epoch ms). */
  startedAt: number;
  variants: VariantSummary[];
  /** Every planned run ran (false while it is under way, or after an interrupt). */
  complete: boolean;
  /** Every run so far verified all its downloads. */
  ok: boolean;
}

const round = (value: number, digits = 3): number => Number(value.toFixed(digits));

/** The downloaded file a run's figures are about (see the module header). */
export function mainMinimum(minimums: readonly MinimumTime[]): MinimumTime | undefined {
  let best: MinimumTime | undefined;
  for (const minimum of minimums) {
    if (!('minMs' in minimum)) continue;
    if (best === undefined || !('minMs' in best) || minimum.minMs > best.minMs) best = minimum;
  }
  return best ?? minimums[0];
}

/** The figures of one finished run. */
export function runFigures(
  events: readonly RunEvent[],
  report: ScenarioReport,
  init: { run: string; repeat: number; seed: string; reportPath?: string },
): RunFigures {
  const lanes = downloadLanes(events);
  const main = mainMinimum(minimumTimes(events, lanes));
  const file = main?.file ?? null;
  const startT = main?.startT;
  const downloaders = new Set(lanes.filter((lane) => lane.file === file).map((lane) => lane.peer));
  const seeders = new Set(
    main !== undefined && 'minMs' in main
      ? main.seeders.map((s) => s.peer)
      : events
          .filter((e): e is EventOf<'file'> => e.type === 'file' && e.file === file && !downloaders.has(e.peer))
          .map((e) => e.peer),
  );
  const transfers = events.filter((e): e is EventOf<'transfer'> => e.type === 'transfer' && e.file === file);
  let bytesFromSeeders = 0;
  let bytesFromPeers = 0;
  for (const t of transfers) {
    if (seeders.has(t.from)) bytesFromSeeders += t.bytes;
    else bytesFromPeers += t.bytes;
  }
  const fileBytes =
    main !== undefined && 'minMs' in main
      ? main.fileBytes
      : events.find((e): e is EventOf<'file'> => e.type === 'file' && e.file === file)?.size;

  const verifiedPeers = new Set(
    events
      .filter((e): e is EventOf<'download'> => e.type === 'download' && e.file === file && e.ok && e.verified !== false)
      .map((e) => e.peer),
  );
  const completionS: number[] = [];
  if (startT !== undefined) {
    for (const peer of downloaders) {
      if (!verifiedPeers.has(peer)) continue;
      const lastT = transfers.filter((t) => t.to === peer).reduce((max, t) => Math.max(max, happenedT(t)), startT);
      completionS.push(round((lastT - startT) / 1000));
    }
  }
  completionS.sort((a, b) => a - b);
  const everyoneVerified = downloaders.size > 0 && [...downloaders].every((peer) => verifiedPeers.has(peer));
  const distributionMs =
    main !== undefined && 'minMs' in main
      ? main.measured?.distributionMs
      : everyoneVerified && startT !== undefined
        ? Math.max(startT, ...transfers.map((t) => happenedT(t))) - startT
        : undefined;
  const minimumS = main !== undefined && 'minMs' in main ? round(main.minMs / 1000) : null;
  const distributionS = distributionMs === undefined ? null : round(distributionMs / 1000);

  const failures = [
    ...(report.error === undefined ? [] : [report.error.message]),
    ...failedDownloads(events).map((f) => `${f.peer} ${f.file}: ${f.error}`),
    ...report.downloads.filter((d) => !d.verified).map((d) => `${d.peer} ${d.file}: not verified`),
  ];
  return {
    run: init.run,
    repeat: init.repeat,
    seed: init.seed,
    file,
    distributionS,
    minimumS,
    ratio: distributionS === null || minimumS === null || minimumS === 0 ? null : round(distributionS / minimumS),
    seederCopies: fileBytes === undefined || fileBytes === 0 ? null : round(bytesFromSeeders / fileBytes, 2),
    bytesFromSeeders,
    bytesFromPeers,
    completionS,
    verified: report.ok && report.downloads.length > 0 && report.downloads.every((d) => d.verified),
    failures,
    ...(init.reportPath === undefined ? {} : { reportPath: init.reportPath }),
  };
}

/** A variant's runs with their medians and ranges. */
export function summarizeVariant(vary: Variant, runs: readonly RunFigures[]): VariantSummary {
  const of = (pick: (run: RunFigures) => number | null): (number | null)[] => runs.map(pick);
  return {
    vary,
    label: variantLabel(vary),
    runs: [...runs],
    median: {
      distributionS: median(of((r) => r.distributionS)),
      ratio: median(of((r) => r.ratio)),
      minimumS: median(of((r) => r.minimumS)),
      seederCopies: median(of((r) => r.seederCopies)),
    },
    range: { distributionS: range(of((r) => r.distributionS)), ratio: range(of((r) => r.ratio)) },
  };
}

/** The `--json` record: `{"compare": {...}}`, the fields of the contract and nothing else. */
export function compareJsonRecord(data: CompareData, reportPath: string): { compare: unknown } {
  return {
    compare: {
      scenario: data.scenario,
      variants: data.variants.map((variant) => ({
        vary: variant.vary,
        runs: variant.runs.map((run) => ({
          distributionS: run.distributionS,
          minimumS: run.minimumS,
          ratio: run.ratio,
          seederCopies: run.seederCopies,
          verified: run.verified,
          reportPath: run.reportPath ?? null,
        })),
        median: { distributionS: variant.median.distributionS, ratio: variant.median.ratio },
      })),
      reportPath,
    },
  };
}
