/**
 * `lab diff`: the structural diff gives one JSON pointer per differing value; diffRuns sorts two constructed
 * runs' differences into settings, seeds and environment and summarises outcome and timings; the text form
 * says "same" for a section without differences.
 */
import {
  diffRuns,
  outcomeOf,
  pointerSegment,
  structuralDiff,
  timingsOf,
  type RunReportJson,
  type RunSide,
} from '../../lab/replay/diff';
import { renderDiff } from '../../lab/replay/diff-text';
import { resolveScenario } from '../../lab/replay/resolve';
import type { RunRecord } from '../../lab/replay/run-record';
import { runSeeds } from '../../lab/replay/seed';
import { validateScenario } from '../../lab/scenario/load';

function recordOf(picker: string, seed: string, peerImage = 'sha256:peer'): RunRecord {
  const scenario = resolveScenario(
    validateScenario({
      name: 'diffed',
      peers: 2,
      peerDefaults: { picker },
      steps: [
        { action: 'generate', peer: 'peer-1', file: 'a.bin', size: 1024 },
        { action: 'download', peer: 'peer-2', file: 'a.bin' },
      ],
    }),
  );
  return {
    recordVersion: 1,
    run: 'diffed',
    startedAt: '2026-01-01T00:00:00.000Z',
    swarmlabVersion: '0.1.0',
    engine: 'docker',
    command: ['run', 'diffed.yaml'],
    scenario,
    seeds: runSeeds(scenario, seed),
    images: {
      tracker: { name: 'swarmlab/tracker:latest', id: 'sha256:tracker' },
      peer: { name: 'swarmlab/peer:latest', id: peerImage },
    },
    enforcement: { latency: 'app', jitter: 'app', loss: 'kernel', bandwidth: 'app', partition: 'kernel' },
  };
}

const PASSED: RunReportJson = {
  ok: true,
  ms: 10_000,
  steps: [
    { index: 0, action: 'generate', ok: true },
    { index: 1, action: 'download', ok: true },
  ],
  downloads: [{ peer: 'peer-2', file: 'a.bin', verified: true, finishedAtMs: 8_000 }],
  derived: {
    minimums: [{ file: 'a.bin', minMs: 4_000, measured: { distributionMs: 6_000, ratio: 1.5 } }, { file: 'b.bin' }],
    failedDownloads: [],
  },
};

const FAILED: RunReportJson = {
  ok: false,
  ms: 12_000,
  error: { code: 'ERR_LAB_STEP_FAILED', message: 'step 2 (download) failed: boom' },
  steps: [
    { index: 0, action: 'generate', ok: true },
    { index: 1, action: 'download', ok: false, error: 'boom' },
  ],
  downloads: [{ peer: 'peer-2', file: 'a.bin', verified: false }],
  derived: { minimums: [], failedDownloads: [{ peer: 'peer-2', file: 'a.bin', error: 'ERR_NO_SOURCE' }] },
};

function side(label: string, record: RunRecord, report: RunReportJson | undefined): RunSide {
  return { label, record, report };
}

describe('structuralDiff', () => {
  it('finds nothing between equal values', () => {
    expect(structuralDiff({ a: [1, { b: null }], c: 'x' }, { a: [1, { b: null }], c: 'x' })).toEqual([]);
  });

  it('gives one pointer per differing leaf, absent sides left out', () => {
    const changes = structuralDiff({ a: [1, 2, 3], b: { c: 1, d: 2 }, e: 1 }, { a: [1, 5], b: { c: 1, f: 3 }, g: 1 });
    expect(changes).toEqual([
      { path: '/a/1', a: 2, b: 5 },
      { path: '/a/2', a: 3 },
      { path: '/b/d', a: 2 },
      { path: '/b/f', b: 3 },
      { path: '/e', a: 1 },
      { path: '/g', b: 1 },
    ]);
    expect('b' in changes[1]!).toBe(false);
  });

  it('treats a change of type as one change at that pointer', () => {
    expect(structuralDiff({ peers: 2 }, { peers: [{ name: 'peer-1' }] })).toEqual([
      { path: '/peers', a: 2, b: [{ name: 'peer-1' }] },
    ]);
    expect(structuralDiff(1, 2)).toEqual([{ path: '', a: 1, b: 2 }]);
  });

  it('escapes ~ and / in keys (RFC 6901)', () => {
    expect(pointerSegment('a/b~c')).toBe('a~1b~0c');
    expect(structuralDiff({ 'x/y': 1 }, { 'x/y': 2 })).toEqual([{ path: '/x~1y', a: 1, b: 2 }]);
  });
});

