/**
 * Grading: each check measured from what the lab recorded (run events, the scenario's report, what each
 * peer's server counted as uploaded), never from anything the student's code reports. Pure, no I/O: the
 * unit tests feed it constructed runs.
 *
 * Bands run in order (validity, integrity, performance, robustness); once a band has a failed check,
 * every check of the later bands is "not run", so one bug does not fail ten checks. A timed check takes
 * the median of the runs (a ratio to the rate-limited bound, so a slow machine does not fail it); every
 * other check must hold in every run, and shows its worst run.
 */
import { chaosResult } from '../chaos';
import type { ScenarioReport } from '../report-types';
import { minimumDistributionMs, minimumTimes } from '../observe/distribution-minimum';
import { happenedT } from '../observe/run-events';
import type { RunEvent } from '../observe/run-events';
import type { EventOf } from '../observe/run-state';
import { measureSweepBound, measureSweepGrowth, type SweepRun } from './grade-sweep';
import { measureCatches, type VariantRun } from './grade-variant';
import { BANDS, TIMED_KINDS, type Band, type CheckKind, type ExerciseCheck } from './schema';

/** One run of the exercise's scenario, as recorded. */
export interface RunRecord extends VariantRun, SweepRun {
  events: readonly RunEvent[];
  report: ScenarioReport;
  /** Chunk bytes each peer's server sent (`ctl status` uploadedBytes at the end; duplicates included). */
  uploadedBytes?: Readonly<Record<string, number>>;
  /** The broken variant this run was made with (undefined: the exercise's own, correct swarm). */
  variant?: string;
  /** This run's own scenario facts, when they differ from the exercise's (a variant, a sweep's N). */
  facts?: ScenarioFacts;
}

/** What one check measured in one run. */
export interface Measurement {
  passed: boolean;
  /** The number compared with the threshold (a ratio, copies, a share, a count), or null when there is none. */
  measured: number | null;
  /** The measurement against its threshold, in words. */
  words: string;
  /** The moment it refers to, ms since the recording started (a link to the timeline). */
  atT?: number;
}

export type CheckStatus = 'passed' | 'failed' | 'not-run';

export interface CheckResult {
  id: string;
  band: Band;
  kind: CheckKind;
  status: CheckStatus;
  passed: boolean;
  /** Points earned. */
  points: number;
  maxPoints: number;
  measured: number | null;
  threshold: number | null;
  words: string;
  /** Shown when the check failed. */
  hint?: string;
  /** Which run the words describe (0-based), and the moment in it. */
  run?: number;
  atT?: number;
}

export interface Grade {
  exercise: string;
  /** null when the lab itself failed (`error`): nothing was graded, so nothing counts against the student. */
  score: number | null;
  maxScore: number;
  passed: boolean;
  checks: CheckResult[];
  /** Set when the lab could not start a run (Docker, images, a container that never came up): no grade. */
  error?: LabFailure;
}

