/**
 * The grader on constructed runs: what each check kind measures from the recorded events, the bands
 * (a failed band leaves the later ones "not run"), the median of timed checks and the `--json` shape.
 */
import { gradeJson, gradeRuns, measure, type RunRecord, type ScenarioFacts } from '../../lab/exercise/grade';
import type { ExerciseCheck } from '../../lab/exercise/schema';
import type { RunEvent, RunEventBody } from '../../lab/observe/run-events';
import type { ScenarioReport } from '../../lab/report-types';

const FILE = 'payload.bin';
const CHUNK = 16384;
const CHUNKS = 64;
const FILE_BYTES = CHUNK * CHUNKS;
const DOWNLOADERS = ['peer-2', 'peer-3', 'peer-4'];
/** u_s = u_i = 128 KiB/s, F = 1 MiB, N = 3: max(8 s, 3·8/4 = 6 s) = 8 s. */
const RATE = 131072;
const MIN_MS = 8000;
/** The distribution counts from the first chunk's request (one chunk's time after the step) to the last chunk. */
const distributionRatio = (lastMs: number): number => (lastMs * (1 - 1 / CHUNKS)) / MIN_MS;

function events(bodies: (RunEventBody & { t: number })[]): RunEvent[] {
  return bodies.map((body, seq) => ({ ...body, seq, at: 1_000_000 + body.t }) as RunEvent);
}

interface RunShape {
  /** When the last chunk arrives, ms after the download step (at t = 1000). */
  lastMs?: number;
  /** Downloaders whose download fails. */
  failing?: string[];
  /** Chunks each downloader receives twice. */
  duplicates?: number;
  fault?: boolean;
}

/** A run of 1 seeder and 3 downloaders of a 64-chunk file, the seeder sending one copy, the rest traded. */
function run(shape: RunShape = {}): RunRecord {
  const lastMs = shape.lastMs ?? 10_000;
  const failing = new Set(shape.failing ?? []);
  const bodies: (RunEventBody & { t: number })[] = [
    { t: 0, type: 'run', run: 'x', scenario: 'x' },
    { t: 100, type: 'file', peer: 'peer-1', file: FILE, size: FILE_BYTES, chunks: CHUNKS },
    ...['peer-1', ...DOWNLOADERS].map((peer) => ({ t: 200, type: 'rate' as const, peer, uploadBps: RATE })),
    {
      t: 1000,
      type: 'step',
      index: 3,
      total: 6,
      action: 'download',
      targets: DOWNLOADERS,
      description: 'download',
      fault: false,
    },
  ];
  if (shape.fault === true) {
    bodies.push({
      t: 1500,
      type: 'step',
      index: 4,
      total: 6,
      action: 'kill',
      targets: ['peer-1'],
      description: 'kill peer-1',
      fault: true,
    });
  }
  DOWNLOADERS.forEach((to, d) => {
    const have = failing.has(to) ? CHUNKS / 2 : CHUNKS;
    for (let index = 0; index < have; index += 1) {
      const t = 1000 + Math.round(((index + 1) / CHUNKS) * lastMs) - (2 - d);
      const from = index % 3 === d ? 'peer-1' : DOWNLOADERS[(d + 1) % 3]!;
      bodies.push({ t, type: 'transfer', file: FILE, index, chunks: CHUNKS, from, to, bytes: CHUNK, ms: 1 });
      if (index < (shape.duplicates ?? 0)) {
        bodies.push({
          t,
          type: 'transfer',
          file: FILE,
          index,
          chunks: CHUNKS,
          from: 'peer-1',
          to,
          bytes: CHUNK,
          ms: 1,
        });
      }
    }
  });
  for (const peer of DOWNLOADERS) {
    bodies.push(
      failing.has(peer)
        ? { t: 1000 + lastMs + 5, type: 'download', peer, file: FILE, ok: false, error: 'no source has chunk 40' }
        : { t: 1000 + lastMs + 5, type: 'download', peer, file: FILE, ok: true, verified: true, bytes: FILE_BYTES },
    );
  }
  const ok = failing.size === 0;
  bodies.push({ t: 1000 + lastMs + 50, type: 'step-end', index: 5, ok, ms: 1 });
  bodies.push({ t: 1000 + lastMs + 100, type: 'end', ok, ms: lastMs + 100 });
  const report: ScenarioReport = {
    scenario: 'x',
    ok,
    ms: lastMs + 1000,
    steps: [
      { index: 3, action: 'download', targets: DOWNLOADERS, ok: true, startedAtMs: 1000, ms: 10 },
      ...(shape.fault === true
        ? [{ index: 4, action: 'kill', targets: ['peer-1'], ok: true, startedAtMs: 1500, ms: 10 }]
        : []),
      {
        index: 5,
        action: 'assert',
        targets: DOWNLOADERS,
        ok,
        startedAtMs: lastMs + 1000,
        ms: 1,
        ...(ok ? {} : { error: 'peer-2: not verified' }),
      },
    ],
    downloads: DOWNLOADERS.filter((p) => !failing.has(p)).map((peer) => ({
      peer,
      file: FILE,
      bytes: FILE_BYTES,
      sha256: 'a'.repeat(64),
      verified: true,
      chunksBySource: {},
      finishedAtMs: lastMs + 1000,
    })),
    ...(shape.fault === true ? { fault: { index: 4, action: 'kill', atMs: 1500 } } : {}),
    ...(shape.fault === true && ok ? { recoverMs: lastMs - 500 } : {}),
    ...(ok ? {} : { error: { code: 'ERR_LAB_ASSERTION', message: 'peer-2: not verified' } }),
  };
  return { events: events(bodies), report };
}