describe('diffRuns', () => {
  it('a replay with the same settings and seeds differs in nothing but what the report measured', () => {
    const diff = diffRuns(
      side('A', recordOf('rarest', 's1'), PASSED),
      side('B', recordOf('rarest', 's1'), { ...PASSED, ms: 11_000 }),
    );
    expect(diff.settings).toEqual([]);
    expect(diff.seeds).toEqual([]);
    expect(diff.environment).toEqual([]);
    expect(diff.outcome.same).toBe(true);
    expect(diff.timings.a.scenarioMs).toBe(10_000);
    expect(diff.timings.b.scenarioMs).toBe(11_000);
  });

  it('sorts settings, seeds and images into their sections', () => {
    const diff = diffRuns(
      side('A', recordOf('rarest', 's1'), PASSED),
      side('B', recordOf('random', 's2', 'sha256:new'), PASSED),
    );
    expect(diff.settings).toEqual([
      { path: '/peers/0/env/SWARMLAB_PICKER', a: 'rarest', b: 'random' },
      { path: '/peers/1/env/SWARMLAB_PICKER', a: 'rarest', b: 'random' },
    ]);
    expect(diff.seeds.map((c) => c.path)).toEqual(['/run', '/files/a.bin']);
    expect(diff.environment).toEqual([{ path: '/images/peer/id', a: 'sha256:peer', b: 'sha256:new' }]);
  });

  it('summarises outcome: verified, failed steps and downloads', () => {
    const diff = diffRuns(side('A', recordOf('rarest', 's'), PASSED), side('B', recordOf('rarest', 's'), FAILED));
    expect(diff.outcome.same).toBe(false);
    expect(diff.outcome.a).toEqual({ ok: true, verified: true, downloads: 1, failures: [] });
    expect(diff.outcome.b).toEqual({
      ok: false,
      verified: false,
      downloads: 1,
      failures: ['step 2 (download): boom', 'download a.bin on peer-2: ERR_NO_SOURCE'],
    });
    expect(outcomeOf(undefined)).toEqual({ ok: null, verified: null, downloads: 0, failures: [] });
    expect(outcomeOf({ ok: false, error: { message: 'no containers' } }).failures).toEqual(['no containers']);
  });

  it('takes distribution time, minimum, ratio and completions from the report', () => {
    expect(timingsOf(PASSED)).toEqual({
      scenarioMs: 10_000,
      files: { 'a.bin': { distributionMs: 6_000, minimumMs: 4_000, ratio: 1.5 } },
      completions: { 'peer-2 a.bin': 8_000 },
    });
    expect(timingsOf(FAILED).completions).toEqual({ 'peer-2 a.bin': null });
  });
});

describe('renderDiff', () => {
  it('says "same" for sections without differences and lists the others', () => {
    const same = renderDiff(
      diffRuns(side('A', recordOf('rarest', 's'), PASSED), side('B', recordOf('rarest', 's'), PASSED)),
    );
    expect(same).toEqual(expect.arrayContaining(['settings: same', 'seeds: same', 'environment: same']));
    const text = renderDiff(
      diffRuns(side('A', recordOf('rarest', 's'), PASSED), side('B', recordOf('random', 's'), FAILED)),
    );
    expect(text).toContain('settings: 2 difference(s)');
    expect(text).toContain('  /peers/0/env/SWARMLAB_PICKER: "rarest" -> "random"');
    expect(text.find((line) => line.startsWith('outcome: differs'))).toBeDefined();
    expect(text).toContain('  B: step 2 (download): boom');
    expect(text.find((line) => /a\.bin ratio\s+1\.50\s+-/.test(line))).toBeDefined();
    expect(text.find((line) => /scenario\s+10\.0 s\s+12\.0 s\s+\+2\.0 s/.test(line))).toBeDefined();
  });
});
