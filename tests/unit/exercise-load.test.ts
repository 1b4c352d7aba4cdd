/**
 * Exercise folders: every shipped one loads and its scenario validates for every student; a broken
 * exercise.yaml is refused with the JSON pointer of each problem, before anything runs.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { ERROR_CODES } from '../../lab/errors';
import { ExerciseInvalidError } from '../../lab/exercise/errors';
import { exerciseDirs, exerciseScenario, loadExercise, resolveExerciseDir } from '../../lab/exercise/load';
import { drawParameters, studentSeed, substituteParameters, withDerived } from '../../lab/exercise/parameters';

function copyOf(id: string): string {
  const root = mkdtempSync(join(tmpdir(), 'exercise-'));
  const dir = join(root, id);
  cpSync(resolveExerciseDir(id)!, dir, { recursive: true });
  return dir;
}

async function issuesOf(dir: string): Promise<string[]> {
  try {
    await loadExercise(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(ExerciseInvalidError);
    expect((err as ExerciseInvalidError).code).toBe(ERROR_CODES.EXERCISE_INVALID);
    return (err as ExerciseInvalidError).issues.map((i) => `${i.instancePath}: ${i.message}`);
  }
  throw new Error('expected the exercise to be refused');
}

describe('shipped exercises', () => {
  const dirs = exerciseDirs();

  it('ships at least five', () => {
    expect(dirs.map((dir) => basename(dir)).slice(0, 5)).toEqual([
      '01-rarest-first',
      '02-seeder-one-copy',
      '03-pipelining',
      '04-endgame',
      '05-tracker-failure',
    ]);
  });

  it.each(dirs.map((dir) => [basename(dir), dir]))(
    '%s loads, and its scenario validates for many students',
    async (_, dir) => {
      const loaded = await loadExercise(dir);
      expect(loaded.sha256).toMatch(/^[0-9a-f]{64}$/);
      for (const student of ['ada', 'grace', 'linus', 'barbara']) {
        const values = drawParameters(loaded.exercise.parameters ?? {}, studentSeed(student, loaded.exercise.id));
        expect(() => exerciseScenario(loaded, values)).not.toThrow();
      }
    },
  );
});

describe('loadExercise refuses', () => {
  it('schema errors, with their JSON pointers', async () => {
    const dir = copyOf('01-rarest-first');
    const file = join(dir, 'exercise.yaml');
    const text = readFileSync(file, 'utf8')
      .replace('band: integrity', 'band: speed')
      .replace('points: 6', 'points: -1')
      .replace('title: Why rarest first', 'title: Why rarest first\ncolour: blue');
    writeFileSync(file, text);
    const issues = await issuesOf(dir);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/checks\/1\/band: /),
        expect.stringMatching(/^\/checks\/1\/points: must be >= 0/),
        '/colour: unknown field "colour"',
      ]),
    );
  });

  it('cross-references: duplicate ids, missing atMost, unknown placeholders and peers, a missing reference', async () => {
    const dir = copyOf('01-rarest-first');
    const file = join(dir, 'exercise.yaml');
    const text = readFileSync(file, 'utf8')
      .replace('id: scenario-assertions', 'id: swarm-started')
      .replace('atMost: 1.4', '')
      .replace('[peer-2, peer-3, peer-4]', '[peer-2, peer-9]');
    writeFileSync(file, text);
    writeFileSync(
      join(dir, 'scenario.yaml'),
      readFileSync(join(dir, 'scenario.yaml'), 'utf8').replace('${fileBytes}', '${fileSize}'),
    );
    const issues = await issuesOf(dir);
    expect(issues).toEqual(
      expect.arrayContaining([
        '/checks/3/id: duplicate check id "swarm-started"',
        expect.stringMatching(/^\/checks\/2: a seeder-upload check needs "atMost"/),
        '/scenario: ${fileSize} names no parameter',
      ]),
    );
    writeFileSync(
      join(dir, 'scenario.yaml'),
      readFileSync(resolveExerciseDir('01-rarest-first')! + '/scenario.yaml', 'utf8'),
    );
    writeFileSync(
      file,
      readFileSync(file, 'utf8')
        .replace('id: swarm-started\n    band: robustness', 'id: other\n    band: robustness')
        .replace(/^( *)kind: seeder-upload/m, '$1kind: seeder-upload\n$1atMost: 1.4'),
    );
    expect(await issuesOf(dir)).toContain('/change/picker/peers/1: no peer "peer-9"');
  });

  it('a scenario that does not validate, pointing into it', async () => {
    const dir = copyOf('01-rarest-first');
    const scenario = join(dir, 'scenario.yaml');
    writeFileSync(scenario, readFileSync(scenario, 'utf8').replace('timeoutSeconds: 150', 'timeoutSeconds: -3'));
    expect(await issuesOf(dir)).toEqual([expect.stringMatching(/^\/scenario\/timeoutSeconds: must be > 0/)]);
  });
});

describe('parameters', () => {
  it('are drawn on their grid, the same for the same student, different across students', () => {
    const ranges = { chunks: { min: 48, max: 64, step: 8 }, rate: { min: 0.1, max: 0.5, step: 0.1 } };
    const seen = new Set<string>();
    for (let student = 0; student < 50; student += 1) {
      const seed = studentSeed(`s${student}`, '01-x');
      const values = drawParameters(ranges, seed);
      expect(drawParameters(ranges, seed)).toEqual(values);
      expect([48, 56, 64]).toContain(values['chunks']);
      expect([0.1, 0.2, 0.3, 0.4, 0.5]).toContain(values['rate']);
      seen.add(JSON.stringify(values));
    }
    expect(seen.size).toBeGreaterThan(5);
  });

  it('derive products and substitute whole and spliced placeholders', () => {
    const values = withDerived({ chunks: 48 }, { fileBytes: 'chunks * 16384', extra: 'chunks * 1.5' });
    expect(values).toEqual({ chunks: 48, fileBytes: 786432, extra: 72 });
    expect(substituteParameters({ size: '${fileBytes}', note: '${chunks} chunks', keep: '${nope}' }, values)).toEqual({
      size: 786432,
      note: '48 chunks',
      keep: '${nope}',
    });
    expect(() => withDerived({}, { x: 'y * 2' })).toThrow(RangeError);
  });
});
