/**
 * `npm run lab -- exercise list|show|start|check|grade`: exercises a student runs in the lab and a grade
 * the lab computes. `check` replays the exercise's scenario (with the student's submission applied) on
 * fresh containers through the ordinary run path, K times, grades what was recorded, and writes grade.json
 * and a Grade section into the run report. Each command returns the process exit code.
 */
import { availableParallelism, userInfo } from 'node:os';
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';

import YAML from 'yaml';

import { createLogger } from '../../src/shared/logger';
import { defaultReportDir, replayScenario, upCommand, type CommandContext } from '../commands';
import { withTimeout } from '../abort';
import { ScenarioInvalidError, UsageError, messageOf } from '../errors';
import type { LabRun } from '../controller';
import { upWithDashboard, type DashboardOptions } from '../observe/dashboard-command';
import { renderReportHtml } from '../observe/report-html';
import { writeRunReport, type WrittenReport } from '../observe/report-writer';
import { RunRecorder } from '../observe/run-events';
import { loadScenario, scenarioPeers, validateScenario } from '../scenario/load';
import type { Scenario } from '../scenario/schema';
import { DEFAULT_MAX_ASSERTIONS, loadAssertions } from './assertions-file';
import { applyBrokenVariant } from './broken-variants';
import { ExerciseRefusedError } from './errors';
import { gradeJson, gradeRuns, labFailureOf, type Grade, type RunRecord } from './grade';
import { gradeSectionHtml, withGradeSection, type GradeFooter } from './grade-html';
import {
  exerciseDirs,
  exerciseScenario,
  loadExercise,
  loadHiddenVariants,
  resolveExerciseDir,
  type LoadedExercise,
} from './load';
import { drawParameters, studentSeed, withDerived } from './parameters';
import { BOUNDED_KINDS, type Exercise, type ExerciseCheck } from './schema';
import { applySubmission, scenarioBounds, scenarioFacts, type AppliedSubmission, type Submission } from './submission';
import { downloaderNames, substituteSweep } from './sweep';

const log = createLogger('lab');

export const GRADE_FILE = 'grade.json';
/** `check`'s exit code when the lab itself failed to start a run: no grade, re-run once the lab is fixed. */
export const EXIT_LAB_FAILURE = 3;
const STATUS_TIMEOUT_MS = 5_000;
const SWARMLAB_VERSION = '0.1.0';

/** Who is graded: the student's id and the seed their parameters are drawn from. */
export interface StudentInit {
  student?: string;
  /** Overrides the seed derived from the student's id (a teacher re-running a disputed grade). */
  seed?: number;
}

export interface Who {
  student: string;
  seed: number;
  parameters: Record<string, number>;
}

