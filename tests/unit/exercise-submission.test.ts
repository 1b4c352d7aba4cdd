/**
 * What a student hands in, applied to an exercise's scenario: the picker mounted and named in the peers'
 * settings, settings within their bounds, a scenario of their own with its locked fields unchanged; and
 * everything else refused before a container starts. Also the Grade section of the report page.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ERROR_CODES, UsageError } from '../../lab/errors';
import { ExerciseRefusedError } from '../../lab/exercise/errors';
import { copyStarter, parseSettings, readSubmission } from '../../lab/exercise/exercise-command';
import type { Grade } from '../../lab/exercise/grade';
import { gradeSectionHtml, withGradeSection } from '../../lab/exercise/grade-html';
import { exerciseScenario, loadExercise, resolveExerciseDir } from '../../lab/exercise/load';
import { applySubmission, scenarioBounds, scenarioFacts, sha256Of } from '../../lab/exercise/submission';
import { scenarioPeers } from '../../lab/scenario/load';

async function exercise(id: string): Promise<Awaited<ReturnType<typeof loadExercise>>> {
  return loadExercise(resolveExerciseDir(id)!);
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ExerciseRefusedError);
    expect((err as ExerciseRefusedError).code).toBe(ERROR_CODES.EXERCISE_REFUSED);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('applySubmission', () => {
  it('mounts the picker read-only and names it in the picker peers only', async () => {
    const loaded = await exercise('01-rarest-first');
    const base = exerciseScenario(loaded, { chunks: 48 });
    const module = join(mkdtempSync(join(tmpdir(), 'picker-')), 'mine.mjs');
    writeFileSync(module, 'export function pick() { return undefined; }\n');
    const applied = applySubmission(loaded.exercise, base, { picker: module });
    expect(applied.peerFiles).toEqual([{ source: module, target: '/exercise/picker.mjs' }]);
    expect(applied.sha256).toBe(sha256Of('export function pick() { return undefined; }\n'));
    const env = Object.fromEntries(scenarioPeers(applied.scenario).map((p) => [p.name, p.env?.['SWARMLAB_PICKER']]));
    expect(env).toEqual({
      'peer-1': undefined,
      'peer-2': '/exercise/picker.mjs',
      'peer-3': '/exercise/picker.mjs',
      'peer-4': '/exercise/picker.mjs',
    });
    // The exercise's own settings stay.
    expect(scenarioPeers(applied.scenario)[1]!.env?.['SWARMLAB_SUPER_SEED']).toBe('off');
  });

  it('refuses a picker, a setting or a scenario the exercise locks', async () => {
    const pipelining = await exercise('03-pipelining');
    const base = exerciseScenario(pipelining, { latencyMs: 30, chunks: 64 });
    expect(refusal(() => applySubmission(pipelining.exercise, base, { picker: '/x.js' }))).toMatch(
      /does not let you change the picker/,
    );
    expect(refusal(() => applySubmission(pipelining.exercise, base, { settings: { endgame: 'off' } }))).toMatch(
      /locks the peer setting "endgame" \(you may set: maxInflight\)/,
    );
    expect(refusal(() => applySubmission(pipelining.exercise, base, { settings: { maxInflight: '33' } }))).toMatch(
      /from 1 to 32/,
    );
    expect(refusal(() => applySubmission(pipelining.exercise, base, { settings: { maxInflight: '2.5' } }))).toMatch(
      /integer/,
    );
    expect(refusal(() => applySubmission(pipelining.exercise, base, { scenario: base }))).toMatch(
      /does not let you change the scenario/,
    );
    const applied = applySubmission(pipelining.exercise, base, { settings: { maxInflight: '16' } });
    expect(applied.scenario.peerDefaults).toEqual({ maxInflight: 16 });
    expect(applied.sha256).toBe(sha256Of('maxInflight=16'));
  });

  it('takes a scenario of the student own only with its locked fields unchanged', async () => {
    const loaded = await exercise('05-tracker-failure');
    const base = exerciseScenario(loaded, { chunks: 32 });
    const own = { ...base, steps: base.steps.slice(0, 3) };
    expect(applySubmission(loaded.exercise, base, { scenario: own }).scenario.steps).toHaveLength(3);
    const faster = { ...own, peers: [{ name: 'peer-1', uploadRate: 1 << 30 }, { name: 'peer-2' }] };
    expect(refusal(() => applySubmission(loaded.exercise, base, { scenario: faster }))).toMatch(
      /locked field\(s\) peers/,
    );
    const otherChunks = { ...own, chunkSize: 4096, peerDefaults: { endgame: 'off' as const } };
    expect(refusal(() => applySubmission(loaded.exercise, base, { scenario: otherChunks }))).toMatch(
      /locked field\(s\) chunkSize, peerDefaults/,
    );
  });
});

describe('scenario facts and bounds', () => {
  it('names the expected downloads, the assert steps, and the bound the parameters imply', async () => {
    const loaded = await exercise('01-rarest-first');
    const scenario = exerciseScenario(loaded, { chunks: 64 });
    expect(scenarioFacts(scenario)).toEqual({
      downloads: ['peer-2', 'peer-3', 'peer-4'].map((peer) => ({ peer, file: 'payload.bin' })),
      assertSteps: [6],
    });
    // F = 1 MiB, u_s = u_i = 128 KiB/s, N = 3: max(8 s, 3 MiB / 512 KiB/s = 6 s).
    expect(scenarioBounds(scenario)).toEqual([
      { file: 'payload.bin', fileBytes: 1 << 20, seeders: 1, downloaders: 3, minMs: 8000 },
    ]);
    const pipelining = await exercise('03-pipelining');
    expect(scenarioBounds(exerciseScenario(pipelining, { latencyMs: 30, chunks: 64 }))).toEqual([
      { file: 'payload.bin', fileBytes: 1 << 20, seeders: 1, downloaders: 1, minMs: 1000 },
    ]);
  });
});

describe('the Grade section', () => {
  const grade: Grade = {
    exercise: '01-x',
    score: 1,
    maxScore: 10,
    passed: false,
    checks: [
      {
        id: 'up',
        band: 'validity',
        kind: 'started',
        status: 'passed',
        passed: true,
        points: 1,
        maxPoints: 1,
        measured: 7,
        threshold: null,
        words: 'the swarm came up',
        run: 0,
        atT: 1500,
      },
      {
        id: 'fast',
        band: 'performance',
        kind: 'distribution-time',
        status: 'failed',
        passed: false,
        points: 0,
        maxPoints: 6,
        measured: 1.97,
        threshold: 1.5,
        words: 'last copy verified at 15.8 s; bound 8.0 s; 1.97 > 1.50',
        hint: 'ask <rarest> first',
        run: 0,
        atT: 16_500,
      },
      {
        id: 'asserts',
        band: 'robustness',
        kind: 'assertion',
        status: 'not-run',
        passed: false,
        points: 0,
        maxPoints: 3,
        measured: null,
        threshold: null,
        words: 'not run: the performance band failed',
      },
    ],
  };
  const footer = {
    seed: 42,
    student: 'ada',
    parameters: { chunks: 48 },
    submission: 'picker.js',
    submissionSha256: 'b'.repeat(64),
    exerciseSha256: 'c'.repeat(64),
    versions: { swarmlab: '0.1.0', node: 'v20' },
    cores: 2,
    runs: 1,
  };

  it('lists each check with its points, words, hint and moment, and a footer to re-run it', () => {
    const html = gradeSectionHtml(grade, footer, 500);
    expect(html).toContain('<h2>Grade: 1 / 10 (not passed)</h2>');
    expect(html).toContain('last copy verified at 15.8 s; bound 8.0 s; 1.97 &#62; 1.50');
    expect(html).toContain('<div class="hint">Hint: ask &#60;rarest&#62; first</div>');
    expect(html).toContain('<a class="moment" href="#timeline" data-t="16500">16.0 s on the timeline</a>');
    expect(html).toMatch(/<tr class="check check-not-run" data-check="asserts">.*not run<\/td><td>0 \/ 3<\/td>/);
    expect(html).toContain(
      `seed 42 (student ada); parameters chunks = 48;\nsubmission picker.js sha256 ${'b'.repeat(64)}; exercise sha256 ${'c'.repeat(64)}; swarmlab 0.1.0, node v20; 2 cores.`,
    );
  });

  it('opens the report page, before its summary', () => {
    const page = '<body>\n<h1>t</h1>\n<section id="summary">s</section>\n</body>';
    const out = withGradeSection(page, '<section id="grade">g</section>\n');
    expect(out.indexOf('id="grade"')).toBeLessThan(out.indexOf('id="summary"'));
    expect(out.indexOf('<h1>')).toBeLessThan(out.indexOf('id="grade"'));
  });
});

describe('submissions from files', () => {
  it('reads a module, or a folder with a module, settings.yaml or scenario.yaml', async () => {
    const pipelining = await exercise('03-pipelining');
    const picker = await exercise('01-rarest-first');
    const root = mkdtempSync(join(tmpdir(), 'submissions-'));
    writeFileSync(join(root, 'ada.js'), 'module.exports = { pick: () => undefined };\n');
    expect(await readSubmission(join(root, 'ada.js'), picker.exercise)).toEqual({
      name: 'ada',
      options: { picker: join(root, 'ada.js') },
    });
    const grace = join(root, 'grace');
    mkdirSync(grace);
    writeFileSync(join(grace, 'settings.yaml'), 'maxInflight: 8\n');
    expect(await readSubmission(grace, pipelining.exercise)).toEqual({
      name: 'grace',
      options: { settings: { maxInflight: '8' } },
    });
  });

  it('parses --set pairs and copies the starter without overwriting a folder in use', async () => {
    expect(parseSettings(['maxInflight=8', 'a=b=c'])).toEqual({ maxInflight: '8', a: 'b=c' });
    expect(() => parseSettings(['maxInflight'])).toThrow(UsageError);
    const loaded = await exercise('01-rarest-first');
    const target = join(mkdtempSync(join(tmpdir(), 'start-')), 'work');
    copyStarter(loaded, target);
    expect(readFileSync(join(target, 'picker.js'), 'utf8')).toContain('function pick(input)');
    writeFileSync(join(target, 'picker.js'), '// mine\n');
    copyStarter(loaded, target);
    expect(readFileSync(join(target, 'picker.js'), 'utf8')).toBe('// mine\n');
  });
});
