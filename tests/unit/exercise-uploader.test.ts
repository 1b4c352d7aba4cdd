/**
 * Exercise 06's additions outside the grader: the student's uploader module mounted and named in the
 * contributors' settings only (free riders keep theirs), refused where the exercise does not take one,
 * a submission file read as the uploader; and what the loader refuses in a group-completion check.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ExerciseInvalidError, ExerciseRefusedError } from '../../lab/exercise/errors';
import { readSubmission } from '../../lab/exercise/exercise-command';
import { exerciseScenario, loadExercise, resolveExerciseDir } from '../../lab/exercise/load';
import { applySubmission, sha256Of } from '../../lab/exercise/submission';
import { scenarioPeers } from '../../lab/scenario/load';

const STARTER =
  'function choose(input) { return input.candidates.map((c) => c.peer); }\nmodule.exports = { choose };\n';

function moduleFile(name: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'uploader-')), name);
  writeFileSync(file, STARTER);
  return file;
}

describe('--uploader PATH', () => {
  it('mounts the module read-only and names it in the contributors only', async () => {
    const loaded = await loadExercise(resolveExerciseDir('06-tit-for-tat')!);
    const base = exerciseScenario(loaded, { chunks: 192 });
    const module = moduleFile('mine.js');
    const applied = applySubmission(loaded.exercise, base, { uploader: module });
    expect(applied.peerFiles).toEqual([{ source: module, target: '/exercise/uploader.js' }]);
    expect(applied).toMatchObject({ name: 'mine.js', sha256: sha256Of(STARTER) });
    const env = Object.fromEntries(scenarioPeers(applied.scenario).map((p) => [p.name, p.env ?? {}]));
    for (const peer of ['peer-2', 'peer-3', 'peer-4', 'peer-5'])
      expect(env[peer]?.['SWARMLAB_UPLOADER']).toBe('/exercise/uploader.js');
    for (const peer of ['peer-1', 'peer-6', 'peer-7']) expect(env[peer]?.['SWARMLAB_UPLOADER']).toBeUndefined();
    // The free riders stay free riders.
    expect(env['peer-6']).toMatchObject({ SWARMLAB_FREE_RIDE: '1' });
    expect(env['peer-7']).toMatchObject({ SWARMLAB_FREE_RIDE: '1' });
  });

  it('is refused by an exercise that does not take one, before any container starts', async () => {
    const loaded = await loadExercise(resolveExerciseDir('01-rarest-first')!);
    const base = exerciseScenario(loaded, { chunks: 48 });
    expect(() => applySubmission(loaded.exercise, base, { uploader: moduleFile('u.js') })).toThrow(
      ExerciseRefusedError,
    );
    expect(() => applySubmission(loaded.exercise, base, { uploader: moduleFile('u.js') })).toThrow(
      /does not let you change the uploader \(--uploader\)/,
    );
  });

  it('a submission file is the uploader in an exercise that grades one', async () => {
    const loaded = await loadExercise(resolveExerciseDir('06-tit-for-tat')!);
    const file = moduleFile('alice.js');
    expect(await readSubmission(file, loaded.exercise)).toEqual({ name: 'alice', options: { uploader: file } });
  });
});

describe('a group-completion check', () => {
  async function issuesOf(edit: (text: string) => string): Promise<string[]> {
    const dir = join(mkdtempSync(join(tmpdir(), 'exercise-')), '06-tit-for-tat');
    cpSync(resolveExerciseDir('06-tit-for-tat')!, dir, { recursive: true });
    const file = join(dir, 'exercise.yaml');
    writeFileSync(file, edit(readFileSync(file, 'utf8')));
    try {
      await loadExercise(dir);
    } catch (err) {
      expect(err).toBeInstanceOf(ExerciseInvalidError);
      return (err as ExerciseInvalidError).issues.map((i) => `${i.instancePath}: ${i.message}`);
    }
    throw new Error('expected the exercise to be refused');
  }

  it('needs versus with atLeast, or atMost alone', async () => {
    expect(await issuesOf((text) => text.replace('    atLeast: 1.2\n', ''))).toEqual([
      '/checks/2: a group-completion check takes "versus" with "atLeast" (one group against the other), or "atMost" alone (the group against its bound)',
    ]);
    expect(await issuesOf((text) => text.replace(/ {4}atMost: \d+\n/, ''))).toEqual([
      '/checks/3: a group-completion check needs "versus" and "atLeast", or "atMost"',
    ]);
  });

  it('names peers the scenario does not have, and a peer in both groups', async () => {
    const issues = await issuesOf((text) => text.replace('versus: [peer-6, peer-7]', 'versus: [peer-5, peer-6]'));
    expect(issues).toEqual(['/checks/2/versus: peer-5 in both groups']);
    const unknown = await issuesOf((text) => text.replace('versus: [peer-6, peer-7]', 'versus: [peer-6, peer-9]'));
    expect(unknown).toEqual(['/checks/2/versus/1: no peer "peer-9"']);
    const uploaders = await issuesOf((text) =>
      text.replace('uploader: {peers: [peer-2,', 'uploader: {peers: [peer-12,'),
    );
    expect(uploaders).toEqual(['/change/uploader/peers/0: no peer "peer-12"']);
  });
});