const FACTS: ScenarioFacts = { downloads: DOWNLOADERS.map((peer) => ({ peer, file: FILE })), assertSteps: [5] };

const CHECKS: ExerciseCheck[] = [
  { id: 'done', band: 'validity', kind: 'completed', points: 1, hint: 'finish' },
  { id: 'copies', band: 'integrity', kind: 'verified', points: 4, hint: 'verify' },
  { id: 'fast', band: 'performance', kind: 'distribution-time', file: FILE, atMost: 1.5, points: 3, hint: 'faster' },
  {
    id: 'one-copy',
    band: 'performance',
    kind: 'seeder-upload',
    peer: 'peer-1',
    file: FILE,
    atMost: 1.3,
    points: 1,
    hint: 'less',
  },
  { id: 'asserts', band: 'robustness', kind: 'assertion', points: 1, hint: 'assert' },
];

describe('gradeRuns', () => {
  it('passes a good run, each measurement in words against its threshold', () => {
    const grade = gradeRuns({ exercise: '01-x', checks: CHECKS, runs: [run({ lastMs: 10_000 })], scenario: FACTS });
    expect(grade).toMatchObject({ exercise: '01-x', score: 10, maxScore: 10, passed: true });
    const fast = grade.checks.find((c) => c.id === 'fast')!;
    expect(fast.measured).toBeCloseTo(distributionRatio(10_000), 2);
    expect(fast.threshold).toBe(1.5);
    expect(fast.words).toMatch(/^last copy verified at 9\.8 s; bound 8\.0 s; 1\.23 ≤ 1\.50$/);
    expect(fast.atT).toBeGreaterThan(10_000);
    expect(grade.checks.find((c) => c.id === 'copies')!.words).toMatch(/^3 of 3 copies verified/);
    // One chunk in three came from the seeder: a third of a copy, counted from the transfers.
    const oneCopy = grade.checks.find((c) => c.id === 'one-copy')!;
    expect(oneCopy.measured).toBeCloseTo(1, 1);
    expect(oneCopy.words).toContain('chunks it delivered');
    expect(grade.checks.every((c) => c.hint === undefined)).toBe(true);
  });

  it('fails a slow run on its timed check only, with the hint', () => {
    const grade = gradeRuns({ exercise: '01-x', checks: CHECKS, runs: [run({ lastMs: 16_000 })], scenario: FACTS });
    const fast = grade.checks.find((c) => c.id === 'fast')!;
    expect(fast).toMatchObject({ status: 'failed', passed: false, points: 0, hint: 'faster' });
    expect(fast.words).toContain('1.97 > 1.50');
    expect(grade.checks.find((c) => c.id === 'one-copy')!.status).toBe('passed');
    // The performance band failed: robustness is not run.
    expect(grade.checks.find((c) => c.id === 'asserts')).toMatchObject({ status: 'not-run', points: 0 });
    expect(grade).toMatchObject({ score: 6, passed: false });
  });

  it('after a failed band, the later bands say "not run" rather than failing too', () => {
    const grade = gradeRuns({
      exercise: '01-x',
      checks: CHECKS,
      runs: [run({ failing: ['peer-3'] })],
      scenario: FACTS,
    });
    expect(grade.checks.map((c) => [c.id, c.status])).toEqual([
      ['done', 'failed'],
      ['copies', 'not-run'],
      ['fast', 'not-run'],
      ['one-copy', 'not-run'],
      ['asserts', 'not-run'],
    ]);
    expect(grade.checks[1]!.words).toBe('not run: the validity band failed');
    expect(grade.checks[0]!.words).toMatch(/^step 6 \(assert\) failed: peer-2: not verified/);
    // The runner's error already naming the step is not prefixed twice.
    const named = run({ failing: ['peer-3'] });
    named.report.steps[named.report.steps.length - 1]!.error = 'step 6 (assert) failed: peer-2: not verified';
    const again = gradeRuns({ exercise: '01-x', checks: CHECKS, runs: [named], scenario: FACTS });
    expect(again.checks[0]!.words).toBe('step 6 (assert) failed: peer-2: not verified');
  });

  it('takes the median of a timed check, and the worst run of any other', () => {
    const runs = [run({ lastMs: 9_600 }), run({ lastMs: 30_000 }), run({ lastMs: 10_400 })];
    const grade = gradeRuns({ exercise: '01-x', checks: CHECKS, runs, scenario: FACTS });
    const fast = grade.checks.find((c) => c.id === 'fast')!;
    expect(fast).toMatchObject({ status: 'passed', run: 2 });
    expect(fast.measured).toBeCloseTo(distributionRatio(10_400), 2);
    expect(fast.words).toMatch(/^median of 3 runs: /);
    const failing = gradeRuns({
      exercise: '01-x',
      checks: CHECKS,
      runs: [run(), run({ failing: ['peer-4'] }), run()],
      scenario: FACTS,
    });
    expect(failing.checks.find((c) => c.id === 'done')).toMatchObject({ status: 'failed', run: 1 });
  });

  it('ends --json with the contract shape', () => {
    const grade = gradeRuns({ exercise: '01-x', checks: CHECKS, runs: [run()], scenario: FACTS });
    const json = gradeJson(grade, '/tmp/r/report.html');
    expect(Object.keys(json.grade)).toEqual(['exercise', 'score', 'maxScore', 'passed', 'checks', 'reportPath']);
    expect(Object.keys((json.grade['checks'] as object[])[0]!)).toEqual([
      'id',
      'band',
      'passed',
      'points',
      'measured',
      'threshold',
    ]);
  });
});

