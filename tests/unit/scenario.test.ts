import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import YAML from 'yaml';

import { ScenarioInvalidError, ScenarioReadError } from '../../lab/errors';
import { parseScenario, scenarioPeers, stepTargets, validateScenario } from '../../lab/scenario/load';
import { MAX_CHUNK_BYTES } from '../../src/protocol';

const SCENARIO_DIR = join(__dirname, '..', '..', 'lab', 'scenarios');

function base(): Record<string, unknown> {
  return {
    name: 't',
    peers: 3,
    steps: [
      { action: 'connect', peers: 'all' },
      { action: 'generate', peer: 'peer-1', file: 'a.txt', size: 1024 },
      { action: 'publish', peer: 'peer-1' },
      { action: 'download', peer: 'peer-2', file: 'a.txt' },
      { action: 'assert', peer: 'peer-2', file: 'a.txt', verified: true },
    ],
  };
}

function withStep(index: number, step: Record<string, unknown>): Record<string, unknown> {
  const scenario = base();
  (scenario['steps'] as unknown[])[index] = step;
  return scenario;
}

function issuesOf(data: unknown): { instancePath: string; message: string }[] {
  try {
    validateScenario(data, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioInvalidError);
    expect((err as ScenarioInvalidError).code).toBe('ERR_LAB_SCENARIO_INVALID');
    return (err as ScenarioInvalidError).issues;
  }
  throw new Error('expected the scenario to be rejected');
}

function pathsOf(data: unknown): string[] {
  return issuesOf(data).map((issue) => issue.instancePath);
}

describe('shipped scenarios', () => {
  const files = readdirSync(SCENARIO_DIR).filter((f) => /\.(ya?ml|json)$/.test(f));

  it('ships demo, late-joiner, churn and the fault scenarios', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'demo.yaml',
        'late-joiner.yaml',
        'churn.yaml',
        'seeder-killed.yaml',
        'source-paused.yaml',
        'tracker-restart.yaml',
        'partition.yaml',
        'lying-peer.yaml',
        'disk-full.yaml',
      ]),
    );
  });

  it.each(files)('%s is valid', (file) => {
    const scenario = parseScenario(readFileSync(join(SCENARIO_DIR, file), 'utf8'), file);
    expect(scenario.steps.length).toBeGreaterThan(0);
  });

  it('demo downloads on peer-3 and peer-4 in one step and has at least 16 chunks', () => {
    const scenario = parseScenario(readFileSync(join(SCENARIO_DIR, 'demo.yaml'), 'utf8'), 'demo.yaml');
    const peers = scenarioPeers(scenario);
    expect(peers.map((p) => p.name)).toEqual(['peer-1', 'peer-2', 'peer-3', 'peer-4']);
    const download = scenario.steps.find((s) => s.action === 'download');
    expect(download).toBeDefined();
    expect(stepTargets(download!, peers)).toEqual(['peer-3', 'peer-4']);
    const generate = scenario.steps.find((s) => s.action === 'generate');
    expect(generate?.action === 'generate' && generate.size / (scenario.chunkSize ?? Infinity)).toBeGreaterThanOrEqual(
      16,
    );
  });
});

