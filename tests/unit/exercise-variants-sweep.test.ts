/**
 * Exercises 07 and 08's machinery without containers: the student's assertions file (ajv, JSON
 * pointers into the file), broken variants applied to a scenario, the sweep's placeholders, and the
 * check kinds catches-variant, sweep-bound and sweep-growth on constructed runs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadAssertions, validateAssertions } from '../../lab/exercise/assertions-file';
import { applyBrokenVariant } from '../../lab/exercise/broken-variants';
import { ExerciseInvalidError, ExerciseRefusedError } from '../../lab/exercise/errors';
import { gradeRuns, type RunRecord } from '../../lab/exercise/grade';
import { measureSweepBound, measureSweepGrowth, type SweepRun } from '../../lab/exercise/grade-sweep';
import { measureCatches } from '../../lab/exercise/grade-variant';
import type { Exercise, ExerciseCheck } from '../../lab/exercise/schema';
import { applySubmission } from '../../lab/exercise/submission';
import { substituteSweep } from '../../lab/exercise/sweep';
import type { RunEvent, RunEventBody } from '../../lab/observe/run-events';
import type { ScenarioReport } from '../../lab/report-types';
import { validateScenario } from '../../lab/scenario/load';
import type { Scenario } from '../../lab/scenario/schema';

const FILE = 'payload.bin';

const BASE: Scenario = validateScenario({
  name: 'trust',
  peers: [{ name: 'peer-1' }, { name: 'peer-2' }, { name: 'peer-3' }],
  steps: [
    { action: 'connect', peers: 'all' },
    { action: 'generate', peer: 'peer-1', file: FILE, size: 65536 },
    { action: 'publish', peer: 'peer-1' },
    { action: 'download', peers: ['peer-2', 'peer-3'], file: FILE },
  ],
});

const EXERCISE: Exercise = {
  id: '07-x',
  title: 'x',
  goal: 'x',
  scenario: {},
  change: { assertions: { max: 3 } },
  checks: [],
};

function issuesOf(fn: () => unknown): { instancePath: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ExerciseInvalidError) return err.issues;
    throw err;
  }
  throw new Error('no error');
}

describe('the assertions file', () => {
  it('is a list of assert steps, action optional, each given action: assert', () => {
    const steps = validateAssertions(
      {
        assertions: [
          { peer: 'peer-2', file: FILE, verified: true },
          { action: 'assert', peer: 'peer-3', running: true },
        ],
      },
      'a.yaml',
    );
    expect(steps).toEqual([
      { action: 'assert', peer: 'peer-2', file: FILE, verified: true },
      { action: 'assert', peer: 'peer-3', running: true },
    ]);
  });

  it('refuses timing, other actions, a step without a check or a target, with JSON pointers', () => {
    const issues = issuesOf(() =>
      validateAssertions(
        {
          assertions: [
            { peer: 'peer-2', file: FILE, verified: true, after: 30 },
            { action: 'kill', peer: 'peer-2', running: true },
            { peer: 'peer-2', file: FILE },
            { file: FILE, verified: true },
          ],
        },
        'a.yaml',
      ),
    );
    const paths = issues.map((i) => i.instancePath);
    expect(paths).toContain('/assertions/0/after');
    expect(paths).toContain('/assertions/1/action');
    expect(paths).toContain('/assertions/2');
    expect(paths).toContain('/assertions/3');
  });

  it('holds at most the exercise`s max', () => {
    const one = { peer: 'peer-2', running: true };
    expect(issuesOf(() => validateAssertions({ assertions: [one, one, one] }, 'a.yaml', 2))).toEqual([
      { instancePath: '/assertions', message: 'must have at most 2 items (got 3)' },
    ]);
  });

  it('is read from YAML, a parse error reported as such', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'swarmlab-assertions-'));
    try {
      await writeFile(join(dir, 'ok.yaml'), 'assertions:\n  - {peer: peer-2, file: payload.bin, verified: true}\n');
      await writeFile(join(dir, 'bad.yaml'), 'assertions: [\n');
      expect(await loadAssertions(join(dir, 'ok.yaml'))).toHaveLength(1);
      await expect(loadAssertions(join(dir, 'bad.yaml'))).rejects.toBeInstanceOf(ExerciseInvalidError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is appended after the scenario`s steps; a peer it names must exist, at its pointer in the file', () => {
    const assertions = validateAssertions({ assertions: [{ peer: 'peer-2', file: FILE, verified: true }] }, 'a.yaml');
    const applied = applySubmission(EXERCISE, BASE, { assertions, assertionsSource: 'a.yaml' });
    expect(applied.scenario.steps.at(-1)).toEqual(assertions[0]);
    expect(applied.ownSteps).toEqual([4]);
    expect(applied.name).toBe('assertions');
    expect(applied.sha256).toMatch(/^[0-9a-f]{64}$/);
    const unknown = validateAssertions({ assertions: [{ peer: 'peer-9', running: true }] }, 'a.yaml');
    const issues = issuesOf(() => applySubmission(EXERCISE, BASE, { assertions: unknown }));
    expect(issues.map((i) => i.instancePath)).toEqual(['/assertions/0/peer']);
  });

  it('is refused by an exercise that does not take assertions', () => {
    const assertions = validateAssertions({ assertions: [{ peer: 'peer-2', running: true }] }, 'a.yaml');
    expect(() => applySubmission({ ...EXERCISE, change: {} }, BASE, { assertions })).toThrow(ExerciseRefusedError);
  });
});

describe('broken variants', () => {
  it('set a peer`s environment and insert steps at an index (default: the end)', () => {
    const broken = applyBrokenVariant(
      BASE,
      {
        name: 'liar',
        env: { 'peer-3': { SWARMLAB_FREE_RIDE: '1' } },
        at: 3,
        steps: [{ action: 'faults', peer: 'peer-1', corrupt: 1 }],
      },
      'x',
    );
    expect(broken.steps.map((s) => s.action)).toEqual(['connect', 'generate', 'publish', 'faults', 'download']);
    expect((broken.peers as { name: string; env?: Record<string, string> }[])[2]).toEqual({
      name: 'peer-3',
      env: { SWARMLAB_FREE_RIDE: '1' },
    });
    const last = applyBrokenVariant(BASE, { name: 'leaver', steps: [{ action: 'disconnect', peer: 'peer-3' }] }, 'x');
    expect(last.steps.at(-1)).toEqual({ action: 'disconnect', peer: 'peer-3' });
    expect(BASE.steps).toHaveLength(4);
  });
});

describe('the sweep`s placeholders', () => {
  it('expand ${downloaders} as a step`s peers and as one peer item per downloader, ${N} and ${peers} as numbers', () => {
    const template = {
      name: 'scaling',
      description: 'N=${N}',
      peers: [
        { name: 'peer-1', uploadRate: 1000 },
        { name: '${downloaders}', uploadRate: 4000, env: { SWARMLAB_FREE_RIDE: '1' } },
      ],
      timeoutSeconds: '${peers}',
      steps: [{ action: 'download', peers: '${downloaders}', file: FILE }],
    };
    expect(substituteSweep(template, {}, 2)).toEqual({
      name: 'scaling',
      description: 'N=2',
      peers: [
        { name: 'peer-1', uploadRate: 1000 },
        { name: 'peer-2', uploadRate: 4000, env: { SWARMLAB_FREE_RIDE: '1' } },
        { name: 'peer-3', uploadRate: 4000, env: { SWARMLAB_FREE_RIDE: '1' } },
      ],
      timeoutSeconds: 3,
      steps: [{ action: 'download', peers: ['peer-2', 'peer-3'], file: FILE }],
    });
    expect(substituteSweep({ a: '${x}' }, { x: 5 }, undefined)).toEqual({ a: 5 });
  });
});

function report(steps: { index: number; ok: boolean; error?: string }[]): ScenarioReport {
  return {
    scenario: 'x',
    ok: steps.every((s) => s.ok),
    ms: 1000,
    steps: steps.map((s) => ({ ...s, action: 'assert', targets: ['peer-2'], startedAtMs: 0, ms: 1 })),
    downloads: [],
  };
}

describe('catches-variant', () => {
  it('passes only when one of the student`s assertions is the step that failed', () => {
    const own = [4, 5];
    const caught = measureCatches(
      {
        events: [],
        report: report([
          { index: 3, ok: true },
          { index: 4, ok: true },
          { index: 5, ok: false, error: 'no chunk from peer-2' },
        ]),
        ownSteps: own,
      },
      'liar',
    );
    expect(caught).toMatchObject({ passed: true, measured: 1 });
    expect(caught.words).toBe('caught "liar": your assertion 2 of 2 failed: no chunk from peer-2');
    const missed = measureCatches(
      {
        events: [],
        report: report([
          { index: 4, ok: true },
          { index: 5, ok: true },
        ]),
        ownSteps: own,
      },
      'liar',
    );
    expect(missed).toMatchObject({ passed: false, measured: 0 });
    expect(missed.words).toMatch(/none noticed it/);
    const broke = measureCatches(
      { events: [], report: report([{ index: 3, ok: false, error: 'timed out' }]), ownSteps: own },
      'liar',
    );
    expect(broke).toMatchObject({ passed: false, measured: null });
    expect(broke.words).toMatch(/before your assertions ran: timed out/);
    expect(measureCatches({ events: [], report: report([]) }, 'liar').passed).toBe(false);
  });

  it('reads the variant`s runs; the other checks read the correct swarm`s', () => {
    const checks: ExerciseCheck[] = [
      { id: 'holds', band: 'validity', kind: 'assertion', points: 2, hint: 'h' },
      { id: 'liar', band: 'robustness', kind: 'catches-variant', variant: 'liar', points: 3, hint: 'h' },
      { id: 'leaver', band: 'robustness', kind: 'catches-variant', variant: 'leaver', points: 3, hint: 'h' },
    ];
    const facts = { downloads: [], assertSteps: [4] };
    const runs: RunRecord[] = [
      { events: [], report: report([{ index: 4, ok: true }]), ownSteps: [4], facts },
      { events: [], report: report([{ index: 4, ok: false, error: 'x' }]), ownSteps: [4], facts, variant: 'liar' },
      { events: [], report: report([{ index: 4, ok: true }]), ownSteps: [4], facts, variant: 'leaver' },
    ];
    const grade = gradeRuns({ exercise: '07-x', checks, runs, scenario: facts });
    expect(grade.checks.map((c) => [c.id, c.status])).toEqual([
      ['holds', 'passed'],
      ['liar', 'passed'],
      ['leaver', 'failed'],
    ]);
    expect(grade.score).toBe(5);
    // Each check names the run it describes among all the runs (the report it links).
    expect(grade.checks.map((c) => c.run)).toEqual([0, 1, 2]);
    // A variant that was not run (the correct swarm failed first) fails, saying so.
    const notRun = gradeRuns({ exercise: '07-x', checks: checks.slice(1, 2), runs: runs.slice(0, 1), scenario: facts });
    expect(notRun.checks[0]).toMatchObject({ passed: false, words: 'not run: the broken swarm "liar" was not run' });
  });
});

const F = 262144;
const U_S = 131072;

/**
 * A sweep's run at N: peer-1 seeds F at u_s to N downloaders uploading `uploadBps`; the last chunk
 * arrives `distributionMs` after the first request.
 */