describe('measure', () => {
  const check = (kind: ExerciseCheck['kind'], extra: Partial<ExerciseCheck> = {}): ExerciseCheck => ({
    id: kind,
    band: 'performance',
    kind,
    points: 1,
    hint: 'h',
    ...extra,
  });

  it('counts the seeder upload from its server when known', () => {
    const record = { ...run(), uploadedBytes: { 'peer-1': Math.round(1.5 * FILE_BYTES) } };
    const m = measure(check('seeder-upload', { peer: 'peer-1', file: FILE, atMost: 1.3 }), record, FACTS);
    expect(m).toMatchObject({ passed: false, measured: 1.5 });
    expect(m.words).toContain('counted by its server');
  });

  it('measures duplicate bytes as a share of the file', () => {
    const dup = check('duplicate-bytes', { file: FILE, atMost: 0.1 });
    expect(measure(dup, run(), FACTS)).toMatchObject({ passed: true, measured: 0 });
    // 8 chunks received twice by each of 3 downloaders: 24 chunks of 64.
    const fromEvents = measure(dup, run({ duplicates: 8 }), FACTS);
    expect(fromEvents.measured).toBeCloseTo(24 / 64, 5);
    expect(fromEvents.passed).toBe(false);
    // The servers' counts win: 3 copies needed, 3.05 sent; a sender without a count (killed) adds what it delivered.
    const counts = {
      'peer-1': FILE_BYTES,
      'peer-2': FILE_BYTES,
      'peer-3': 0.55 * FILE_BYTES,
      'peer-4': 0.5 * FILE_BYTES,
    };
    const counted = { ...run(), uploadedBytes: counts };
    expect(measure(dup, counted, FACTS).measured).toBeCloseTo(0.05, 5);
    const withoutPeer4 = { 'peer-1': counts['peer-1'], 'peer-2': counts['peer-2'], 'peer-3': counts['peer-3'] };
    // peer-4 delivered peer-3 every chunk the seeder did not: 64 - 21 = 43.
    const killed = measure(dup, { ...run(), uploadedBytes: withoutPeer4 }, FACTS).measured!;
    expect(killed).toBeCloseTo(2.55 + 43 / 64 - 3, 5);
  });

  it('judges a fault like chaos does', () => {
    const survived = measure(check('survives-fault'), run({ fault: true }), FACTS);
    expect(survived.passed).toBe(true);
    expect(survived.words).toMatch(/^survived kill peer-1; recovered in 9\.5 s/);
    expect(measure(check('survives-fault'), run(), FACTS)).toMatchObject({
      passed: false,
      words: 'did not survive: the scenario has no step marked fault: true',
    });
    expect(measure(check('survives-fault'), run({ fault: true, failing: ['peer-2'] }), FACTS).passed).toBe(false);
  });

  it('reads assertions, one or all, and says when one never ran', () => {
    expect(measure(check('assertion'), run(), FACTS)).toMatchObject({ passed: true, words: '1 of 1 assertions held' });
    expect(measure(check('assertion', { step: 7 }), run(), FACTS)).toMatchObject({
      passed: false,
      words: '0 of 1 assertions held; step 8 never ran',
    });
  });

  it('a download the scenario expects but that never verified fails integrity', () => {
    const m = measure(check('verified'), run({ failing: ['peer-3'] }), FACTS);
    expect(m).toMatchObject({ passed: false, measured: 2 });
    expect(m.words).toBe('2 of 3 copies verified; not verified: peer-3');
  });
});