export function defaultStudent(): string {
  const fromEnv = process.env['SWARMLAB_STUDENT'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  try {
    return userInfo().username;
  } catch {
    return 'student';
  }
}

async function loadById(id: string): Promise<LoadedExercise> {
  const dir = resolveExerciseDir(id);
  if (dir === undefined) {
    const known = exerciseDirs().map((d) => basename(d));
    throw new UsageError(`no exercise "${id}" (one of: ${known.join(', ') || 'none'})`);
  }
  return loadExercise(dir);
}

export function whoFor(exercise: Exercise, init: StudentInit, parameters?: Record<string, number>): Who {
  const student = init.student ?? defaultStudent();
  const seed = init.seed ?? studentSeed(student, exercise.id);
  return { student, seed, parameters: parameters ?? drawParameters(exercise.parameters ?? {}, seed) };
}

function changeLines(exercise: Exercise): string[] {
  const lines: string[] = [];
  const { change } = exercise;
  if (change.picker !== undefined) {
    const peers = change.picker.peers === undefined ? 'every peer' : change.picker.peers.join(', ');
    lines.push(`the piece picker of ${peers}: --picker PATH (docs/strategies.md, "The pick function")`);
  }
  if (change.uploader !== undefined) {
    const peers = change.uploader.peers === undefined ? 'every peer' : change.uploader.peers.join(', ');
    lines.push(`the uploader policy of ${peers}: --uploader PATH (docs/strategies.md, "Whom to upload to")`);
  }
  for (const [name, bound] of Object.entries(change.settings ?? {})) {
    lines.push(`the peer setting ${name}, from ${bound.min} to ${bound.max}: --set ${name}=N`);
  }
  if (change.scenario !== undefined) {
    lines.push(
      `a scenario of your own: --scenario FILE (locked: ${(change.scenario.locked ?? ['peers', 'chunkSize', 'network', 'peerDefaults']).join(', ')})`,
    );
  }
  if (exercise.sweep !== undefined) {
    lines.push(
      `  it runs once per count of downloaders N = ${exercise.sweep.downloaders.join(', ')}: write \${N}, \${peers} (N + 1) and \${downloaders} (peer-2 .. peer-(N+1)) where N goes`,
    );
  }
  if (change.assertions !== undefined) {
    lines.push(
      `assertions of your own, run after the scenario's steps: --assertions FILE (at most ${change.assertions.max ?? DEFAULT_MAX_ASSERTIONS} assert steps)`,
    );
  }
  return lines;
}

export async function exerciseListCommand(ctx: CommandContext): Promise<number> {
  const dirs = exerciseDirs();
  if (dirs.length === 0) {
    ctx.printer.line('no exercises');
    return 0;
  }
  for (const dir of dirs) {
    const { exercise } = await loadExercise(dir);
    const points = exercise.checks.reduce((sum, c) => sum + c.points, 0);
    const change = [
      exercise.change.picker === undefined ? undefined : '--picker',
      exercise.change.uploader === undefined ? undefined : '--uploader',
      ...Object.keys(exercise.change.settings ?? {}).map((name) => `--set ${name}`),
      exercise.change.scenario === undefined ? undefined : '--scenario',
      exercise.change.assertions === undefined ? undefined : '--assertions',
    ].filter((x) => x !== undefined);
    ctx.printer.line(
      `${exercise.id.padEnd(24)} ${exercise.title.padEnd(36)} ${String(points).padStart(3)} pts  change: ${change.join(', ')}`,
    );
  }
  return 0;
}

export async function exerciseShowCommand(ctx: CommandContext, id: string, init: StudentInit): Promise<number> {
  const loaded = await loadById(id);
  const { exercise } = loaded;
  const who = whoFor(exercise, init);
  const scenario = exerciseScenario(loaded, who.parameters);
  const p = ctx.printer;
  p.line(`${exercise.id}: ${exercise.title}`);
  p.line();
  for (const line of exercise.goal.trim().split('\n')) p.line(line);
  p.line();
  p.line('what you may change:');
  for (const line of changeLines(exercise)) p.line(`  ${line}`);
  p.line();
  p.line(`checks (bands run in order; after a failed band the later ones are not run):`);
  for (const check of exercise.checks) {
    const threshold =
      check.atMost === undefined
        ? check.atLeast === undefined
          ? ''
          : ` (at least ${check.atLeast}: ${thresholdMeaning(check)})`
        : ` (at most ${check.atMost}: ${thresholdMeaning(check)})`;
    p.line(
      `  ${check.band.padEnd(11)} ${check.id.padEnd(24)} ${String(check.points).padStart(2)} pts  ${check.kind}${threshold}`,
    );
  }
  p.line();
  const values = Object.entries(who.parameters).map(([name, value]) => {
    const describe = exercise.parameters?.[name]?.describe;
    return `${name} = ${value}${describe === undefined ? '' : ` (${describe})`}`;
  });
  p.line(`your parameters (student ${who.student}, seed ${who.seed}): ${values.join('; ') || 'none'}`);
  const derived = withDerived(who.parameters, exercise.derived);
  const extra = Object.keys(exercise.derived ?? {}).map((name) => `${name} = ${derived[name]}`);
  if (extra.length > 0) p.line(`  which make: ${extra.join('; ')}`);
  for (const bound of scenarioBounds(scenario)) {
    if ('note' in bound) p.line(`  ${bound.note}`);
    else {
      p.line(
        `  the bound they imply for ${bound.file}: ${(bound.fileBytes / 1024).toFixed(0)} KiB from ${bound.seeders} seeder(s) ` +
          `to ${bound.downloaders} downloader(s): max(F/u_s, N·F/(u_s + Σu_i)) = ${(bound.minMs / 1000).toFixed(1)} s`,
      );
    }
  }
  p.line();
  p.line(`start:  npm run lab -- exercise start ${exercise.id}`);
  const flag =
    moduleFlag(exercise) ??
    (exercise.change.assertions !== undefined
      ? ' --assertions FILE'
      : exercise.change.scenario !== undefined
        ? ' --scenario FILE'
        : '');
  p.line(`check:  npm run lab -- exercise check ${exercise.id}${flag}`);
  return 0;
}

/** What a check's threshold bounds, for `show`. */
function thresholdMeaning(check: ExerciseCheck): string {
  if (check.kind !== 'group-completion') return BOUNDED_KINDS[check.kind] ?? 'the measurement';
  return check.versus === undefined
    ? `the last completion of ${check.peers?.join(', ') ?? 'the group'} over their bound alone`
    : `the median completion of ${check.versus.join(', ')} over that of ${check.peers?.join(', ') ?? 'the group'}`;
}

/** ` --picker PATH` or ` --uploader PATH`: the module flag the exercise takes, if any. */
function moduleFlag(exercise: Exercise, path = 'PATH'): string | undefined {
  if (exercise.change.picker !== undefined) return ` --picker ${path}`;
  if (exercise.change.uploader !== undefined) return ` --uploader ${path}`;
  return undefined;
}

export interface StartOptions {
  /** Where the starter is copied (default ./exercise-ID). */
  dir?: string;
  run?: string;
  dashboard: DashboardOptions | undefined;
}

/** Copies the starter into `dir` (never over an existing folder); returns the folder. */
export function copyStarter(loaded: LoadedExercise, dir: string): string {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) return target;
  cpSync(join(loaded.dir, 'starter'), target, { recursive: true });
  return target;
}

