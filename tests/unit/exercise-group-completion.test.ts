/**
 * The group-completion check on constructed runs: free riders against contributors (median over median,
 * at least k), and contributors against the bound for themselves alone (last completion, at most k),
 * each computed from the lab's transfer and download events; plus what the loader refuses.
 */
import { gradeRuns, measure, type RunRecord, type ScenarioFacts } from '../../lab/exercise/grade';
import type { ExerciseCheck } from '../../lab/exercise/schema';
import type { RunEvent, RunEventBody } from '../../lab/observe/run-events';
import type { ScenarioReport } from '../../lab/report-types';

const FILE = 'payload.bin';
const CHUNK = 16384;
const CHUNKS = 64;
const FILE_BYTES = CHUNK * CHUNKS;
const CONTRIBUTORS = ['peer-2', 'peer-3', 'peer-4', 'peer-5'];
const RIDERS = ['peer-6', 'peer-7'];
/** Every peer uploads 128 KiB/s, the seeder twice that: for the contributors alone max(4 s, 4·8/6 s) = 5.33 s. */
const RATE = 131072;
const CONTRIBUTORS_MIN_MS = (4 * FILE_BYTES * 1000) / (2 * RATE + 4 * RATE);

function events(bodies: (RunEventBody & { t: number })[]): RunEvent[] {
  return bodies.map((body, seq) => ({ ...body, seq, at: 1_000_000 + body.t }) as RunEvent);
}

/** The download starts at t = 1000 (its first chunk requested then); `doneMs`: each peer's last chunk after it. */
function run(doneMs: Record<string, number>, unverified: string[] = []): RunRecord {
  const peers = [...CONTRIBUTORS, ...RIDERS];
  const bodies: (RunEventBody & { t: number })[] = [
    { t: 0, type: 'run', run: 'x', scenario: 'x' },
    { t: 100, type: 'file', peer: 'peer-1', file: FILE, size: FILE_BYTES, chunks: CHUNKS },
    { t: 200, type: 'rate', peer: 'peer-1', uploadBps: 2 * RATE },
    ...peers.map((peer) => ({ t: 200, type: 'rate' as const, peer, uploadBps: RATE })),
    { t: 1000, type: 'step', index: 3, total: 5, action: 'download', targets: peers, description: 'd', fault: false },
  ];
  for (const peer of peers) {
    const lastMs = doneMs[peer]!;
    for (let index = 0; index < CHUNKS; index += 1) {
      const t = 1000 + Math.round(((index + 1) / CHUNKS) * lastMs);
      // Each chunk took 1/64 of the download: the first was requested at t = 1000, when the download started.
      const ms = t - (1000 + Math.round((index / CHUNKS) * lastMs));
      bodies.push({
        t,
        type: 'transfer',
        file: FILE,
        index,
        chunks: CHUNKS,
        from: 'peer-1',
        to: peer,
        bytes: CHUNK,
        ms,
      });
    }
  }
  // Verified a little after the last chunk (the sha256 in the container): the chunk's time counts.
  for (const peer of peers) {
    bodies.push({
      t: 1000 + doneMs[peer]! + 700,
      type: 'download',
      peer,
      file: FILE,
      ok: true,
      verified: !unverified.includes(peer),
      bytes: FILE_BYTES,
    });
  }
  bodies.sort((a, b) => a.t - b.t);
  const report: ScenarioReport = { scenario: 'x', ok: true, ms: 30_000, steps: [], downloads: [] };
  return { events: events(bodies), report };
}

const FACTS: ScenarioFacts = { downloads: [], assertSteps: [] };
const LATER: ExerciseCheck = {
  id: 'free-riders-later',
  band: 'performance',
  kind: 'group-completion',
  file: FILE,
  peers: CONTRIBUTORS,
  versus: RIDERS,
  atLeast: 1.25,
  points: 4,
  hint: 'reward who gives',
};
const NEAR: ExerciseCheck = {
  id: 'contributors-near-bound',
  band: 'performance',
  kind: 'group-completion',
  file: FILE,
  peers: CONTRIBUTORS,
  atMost: 2,
  points: 2,
  hint: 'trade',
};

const titForTat = {
  'peer-2': 7000,
  'peer-3': 7400,
  'peer-4': 8000,
  'peer-5': 9000,
  'peer-6': 11_000,
  'peer-7': 12_000,
};
const everyone = { 'peer-2': 9000, 'peer-3': 9200, 'peer-4': 9400, 'peer-5': 9600, 'peer-6': 8800, 'peer-7': 9000 };

describe('group-completion', () => {
  it('compares the median completion of one group with the other', () => {
    const m = measure(LATER, run(titForTat), FACTS);
    // Medians: riders (11 + 12) / 2 = 11.5 s, contributors (7.4 + 8) / 2 = 7.7 s.
    expect(m.passed).toBe(true);
    expect(m.measured).toBeCloseTo(11_500 / 7_700, 3);
    expect(m.words).toBe(
      'peer-6, peer-7 completed payload.bin at 11.5 s (median), peer-2..peer-5 (4) at 7.7 s; 1.49 ≥ 1.25',
    );
    expect(m.atT).toBe(1000 + 11_500);
    const served = measure(LATER, run(everyone), FACTS);
    expect(served).toMatchObject({ passed: false });
    expect(served.measured).toBeCloseTo(8_900 / 9_300, 3);
    expect(served.words).toContain('0.96 < 1.25');
  });

  it('compares the last completion of a group with the bound for it alone', () => {
    const m = measure(NEAR, run(titForTat), FACTS);
    expect(m.measured).toBeCloseTo(9000 / CONTRIBUTORS_MIN_MS, 3);
    expect(m.passed).toBe(true);
    expect(m.words).toBe('peer-2..peer-5 (4) completed payload.bin by 9.0 s; bound for them alone 5.3 s; 1.69 ≤ 2.00');
    const slow = measure(NEAR, run({ ...titForTat, 'peer-5': 12_000 }), FACTS);
    expect(slow).toMatchObject({ passed: false });
    expect(slow.words).toContain('2.25 > 2.00');
  });

  it('fails when a peer of either group never verified its copy, naming it', () => {
    expect(measure(LATER, run(titForTat, ['peer-7']), FACTS)).toMatchObject({
      passed: false,
      measured: null,
      words: 'payload.bin not verified on peer-7',
    });
  });

  it('is timed: the median of the runs counts, with atLeast as its threshold', () => {
    const runs = [run(titForTat), run(everyone), run(titForTat)];
    const grade = gradeRuns({ exercise: '06-x', checks: [LATER, NEAR], runs, scenario: FACTS });
    expect(grade.checks[0]).toMatchObject({ status: 'passed', threshold: 1.25 });
    expect(grade.checks[0]!.words).toMatch(/^median of 3 runs: /);
    const mostlyEveryone = [run(everyone), run(titForTat), run(everyone)];
    const failed = gradeRuns({ exercise: '06-x', checks: [LATER], runs: mostlyEveryone, scenario: FACTS });
    expect(failed).toMatchObject({ score: 0, passed: false });
    expect(failed.checks[0]).toMatchObject({ status: 'failed', hint: 'reward who gives' });
  });
});
