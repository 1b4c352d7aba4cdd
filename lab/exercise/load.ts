/**
 * Loads `lab/exercises/NN-slug/exercise.yaml` and validates it completely before anything runs: the JSON
 * Schema (ajv, with the same JSON-pointer messages as scenarios), then what a schema cannot say: unique
 * check ids, the fields each check kind needs, placeholders that name a parameter, picker peers the
 * scenario has, the folder's starter/ and reference/ files, and the scenario itself (validated with every
 * parameter at its minimum and at its maximum).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';

import Ajv from 'ajv';
import YAML from 'yaml';

import { ScenarioInvalidError, type ScenarioIssue } from '../errors';
import { explainSchemaErrors, scenarioPeers, validateScenario } from '../scenario/load';
import type { Scenario } from '../scenario/schema';
import { applyBrokenVariant } from './broken-variants';
import { ExerciseInvalidError } from './errors';
import { unknownPlaceholders, withDerived } from './parameters';
import {
  BOUNDED_KINDS,
  EXERCISE_SCHEMA,
  HIDDEN_SCHEMA,
  type Exercise,
  type ExerciseCheck,
  type HiddenVariants,
} from './schema';
import { DOWNLOADERS_PLACEHOLDER, substituteSweep, sweepValues } from './sweep';

export const EXERCISE_FILE = 'exercise.yaml';

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validateExerciseSchema = ajv.compile<Exercise>(EXERCISE_SCHEMA);
const validateHiddenSchema = ajv.compile<HiddenVariants>(HIDDEN_SCHEMA);

export interface LoadedExercise {
  exercise: Exercise;
  /** The exercise's folder. */
  dir: string;
  /** The scenario before parameters are substituted (parsed, not yet validated as a scenario). */
  scenarioTemplate: Record<string, unknown>;
  /** sha256 of exercise.yaml and the scenario file it names: what a grade's footer pins. */
  sha256: string;
  /** reference/solution.* and reference/baseline.*, absolute. */
  solution: string;
  baseline: string;
}

/** lab/exercises, from the sources (ts-jest) or from dist/ (the bundle). */
export function exercisesRoot(): string {
  const candidates = [join(__dirname, '..', 'exercises'), join(__dirname, '..', 'lab', 'exercises')];
  return candidates.find((path) => existsSync(path)) ?? candidates[0]!;
}

/** The folders of the shipped exercises, in order of their number. */
export function exerciseDirs(root = exercisesRoot()): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, entry.name, EXERCISE_FILE)))
    .map((entry) => join(root, entry.name))
    .sort();
}

/** An exercise folder by id (`01-rarest-first`), number (`01`, `1`) or path. */
export function resolveExerciseDir(idOrPath: string, root = exercisesRoot()): string | undefined {
  if (existsSync(join(idOrPath, EXERCISE_FILE))) return resolve(idOrPath);
  const dirs = exerciseDirs(root);
  const exact = dirs.find((dir) => basename(dir) === idOrPath);
  if (exact !== undefined) return exact;
  const number = /^\d+$/.test(idOrPath) ? idOrPath.padStart(2, '0') : undefined;
  return dirs.find((dir) => number !== undefined && basename(dir).startsWith(`${number}-`));
}

function referenceFile(dir: string, stem: 'solution' | 'baseline'): string | undefined {
  const folder = join(dir, 'reference');
  if (!existsSync(folder)) return undefined;
  const found = readdirSync(folder).find((name) => name.startsWith(`${stem}.`));
  return found === undefined ? undefined : join(folder, found);
}