export async function exerciseStartCommand(ctx: CommandContext, id: string, options: StartOptions): Promise<number> {
  const loaded = await loadById(id);
  const { exercise } = loaded;
  const who = whoFor(exercise, {});
  const scenario = exerciseScenario(loaded, who.parameters);
  const dir = options.dir ?? `exercise-${exercise.id}`;
  const existed = existsSync(dir) && readdirSync(dir).length > 0;
  const target = copyStarter(loaded, dir);
  ctx.printer.line(existed ? `${target} exists: kept as it is` : `copied the starter to ${target}:`);
  for (const name of readdirSync(target)) ctx.printer.line(`  ${join(target, name)}`);
  const starterModule = readdirSync(target).find((name) => /\.(m?js|cjs)$/.test(name));
  const starterFile = (name: string): string | undefined =>
    existsSync(join(target, name)) ? ` ${join(dir, name)}` : undefined;
  const flag =
    (starterModule === undefined ? undefined : moduleFlag(exercise, join(dir, starterModule))) ??
    (exercise.change.assertions !== undefined && starterFile('assertions.yaml') !== undefined
      ? ` --assertions${starterFile('assertions.yaml')!}`
      : '');
  ctx.printer.line(`when ready: npm run lab -- exercise check ${exercise.id}${flag}`);
  const upOptions = {
    run: options.run ?? `ex-${exercise.id.slice(0, 2)}`,
    peers: scenarioPeers(scenario).length,
    ...(scenario.chunkSize === undefined ? {} : { chunkSize: scenario.chunkSize }),
  };
  return options.dashboard === undefined
    ? upCommand(ctx, upOptions)
    : upWithDashboard(ctx, upOptions, { ...options.dashboard, exitWhenDone: true });
}

export interface CheckOptions extends StudentInit {
  picker?: string;
  /** The student's assertions file (`--assertions FILE`). */
  assertionsFile?: string;
  uploader?: string;
  settings?: Record<string, string>;
  scenarioFile?: string;
  runs?: number;
  json?: boolean;
  reportDir?: string;
  /** Run names are `PREFIX-K` (default `ex-NN-<time>`). */
  runPrefix?: string;
  /** Parameters to use instead of the student's (a teacher's hidden variant). */
  parameters?: Record<string, number>;
  /** Print a line per chunk (default false). */
  printChunks?: boolean;
}

export interface CheckResult {
  grade: Grade;
  reportPath?: string;
  gradePath?: string;
  who: Who;
}