function sweepRun(
  n: number,
  distributionMs: number,
  init: { uploadBps?: number; seeders?: number; fileBytes?: number } = {},
): SweepRun {
  const downloaders = Array.from({ length: n }, (_, i) => `peer-${i + 2 + (init.seeders ?? 1) - 1}`);
  const seeders = Array.from({ length: init.seeders ?? 1 }, (_, i) => `peer-${i + 1}`);
  const size = init.fileBytes ?? F;
  const bodies: (RunEventBody & { t: number })[] = [
    { t: 0, type: 'run', run: 'x', scenario: 'x' },
    ...seeders.map((peer) => ({ t: 100, type: 'file' as const, peer, file: FILE, size, chunks: 16 })),
    ...seeders.map((peer) => ({ t: 200, type: 'rate' as const, peer, uploadBps: U_S })),
    ...downloaders.map((peer) => ({ t: 200, type: 'rate' as const, peer, uploadBps: init.uploadBps ?? U_S })),
    {
      t: 1000,
      type: 'step',
      index: 3,
      total: 4,
      action: 'download',
      targets: downloaders,
      description: 'download',
      fault: false,
    },
    ...downloaders.map((to) => ({
      t: 1000 + distributionMs,
      type: 'transfer' as const,
      file: FILE,
      index: 0,
      chunks: 16,
      from: 'peer-1',
      to,
      bytes: 16384,
      ms: distributionMs,
    })),
    ...downloaders.map((peer) => ({
      t: 1000 + distributionMs + 5,
      type: 'download' as const,
      peer,
      file: FILE,
      ok: true,
      verified: true,
      bytes: size,
    })),
  ];
  const events = bodies.map((body, seq) => ({ ...body, seq, at: 1_000_000 + body.t }) as RunEvent);
  return { events, downloaders: n };
}