/** Reads and validates an exercise folder. */
export async function loadExercise(dir: string): Promise<LoadedExercise> {
  const file = join(dir, EXERCISE_FILE);
  const text = await readFile(file, 'utf8');
  let data: unknown;
  try {
    data = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ExerciseInvalidError([{ instancePath: '', message: (err as Error).message }], file);
  }
  if (!validateExerciseSchema(data)) {
    throw new ExerciseInvalidError(explainSchemaErrors(validateExerciseSchema.errors ?? [], data), file);
  }
  const exercise = data;
  const hash = createHash('sha256').update(text);
  let scenarioTemplate: Record<string, unknown>;
  const issues: ScenarioIssue[] = [];
  if (typeof exercise.scenario === 'string') {
    const scenarioFile = isAbsolute(exercise.scenario) ? exercise.scenario : join(dir, exercise.scenario);
    let scenarioText = '';
    try {
      scenarioText = await readFile(scenarioFile, 'utf8');
    } catch (err) {
      issues.push({ instancePath: '/scenario', message: `cannot read ${scenarioFile}: ${(err as Error).message}` });
    }
    hash.update(scenarioText);
    const parsed: unknown = scenarioText === '' ? {} : YAML.parse(scenarioText);
    scenarioTemplate = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  } else {
    scenarioTemplate = exercise.scenario;
  }
  issues.push(...exerciseIssues(exercise, scenarioTemplate, dir, file));
  const solution = referenceFile(dir, 'solution');
  const baseline = referenceFile(dir, 'baseline');
  if (solution === undefined) issues.push({ instancePath: '', message: 'reference/solution.* is missing' });
  if (baseline === undefined) issues.push({ instancePath: '', message: 'reference/baseline.* is missing' });
  if (!existsSync(join(dir, 'starter'))) issues.push({ instancePath: '', message: 'starter/ is missing' });
  if (issues.length > 0) throw new ExerciseInvalidError(issues, file);
  return {
    exercise,
    dir,
    scenarioTemplate,
    sha256: hash.digest('hex'),
    solution: solution!,
    baseline: baseline!,
  };
}

function checkIssues(check: ExerciseCheck, i: number, exercise: Exercise): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  const at = `/checks/${i}`;
  if (BOUNDED_KINDS[check.kind] !== undefined && check.atMost === undefined) {
    issues.push({ instancePath: at, message: `a ${check.kind} check needs "atMost" (${BOUNDED_KINDS[check.kind]})` });
  }
  if (BOUNDED_KINDS[check.kind] !== undefined && check.file === undefined) {
    issues.push({ instancePath: at, message: `a ${check.kind} check needs "file"` });
  }
  if (check.kind === 'seeder-upload' && check.peer === undefined) {
    issues.push({ instancePath: at, message: 'a seeder-upload check needs "peer" (the seeder)' });
  }
  issues.push(...variantSweepCheckIssues(check, at, exercise));
  issues.push(...groupCompletionIssues(check, at));
  return issues;
}

/** group-completion: `file` and `peers`, then either `versus` with `atLeast` or `atMost` alone. */
function groupCompletionIssues(check: ExerciseCheck, at: string): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  if (check.kind !== 'group-completion') return issues;
  if (check.file === undefined) issues.push({ instancePath: at, message: 'a group-completion check needs "file"' });
  if (check.peers === undefined)
    issues.push({ instancePath: at, message: 'a group-completion check needs "peers" (the group measured)' });
  const versus = check.versus !== undefined || check.atLeast !== undefined;
  if (versus && (check.versus === undefined || check.atLeast === undefined || check.atMost !== undefined)) {
    issues.push({
      instancePath: at,
      message:
        'a group-completion check takes "versus" with "atLeast" (one group against the other), or "atMost" alone (the group against its bound)',
    });
  } else if (!versus && check.atMost === undefined) {
    issues.push({ instancePath: at, message: 'a group-completion check needs "versus" and "atLeast", or "atMost"' });
  }
  const overlap = (check.peers ?? []).filter((peer) => check.versus?.includes(peer));
  if (overlap.length > 0)
    issues.push({ instancePath: `${at}/versus`, message: `${overlap.join(', ')} in both groups` });
  return issues;
}