/** `--set a=1 --set b=2` as a map; a pair without `=` is a usage error. */
export function parseSettings(pairs: readonly string[]): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--set takes NAME=VALUE, got "${pair}"`);
    settings[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return settings;
}

/** The peers' upload counters (`ctl status` uploadedBytes), for the peers that still answer. */
async function uploadCounts(run: LabRun, signal: AbortSignal): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  await Promise.all(
    [...run.peers.values()].map(async (peer) => {
      const bounded = withTimeout(signal, STATUS_TIMEOUT_MS);
      try {
        const status = (await peer.control.request('status', {}, { signal: bounded.signal })) as unknown as {
          uploadedBytes?: unknown;
        };
        if (typeof status.uploadedBytes === 'number') counts[peer.name] = status.uploadedBytes;
      } catch {
        // A peer the scenario killed or paused has no count; the grader falls back to its transfers.
      } finally {
        bounded.clear();
      }
    }),
  );
  return counts;
}

/** One run `check` makes: the scenario, the submission applied to it, and what it is a run of. */
interface PlannedRun {
  applied: AppliedSubmission;
  /** The broken variant (undefined: the exercise's correct swarm). */
  variant?: string;
  /** The count of downloaders of a sweep's run. */
  downloaders?: number;
}

/** A student's own scenario: validated now, or for a sweep kept as a template and validated at each N. */
async function readStudentScenario(
  exercise: Exercise,
  path: string,
): Promise<{ scenario?: Scenario; template?: unknown }> {
  if (exercise.sweep === undefined) return { scenario: await loadScenario(path) };
  let template: unknown;
  try {
    template = YAML.parse(await readFile(path, 'utf8'), { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ScenarioInvalidError([{ instancePath: '', message: messageOf(err) }], path);
  }
  return { template };
}

/** A sweep's run at N is peer-1 seeding to N downloaders: a student's scenario has exactly those peers. */
function checkSweepPeers(scenario: Scenario, downloaders: number): void {
  const names = scenarioPeers(scenario).map((peer) => peer.name);
  const expected = ['peer-1', ...downloaderNames(downloaders)];
  if (names.join(',') !== expected.join(',')) {
    throw new ExerciseRefusedError(
      `at N=${downloaders} your scenario's peers must be peer-1 (the seeder) and \${downloaders} ` +
        `(peer-2 .. peer-${downloaders + 1}); it has ${names.join(', ')}`,
    );
  }
}

/**
 * The runs of a check, in order: the correct swarm (once per count of downloaders for a sweep), then
 * each broken variant; the submission applied to each (a refused one throws before any container starts).
 */
function planRuns(
  loaded: LoadedExercise,
  who: Who,
  submission: Submission,
  template: unknown,
  scenarioFile: string | undefined,
): PlannedRun[] {
  const { exercise } = loaded;
  const counts = exercise.sweep?.downloaders ?? [undefined];
  const planned: PlannedRun[] = [];
  for (const downloaders of counts) {
    const base = exerciseScenario(loaded, who.parameters, downloaders);
    const own =
      template === undefined
        ? submission
        : {
            ...submission,
            scenario: validateScenario(
              substituteSweep(template, withDerived(who.parameters, exercise.derived), downloaders),
              `${scenarioFile ?? 'scenario'} (N=${downloaders})`,
            ),
          };
    if (template !== undefined && downloaders !== undefined) checkSweepPeers(own.scenario!, downloaders);
    planned.push({
      applied: applySubmission(exercise, base, own),
      ...(downloaders === undefined ? {} : { downloaders }),
    });
    for (const variant of downloaders === undefined ? (exercise.variants ?? []) : []) {
      const broken = applyBrokenVariant(base, variant, join(loaded.dir, 'exercise.yaml'));
      planned.push({ applied: applySubmission(exercise, broken, own), variant: variant.name });
    }
  }
  return planned;
}

/**
 * Replays the exercise's scenario `runs` times on fresh containers and grades what was recorded. A sweep
 * replays it at each count of downloaders; broken variants run after the correct swarm, and only when
 * every run of the correct swarm held (their checks are "not run" otherwise).
 */