describe('scenario validation', () => {
  it('accepts a minimal scenario, as YAML and as JSON', () => {
    expect(validateScenario(base()).name).toBe('t');
    expect(parseScenario(YAML.stringify(base()), 'x.yaml').steps).toHaveLength(5);
    expect(parseScenario(JSON.stringify(base()), 'x.json').steps).toHaveLength(5);
  });

  it('expands a peer count to peer-1..peer-N and "all" to every peer', () => {
    const scenario = validateScenario(base());
    const peers = scenarioPeers(scenario);
    expect(peers.map((p) => p.name)).toEqual(['peer-1', 'peer-2', 'peer-3']);
    expect(stepTargets(scenario.steps[0]!, peers)).toEqual(['peer-1', 'peer-2', 'peer-3']);
  });

  it('rejects a missing name at the root', () => {
    const data = base();
    delete data['name'];
    expect(issuesOf(data)).toEqual([{ instancePath: '', message: 'must have field "name"' }]);
  });

  it('rejects an unknown top-level field with its path', () => {
    expect(pathsOf({ ...base(), peerz: 2 })).toEqual(['/peerz']);
  });

  it('rejects a bad peer count', () => {
    expect(pathsOf({ ...base(), peers: 0 })).toEqual(['/peers']);
    expect(pathsOf({ ...base(), peers: 'three' })).toEqual(['/peers']);
  });

  it('rejects an unknown action at /steps/N/action', () => {
    const issues = issuesOf(withStep(2, { action: 'explode', peer: 'peer-1' }));
    expect(issues.map((i) => i.instancePath)).toEqual(['/steps/2/action']);
    expect(issues[0]?.message).toMatch(/unknown action "explode"/);
  });

  it('rejects a negative size at /steps/N/size', () => {
    expect(pathsOf(withStep(1, { action: 'generate', peer: 'peer-1', file: 'a.txt', size: -5 }))).toEqual([
      '/steps/1/size',
    ]);
  });

  // Issue 18 hole 11: names are printed by the lab, so a control character (ESC starts a terminal
  // escape) or a newline would reach the operator's terminal; peers refuse chunks over 4 MiB, so a
  // larger chunkSize would only fail once the containers run.
  it.each([
    ['ESC', 'red\u001b[31m.txt'],
    ['a newline', 'two\nlines.txt'],
    ['a carriage return', 'back\r.txt'],
    ['DEL', 'del\u007f.txt'],
    ['a C1 control (8-bit CSI)', 'csi\u009b31m.txt'],
  ])('rejects a file name with %s at /steps/N/file', (_, file) => {
    expect(pathsOf(withStep(1, { action: 'generate', peer: 'peer-1', file, size: 10 }))).toEqual(['/steps/1/file']);
    expect(pathsOf(withStep(3, { action: 'download', peer: 'peer-2', file }))).toEqual(['/steps/3/file']);
  });

  it('accepts a chunkSize up to the peers\' 4 MiB and rejects one above it', () => {
    expect(validateScenario({ ...base(), chunkSize: MAX_CHUNK_BYTES }).chunkSize).toBe(MAX_CHUNK_BYTES);
    expect(pathsOf({ ...base(), chunkSize: MAX_CHUNK_BYTES + 1 })).toEqual(['/chunkSize']);
    expect(pathsOf({ ...base(), chunkSize: 16 * 1024 * 1024 })).toEqual(['/chunkSize']);
  });

  it('rejects a missing file on download', () => {
    const issues = issuesOf(withStep(3, { action: 'download', peer: 'peer-2' }));
    expect(issues).toEqual([{ instancePath: '/steps/3', message: 'must have field "file"' }]);
  });

  it('rejects an unknown field inside a step', () => {
    expect(pathsOf(withStep(3, { action: 'download', peer: 'peer-2', file: 'a.txt', wiat: true }))).toEqual([
      '/steps/3/wiat',
    ]);
  });

  it('rejects a step with neither or both of peer and peers', () => {
    expect(issuesOf(withStep(2, { action: 'publish' }))).toEqual([
      { instancePath: '/steps/2', message: 'must have exactly one of "peer" or "peers"' },
    ]);
    expect(pathsOf(withStep(2, { action: 'publish', peer: 'peer-1', peers: ['peer-2'] }))).toEqual(['/steps/2']);
  });

  it('rejects at and after together', () => {
    expect(issuesOf(withStep(2, { action: 'publish', peer: 'peer-1', at: 1, after: 2 }))).toEqual([
      { instancePath: '/steps/2', message: '"at" and "after" exclude each other' },
    ]);
  });

  it('rejects a wrongly typed wait flag', () => {
    expect(pathsOf(withStep(3, { action: 'download', peer: 'peer-2', file: 'a.txt', wait: 'yes' }))).toEqual([
      '/steps/3/wait',
    ]);
  });

  it('explains a bad peers value and a step without action in one message each', () => {
    expect(issuesOf(withStep(3, { action: 'download', peers: 'some', file: 'a.txt' }))).toEqual([
      { instancePath: '/steps/3/peers', message: 'must be a list of peer names or "all" (got "some")' },
    ]);
    expect(issuesOf(withStep(0, {}))).toEqual([{ instancePath: '/steps/0', message: 'must have field "action"' }]);
    expect(issuesOf(withStep(0, { action: 'wait', peer: 'peer-1', peers: ['peer-2'] }))).toEqual([
      { instancePath: '/steps/0', message: '"peer" and "peers" exclude each other' },
    ]);
  });

  it('rejects a path in a file name', () => {
    expect(pathsOf(withStep(3, { action: 'download', peer: 'peer-2', file: '../etc/passwd' }))).toEqual([
      '/steps/3/file',
    ]);
  });

  it('rejects an unknown peer with the path of the name', () => {
    const issues = issuesOf(withStep(3, { action: 'download', peers: ['peer-2', 'peer-9'], file: 'a.txt' }));
    expect(issues.map((i) => i.instancePath)).toEqual(['/steps/3/peers/1']);
    expect(issues[0]?.message).toMatch(/unknown peer "peer-9"/);
  });

  it('rejects an unknown source peer in an assertion', () => {
    expect(
      pathsOf(withStep(4, { action: 'assert', peer: 'peer-2', file: 'a.txt', sourcesInclude: ['peer-1', 'nobody'] })),
    ).toEqual(['/steps/4/sourcesInclude/1']);
  });

  it('rejects an assertion without a check, or a download check without file', () => {
    expect(pathsOf(withStep(4, { action: 'assert', peer: 'peer-2', file: 'a.txt' }))).toEqual(['/steps/4']);
    expect(issuesOf(withStep(4, { action: 'assert', peer: 'peer-2', verified: true }))[0]?.message).toMatch(/"file"/);
  });

  it('lets container actions target the tracker, but not control commands', () => {
    expect(() => validateScenario(withStep(2, { action: 'kill', peer: 'tracker' }))).not.toThrow();
    expect(pathsOf(withStep(2, { action: 'publish', peer: 'tracker' }))).toEqual(['/steps/2/peer']);
  });

  it('rejects a rate step without a limit and accepts null (unlimited)', () => {
    expect(pathsOf(withStep(2, { action: 'rate', peer: 'peer-1' }))).toEqual(['/steps/2']);
    expect(() => validateScenario(withStep(2, { action: 'rate', peer: 'peer-1', upload: null }))).not.toThrow();
    expect(pathsOf(withStep(2, { action: 'rate', peer: 'peer-1', upload: -1 }))).toEqual(['/steps/2/upload']);
  });

  it('rejects duplicate peer names and a peer called tracker', () => {
    expect(
      pathsOf({ ...base(), peers: [{ name: 'peer-1' }, { name: 'peer-2' }, { name: 'peer-3' }, { name: 'peer-1' }] }),
    ).toEqual(['/peers/3/name']);
    expect(pathsOf({ ...base(), peers: [{ name: 'tracker' }] })).toContain('/peers/0/name');
  });

  it('reports several problems at once, schema problems before unknown names', () => {
    const data = base();
    const steps = data['steps'] as Record<string, unknown>[];
    steps[1] = { action: 'generate', peer: 'peer-1', file: 'a.txt', size: 0 };
    steps[3] = { action: 'download', peer: 'peer-2', file: 'a.txt', extra: 1 };
    expect(pathsOf(data)).toEqual(['/steps/1/size', '/steps/3/extra']);
    steps[1] = { action: 'generate', peer: 'peer-8', file: 'a.txt', size: 1 };
    steps[3] = { action: 'download', peer: 'peer-7', file: 'a.txt' };
    expect(pathsOf(data)).toEqual(['/steps/1/peer', '/steps/3/peer']);
  });

  it('rejects an empty step list and a sleep without seconds', () => {
    expect(pathsOf({ ...base(), steps: [] })).toEqual(['/steps']);
    expect(pathsOf(withStep(0, { action: 'sleep' }))).toEqual(['/steps/0']);
  });

  it('names the file and every path in the message', () => {
    try {
      validateScenario({ ...base(), peerz: 1, steps: [{ action: 'nope' }] }, 'bad.yaml');
      throw new Error('not rejected');
    } catch (err) {
      expect((err as Error).message).toMatch(/scenario bad\.yaml is invalid/);
      expect((err as Error).message).toMatch(/\/peerz: unknown field/);
      expect((err as Error).message).toMatch(/\/steps\/0\/action: unknown action/);
    }
  });

  it('reports unparseable YAML as ERR_LAB_SCENARIO_READ', () => {
    expect(() => parseScenario('name: [unclosed', 'broken.yaml')).toThrow(ScenarioReadError);
    try {
      parseScenario('name: [unclosed', 'broken.yaml');
    } catch (err) {
      expect((err as ScenarioReadError).code).toBe('ERR_LAB_SCENARIO_READ');
    }
  });
});