/** What a catches-variant or sweep check needs of the exercise: the variant it names, a sweep. */
function variantSweepCheckIssues(check: ExerciseCheck, at: string, exercise: Exercise): ScenarioIssue[] {
  if (check.kind === 'catches-variant') {
    if (check.variant === undefined) return [{ instancePath: at, message: 'a catches-variant check needs "variant"' }];
    if (!(exercise.variants ?? []).some((v) => v.name === check.variant)) {
      return [{ instancePath: `${at}/variant`, message: `no variant "${check.variant}" in "variants"` }];
    }
  }
  if ((check.kind === 'sweep-bound' || check.kind === 'sweep-growth') && exercise.sweep === undefined) {
    return [{ instancePath: at, message: `a ${check.kind} check needs the exercise's "sweep"` }];
  }
  return [];
}

function exerciseIssues(
  exercise: Exercise,
  template: Record<string, unknown>,
  dir: string,
  file: string,
): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  if (basename(dir) !== exercise.id) {
    issues.push({
      instancePath: '/id',
      message: `must be the folder's name "${basename(dir)}" (got "${exercise.id}")`,
    });
  }
  const ids = new Set<string>();
  exercise.checks.forEach((check, i) => {
    if (ids.has(check.id))
      issues.push({ instancePath: `/checks/${i}/id`, message: `duplicate check id "${check.id}"` });
    ids.add(check.id);
    issues.push(...checkIssues(check, i, exercise));
  });
  const ranges = exercise.parameters ?? {};
  for (const [name, range] of Object.entries(ranges)) {
    if (range.min > range.max) issues.push({ instancePath: `/parameters/${name}`, message: 'min must be <= max' });
  }
  let minimum: Record<string, number>;
  let maximum: Record<string, number>;
  try {
    minimum = withDerived(Object.fromEntries(Object.entries(ranges).map(([n, r]) => [n, r.min])), exercise.derived);
    maximum = withDerived(Object.fromEntries(Object.entries(ranges).map(([n, r]) => [n, r.max])), exercise.derived);
  } catch (err) {
    return [...issues, { instancePath: '/derived', message: (err as Error).message }];
  }
  const counts =
    exercise.sweep === undefined
      ? [undefined]
      : [Math.min(...exercise.sweep.downloaders), Math.max(...exercise.sweep.downloaders)];
  const sweepNames = counts[0] === undefined ? {} : { ...sweepValues(counts[0]), downloaders: 0 };
  const known = { ...minimum, ...sweepNames };
  for (const name of unknownPlaceholders(template, known)) {
    issues.push({ instancePath: '/scenario', message: `\${${name}} names no parameter` });
  }
  if (counts[0] === undefined && JSON.stringify(template).includes(DOWNLOADERS_PLACEHOLDER)) {
    issues.push({ instancePath: '/scenario', message: `${DOWNLOADERS_PLACEHOLDER} needs the exercise's "sweep"` });
  }
  if (issues.length > 0) return issues;
  for (const [values, count] of [minimum, maximum].flatMap((v) => counts.map((n) => [v, n] as const))) {
    let scenario: Scenario;
    try {
      scenario = validateScenario(substituteSweep(template, values, count), `${file} (scenario)`);
    } catch (err) {
      if (!(err instanceof ScenarioInvalidError)) throw err;
      return err.issues.map((issue) => ({ instancePath: `/scenario${issue.instancePath}`, message: issue.message }));
    }
    issues.push(...variantIssues(exercise, scenario, file));
    const peers = new Set(scenarioPeers(scenario).map((peer) => peer.name));
    (exercise.change.picker?.peers ?? []).forEach((peer, i) => {
      if (!peers.has(peer)) issues.push({ instancePath: `/change/picker/peers/${i}`, message: `no peer "${peer}"` });
    });
    (exercise.change.uploader?.peers ?? []).forEach((peer, i) => {
      if (!peers.has(peer)) issues.push({ instancePath: `/change/uploader/peers/${i}`, message: `no peer "${peer}"` });
    });
    exercise.checks.forEach((check, i) => {
      if (check.peer !== undefined && !peers.has(check.peer)) {
        issues.push({ instancePath: `/checks/${i}/peer`, message: `no peer "${check.peer}"` });
      }
      for (const field of ['peers', 'versus'] as const) {
        (check[field] ?? []).forEach((peer, j) => {
          if (!peers.has(peer))
            issues.push({ instancePath: `/checks/${i}/${field}/${j}`, message: `no peer "${peer}"` });
        });
      }
    });
    if (issues.length > 0) return issues;
  }
  return issues;
}

