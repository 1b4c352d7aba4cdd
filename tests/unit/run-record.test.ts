/**
 * run.json: a record written and read back is the same object (from the folder or from run.json itself);
 * a folder without run.json, a file that is not JSON, a record of the wrong shape or with an invalid
 * scenario inside are each a clear ERR_LAB_RUN_RECORD_* error with JSON pointers. Also the resolved
 * scenario it records, and how `lab run ARG` tells a run folder from a scenario.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runCommand, type CommandContext } from '../../lab/commands';
import { ERROR_CODES } from '../../lab/errors';
import { Printer } from '../../lab/print';
import type { ScenarioReport } from '../../lab/report-types';
import { buildRunRecord } from '../../lab/replay/record-builder';
import { parseRunRecord, readRunRecord, writeRunRecord } from '../../lab/replay/record-io';
import { runTarget } from '../../lab/replay/replay-args';
import { environmentNotes, versionNotes } from '../../lab/replay/replay-notes';
import { resolveScenario } from '../../lab/replay/resolve';
import { RUN_RECORD_FILE, SWARMLAB_VERSION, type RunRecord } from '../../lab/replay/run-record';
import { runSeeds } from '../../lab/replay/seed';
import { validateScenario } from '../../lab/scenario/load';
import { DEFAULT_SCENARIO_TIMEOUT_S } from '../../lab/scenario/runner';

const SCENARIO = validateScenario({
  name: 'recorded',
  peers: 2,
  peerDefaults: { picker: 'random' },
  steps: [
    { action: 'generate', peer: 'peer-1', file: 'a.bin', size: 1024 },
    { action: 'download', peer: 'peer-2', file: 'a.bin' },
  ],
});

const REPORT: ScenarioReport = {
  scenario: 'recorded',
  ok: true,
  ms: 1234,
  steps: [],
  downloads: [],
  network: {
    enforcement: { latency: 'app', jitter: 'app', loss: 'kernel', bandwidth: 'app', partition: 'kernel' },
    links: [],
  },
};

async function record(): Promise<RunRecord> {
  const scenario = resolveScenario(SCENARIO);
  return buildRunRecord({
    run: 'recorded',
    startedAt: Date.UTC(2026, 0, 2, 3, 4, 5),
    engine: 'docker',
    command: ['run', 'recorded.yaml', '--seed', 'abc'],
    source: '/somewhere/recorded.yaml',
    scenario,
    seeds: runSeeds(scenario, 'abc'),
    images: {
      tracker: { name: 'swarmlab/tracker:latest', id: 'sha256:1111' },
      peer: { name: 'swarmlab/peer:latest', id: null },
    },
    report: REPORT,
  });
}

describe('run record (run.json)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-run-record-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('records what the run executed and ran on', async () => {
    const written = await record();
    expect(written).toMatchObject({
      recordVersion: 1,
      startedAt: '2026-01-02T03:04:05.000Z',
      swarmlabVersion: SWARMLAB_VERSION,
      seeds: { run: 'abc', files: { 'a.bin': expect.stringMatching(/^[0-9a-f]{32}$/) as unknown } },
      enforcement: REPORT.network?.enforcement,
    });
    expect(SWARMLAB_VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('reads back what it wrote, from the folder or from run.json', async () => {
    const written = await record();
    const path = await writeRunRecord(dir, written);
    expect(path).toBe(join(dir, RUN_RECORD_FILE));
    const fromDir = await readRunRecord(dir);
    expect(fromDir).toEqual({ record: written, dir, path });
    expect((await readRunRecord(path)).record).toEqual(written);
  });

  it('refuses a folder without run.json, and a path that does not exist', async () => {
    await expect(readRunRecord(dir)).rejects.toMatchObject({ code: ERROR_CODES.RUN_RECORD_MISSING });
    await expect(readRunRecord(join(dir, 'nowhere'))).rejects.toMatchObject({ code: 'ERR_LAB_RUN_RECORD_MISSING' });
  });

  it('refuses a run.json that is not JSON', () => {
    expect(() => parseRunRecord('{"run":', 'run.json')).toThrow(
      expect.objectContaining({
        code: 'ERR_LAB_RUN_RECORD_INVALID',
        issues: [expect.objectContaining({ instancePath: '' })],
      }),
    );
  });

  it('points at what is wrong in a record of the wrong shape', async () => {
    const good = await record();
    const cases: [unknown, string][] = [
      [{ ...good, seeds: undefined }, ''],
      [{ ...good, recordVersion: 2 }, '/recordVersion'],
      [{ ...good, seeds: { run: 'a/b', files: {} } }, '/seeds/run'],
      [{ ...good, engine: 'podman' }, '/engine'],
      [{ ...good, extra: 1 }, '/extra'],
      [{ ...good, images: { tracker: { name: 't', id: 'x' } } }, '/images'],
    ];
    for (const [data, instancePath] of cases) {
      let error: unknown;
      try {
        parseRunRecord(JSON.stringify(data), 'run.json');
      } catch (err) {
        error = err;
      }
      expect(error).toMatchObject({
        code: 'ERR_LAB_RUN_RECORD_INVALID',
        issues: expect.arrayContaining([expect.objectContaining({ instancePath })]) as unknown,
      });
    }
  });

  it('validates the scenario inside, with pointers into run.json', async () => {
    const good = await record();
    const bad = {
      ...good,
      scenario: { ...good.scenario, steps: [{ action: 'download', peer: 'peer-9', file: 'a.bin' }] },
    };
    expect(() => parseRunRecord(JSON.stringify(bad), 'run.json')).toThrow(
      expect.objectContaining({
        code: 'ERR_LAB_RUN_RECORD_INVALID',
        issues: [expect.objectContaining({ instancePath: '/scenario/steps/0/peer' })],
      }),
    );
  });

  it('lab run on a folder without run.json fails before anything starts', async () => {
    const lines: string[] = [];
    const ctx = {
      printer: new Printer({ out: { write: (line) => lines.push(line) } }),
      signal: new AbortController().signal,
    } as unknown as CommandContext;
    await mkdir(join(dir, 'empty-run'));
    await expect(runCommand(ctx, join(dir, 'empty-run'), {})).rejects.toMatchObject({
      code: 'ERR_LAB_RUN_RECORD_MISSING',
    });
    await writeFile(join(dir, 'empty-run', RUN_RECORD_FILE), '[]');
    await expect(runCommand(ctx, join(dir, 'empty-run'), {})).rejects.toMatchObject({
      code: 'ERR_LAB_RUN_RECORD_INVALID',
    });
    expect(lines).toEqual([]);
  });
});

describe('resolved scenario', () => {
  it('lists the peers with peerDefaults under their env and writes the defaults out', () => {
    const resolved = resolveScenario(SCENARIO);
    expect(resolved.peers).toEqual([
      { name: 'peer-1', env: { SWARMLAB_PICKER: 'random' } },
      { name: 'peer-2', env: { SWARMLAB_PICKER: 'random' } },
    ]);
    expect(resolved.peerDefaults).toBeUndefined();
    expect(resolved.autoConnect).toBe(false);
    expect(resolved.timeoutSeconds).toBe(DEFAULT_SCENARIO_TIMEOUT_S);
    expect(resolved.steps).toEqual(SCENARIO.steps);
  });

  it('is a valid scenario, and resolving it again changes nothing', () => {
    const resolved = resolveScenario(SCENARIO);
    expect(validateScenario(JSON.parse(JSON.stringify(resolved)))).toEqual(resolved);
    expect(resolveScenario(resolved)).toEqual(resolved);
  });

  it("keeps a peer's own env over peerDefaults", () => {
    const scenario = validateScenario({
      name: 'own',
      peers: [{ name: 'peer-1', env: { SWARMLAB_PICKER: 'sequential' } }, { name: 'peer-2' }],
      peerDefaults: { picker: 'random' },
      steps: [{ action: 'connect', peers: 'all' }],
    });
    expect(resolveScenario(scenario).peers).toEqual([
      { name: 'peer-1', env: { SWARMLAB_PICKER: 'sequential' } },
      { name: 'peer-2', env: { SWARMLAB_PICKER: 'random' } },
    ]);
  });
});

describe('lab run ARG', () => {
  const dirs = new Set(['lab/runs/demo-20260101T000000Z']);
  const isDir = (path: string): boolean => dirs.has(path);

  it.each([
    ['lab/runs/demo-20260101T000000Z', { kind: 'replay', target: 'lab/runs/demo-20260101T000000Z' }],
    ['lab/runs/demo-20260101T000000Z/', { kind: 'replay', target: 'lab/runs/demo-20260101T000000Z/' }],
    ['lab/runs/x/run.json', { kind: 'replay', target: 'lab/runs/x/run.json' }],
    ['run.json', { kind: 'replay', target: 'run.json' }],
    ['lab/scenarios/demo.yaml', { kind: 'scenario', file: 'lab/scenarios/demo.yaml' }],
    ['seeder-killed', { kind: 'scenario', file: 'seeder-killed' }],
    ['my-run.json', { kind: 'scenario', file: 'my-run.json' }],
  ])('%s', (arg, expected) => {
    expect(runTarget(arg, isDir)).toEqual(expected);
  });
});

describe('replay notes', () => {
  it('says nothing when the replay runs on what the recorded run ran on', async () => {
    const recorded = await record();
    expect(versionNotes(recorded, recorded.swarmlabVersion)).toEqual([]);
    expect(environmentNotes(recorded, { ...recorded })).toEqual([]);
  });

  it('notes another version, other image ids, engine and enforcement, one line each', async () => {
    const recorded = await record();
    expect(versionNotes(recorded, '9.9.9')).toEqual([
      `note: the recorded run used swarmlab ${recorded.swarmlabVersion}, this is 9.9.9`,
    ]);
    const replayed: RunRecord = {
      ...recorded,
      engine: 'swarm',
      images: {
        tracker: recorded.images!.tracker,
        peer: { name: 'swarmlab/peer:latest', id: 'sha256:2222' },
      },
      enforcement: { ...recorded.enforcement, loss: 'unsupported' },
    };
    const notes = environmentNotes(recorded, replayed);
    expect(notes).toHaveLength(3);
    expect(notes[0]).toMatch(/^note: the peer image differs .*sha256:2222/);
    expect(notes[1]).toMatch(/--engine docker, this one swarm/);
    expect(notes[2]).toMatch(/enforces loss differently/);
  });
});