export async function runExerciseCheck(ctx: CommandContext, id: string, options: CheckOptions): Promise<CheckResult> {
  const loaded = await loadById(id);
  const { exercise } = loaded;
  const who = whoFor(exercise, options, options.parameters);
  const own = options.scenarioFile === undefined ? {} : await readStudentScenario(exercise, options.scenarioFile);
  const maxAssertions = exercise.change.assertions?.max;
  const submission: Submission = {
    ...(options.picker === undefined ? {} : { picker: options.picker }),
    ...(options.uploader === undefined ? {} : { uploader: options.uploader }),
    ...(options.settings === undefined ? {} : { settings: options.settings }),
    ...(own.scenario === undefined ? {} : { scenario: own.scenario }),
    ...(options.assertionsFile === undefined
      ? {}
      : {
          assertions: await loadAssertions(options.assertionsFile, maxAssertions),
          assertionsSource: options.assertionsFile,
        }),
  };
  if (exercise.change.picker !== undefined && options.picker === undefined && options.scenarioFile === undefined) {
    throw new UsageError(
      `exercise ${exercise.id} grades a picker: give it with --picker PATH (the starter's picker.js to begin with)`,
    );
  }
  if (exercise.change.assertions !== undefined && options.assertionsFile === undefined) {
    throw new UsageError(
      `exercise ${exercise.id} grades your assertions: give them with --assertions FILE (the starter's assertions.yaml to begin with)`,
    );
  }
  if (options.picker !== undefined && !existsSync(options.picker)) {
    throw new UsageError(`--picker ${options.picker}: no such file`);
  }
  if (exercise.change.uploader !== undefined && options.uploader === undefined && options.scenarioFile === undefined) {
    throw new UsageError(
      `exercise ${exercise.id} grades an uploader: give it with --uploader PATH (the starter's uploader.js to begin with)`,
    );
  }
  if (options.uploader !== undefined && !existsSync(options.uploader)) {
    throw new UsageError(`--uploader ${options.uploader}: no such file`);
  }
  const planned = planRuns(loaded, who, submission, own.template, options.scenarioFile);
  const applied: AppliedSubmission = planned[0]!.applied;
  const runs = options.runs ?? exercise.runs ?? 1;
  const prefix = options.runPrefix ?? `ex-${exercise.id.slice(0, 2)}-${Date.now().toString(36)}`;
  const reportDir = options.reportDir ?? defaultReportDir();
  const records: RunRecord[] = [];
  const written: WrittenReport[] = [];
  const total = planned.length * runs;
  let k = 0;
  let labFailed = false;
  for (const plan of planned) {
    // Docker down or an image missing fails every later run the same way.
    if (labFailed) break;
    if (plan.variant !== undefined && records.some((r) => r.variant === undefined && !r.report.ok)) {
      ctx.printer.line(`broken swarm ${plan.variant}: not run (your assertions did not hold on the correct swarm)`);
      continue;
    }
    for (let r = 1; r <= runs && !ctx.signal.aborted && !labFailed; r += 1) {
      k += 1;
      const what =
        plan.variant !== undefined
          ? ` (broken swarm: ${plan.variant})`
          : plan.downloaders !== undefined
            ? ` (N=${plan.downloaders} downloaders)`
            : '';
      ctx.printer.line(
        `run ${k} of ${total}: ${plan.applied.scenario.name}${what}${applied.name === undefined ? '' : ` with ${applied.name}`}`,
      );
      const recorder = new RunRecorder();
      let uploadedBytes: Record<string, number> | undefined;
      const report = await replayScenario(ctx, plan.applied.scenario, {
        run: `${prefix}-${k}`,
        recorder,
        printChunks: options.printChunks ?? false,
        peerFiles: plan.applied.peerFiles,
        beforeTeardown: async (run) => {
          uploadedBytes = await uploadCounts(run, ctx.signal);
        },
      });
      ctx.printer.line(
        report.ok
          ? `  scenario passed in ${(report.ms / 1000).toFixed(1)} s`
          : `  scenario failed: ${report.error?.message ?? 'failed'}`,
      );
      const record: RunRecord = {
        events: [...recorder.events],
        report,
        ...(uploadedBytes === undefined ? {} : { uploadedBytes }),
        ...(plan.variant === undefined ? {} : { variant: plan.variant }),
        ...(plan.downloaders === undefined ? {} : { downloaders: plan.downloaders }),
        ...(plan.applied.ownSteps === undefined ? {} : { ownSteps: plan.applied.ownSteps }),
        facts: scenarioFacts(plan.applied.scenario),
      };
      records.push(record);
      const labFailure = labFailureOf(record, records.length - 1);
      if (labFailure !== undefined) {
        labFailed = true;
        ctx.printer.line(`  the lab failed to start this run (${labFailure.code}); not graded, no further runs`);
      }
      try {
        written.push(
          await writeRunReport({
            reportDir,
            run: `${prefix}-${k}`,
            events: recorder.events,
            report,
            startedAt: recorder.startedAt,
          }),
        );
      } catch (err) {
        log.error('Could not write the run report', { error: messageOf(err) });
      }
    }
  }
  const grade = gradeRuns({
    exercise: exercise.id,
    checks: exercise.checks,
    runs: records,
    scenario: scenarioFacts(applied.scenario),
  });
  const last = written.at(-1);
  if (last === undefined) return { grade, who };
  const footer: GradeFooter = {
    seed: who.seed,
    student: who.student,
    parameters: who.parameters,
    ...(applied.sha256 === undefined ? {} : { submissionSha256: applied.sha256 }),
    ...(applied.name === undefined ? {} : { submission: applied.name }),
    exerciseSha256: loaded.sha256,
    versions: { swarmlab: SWARMLAB_VERSION, node: process.version },
    cores: availableParallelism(),
    runs: records.length,
  };
  const gradePath = join(last.dir, GRADE_FILE);
  const reports = written.map((w) => w.html);
  await writeFile(gradePath, `${JSON.stringify({ ...grade, footer, reports }, null, 2)}\n`);
  const section = gradeSectionHtml(
    grade,
    footer,
    last.data.originT,
    reports.map((html) => relative(last.dir, html)),
  );
  await writeFile(last.html, withGradeSection(renderReportHtml(last.data), section));
  return { grade, who, reportPath: last.html, gradePath };
}

