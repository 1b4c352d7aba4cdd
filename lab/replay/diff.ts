/**
 * `lab diff RUN_A RUN_B`, the pure part: what differed between two runs, from their run.json and
 * report.json. Settings and seeds are structural diffs (one entry per JSON pointer whose value differs);
 * the environment (version, images, engine, enforcement) likewise; outcome and timings are summarised per
 * run and shown side by side. No I/O here: diff-command.ts reads the folders and prints.
 */
import type { RunRecord } from './run-record';

/** One difference: the JSON pointer, and each side's value (absent on a side that lacks the path). */
export interface ValueChange {
  path: string;
  a?: unknown;
  b?: unknown;
}

/** What diff reads of report.json (a ScenarioReport plus the derived data); every field may be missing. */
export interface RunReportJson {
  ok?: boolean;
  ms?: number;
  error?: { code?: string; message?: string };
  steps?: { index: number; action: string; ok: boolean; error?: string }[];
  downloads?: { peer: string; file: string; verified: boolean; finishedAtMs?: number; ms?: number }[];
  derived?: {
    minimums?: { file: string; minMs?: number; measured?: { distributionMs: number; ratio: number } }[];
    failedDownloads?: { peer: string; file: string; error: string }[];
  };
}

export interface RunSide {
  /** How the run is named in the output (its folder). */
  label: string;
  record: RunRecord;
  /** Undefined when the folder has no readable report.json. */
  report: RunReportJson | undefined;
}

export interface RunOutcome {
  ok: boolean | null;
  /** Every download verified (and at least one happened). */
  verified: boolean | null;
  downloads: number;
  /** Failed steps and downloads, one line each. */
  failures: string[];
}

/** The main timings of a run, in ms; null where the run does not have it. */
export interface RunTimings {
  scenarioMs: number | null;
  /** Per file: distribution time, theoretical minimum, and their ratio. */
  files: Record<string, { distributionMs: number | null; minimumMs: number | null; ratio: number | null }>;
  /** Per `peer file`: when the download finished, in ms from the start of the scenario. */
  completions: Record<string, number | null>;
}

export interface RunDiff {
  a: string;
  b: string;
  settings: ValueChange[];
  seeds: ValueChange[];
  environment: ValueChange[];
  outcome: { a: RunOutcome; b: RunOutcome; same: boolean };
  timings: { a: RunTimings; b: RunTimings };
}

/** `~` and `/` escaped as RFC 6901 wants them in a JSON pointer segment. */
export function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every JSON pointer under `path` where `a` and `b` differ: objects key by key (a key on one side only is
 * a change with the other side absent), arrays index by index, anything else by value.
 */
export function structuralDiff(a: unknown, b: unknown, path = ''): ValueChange[] {
  if (Array.isArray(a) && Array.isArray(b)) {
    const changes: ValueChange[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const at = `${path}/${i}`;
      if (i >= a.length) changes.push({ path: at, b: b[i] as unknown });
      else if (i >= b.length) changes.push({ path: at, a: a[i] as unknown });
      else changes.push(...structuralDiff(a[i], b[i], at));
    }
    return changes;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...Object.keys(a), ...Object.keys(b).filter((key) => !(key in a))];
    const changes: ValueChange[] = [];
    for (const key of keys) {
      const at = `${path}/${pointerSegment(key)}`;
      if (!(key in b)) changes.push({ path: at, a: a[key] });
      else if (!(key in a)) changes.push({ path: at, b: b[key] });
      else changes.push(...structuralDiff(a[key], b[key], at));
    }
    return changes;
  }
  return Object.is(a, b) ? [] : [{ path, a, b }];
}

/** What a run ran on, besides its settings: diffed too, since a replay on other code may behave otherwise. */
function environmentOf(record: RunRecord): Record<string, unknown> {
  return {
    swarmlabVersion: record.swarmlabVersion,
    engine: record.engine,
    images: record.images ?? null,
    enforcement: record.enforcement,
  };
}

export function outcomeOf(report: RunReportJson | undefined): RunOutcome {
  if (report === undefined) return { ok: null, verified: null, downloads: 0, failures: [] };
  const downloads = report.downloads ?? [];
  const failures = [
    ...(report.steps ?? [])
      .filter((step) => !step.ok)
      .map((step) => `step ${step.index + 1} (${step.action}): ${step.error ?? 'failed'}`),
    ...(report.derived?.failedDownloads ?? []).map((d) => `download ${d.file} on ${d.peer}: ${d.error}`),
  ];
  if (failures.length === 0 && report.ok === false) failures.push(report.error?.message ?? 'failed');
  return {
    ok: report.ok ?? null,
    verified: downloads.length > 0 && downloads.every((d) => d.verified),
    downloads: downloads.length,
    failures,
  };
}

export function timingsOf(report: RunReportJson | undefined): RunTimings {
  const files: RunTimings['files'] = {};
  for (const minimum of report?.derived?.minimums ?? []) {
    // A file without rates has no minimum, and its distribution time is only measured against one.
    if (minimum.minMs === undefined && minimum.measured === undefined) continue;
    files[minimum.file] = {
      distributionMs: minimum.measured?.distributionMs ?? null,
      minimumMs: minimum.minMs ?? null,
      ratio: minimum.measured?.ratio ?? null,
    };
  }
  const completions: RunTimings['completions'] = {};
  for (const download of report?.downloads ?? []) {
    completions[`${download.peer} ${download.file}`] = download.finishedAtMs ?? null;
  }
  return { scenarioMs: report?.ms ?? null, files, completions };
}

export function diffRuns(a: RunSide, b: RunSide): RunDiff {
  const outcomeA = outcomeOf(a.report);
  const outcomeB = outcomeOf(b.report);
  return {
    a: a.label,
    b: b.label,
    settings: structuralDiff(a.record.scenario, b.record.scenario),
    seeds: structuralDiff(a.record.seeds, b.record.seeds),
    environment: structuralDiff(environmentOf(a.record), environmentOf(b.record)),
    outcome: {
      a: outcomeA,
      b: outcomeB,
      same: structuralDiff(outcomeA, outcomeB).length === 0,
    },
    timings: { a: timingsOf(a.report), b: timingsOf(b.report) },
  };
}