describe('fault steps (issue 5)', () => {
  it('accepts a faults step and needs at least one of corrupt, drop, delayMs', () => {
    expect(() => validateScenario(withStep(2, { action: 'faults', peer: 'peer-1', corrupt: 1 }))).not.toThrow();
    expect(issuesOf(withStep(2, { action: 'faults', peer: 'peer-1' }))).toEqual([
      { instancePath: '/steps/2', message: 'faults needs "corrupt", "drop" or "delayMs"' },
    ]);
    expect(pathsOf(withStep(2, { action: 'faults', peer: 'peer-1', corrupt: 1.5 }))).toEqual(['/steps/2/corrupt']);
    expect(pathsOf(withStep(2, { action: 'faults', peer: 'tracker', drop: 0.1 }))).toEqual(['/steps/2/peer']);
  });

  it('says what an assertion without a check needs', () => {
    expect(issuesOf(withStep(4, { action: 'assert', peer: 'peer-2', file: 'a.txt' }))).toEqual([
      { instancePath: '/steps/4', message: expect.stringMatching(/^assert needs at least one check: .*holders/) },
    ]);
  });

  it('marks at most one step as the fault', () => {
    const data = base();
    const steps = data['steps'] as Record<string, unknown>[];
    steps[2] = { action: 'kill', peer: 'peer-1', fault: true };
    expect(() => validateScenario(data)).not.toThrow();
    steps[3] = { action: 'download', peer: 'peer-2', file: 'a.txt', fault: true };
    expect(issuesOf(data)).toEqual([
      { instancePath: '/steps/3/fault', message: 'only one step can be the fault (step 3 is)' },
    ]);
    expect(pathsOf(withStep(2, { action: 'sleep', seconds: 1, fault: true }))).toEqual(['/steps/2/fault']);
  });

  it('fills only a tmpfs data directory, and with less than its size', () => {
    const peers = [{ name: 'peer-1' }, { name: 'peer-2', dataTmpfsBytes: 1048576 }, { name: 'peer-3' }];
    const fill = (peer: string, bytes: number): Record<string, unknown> => ({
      ...withStep(2, { action: 'fill-disk', peer, bytes }),
      peers,
    });
    expect(() => validateScenario(fill('peer-2', 524288))).not.toThrow();
    expect(issuesOf(fill('peer-1', 524288))[0]).toMatchObject({
      instancePath: '/steps/2/peer',
      message: expect.stringMatching(/needs a peer with dataTmpfsBytes/),
    });
    expect(pathsOf(fill('peer-2', 1048576))).toEqual(['/steps/2/bytes']);
    expect(pathsOf({ ...withStep(2, { action: 'free-disk', peers: ['peer-2', 'peer-3'] }), peers })).toEqual([
      '/steps/2/peers/1',
    ]);
    expect(pathsOf({ ...base(), peers: [{ name: 'peer-1', dataTmpfsBytes: 10 }] })).toContain(
      '/peers/0/dataTmpfsBytes',
    );
  });

  it('checks holders and logged assertions and the expected error code of a download', () => {
    expect(() =>
      validateScenario(withStep(4, { action: 'assert', peer: 'peer-1', file: 'a.txt', holders: 0 })),
    ).not.toThrow();
    expect(issuesOf(withStep(4, { action: 'assert', peer: 'peer-1', holders: 2 }))[0]?.message).toMatch(
      /"file" \(needed by holders\)/,
    );
    expect(() =>
      validateScenario(withStep(4, { action: 'assert', peer: 'peer-2', logged: ['rejected a chunk'] })),
    ).not.toThrow();
    expect(pathsOf(withStep(4, { action: 'assert', peer: 'peer-2', logged: [] }))).toEqual(['/steps/4/logged']);
    expect(() =>
      validateScenario(
        withStep(3, { action: 'download', peer: 'peer-2', file: 'a.txt', expectError: 'ERR_DISK_FULL' }),
      ),
    ).not.toThrow();
    expect(
      pathsOf(withStep(3, { action: 'download', peer: 'peer-2', file: 'a.txt', expectError: 'disk full' })),
    ).toEqual(['/steps/3/expectError']);
  });
});

