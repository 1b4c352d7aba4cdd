import { ScenarioInvalidError } from '../../lab/errors';
import type { ScenarioNetwork } from '../../lab/network/network-schema';
import { chainRules, PacketFilter } from '../../lab/network/packet-filter';
import { RunNetwork } from '../../lab/network/run-network';
import { accessLinks, applyLink, linkList, resolveNetwork } from '../../lab/network/resolve';
import { scenarioPeers, validateScenario } from '../../lab/scenario/load';

const NODES = ['peer-1', 'peer-2', 'peer-3', 'peer-4', 'tracker'];
const MiB = 1024 * 1024;

describe('resolveNetwork', () => {
  it('gives every pair the default, and a perfect link without a section', () => {
    const none = resolveNetwork(undefined, NODES);
    expect(none.get('peer-1')?.get('tracker')).toEqual({ latencyMs: 0, jitterMs: 0, lossPercent: 0, bandwidth: null });
    const tables = resolveNetwork({ default: { latencyMs: 5, bandwidth: '1M' } }, NODES);
    expect(tables.get('peer-3')?.get('peer-4')).toEqual({ latencyMs: 5, jitterMs: 0, lossPercent: 0, bandwidth: MiB });
    expect(tables.get('peer-3')?.has('peer-3')).toBe(false);
    expect(linkList(tables)).toHaveLength(10);
  });

  it('applies the most specific entry, each field falling back to the less specific ones', () => {
    const tables = resolveNetwork(
      {
        default: { jitterMs: 1 },
        groups: { eu: ['peer-1', 'peer-2'], us: ['peer-3', 'peer-4', 'tracker'] },
        links: [
          // Listed first, still wins over the group entry below: a node pair is more specific.
          { between: ['peer-1', 'peer-3'], latencyMs: 150, jitterMs: 10, bandwidth: '4M' },
          { between: ['eu', 'us'], latencyMs: 80, lossPercent: 1 },
          { between: ['peer-2', 'us'], latencyMs: 90 },
        ],
      },
      NODES,
    );
    expect(tables.get('peer-1')?.get('peer-3')).toEqual({
      latencyMs: 150,
      jitterMs: 10,
      lossPercent: 1,
      bandwidth: 4 * MiB,
    });
    expect(tables.get('peer-1')?.get('peer-4')).toEqual({
      latencyMs: 80,
      jitterMs: 1,
      lossPercent: 1,
      bandwidth: null,
    });
    expect(tables.get('peer-2')?.get('tracker')).toEqual({
      latencyMs: 90,
      jitterMs: 1,
      lossPercent: 1,
      bandwidth: null,
    });
    // Within a group: the default.
    expect(tables.get('peer-1')?.get('peer-2')).toEqual({ latencyMs: 0, jitterMs: 1, lossPercent: 0, bandwidth: null });
    expect(tables.get('peer-3')?.get('tracker')?.latencyMs).toBe(0);
  });

  it('is symmetric: each link has the same conditions from both ends', () => {
    const tables = resolveNetwork(
      {
        groups: { a: ['peer-1'], b: ['peer-2', 'peer-3'] },
        links: [
          { between: ['b', 'a'], latencyMs: 30 },
          { between: ['peer-3', 'peer-1'], bandwidth: 1000 },
          { between: ['tracker', 'b'], lossPercent: 2 },
        ],
      },
      NODES,
    );
    for (const a of NODES)
      for (const b of NODES) if (a !== b) expect(tables.get(a)?.get(b)).toEqual(tables.get(b)?.get(a));
    expect(tables.get('peer-1')?.get('peer-3')).toMatchObject({ latencyMs: 30, bandwidth: 1000 });
    expect(tables.get('tracker')?.get('peer-2')?.lossPercent).toBe(2);
  });

  it('lets the later of two equally specific entries win', () => {
    const tables = resolveNetwork(
      {
        links: [
          { between: ['peer-1', 'peer-2'], latencyMs: 10 },
          { between: ['peer-2', 'peer-1'], latencyMs: 20 },
        ],
      },
      NODES,
    );
    expect(tables.get('peer-1')?.get('peer-2')?.latencyMs).toBe(20);
  });

  it('changes only the named fields of the pairs a later change names, both ways', () => {
    const tables = resolveNetwork({ links: [{ between: ['peer-1', 'peer-2'], latencyMs: 50, jitterMs: 3 }] }, NODES);
    const changed = applyLink(tables, { g: ['peer-2', 'peer-3'] }, ['peer-1', 'g'], { latencyMs: 150 });
    expect(changed).toEqual([
      ['peer-1', 'peer-2'],
      ['peer-1', 'peer-3'],
    ]);
    expect(tables.get('peer-2')?.get('peer-1')).toEqual({
      latencyMs: 150,
      jitterMs: 3,
      lossPercent: 0,
      bandwidth: null,
    });
    expect(tables.get('peer-3')?.get('peer-1')?.latencyMs).toBe(150);
    expect(tables.get('peer-2')?.get('peer-3')?.latencyMs).toBe(0);
  });

  it('reads access links in bytes/s', () => {
    expect(accessLinks({ peers: { 'peer-1': { up: '2M', down: 8 * MiB }, 'peer-2': { up: null } } })).toEqual(
      new Map([
        ['peer-1', { up: 2 * MiB, down: 8 * MiB }],
        ['peer-2', { up: null }],
      ]),
    );
  });
});