function printGrade(ctx: CommandContext, result: CheckResult): void {
  const { grade } = result;
  const p = ctx.printer;
  p.line();
  for (const check of grade.checks) {
    const status = { passed: 'pass', failed: 'FAIL', 'not-run': '-   ' }[check.status];
    p.line(
      `${status}  ${check.band.padEnd(11)} ${check.id.padEnd(24)} ${check.points}/${check.maxPoints}  ${check.words}`,
    );
    if (check.hint !== undefined) p.line(`      hint: ${check.hint}`);
  }
  p.line();
  if (grade.error !== undefined) {
    p.line(
      `no grade for ${grade.exercise}: the lab failed to start run ${grade.error.run + 1} ` +
        `(${grade.error.kind}, ${grade.error.code}): ${grade.error.message}`,
    );
    p.line("this is not your submission's failure: fix the lab (is Docker running?) and check again");
  } else {
    p.line(`grade ${grade.exercise}: ${grade.score} / ${grade.maxScore}${grade.passed ? ', every check passed' : ''}`);
  }
  if (result.reportPath !== undefined) p.line(`report: ${result.reportPath}`);
  if (result.gradePath !== undefined) p.line(`grade:  ${result.gradePath}`);
}

export async function exerciseCheckCommand(ctx: CommandContext, id: string, options: CheckOptions): Promise<number> {
  const result = await runExerciseCheck(ctx, id, options);
  printGrade(ctx, result);
  if (options.json === true) ctx.printer.json(gradeJson(result.grade, result.reportPath));
  if (result.grade.error !== undefined) return EXIT_LAB_FAILURE;
  return result.grade.passed && !ctx.signal.aborted ? 0 : 1;
}

export interface GradeOptions {
  submissions: string;
  hidden?: string;
  csv?: boolean;
  json?: boolean;
  runs?: number;
  reportDir?: string;
}