const MIB = 1024 * 1024;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function size(bytes: number): string {
  return bytes >= MIB ? `${(bytes / MIB).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

function fixed(value: number): string {
  return value.toFixed(2);
}

function compare(measured: number, atMost: number): string {
  return measured <= atMost ? `${fixed(measured)} ≤ ${fixed(atMost)}` : `${fixed(measured)} > ${fixed(atMost)}`;
}

/** A download the scenario expects to verify: its peer and file. */
export interface ExpectedDownload {
  peer: string;
  file: string;
}

/** The size of `file` as its `file` event (the seeder's) gives it. */
function fileBytes(events: readonly RunEvent[], file: string): number | undefined {
  for (const event of events) if (event.type === 'file' && event.file === file) return event.size;
  return undefined;
}

/** The swarm came up with the submission (a module that does not load stops its peer) and the steps began. */
/** Time zero of the run as its report shows it: when its containers were up (the `run` event). */
function originOf(run: RunRecord): number {
  return run.events.find((e) => e.type === 'run')?.t ?? 0;
}

function measureStarted(run: RunRecord): Measurement {
  const { report } = run;
  const first = run.events.find((e): e is EventOf<'step'> => e.type === 'step');
  if (report.steps.length > 0) {
    return {
      passed: true,
      measured: report.steps.length,
      words: `the swarm came up and ${report.steps.length} step(s) ran`,
      ...(first === undefined ? {} : { atT: first.t }),
    };
  }
  return { passed: false, measured: 0, words: `the swarm did not come up: ${report.error?.message ?? 'no step ran'}` };
}

/** "step 8 (assert) failed: why", once: the runner's own error may already say which step. */
function stepFailure(index: number, action: string, error: string): string {
  const prefix = `step ${index + 1} (${action}) failed: `;
  return error.startsWith(prefix) ? error : `${prefix}${error}`;
}

function measureCompleted(run: RunRecord): Measurement {
  const { report } = run;
  const end = run.events.find((e): e is EventOf<'end'> => e.type === 'end');
  if (report.ok) {
    return {
      passed: true,
      measured: report.steps.length,
      words: `every step ran (${report.steps.length}) in ${seconds(report.ms)}`,
      ...(end === undefined ? {} : { atT: end.t }),
    };
  }
  const failed = report.steps.find((step) => !step.ok);
  const stepEnd = run.events.find((e): e is EventOf<'step-end'> => e.type === 'step-end' && !e.ok);
  const why =
    failed === undefined
      ? (report.error?.message ?? 'the run failed')
      : stepFailure(failed.index, failed.action, failed.error ?? report.error?.message ?? 'failed');
  return {
    passed: false,
    measured: report.steps.filter((step) => step.ok).length,
    words: why,
    ...(stepEnd === undefined ? {} : { atT: stepEnd.t }),
  };
}

/** Every download the scenario asked for verified: sha256 of the copy in its container equals the seeder's. */
function measureVerified(run: RunRecord, wanted: readonly ExpectedDownload[]): Measurement {
  const verifiedEvents = run.events.filter(
    (e): e is EventOf<'download'> => e.type === 'download' && e.ok && e.verified === true,
  );
  const isVerified = (peer: string, file: string): boolean =>
    run.report.downloads.some((d) => d.peer === peer && d.file === file && d.verified) ||
    verifiedEvents.some((e) => e.peer === peer && e.file === file);
  const missing = wanted.filter((w) => !isVerified(w.peer, w.file));
  const last = verifiedEvents.at(-1);
  const count = wanted.length - missing.length;
  if (wanted.length === 0) return { passed: false, measured: 0, words: 'the scenario downloaded nothing' };
  const words =
    missing.length === 0
      ? `${count} of ${wanted.length} copies verified (sha256 in each downloader's container)` +
        (last === undefined ? '' : `, the last at ${seconds(last.t - originOf(run))}`)
      : `${count} of ${wanted.length} copies verified; not verified: ${missing.map((m) => m.peer).join(', ')}`;
  const failedEvent = run.events.find((e): e is EventOf<'download'> => e.type === 'download' && !e.ok);
  const atT = missing.length === 0 ? last?.t : failedEvent?.t;
  return { passed: missing.length === 0, measured: count, words, ...(atT === undefined ? {} : { atT }) };
}

function measureDistributionTime(run: RunRecord, check: ExerciseCheck): Measurement {
  const file = check.file!;
  const atMost = check.atMost!;
  const minimum = minimumTimes(run.events).find((m) => m.file === file);
  if (minimum === undefined) return { passed: false, measured: null, words: `${file} was never downloaded` };
  if (!('minMs' in minimum)) return { passed: false, measured: null, words: minimum.note };
  if (minimum.measured === undefined) {
    return {
      passed: false,
      measured: null,
      words: `not every downloader verified ${file}; bound ${seconds(minimum.minMs)}`,
      atT: minimum.atT,
    };
  }
  const { distributionMs, ratio } = minimum.measured;
  return {
    passed: ratio <= atMost,
    measured: ratio,
    words: `last copy verified at ${seconds(distributionMs)}; bound ${seconds(minimum.minMs)}; ${compare(ratio, atMost)}`,
    atT: minimum.startT + distributionMs,
  };
}

/** Bytes `peer` served: its server's count when known, else the chunks the events say it delivered. */
function servedBytes(run: RunRecord, peer: string, file: string): { bytes: number; source: string } {
  const counted = run.uploadedBytes?.[peer];
  if (counted !== undefined) return { bytes: counted, source: 'counted by its server' };
  const bytes = run.events.reduce(
    (sum, e) => (e.type === 'transfer' && e.from === peer && e.file === file ? sum + e.bytes : sum),
    0,
  );
  return { bytes, source: 'chunks it delivered' };
}

function measureSeederUpload(run: RunRecord, check: ExerciseCheck): Measurement {
  const file = check.file!;
  const peer = check.peer!;
  const atMost = check.atMost!;
  const total = fileBytes(run.events, file);
  if (total === undefined || total === 0)
    return { passed: false, measured: null, words: `the size of ${file} is unknown` };
  const served = servedBytes(run, peer, file);
  const copies = served.bytes / total;
  return {
    passed: copies <= atMost,
    measured: copies,
    words: `${peer} uploaded ${fixed(copies)} copies of ${file} (${size(served.bytes)} of ${size(total)}, ${served.source}); ${compare(copies, atMost)}`,
  };
}

/**
 * Bytes sent beyond what the downloaders needed, as a share of the file: everything the peers' servers
 * sent minus one copy of each distinct chunk each downloader received. Without the servers' counts, the
 * chunks a downloader received twice.
 */
function measureDuplicates(run: RunRecord, check: ExerciseCheck): Measurement {
  const file = check.file!;
  const atMost = check.atMost!;
  const total = fileBytes(run.events, file);
  if (total === undefined || total === 0)
    return { passed: false, measured: null, words: `the size of ${file} is unknown` };
  const received = new Map<string, number>();
  let transferred = 0;
  for (const event of run.events) {
    if (event.type !== 'transfer' || event.file !== file) continue;
    received.set(`${event.to}\u0000${event.index}`, event.bytes);
    transferred += event.bytes;
  }
  const needed = [...received.values()].reduce((sum, bytes) => sum + bytes, 0);
  // A peer that could not be asked (killed by the scenario) counts the chunks the events say it delivered.
  let uploaded: number | undefined;
  if (run.uploadedBytes !== undefined) {
    const counts = run.uploadedBytes;
    const senders = new Set(run.events.flatMap((e) => (e.type === 'transfer' && e.file === file ? [e.from] : [])));
    uploaded = Object.values(counts).reduce((a, b) => a + b, 0);
    for (const peer of senders) if (counts[peer] === undefined) uploaded += servedBytes(run, peer, file).bytes;
  }
  const duplicate = Math.max(0, (uploaded ?? transferred) - needed);
  const share = duplicate / total;
  const source = uploaded === undefined ? 'chunks received twice' : 'sent by all servers minus chunks needed';
  return {
    passed: share <= atMost,
    measured: share,
    words: `${size(duplicate)} duplicate (${source}) = ${fixed(share)} of ${file}; ${compare(share, atMost)}`,
  };
}

function measureSurvivesFault(run: RunRecord): Measurement {
  const verdict = chaosResult({ fault: 'exercise fault', scenario: run.report.scenario }, '', run.report);
  const fault = run.events.find((e): e is EventOf<'step'> => e.type === 'step' && e.fault);
  const at = fault === undefined ? {} : { atT: fault.t };
  if (verdict.survived) {
    return {
      passed: true,
      measured: verdict.recoverS,
      words: `survived ${fault?.description ?? 'the fault'}; recovered in ${verdict.recoverS ?? '?'} s`,
      ...at,
    };
  }
  return { passed: false, measured: null, words: `did not survive: ${verdict.error ?? 'failed'}`, ...at };
}

function measureAssertions(run: RunRecord, check: ExerciseCheck, assertSteps: readonly number[]): Measurement {
  const targets = check.step === undefined ? assertSteps : [check.step];
  if (targets.length === 0) return { passed: false, measured: 0, words: 'the scenario has no assert step' };
  const results = targets.map((index) => ({ index, step: run.report.steps.find((s) => s.index === index) }));
  const passed = results.filter((r) => r.step?.ok === true).length;
  const failed = results.find((r) => r.step?.ok !== true);
  const words =
    failed === undefined
      ? `${passed} of ${targets.length} assertions held`
      : `${passed} of ${targets.length} assertions held; step ${failed.index + 1} ` +
        (failed.step === undefined ? 'never ran' : `failed: ${failed.step.error ?? 'failed'}`);
  const stepEnd =
    failed === undefined
      ? undefined
      : run.events.find((e): e is EventOf<'step-end'> => e.type === 'step-end' && e.index === failed.index);
  return {
    passed: failed === undefined,
    measured: passed,
    words,
    ...(stepEnd === undefined ? {} : { atT: stepEnd.t }),
  };
}

// ---- group-completion: one group of peers against another, or against its own bound ----

/** The median of some numbers (the mean of the middle two for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function names(peers: readonly string[]): string {
  return peers.length <= 3 ? peers.join(', ') : `${peers[0]}..${peers.at(-1)} (${peers.length})`;
}

/**
 * When `peer` completed `file`, ms since the recording started: its last chunk's arrival as the lab
 * recorded it (the download event when no chunk came), once the lab verified its copy; else undefined.
 */
function completedAtT(run: RunRecord, peer: string, file: string): number | undefined {
  let verifiedT: number | undefined;
  let lastChunkT: number | undefined;
  for (const event of run.events) {
    if (event.type === 'transfer' && event.to === peer && event.file === file) lastChunkT = Math.max(lastChunkT ?? 0, happenedT(event));
    if (event.type === 'download' && event.peer === peer && event.file === file && event.ok && event.verified === true)
      verifiedT ??= event.t;
  }
  if (verifiedT === undefined) return undefined;
  return lastChunkT !== undefined && lastChunkT <= verifiedT ? lastChunkT : verifiedT;
}

/**
 * `versus` given: the median completion of `versus` over that of `peers`, at least `atLeast` (free riders
 * clearly later than contributors). Otherwise: the last completion of `peers` over the theoretical
 * minimum of distributing `file` to them alone (the seeders' upload, theirs, as rate-limited), at most
 * `atMost`. Times run from the download's start, as in distribution-time.
 */
function measureGroupCompletion(run: RunRecord, check: ExerciseCheck): Measurement {
  const file = check.file!;
  const group = check.peers!;
  const minimum = minimumTimes(run.events).find((m) => m.file === file);
  if (minimum?.startT === undefined) return { passed: false, measured: null, words: `${file} was never downloaded` };
  const startT = minimum.startT;
  const times = (peers: readonly string[]): { done: Map<string, number>; missing: string[] } => {
    const done = new Map<string, number>();
    const missing: string[] = [];
    for (const peer of peers) {
      const t = completedAtT(run, peer, file);
      if (t === undefined) missing.push(peer);
      else done.set(peer, t - startT);
    }
    return { done, missing };
  };
  const measured = times([...group, ...(check.versus ?? [])]);
  if (measured.missing.length > 0) {
    return { passed: false, measured: null, words: `${file} not verified on ${measured.missing.join(', ')}` };
  }
  const groupMs = group.map((peer) => measured.done.get(peer)!);
  if (check.versus !== undefined) {
    const atLeast = check.atLeast!;
    const versusMs = check.versus.map((peer) => measured.done.get(peer)!);
    const ratio = median(versusMs) / Math.max(1, median(groupMs));
    const holds = ratio >= atLeast;
    return {
      passed: holds,
      measured: ratio,
      words:
        `${names(check.versus)} completed ${file} at ${seconds(median(versusMs))} (median), ` +
        `${names(group)} at ${seconds(median(groupMs))}; ` +
        `${fixed(ratio)} ${holds ? '≥' : '<'} ${fixed(atLeast)}`,
      atT: startT + median(versusMs),
    };
  }
  if (!('minMs' in minimum)) return { passed: false, measured: null, words: minimum.note };
  const atMost = check.atMost!;
  const rated = minimum.downloaders.filter((d) => group.includes(d.peer));
  const caps = rated.flatMap((d) => (d.downloadBps === undefined ? [] : [d.downloadBps]));
  const boundMs = minimumDistributionMs(
    minimum.fileBytes,
    minimum.seeders.reduce((sum, s) => sum + s.uploadBps, 0),
    rated.map((d) => d.uploadBps),
    caps.length === 0 ? undefined : Math.min(...caps),
  );
  const lastMs = Math.max(...groupMs);
  const ratio = lastMs / boundMs;
  return {
    passed: ratio <= atMost,
    measured: ratio,
    words:
      `${names(group)} completed ${file} by ${seconds(lastMs)}; ` +
      `bound for them alone ${seconds(boundMs)}; ${compare(ratio, atMost)}`,
    atT: startT + lastMs,
  };
}

/** What one check measured in one run. */
export function measure(check: ExerciseCheck, run: RunRecord, scenario: ScenarioFacts): Measurement {
  switch (check.kind) {
    case 'started':
      return measureStarted(run);
    case 'completed':
      return measureCompleted(run);
    case 'verified':
      return measureVerified(run, scenario.downloads);
    case 'distribution-time':
      return measureDistributionTime(run, check);
    case 'seeder-upload':
      return measureSeederUpload(run, check);
    case 'duplicate-bytes':
      return measureDuplicates(run, check);
    case 'survives-fault':
      return measureSurvivesFault(run);
    case 'assertion':
      return measureAssertions(run, check, scenario.assertSteps);
    case 'catches-variant':
      return measureCatches(run, check.variant!);
    case 'sweep-bound':
    case 'sweep-growth':
      // A sweep is measured over all its runs at once (measureAll); one run alone measures nothing.
      return measureAll(check, [run]);
    case 'group-completion':
      return measureGroupCompletion(run, check);
    default: {
      const never: never = check.kind;
      throw new Error(`unknown check kind ${String(never)}`);
    }
  }
}

/** The kinds measured over every run at once (a sweep compares its runs at different N). */
const WHOLE_SWEEP_KINDS: ReadonlySet<CheckKind> = new Set(['sweep-bound', 'sweep-growth']);

function measureAll(check: ExerciseCheck, runs: readonly RunRecord[]): Measurement {
  return check.kind === 'sweep-bound'
    ? measureSweepBound(runs, check.file!, check.atMost!)
    : measureSweepGrowth(runs, check.file!, check.atMost!);
}

/** The runs a check reads: a variant's for `catches-variant`, the correct swarm's for every other kind. */
function runsOf(check: ExerciseCheck, runs: readonly RunRecord[]): RunRecord[] {
  const variant = check.kind === 'catches-variant' ? check.variant : undefined;
  return runs.filter((run) => run.variant === variant);
}

/** A check's measurement over its runs: the sweep's as a whole, any other per run then combined. */
function measureCheck(check: ExerciseCheck, init: GradeInit): Measurement & { run?: number } {
  const runs = runsOf(check, init.runs);
  if (runs.length === 0) {
    const why = check.kind === 'catches-variant' ? `the broken swarm "${check.variant}" was not run` : 'no run';
    return { passed: false, measured: null, words: `not run: ${why}` };
  }
  if (WHOLE_SWEEP_KINDS.has(check.kind)) return measureAll(check, runs);
  const combined = combineRuns(
    check,
    runs.map((run) => measure(check, run, run.facts ?? init.scenario)),
  );
  // The index among all the runs, so the grade links the report of the run it describes.
  return { ...combined, run: init.runs.indexOf(runs[combined.run]!) };
}

/** The median of the runs' measurements (a timed check), or the worst run (any other). */
export function combineRuns(check: ExerciseCheck, measurements: readonly Measurement[]): Measurement & { run: number } {
  const indexed = measurements.map((m, run) => ({ ...m, run }));
  if (TIMED_KINDS.has(check.kind)) {
    const valued = indexed.filter((m) => m.measured !== null).sort((a, b) => a.measured! - b.measured!);
    if (valued.length < indexed.length) return indexed.find((m) => m.measured === null)!;
    const median = valued[Math.floor((valued.length - 1) / 2)]!;
    const words = indexed.length === 1 ? median.words : `median of ${indexed.length} runs: ${median.words}`;
    return { ...median, words };
  }
  const failed = indexed.find((m) => !m.passed);
  if (failed !== undefined) return failed;
  if (check.atMost === undefined) return indexed[0]!;
  return indexed.reduce((worst, m) => ((m.measured ?? 0) > (worst.measured ?? 0) ? m : worst));
}

/** What the grader needs to know of the scenario (`scenarioFacts` in lab/exercise/run-check.ts). */
export interface ScenarioFacts {
  /** Every download the scenario expects to verify (its download steps without expectFailure). */
  downloads: readonly ExpectedDownload[];
  /** Indices (from 0) of the scenario's assert steps. */
  assertSteps: readonly number[];
}

export interface GradeInit {
  exercise: string;
  checks: readonly ExerciseCheck[];
  runs: readonly RunRecord[];
  scenario: ScenarioFacts;
}

// ---- a run the lab itself could not start: an error, not a grade ----

/**
 * Codes of a run that never started for the lab's own reasons: Docker unreachable or failing, images
 * that cannot be built or found, not enough memory, a run name taken, a container never ready in time.
 * Not here: ERR_LAB_CONTAINER_EXITED, a container that exited while starting (a peer whose module does
 * not load stops itself), which is the submission's failure and fails the `started` check.
 */
export const LAB_FAILURE_CODES: ReadonlySet<string> = new Set([
  'ERR_LAB_DOCKER',
  'ERR_LAB_HEALTH_TIMEOUT',
  'ERR_LAB_MEMORY_EXCEEDED',
  'ERR_LAB_RUN_EXISTS',
  'ERR_LAB_IMAGE_NOT_FOUND',
  'ERR_BASE_IMAGE',
  'ERR_IMAGE_BUILD',
  'ERR_BUNDLE_BUILD',
  'ERR_DOCKER_STREAM',
]);

/** Why the lab, not the submission, failed a run: `kind` is always "infrastructure". */
export interface LabFailure {
  kind: 'infrastructure';
  code: string;
  message: string;
  /** The run (0-based) that failed. */
  run: number;
}

/** The lab's own failure to start `run` (no step ran, and the code is one of LAB_FAILURE_CODES), if any. */
export function labFailureOf(run: RunRecord, index: number): LabFailure | undefined {
  const { error, steps } = run.report;
  if (steps.length > 0 || error === undefined || !LAB_FAILURE_CODES.has(error.code)) return undefined;
  return { kind: 'infrastructure', code: error.code, message: error.message, run: index };
}

/** A grade that is none: every check "not run", no score, and why. */
function labFailureGrade(init: GradeInit, failure: LabFailure): Grade {
  const checks = init.checks.map((check): CheckResult => ({
    id: check.id,
    band: check.band,
    kind: check.kind,
    status: 'not-run',
    passed: false,
    points: 0,
    maxPoints: check.points,
    measured: null,
    threshold: check.atMost ?? check.atLeast ?? null,
    words: `not run: the lab failed to start run ${failure.run + 1} (${failure.code}), not your submission`,
  }));
  const maxScore = init.checks.reduce((sum, c) => sum + c.points, 0);
  return { exercise: init.exercise, score: null, maxScore, passed: false, checks, error: failure };
}

/**
 * Grades the runs: every check measured, in band order, later bands "not run" after a failed one. When
 * the lab could not start one of the runs, nothing is graded: the grade is an error (`error`).
 */
export function gradeRuns(init: GradeInit): Grade {
  const failure = init.runs.map(labFailureOf).find((f) => f !== undefined);
  if (failure !== undefined) return labFailureGrade(init, failure);
  const checks: CheckResult[] = [];
  let failedBand: Band | undefined;
  for (const band of BANDS) {
    let bandFailed = false;
    for (const check of init.checks.filter((c) => c.band === band)) {
      const base = {
        id: check.id,
        band,
        kind: check.kind,
        maxPoints: check.points,
        threshold: check.atMost ?? check.atLeast ?? null,
      };
      if (failedBand !== undefined) {
        checks.push({
          ...base,
          status: 'not-run',
          passed: false,
          points: 0,
          measured: null,
          words: `not run: the ${failedBand} band failed`,
        });
        continue;
      }
      const combined = measureCheck(check, init);
      if (!combined.passed) bandFailed = true;
      checks.push({
        ...base,
        status: combined.passed ? 'passed' : 'failed',
        passed: combined.passed,
        points: combined.passed ? check.points : 0,
        measured: combined.measured,
        words: combined.words,
        ...(combined.passed ? {} : { hint: check.hint }),
        ...(combined.run === undefined ? {} : { run: combined.run }),
        ...(combined.atT === undefined ? {} : { atT: combined.atT }),
      });
    }
    if (bandFailed) failedBand ??= band;
  }
  const score = checks.reduce((sum, c) => sum + c.points, 0);
  const maxScore = init.checks.reduce((sum, c) => sum + c.points, 0);
  return { exercise: init.exercise, score, maxScore, passed: checks.every((c) => c.passed), checks };
}

/**
 * The `--json` record: `{"grade":{exercise, score, maxScore, passed, checks:[{id, band, passed, points,
 * measured, threshold}], reportPath}}`; when the lab failed, `score` is null and `error` follows `passed`.
 */
export function gradeJson(grade: Grade, reportPath: string | undefined): { grade: Record<string, unknown> } {
  return {
    grade: {
      exercise: grade.exercise,
      score: grade.score,
      maxScore: grade.maxScore,
      passed: grade.passed,
      ...(grade.error === undefined ? {} : { error: grade.error }),
      checks: grade.checks.map((c) => ({
        id: c.id,
        band: c.band,
        passed: c.passed,
        points: c.points,
        measured: c.measured,
        threshold: c.threshold,
      })),
      ...(reportPath === undefined ? {} : { reportPath }),
    },
  };
}