describe('the sweep checks', () => {
  it('sweep-bound: every N within atMost x its bound (F/u_s = 2 s when u_i = u_s)', () => {
    const runs = [sweepRun(4, 2400), sweepRun(16, 3600)];
    const within = measureSweepBound(runs, FILE, 2);
    expect(within).toMatchObject({ passed: true, measured: 1.8 });
    expect(within.words).toBe('N=4: 2.4 s, bound 2.0 s (1.20); N=16: 3.6 s, bound 2.0 s (1.80); worst 1.80 ≤ 2.00');
    expect(measureSweepBound(runs, FILE, 1.5)).toMatchObject({ passed: false, measured: 1.8 });
  });

  it('sweep-growth: the last N`s time over the first`s, against the client-server prediction', () => {
    const p2p = measureSweepGrowth([sweepRun(4, 2400), sweepRun(8, 3000), sweepRun(16, 3600)], FILE, 2);
    expect(p2p).toMatchObject({ passed: true, measured: 1.5 });
    expect(p2p.words).toBe(
      'from N=4 to N=16 the distribution time went 2.4 s → 3.6 s, ×1.50; client-server (N·F/u_s) predicts ×4.00; 1.50 ≤ 2.00',
    );
    const clientServer = measureSweepGrowth([sweepRun(4, 8000), sweepRun(16, 32000)], FILE, 2);
    expect(clientServer).toMatchObject({ passed: false, measured: 4 });
  });

  it('takes the median of several runs at one N', () => {
    const runs = [sweepRun(4, 2000), sweepRun(4, 9000), sweepRun(4, 2200), sweepRun(16, 4400)];
    expect(measureSweepGrowth(runs, FILE, 3).measured).toBe(2);
  });

  it('refuses what is not the experiment: too few downloaders, two seeders, F or rates changing with N', () => {
    const short = { ...sweepRun(4, 2000), downloaders: 8 };
    expect(measureSweepBound([sweepRun(4, 2000), short], FILE, 3).words).toBe(
      `N=8: 4 peer(s) downloaded ${FILE}, not the 8 downloaders`,
    );
    expect(measureSweepBound([sweepRun(4, 2000), sweepRun(16, 2000, { seeders: 4 })], FILE, 3).words).toMatch(
      /N=16: 4 peers held payload.bin at the start; the experiment has one seeder/,
    );
    const faster = measureSweepGrowth([sweepRun(4, 2000), sweepRun(16, 2000, { uploadBps: 4 * U_S })], FILE, 3);
    expect(faster).toMatchObject({ passed: false, measured: null });
    expect(faster.words).toMatch(/^F, u_s and u_i must be the same at every N/);
    expect(measureSweepGrowth([sweepRun(4, 2000)], FILE, 3).words).toMatch(/two counts of downloaders/);
  });
});