/** Each broken variant's peers exist and its scenario validates, at the variant's JSON pointer. */
function variantIssues(exercise: Exercise, scenario: Scenario, file: string): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  const peers = new Set(scenarioPeers(scenario).map((peer) => peer.name));
  (exercise.variants ?? []).forEach((variant, i) => {
    const at = `/variants/${i}`;
    for (const peer of Object.keys(variant.env ?? {})) {
      if (!peers.has(peer)) issues.push({ instancePath: `${at}/env/${peer}`, message: `no peer "${peer}"` });
    }
    if (variant.at !== undefined && variant.at > scenario.steps.length) {
      issues.push({
        instancePath: `${at}/at`,
        message: `must be at most ${scenario.steps.length} (the scenario's steps)`,
      });
    }
    if (issues.length > 0) return;
    try {
      applyBrokenVariant(scenario, variant, file);
    } catch (err) {
      if (!(err instanceof ScenarioInvalidError)) throw err;
      const offset = Math.min(variant.at ?? scenario.steps.length, scenario.steps.length);
      const count = variant.steps?.length ?? 0;
      for (const issue of err.issues) {
        const match = /^\/steps\/(\d+)(.*)$/.exec(issue.instancePath);
        const index = match === null ? -1 : Number(match[1]);
        const inVariant = index >= offset && index < offset + count;
        issues.push({
          instancePath: inVariant ? `${at}/steps/${index - offset}${match![2]}` : `${at}${issue.instancePath}`,
          message: issue.message,
        });
      }
    }
  });
  const names = new Set<string>();
  (exercise.variants ?? []).forEach((variant, i) => {
    if (names.has(variant.name))
      issues.push({ instancePath: `/variants/${i}/name`, message: `duplicate variant "${variant.name}"` });
    names.add(variant.name);
  });
  return issues;
}

/**
 * The scenario this student runs: the template with their parameters (and derived values), and for a
 * sweep the count of downloaders `downloaders` (default the sweep's first), validated.
 */
export function exerciseScenario(
  loaded: LoadedExercise,
  values: Readonly<Record<string, number>>,
  downloaders: number | undefined = loaded.exercise.sweep?.downloaders[0],
): Scenario {
  const all = withDerived(values, loaded.exercise.derived);
  return validateScenario(substituteSweep(loaded.scenarioTemplate, all, downloaders), join(loaded.dir, EXERCISE_FILE));
}

/** Reads and validates a teacher's hidden variants file. */
export async function loadHiddenVariants(path: string, loaded: LoadedExercise): Promise<HiddenVariants> {
  const data: unknown = YAML.parse(await readFile(path, 'utf8'));
  if (!validateHiddenSchema(data)) {
    throw new ExerciseInvalidError(explainSchemaErrors(validateHiddenSchema.errors ?? [], data), path);
  }
  const issues: ScenarioIssue[] = [];
  const ranges = loaded.exercise.parameters ?? {};
  data.variants.forEach((variant, i) => {
    for (const name of Object.keys(variant.parameters)) {
      if (!(name in ranges)) {
        issues.push({
          instancePath: `/variants/${i}/parameters/${name}`,
          message: `the exercise has no parameter "${name}"`,
        });
      }
    }
  });
  if (issues.length > 0) throw new ExerciseInvalidError(issues, path);
  return data;
}
