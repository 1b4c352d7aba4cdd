/**
 * Every shipped exercise, graded on real containers: its reference passes every check and its baseline
 * fails, scoring at least 10 % less; the `--json` record has the contract's shape, grade.json lies beside
 * the report, and the report opens with a Grade section (checked in Chromium for the first exercise).
 * One run each (--runs 1) with every parameter at its minimum, so each run stays short.
 * Needs Docker (run it under `flock /tmp/swarmlab-docker.lock`) and, for the browser part, /usr/bin/chromium.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import YAML from 'yaml';

import { LABEL_RUN } from '../../lab/engine/lab-docker';
import { exerciseCheckCommand, GRADE_FILE, type CheckOptions } from '../../lab/exercise/exercise-command';
import { exerciseDirs, loadExercise, type LoadedExercise } from '../../lab/exercise/load';
import { setLogLevel } from '../../src/shared/logger';
import { isBrowserAvailable, launchBrowser, recordRequests } from '../helpers/browser';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const RUN_TIMEOUT_MS = 150_000;

interface GradeRecord {
  grade: {
    exercise: string;
    score: number;
    maxScore: number;
    passed: boolean;
    checks: {
      id: string;
      band: string;
      passed: boolean;
      points: number;
      measured: number | null;
      threshold: number | null;
    }[];
    reportPath: string;
  };
}

/** The submission in a reference file: a module (--picker or --uploader), settings (--set) or a scenario (--scenario). */
function submissionOf(file: string, loaded: LoadedExercise): CheckOptions {
  if (/\.(m?js|cjs)$/.test(file))
    return loaded.exercise.change.uploader === undefined ? { picker: file } : { uploader: file };
  const parsed = YAML.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  if ('steps' in parsed) return { scenarioFile: file };
  if ('assertions' in parsed) return { assertionsFile: file };
  return { settings: Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)])) };
}

/** Runs one check makes: the correct swarm at each count of a sweep, plus each broken variant. */
function runsPerCheck(exerciseDir: string): number {
  const exercise = YAML.parse(readFileSync(join(exerciseDir, 'exercise.yaml'), 'utf8')) as {
    variants?: unknown[];
    sweep?: { downloaders: number[] };
  };
  return (exercise.sweep?.downloaders.length ?? 1) + (exercise.variants?.length ?? 0);
}

function minimumParameters(loaded: LoadedExercise): Record<string, number> {
  return Object.fromEntries(Object.entries(loaded.exercise.parameters ?? {}).map(([name, r]) => [name, r.min]));
}

describe('exercises on containers: reference passes, baseline fails', () => {
  const { labDocker, controller, lines, abort, ctx } = createLabTestContext();
  const prefix = `exer-${process.pid}`;
  let dir: string;
  const runs: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-exercises-'));
  });

  afterAll(async () => {
    abort.abort();
    for (const run of runs) await controller.down(run).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  async function check(
    loaded: LoadedExercise,
    file: string,
    tag: string,
  ): Promise<{ code: number; record: GradeRecord }> {
    lines.length = 0;
    const runPrefix = `${prefix}-${loaded.exercise.id.slice(0, 2)}-${tag}`;
    for (let k = 1; k <= runsPerCheck(loaded.dir); k += 1) runs.push(`${runPrefix}-${k}`);
    const code = await exerciseCheckCommand(ctx, loaded.dir, {
      ...submissionOf(file, loaded),
      runs: 1,
      json: true,
      student: 'ci',
      parameters: minimumParameters(loaded),
      reportDir: join(dir, 'runs'),
      runPrefix,
    });
    const record = JSON.parse(lines[lines.length - 1] ?? '{}') as GradeRecord;
    expect(await labDocker.listContainers({ [LABEL_RUN]: `${runPrefix}-1` })).toEqual([]);
    return { code, record };
  }

  function expectShape(record: GradeRecord, loaded: LoadedExercise): void {
    const { grade } = record;
    expect(Object.keys(grade)).toEqual(['exercise', 'score', 'maxScore', 'passed', 'checks', 'reportPath']);
    expect(grade.exercise).toBe(loaded.exercise.id);
    expect(grade.maxScore).toBe(loaded.exercise.checks.reduce((sum, c) => sum + c.points, 0));
    expect(grade.checks.map((c) => c.id)).toEqual(loaded.exercise.checks.map((c) => c.id));
    for (const c of grade.checks)
      expect(Object.keys(c)).toEqual(['id', 'band', 'passed', 'points', 'measured', 'threshold']);
    expect(existsSync(grade.reportPath)).toBe(true);
    expect(existsSync(join(dirname(grade.reportPath), GRADE_FILE))).toBe(true);
  }

  const dirs = exerciseDirs();
  it.each(dirs.map((d) => [basename(d), d]))(
    '%s: the reference scores full marks, the baseline at least 10 % less and fails',
    async (_, exerciseDir) => {
      const loaded = await loadExercise(exerciseDir);
      const reference = await check(loaded, loaded.solution, 'ref');
      const describeGrade = (r: GradeRecord): string => JSON.stringify(r.grade) + '\n' + lines.join('\n');
      if (reference.code !== 0) throw new Error(`reference failed: ${describeGrade(reference.record)}`);
      expectShape(reference.record, loaded);
      expect(reference.record.grade).toMatchObject({ passed: true, score: reference.record.grade.maxScore });

      const baseline = await check(loaded, loaded.baseline, 'base');
      expect(baseline.code).toBe(1);
      expectShape(baseline.record, loaded);
      expect(baseline.record.grade.passed).toBe(false);
      expect(baseline.record.grade.score).toBeLessThanOrEqual(0.9 * baseline.record.grade.maxScore);

      // The first exercise's report, in a real browser: the Grade section comes first and explains itself.
      if (basename(exerciseDir) !== dirs.map((d) => basename(d))[0] || !isBrowserAvailable()) return;
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage();
        const requests = recordRequests(page);
        const url = pathToFileURL(baseline.record.grade.reportPath).href;
        await page.goto(url);
        const firstSection = await page.locator('section').first().getAttribute('id');
        expect(firstSection).toBe('grade');
        expect(await page.locator('#grade h2').textContent()).toMatch(/^Grade: \d+ \/ \d+ \(not passed\)$/);
        expect(await page.locator('#grade tr.check').count()).toBe(loaded.exercise.checks.length);
        const failed = page.locator('#grade tr.check-failed').first();
        expect(await failed.locator('.status').textContent()).toBe('FAILED');
        expect(await failed.locator('.hint').textContent()).toMatch(/^Hint: /);
        expect(await failed.locator('a.moment').getAttribute('href')).toBe('#timeline');
        expect(await page.locator('#grade tr.check-not-run').count()).toBeGreaterThan(0);
        expect(await page.locator('.grade-footer').textContent()).toMatch(
          /seed \d+ .*exercise sha256 [0-9a-f]{64}.*\d+ cores/s,
        );
        expect(requests).toEqual([url]);
      } finally {
        await browser.close();
      }
    },
    // A reference and a baseline, each as many runs as the exercise makes (its sweep and broken variants).
    2 * RUN_TIMEOUT_MS * Math.max(1, ...dirs.map(runsPerCheck)),
  );
});
