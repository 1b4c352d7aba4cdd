/**
 * `--assertions FILE`: the student's own assert steps, run after the exercise's steps on the correct
 * swarm and on each broken one. The file holds `assertions:`, a list of `assert` steps as the scenario
 * format writes them (`action: assert` may be left out), without timing: they run one after another
 * once the scenario's steps are done, and `withinSeconds` is the only wait they may ask for.
 * Validated with ajv before anything runs, with the JSON pointer of each problem, like scenarios.
 */
import { readFile } from 'node:fs/promises';

import Ajv from 'ajv';
import YAML from 'yaml';

import { ScenarioInvalidError, type ScenarioIssue } from '../errors';
import { explainSchemaErrors, validateScenario } from '../scenario/load';
import { STEP_SCHEMAS, type AssertStep, type Scenario } from '../scenario/schema';
import { ExerciseInvalidError } from './errors';

/** Assertions a file may hold when the exercise sets no `max`. */
export const DEFAULT_MAX_ASSERTIONS = 20;

/** Timing fields an assert step has in a scenario but not in an assertions file. */
const TIMING_FIELDS = new Set(['at', 'after', 'when', 'timeoutSeconds', 'fault']);

const assertSchema = STEP_SCHEMAS.assert as { properties: Record<string, unknown>; allOf: unknown[] };

const ASSERTION_SCHEMA = {
  type: 'object',
  properties: Object.fromEntries(Object.entries(assertSchema.properties).filter(([key]) => !TIMING_FIELDS.has(key))),
  additionalProperties: false,
  allOf: assertSchema.allOf,
};

export const ASSERTIONS_SCHEMA = {
  type: 'object',
  properties: { assertions: { type: 'array', minItems: 1, items: ASSERTION_SCHEMA } },
  required: ['assertions'],
  additionalProperties: false,
} as const;

export interface AssertionsFile {
  assertions: Omit<AssertStep, 'action'>[];
}

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validateAssertionsSchema = ajv.compile<AssertionsFile>(ASSERTIONS_SCHEMA);

/** Reads and validates an assertions file: its steps, each with `action: assert`. */
export async function loadAssertions(path: string, max = DEFAULT_MAX_ASSERTIONS): Promise<AssertStep[]> {
  let data: unknown;
  try {
    data = YAML.parse(await readFile(path, 'utf8'), { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ExerciseInvalidError([{ instancePath: '', message: (err as Error).message }], path);
  }
  return validateAssertions(data, path, max);
}

/** Validates parsed assertions (see loadAssertions). */
export function validateAssertions(data: unknown, source: string, max = DEFAULT_MAX_ASSERTIONS): AssertStep[] {
  if (!validateAssertionsSchema(data)) {
    throw new ExerciseInvalidError(explainSchemaErrors(validateAssertionsSchema.errors ?? [], data), source);
  }
  if (data.assertions.length > max) {
    throw new ExerciseInvalidError(
      [{ instancePath: '/assertions', message: `must have at most ${max} items (got ${data.assertions.length})` }],
      source,
    );
  }
  return data.assertions.map((step) => ({ ...step, action: 'assert' }) as AssertStep);
}

/**
 * `scenario` with the assertions appended, validated as a whole (peer and file names must exist); a
 * problem in an assertion is reported at its pointer in the assertions file (`/assertions/1/peer`).
 */
export function withAssertions(scenario: Scenario, assertions: readonly AssertStep[], source: string): Scenario {
  const offset = scenario.steps.length;
  try {
    return validateScenario({ ...scenario, steps: [...scenario.steps, ...assertions] }, source);
  } catch (err) {
    if (!(err instanceof ScenarioInvalidError)) throw err;
    const issues: ScenarioIssue[] = err.issues.map((issue) => {
      const match = /^\/steps\/(\d+)(.*)$/.exec(issue.instancePath);
      if (match === null || Number(match[1]) < offset) return issue;
      return { ...issue, instancePath: `/assertions/${Number(match[1]) - offset}${match[2]}` };
    });
    throw new ExerciseInvalidError(issues, source);
  }
}