/** A submission: a module file, or a folder holding a module, settings.yaml, scenario.yaml and/or assertions.yaml. */
export async function readSubmission(
  path: string,
  exercise: Exercise,
): Promise<{ name: string; options: CheckOptions }> {
  const name = basename(path).replace(/\.(m?js|cjs)$/, '');
  // A module is the picker, or the uploader in an exercise that grades one; a file alone is the assertions
  // in an exercise that takes them.
  const moduleOption =
    exercise.change.uploader !== undefined && exercise.change.picker === undefined ? 'uploader' : 'picker';
  if (statSync(path).isFile()) {
    return { name, options: exercise.change.assertions === undefined ? { [moduleOption]: path } : { assertionsFile: path } };
  }
  const files = readdirSync(path);
  const module = files.find((file) => /\.(m?js|cjs)$/.test(file));
  const options: CheckOptions = {};
  if (module !== undefined && exercise.change[moduleOption] !== undefined) options[moduleOption] = join(path, module);
  if (files.includes('settings.yaml')) {
    const parsed: unknown = YAML.parse(await readFile(join(path, 'settings.yaml'), 'utf8'));
    options.settings = Object.fromEntries(
      Object.entries((parsed ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    );
  }
  if (files.includes('scenario.yaml')) options.scenarioFile = join(path, 'scenario.yaml');
  if (files.includes('assertions.yaml')) options.assertionsFile = join(path, 'assertions.yaml');
  return { name, options };
}

interface GradeRow {
  submission: string;
  /** null when the lab failed to start the submission's run (then `error` says why). */
  score: number | null;
  maxScore: number;
  passed: boolean;
  hiddenPassed: number;
  hiddenTotal: number;
  reportPath?: string;
  error?: string;
}

function csvCell(value: string | number | boolean | null | undefined): string {
  const text = value === undefined || value === null ? '' : String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** `exercise grade ID --submissions DIR [--hidden FILE] [--csv]`: one row per submission. */
export async function exerciseGradeCommand(ctx: CommandContext, id: string, options: GradeOptions): Promise<number> {
  const loaded = await loadById(id);
  const hidden = options.hidden === undefined ? undefined : await loadHiddenVariants(options.hidden, loaded);
  if (!existsSync(options.submissions)) throw new UsageError(`--submissions ${options.submissions}: no such folder`);
  const entries = readdirSync(options.submissions)
    .filter((name) => !name.startsWith('.'))
    .sort()
    .map((name) => join(options.submissions, name));
  const rows: GradeRow[] = [];
  for (const entry of entries) {
    if (ctx.signal.aborted) break;
    const { name, options: submission } = await readSubmission(entry, loaded.exercise);
    const common = {
      ...submission,
      student: name,
      runs: options.runs ?? 1,
      ...(options.reportDir === undefined ? {} : { reportDir: options.reportDir }),
    };
    try {
      const visible = await runExerciseCheck(ctx, loaded.dir, common);
      let hiddenPassed = 0;
      for (const variant of hidden?.variants ?? []) {
        const parameters = { ...visible.who.parameters, ...variant.parameters };
        const result = await runExerciseCheck(ctx, loaded.dir, { ...common, parameters });
        if (result.grade.passed) hiddenPassed += 1;
      }
      rows.push({
        submission: name,
        score: visible.grade.score,
        maxScore: visible.grade.maxScore,
        passed: visible.grade.passed,
        hiddenPassed,
        hiddenTotal: hidden?.variants.length ?? 0,
        ...(visible.reportPath === undefined ? {} : { reportPath: visible.reportPath }),
        ...(visible.grade.error === undefined
          ? {}
          : { error: `${visible.grade.error.kind}: ${visible.grade.error.code}: ${visible.grade.error.message}` }),
      });
    } catch (err) {
      const maxScore = loaded.exercise.checks.reduce((sum, c) => sum + c.points, 0);
      rows.push({
        submission: name,
        score: 0,
        maxScore,
        passed: false,
        hiddenPassed: 0,
        hiddenTotal: hidden?.variants.length ?? 0,
        error: messageOf(err),
      });
    }
  }
  const p = ctx.printer;
  if (options.csv === true) {
    p.line('submission,score,maxScore,passed,hiddenPassed,hiddenTotal,reportPath,error');
    for (const row of rows) {
      p.line(
        [
          row.submission,
          row.score,
          row.maxScore,
          row.passed,
          row.hiddenPassed,
          row.hiddenTotal,
          row.reportPath,
          row.error,
        ]
          .map(csvCell)
          .join(','),
      );
    }
  } else {
    p.line();
    for (const row of rows) {
      const hiddenText =
        row.hiddenTotal === 0 ? '' : `  hidden variants passed: ${row.hiddenPassed}/${row.hiddenTotal}`;
      p.line(
        `${row.submission.padEnd(24)} ${row.score ?? '-'}/${row.maxScore} ${row.score === null ? 'not graded' : row.passed ? 'passed' : 'not passed'}${hiddenText}${row.error === undefined ? '' : `  error: ${row.error}`}`,
      );
    }
  }
  if (options.json === true) p.json({ grades: rows });
  return 0;
}