describe('peer settings: peerDefaults and peers[].env', () => {
  it('peerDefaults become every peer’s SWARMLAB_* variables; a peer’s own env wins', () => {
    const scenario = validateScenario({
      ...base(),
      peers: [{ name: 'peer-1' }, { name: 'peer-2', env: { SWARMLAB_PICKER: 'sequential', LOG_LEVEL: 'debug' } }, { name: 'peer-3' }],
      peerDefaults: { picker: 'random', endgame: 'off', superSeed: 'on', maxInflight: 4, chunkSize: 65536 },
    });
    const [one, two] = scenarioPeers(scenario);
    expect(one?.env).toEqual({
      SWARMLAB_PICKER: 'random',
      SWARMLAB_ENDGAME: 'off',
      SWARMLAB_SUPER_SEED: 'on',
      SWARMLAB_MAX_INFLIGHT: '4',
      SWARMLAB_CHUNK_SIZE: '65536',
    });
    expect(two?.env).toMatchObject({ SWARMLAB_PICKER: 'sequential', SWARMLAB_ENDGAME: 'off', LOG_LEVEL: 'debug' });
  });

  it('applies to peers given as a count, and leaves peers alone without peerDefaults', () => {
    const scenario = validateScenario({ ...base(), peerDefaults: { picker: 'sequential' } });
    expect(scenarioPeers(scenario).map((peer) => peer.env)).toEqual([1, 2, 3].map(() => ({ SWARMLAB_PICKER: 'sequential' })));
    expect(scenarioPeers(validateScenario(base()))).toEqual([{ name: 'peer-1' }, { name: 'peer-2' }, { name: 'peer-3' }]);
    expect(scenarioPeers(validateScenario({ ...base(), peerDefaults: {} }))[0]).toEqual({ name: 'peer-1' });
  });

  it('a peer setting already works as peers[].env (the variables the peer reads)', () => {
    const scenario = validateScenario({ ...base(), peers: [{ name: 'peer-1', env: { SWARMLAB_ENDGAME: 'off' } }, { name: 'peer-2' }, { name: 'peer-3' }] });
    expect(scenarioPeers(scenario)[0]?.env).toEqual({ SWARMLAB_ENDGAME: 'off' });
  });

  it('rejects bad values with JSON pointers', () => {
    expect(issuesOf({ ...base(), peerDefaults: { endgame: 'maybe' } })).toEqual([
      { instancePath: '/peerDefaults/endgame', message: 'must be equal to one of the allowed values (got "maybe")' },
    ]);
    expect(pathsOf({ ...base(), peerDefaults: { superSeed: true } })).toEqual(['/peerDefaults/superSeed']);
    expect(pathsOf({ ...base(), peerDefaults: { maxInflight: 0 } })).toEqual(['/peerDefaults/maxInflight']);
    expect(pathsOf({ ...base(), peerDefaults: { chunkSize: 100 } })).toEqual(['/peerDefaults/chunkSize']);
    expect(pathsOf({ ...base(), peerDefaults: { picker: '' } })).toEqual(['/peerDefaults/picker']);
    expect(issuesOf({ ...base(), peerDefaults: { pickr: 'random' } })).toEqual([
      { instancePath: '/peerDefaults/pickr', message: 'unknown field "pickr"' },
    ]);
    expect(issuesOf({ ...base(), chunkSize: 65536, peerDefaults: { chunkSize: 65536 } })).toEqual([
      { instancePath: '/peerDefaults/chunkSize', message: 'the scenario sets "chunkSize" already; keep one' },
    ]);
  });
});