describe('the network section of a scenario', () => {
  const scenario = (network: unknown, peers: unknown = 3): Record<string, unknown> => ({
    name: 't',
    peers,
    network,
    steps: [{ action: 'connect', peers: 'all' }],
  });
  const issuesOf = (data: unknown): { instancePath: string; message: string }[] => {
    try {
      validateScenario(data);
    } catch (err) {
      if (err instanceof ScenarioInvalidError) return err.issues;
      throw err;
    }
    throw new Error('the scenario was accepted');
  };

  it('accepts the contract example', () => {
    const parsed = validateScenario(
      scenario(
        {
          default: { latencyMs: 0, jitterMs: 0, lossPercent: 0, bandwidth: null },
          groups: { eu: ['peer-1', 'peer-2'], us: ['peer-3', 'peer-4', 'tracker'] },
          links: [
            { between: ['eu', 'us'], latencyMs: 80, lossPercent: 1 },
            { between: ['peer-1', 'peer-3'], latencyMs: 150, jitterMs: 10, bandwidth: '4M' },
          ],
          peers: { 'peer-1': { up: '2M', down: '8M' } },
        },
        4,
      ),
    );
    expect(parsed.network?.links).toHaveLength(2);
  });

  it.each([
    [{ groups: { eu: ['peer-9'] } }, '/network/groups/eu/0', /unknown node "peer-9"/],
    [{ groups: { a: ['peer-1'], b: ['peer-2', 'peer-1'] } }, '/network/groups/b/1', /already in group "a"/],
    [{ groups: { 'peer-1': ['peer-2'] } }, '/network/groups/peer-1', /name of a node/],
    [
      { links: [{ between: ['peer-1', 'mars'], latencyMs: 1 }] },
      '/network/links/0/between/1',
      /unknown node or group "mars"/,
    ],
    [{ links: [{ between: ['peer-1', 'peer-1'] }] }, '/network/links/0/between', /two different nodes/],
    [{ links: [{ between: ['peer-1', 'peer-2'], latencyMs: -1 }] }, '/network/links/0/latencyMs', /must be >= 0/],
    [{ links: [{ between: ['peer-1', 'peer-2'], jitterMs: 'x' }] }, '/network/links/0/jitterMs', /must be number/],
    [{ default: { lossPercent: 101 } }, '/network/default/lossPercent', /must be <= 100/],
    [{ default: { bandwidth: -5 } }, '/network/default/bandwidth', /must be >= 1/],
    [{ default: { bandwidth: 'fast' } }, '/network/default/bandwidth', /must match pattern/],
    [{ peers: { 'peer-7': { up: '2M' } } }, '/network/peers/peer-7', /unknown peer "peer-7"/],
    [{ peers: { tracker: { up: '2M' } } }, '/network/peers/tracker', /tracker has no access link/],
    [{ peers: { 'peer-1': { sideways: 1 } } }, '/network/peers/peer-1/sideways', /unknown field/],
  ])('rejects %j at its pointer', (network, pointer, message) => {
    const issues = issuesOf(scenario(network));
    expect(issues).toEqual(
      expect.arrayContaining([{ instancePath: pointer, message: expect.stringMatching(message) }]),
    );
  });

  it("rejects an access link that contradicts the peer's own rate", () => {
    const issues = issuesOf(scenario({ peers: { a: { up: 1000 } } }, [{ name: 'a', uploadRate: 500 }]));
    expect(issues).toEqual([
      { instancePath: '/network/peers/a/up', message: expect.stringMatching(/uploadRate already/) },
    ]);
  });
});

describe('access links', () => {
  it("become the peers' upload and download rates", () => {
    const parsed = validateScenario({
      name: 't',
      peers: 2,
      network: { peers: { 'peer-1': { up: '2M', down: null }, 'peer-2': { down: 4096 } } },
      steps: [{ action: 'connect', peers: 'all' }],
    });
    expect(scenarioPeers(parsed)).toEqual([
      { name: 'peer-1', uploadRate: 2 * MiB },
      { name: 'peer-2', downloadRate: 4096 },
    ]);
  });
});

describe('RunNetwork', () => {
  const addresses: Record<string, string> = { 'peer-1': '10.0.0.2', 'peer-2': '10.0.0.3', tracker: '10.0.0.9' };
  const make = (network: ScenarioNetwork | undefined): { run: RunNetwork; calls: string[] } => {
    const calls: string[] = [];
    const run = new RunNetwork(
      {
        nodes: {
          address: (node) => addresses[node],
          hasEmulator: (node) => node !== 'tracker',
          setLink: async (peer, address, conditions) => {
            calls.push(
              `${peer}->${address} ${conditions.latencyMs}/${conditions.jitterMs}/${String(conditions.bandwidth)}`,
            );
            return Promise.resolve();
          },
          pid: () => Promise.resolve(undefined),
        },
      },
      { network, names: ['peer-1', 'peer-2', 'tracker'] },
    );
    return { run, calls };
  };

  it("sets every link at both peer ends, the tracker's at the peer end only", async () => {
    const { run, calls } = make({
      links: [{ between: ['peer-1', 'peer-2'], latencyMs: 50 }],
      default: { bandwidth: 1000 },
    });
    await run.applyAll(new AbortController().signal);
    expect(calls.sort()).toEqual([
      'peer-1->10.0.0.3 50/0/1000',
      'peer-1->10.0.0.9 0/0/1000',
      'peer-2->10.0.0.2 50/0/1000',
      'peer-2->10.0.0.9 0/0/1000',
    ]);
    expect(run.report().enforcement).toMatchObject({ latency: 'app', jitter: 'app', bandwidth: 'app' });
    expect(run.report().links).toHaveLength(3);
  });

  it('pushes a change to both ends of the links it names, keeping the fields left out', async () => {
    const { run, calls } = make({ links: [{ between: ['peer-1', 'peer-2'], latencyMs: 50, jitterMs: 2 }] });
    await run.change(['peer-2', 'peer-1'], { latencyMs: 150 }, new AbortController().signal);
    expect(calls.sort()).toEqual(['peer-1->10.0.0.3 150/2/null', 'peer-2->10.0.0.2 150/2/null']);
  });
});

describe('the link step', () => {
  const withLink = (step: Record<string, unknown>): Record<string, unknown> => ({
    name: 't',
    peers: 3,
    network: { groups: { far: ['peer-3', 'tracker'] } },
    steps: [{ action: 'link', ...step }],
  });

  it('accepts nodes and groups', () => {
    expect(() => validateScenario(withLink({ between: ['peer-1', 'far'], latencyMs: 150, fault: true }))).not.toThrow();
  });

  it.each([
    [{ between: ['peer-1', 'mars'], latencyMs: 1 }, '/steps/0/between/1', /unknown node or group "mars"/],
    [{ between: ['peer-1', 'peer-2'] }, '/steps/0', /link needs at least one of latencyMs/],
    [{ between: ['peer-1', 'peer-2'], lossPercent: 150 }, '/steps/0/lossPercent', /must be <= 100/],
    [{ between: ['peer-1'], latencyMs: 1 }, '/steps/0/between', /must NOT have fewer than 2 items/],
    [{ between: ['peer-1', 'peer-2'], peer: 'peer-1', latencyMs: 1 }, '/steps/0/peer', /unknown field/],
  ])('rejects %j at its pointer', (step, pointer, message) => {
    let issues: unknown[] = [];
    try {
      validateScenario(withLink(step));
    } catch (err) {
      if (err instanceof ScenarioInvalidError) issues = err.issues;
    }
    expect(issues).toEqual(
      expect.arrayContaining([{ instancePath: pointer, message: expect.stringMatching(message) }]),
    );
  });
});

describe('the packet filter of a run', () => {
  const addresses: Record<string, string> = {
    'peer-1': '10.0.0.2',
    'peer-2': '10.0.0.3',
    'peer-3': '10.0.0.4',
    tracker: '10.0.0.9',
  };
  const pids: Record<string, number> = { 'peer-1': 11, 'peer-2': 12, 'peer-3': 13, tracker: 19 };
  const signal = new AbortController().signal;

  function make(network: ScenarioNetwork | undefined): { run: RunNetwork; calls: Map<number, string[]> } {
    const calls = new Map<number, string[]>();
    const filter = new PacketFilter({
      iptables: (pid, args) => {
        calls.set(pid, [...(calls.get(pid) ?? []), args.join(' ')]);
        return Promise.resolve('');
      },
    });
    const run = new RunNetwork(
      {
        nodes: {
          address: (node) => addresses[node],
          hasEmulator: (node) => node !== 'tracker',
          setLink: () => Promise.resolve(),
          pid: (node) => Promise.resolve(pids[node]),
        },
        filter,
      },
      { network, names: Object.keys(addresses) },
    );
    return { run, calls };
  }

  it('blocks the other sides both ways, leaves nodes in no side alone, and heals with a flush', async () => {
    const { run, calls } = make({ groups: { left: ['peer-1', 'peer-3'] } });
    expect(run.report().enforcement).toMatchObject({ loss: 'kernel', partition: 'kernel', latency: 'app' });
    await run.partition([['left'], ['peer-2']], signal);
    expect(run.rulesOf('peer-3').blocked).toEqual(['10.0.0.3']);
    expect(run.rulesOf('peer-2').blocked).toEqual(['10.0.0.2', '10.0.0.4']);
    expect(run.rulesOf('tracker').blocked).toEqual([]);
    expect(calls.get(13)).toEqual([
      '-N SWARMLAB',
      '-C INPUT -j SWARMLAB',
      '-C OUTPUT -j SWARMLAB',
      '-F SWARMLAB',
      '-A SWARMLAB -s 10.0.0.3 -j DROP',
      '-A SWARMLAB -d 10.0.0.3 -j DROP',
    ]);
    calls.clear();
    await run.heal(signal);
    expect(calls.get(13)).toEqual(['-F SWARMLAB']);
    expect(run.rulesOf('peer-2').blocked).toEqual([]);
  });

  it("drops the lossy link's share of what each end receives, after a counting rule", () => {
    const { run } = make({ links: [{ between: ['peer-1', 'peer-2'], lossPercent: 5 }] });
    expect(run.rulesOf('peer-1').loss).toEqual(new Map([['10.0.0.3', 5]]));
    expect(chainRules(run.rulesOf('peer-2'))).toEqual([
      ['-F', 'SWARMLAB'],
      ['-A', 'SWARMLAB', '-s', '10.0.0.2'],
      [
        '-A',
        'SWARMLAB',
        '-s',
        '10.0.0.2',
        '-m',
        'statistic',
        '--mode',
        'random',
        '--probability',
        '0.0500',
        '-j',
        'DROP',
      ],
    ]);
    expect(run.rulesOf('peer-3').loss.size).toBe(0);
  });

  it('refuses a partition without a filter', async () => {
    const run = new RunNetwork(
      {
        nodes: {
          address: () => undefined,
          hasEmulator: () => true,
          setLink: () => Promise.resolve(),
          pid: () => Promise.resolve(undefined),
        },
      },
      { network: undefined, names: ['peer-1', 'peer-2'] },
    );
    expect(run.report().enforcement).toMatchObject({ loss: 'unsupported', partition: 'unsupported' });
    await expect(run.partition([['peer-1'], ['peer-2']], signal)).rejects.toMatchObject({
      code: 'ERR_LAB_UNSUPPORTED',
    });
  });
});

describe('the partition step', () => {
  it.each([
    [[['peer-1', 'peer-2'], ['peer-2']], '/steps/0/groups/1/0', /"peer-2" is in groups 0 and 1/],
    [[['peer-1'], ['mars']], '/steps/0/groups/1/0', /unknown node or group "mars"/],
    [[['peer-1']], '/steps/0/groups', /must NOT have fewer than 2 items/],
  ])('rejects groups %j at its pointer', (groups, pointer, message) => {
    let issues: unknown[] = [];
    try {
      validateScenario({ name: 't', peers: 3, steps: [{ action: 'partition', groups }, { action: 'heal' }] });
    } catch (err) {
      if (err instanceof ScenarioInvalidError) issues = err.issues;
    }
    expect(issues).toEqual(
      expect.arrayContaining([{ instancePath: pointer, message: expect.stringMatching(message) }]),
    );
  });
});
