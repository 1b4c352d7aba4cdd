/**
 * Which layer enforces what: the decision from the kernel's probe results and SWARMLAB_LINK_ENFORCEMENT,
 * the netem commands, and a run network that puts its delays in netem rather than in the peers.
 */
import {
  decideEnforcement,
  enforcementMode,
  type EnforcementMode,
  type KernelProbe,
} from '../../lab/network/enforcement';
import {
  deviceByIndex,
  deviceOf,
  ingressCommands,
  netemCommands,
  NetemShaper,
  peerIndexOf,
  type NamespaceTc,
  type RootTc,
} from '../../lab/network/netem-shaper';
import { RunNetwork } from '../../lab/network/run-network';

const signal = new AbortController().signal;

describe('decideEnforcement', () => {
  const table: [KernelProbe, EnforcementMode, string][] = [
    // probe, mode -> latency jitter loss bandwidth partition
    [{ packetFilter: true, netem: true }, 'auto', 'netem netem kernel app kernel'],
    [{ packetFilter: true, netem: false }, 'auto', 'app app kernel app kernel'],
    [{ packetFilter: false, netem: true }, 'auto', 'netem netem netem app unsupported'],
    [{ packetFilter: false, netem: false }, 'auto', 'app app unsupported app unsupported'],
    [{ packetFilter: true, netem: true }, 'app', 'app app unsupported app unsupported'],
    [{ packetFilter: true, netem: false }, 'app', 'app app unsupported app unsupported'],
    [{ packetFilter: true, netem: true }, 'kernel', 'netem netem kernel app kernel'],
    [{ packetFilter: true, netem: false }, 'kernel', 'app app kernel app kernel'],
    [{ packetFilter: true, netem: false, htb: true }, 'auto', 'app app kernel kernel kernel'],
    [{ packetFilter: true, netem: true, htb: true }, 'kernel', 'netem netem kernel kernel kernel'],
    [{ packetFilter: true, netem: false, htb: true }, 'app', 'app app unsupported app unsupported'],
  ];
  it.each(table)('%j in mode %s gives %s', (probe, mode, expected) => {
    const e = decideEnforcement(probe, mode);
    expect([e.latency, e.jitter, e.loss, e.bandwidth, e.partition].join(' ')).toBe(expected);
  });

  it('refuses the kernel mode without the packet filter rather than leave loss unenforced', () => {
    expect(() => decideEnforcement({ packetFilter: false, netem: true }, 'kernel')).toThrow(
      expect.objectContaining({ code: 'ERR_LAB_UNSUPPORTED' }),
    );
  });

  it('reads the mode from SWARMLAB_LINK_ENFORCEMENT, auto when unset', () => {
    expect(enforcementMode(undefined)).toBe('auto');
    expect(enforcementMode('')).toBe('auto');
    expect(enforcementMode('app')).toBe('app');
    expect(enforcementMode('kernel')).toBe('kernel');
    expect(() => enforcementMode('netem')).toThrow(expect.objectContaining({ code: 'ERR_LAB_USAGE' }));
  });
});

describe('netem commands', () => {
  it('shape per destination under an unshaped default class', () => {
    const argv = netemCommands(
      'eth0',
      new Map([
        ['172.18.0.3', { delayMs: 80, jitterMs: 10, lossPercent: 1 }],
        ['172.18.0.4', { delayMs: 50, jitterMs: 0, lossPercent: 0 }],
      ]),
    ).map((a) => a.join(' '));
    expect(argv).toEqual([
      'qdisc add dev eth0 root handle 1: htb default 1',
      'class add dev eth0 parent 1: classid 1:1 htb rate 10gbit',
      'class add dev eth0 parent 1: classid 1:a htb rate 10gbit',
      'qdisc add dev eth0 parent 1:a handle a: netem delay 80ms 10ms loss 1%',
      'filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 172.18.0.3/32 flowid 1:a',
      'class add dev eth0 parent 1: classid 1:b htb rate 10gbit',
      'qdisc add dev eth0 parent 1:b handle b: netem delay 50ms',
      'filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 172.18.0.4/32 flowid 1:b',
    ]);
    expect(netemCommands('eth0', new Map())).toEqual([]);
  });

  it('find the interface that holds the node address', () => {
    const out = [
      '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
      '58: eth0    inet 172.18.0.3/16 brd 172.18.255.255 scope global eth0\\       valid_lft forever',
      '61: eth1@if62    inet 172.19.0.5/16 brd 172.19.255.255 scope global eth1',
    ].join('\n');
    expect(deviceOf(out, '172.18.0.3')).toBe('eth0');
    expect(deviceOf(out, '172.19.0.5')).toBe('eth1');
    expect(deviceOf(out, '172.18.0.30')).toBeUndefined();
  });

  it('probe: netem present when the qdisc can be added (and is removed again), absent when tc refuses', async () => {
    const calls: string[] = [];
    const works: NamespaceTc = (_pid, args) => {
      calls.push(args.join(' '));
      return Promise.resolve('');
    };
    expect(await new NetemShaper({ tc: works }).probe(5, signal)).toBe(true);
    expect(calls).toEqual(['qdisc add dev lo root netem delay 0ms', 'qdisc del dev lo root']);
    const refuses: NamespaceTc = () => Promise.reject(new Error('Error: Specified qdisc kind is unknown.'));
    expect(await new NetemShaper({ tc: refuses }).probe(5, signal)).toBe(false);
  });
});

describe('RunNetwork with netem', () => {
  const addresses: Record<string, string> = { 'peer-1': '10.0.0.2', 'peer-2': '10.0.0.3', tracker: '10.0.0.9' };
  const pids: Record<string, number> = { 'peer-1': 11, 'peer-2': 12, tracker: 19 };

  it('puts latency and jitter in netem at every node (the tracker too) and only bandwidth in the peers', async () => {
    const app: string[] = [];
    const tc: string[] = [];
    const shaper = new NetemShaper({
      tc: (pid, args, _signal, tool) => {
        if (tool === 'ip')
          return Promise.resolve(`2: eth0    inet ${addresses[pid === 19 ? 'tracker' : `peer-${pid - 10}`]}/16`);
        tc.push(`${pid} ${args.join(' ')}`);
        return Promise.resolve('');
      },
    });
    const run = new RunNetwork(
      {
        nodes: {
          address: (node) => addresses[node],
          hasEmulator: (node) => node !== 'tracker',
          setLink: (peer, address, c) => {
            app.push(`${peer}->${address} ${c.latencyMs}/${c.jitterMs}/${String(c.bandwidth)}`);
            return Promise.resolve();
          },
          pid: (node) => Promise.resolve(pids[node]),
        },
        shaper,
      },
      {
        network: { links: [{ between: ['peer-1', 'tracker'], latencyMs: 40, jitterMs: 4, bandwidth: 1000 }] },
        names: Object.keys(addresses),
        enforcement: decideEnforcement({ packetFilter: false, netem: true }, 'auto'),
      },
    );
    await run.applyAll(signal);
    expect(run.report().enforcement).toMatchObject({ latency: 'netem', jitter: 'netem', bandwidth: 'app' });
    expect(app).toContain('peer-1->10.0.0.9 0/0/1000');
    expect(app).not.toContainEqual(expect.stringMatching(/ 40\//));
    expect(tc).toContain('11 qdisc add dev eth0 parent 1:a handle a: netem delay 40ms 4ms');
    expect(tc).toContain('19 filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 10.0.0.2/32 flowid 1:a');
    // peer-2's links are perfect: its root is deleted and nothing added.
    expect(tc.filter((line) => line.startsWith('12 '))).toEqual(['12 qdisc del dev eth0 root']);

    tc.length = 0;
    await run.change(['peer-1', 'tracker'], { latencyMs: 150 }, signal);
    expect(tc).toContain('11 qdisc add dev eth0 parent 1:a handle a: netem delay 150ms 4ms');
    expect(tc).toContain('19 qdisc add dev eth0 parent 1:a handle a: netem delay 150ms 4ms');
  });
});

describe('bandwidth in the kernel (htb)', () => {
  it('caps each destination under the access link, whose classes never exceed it together', () => {
    const argv = netemCommands(
      'eth0',
      new Map([
        ['172.18.0.3', { delayMs: 0, jitterMs: 0, lossPercent: 0, rateBytes: 1_000_000 }],
        ['172.18.0.4', { delayMs: 50, jitterMs: 0, lossPercent: 0, rateBytes: 4_000_000 }],
      ]),
      { upBytes: 3_000_000 },
    ).map((a) => a.join(' '));
    expect(argv).toEqual([
      'qdisc add dev eth0 root handle 1: htb default 1',
      'class add dev eth0 parent 1: classid 1:fff htb rate 24000000bit',
      // Each of the three classes is assured a third of the access link and may borrow up to its cap.
      'class add dev eth0 parent 1:fff classid 1:1 htb rate 8000000bit ceil 24000000bit',
      'class add dev eth0 parent 1:fff classid 1:a htb rate 8000000bit ceil 8000000bit',
      'filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 172.18.0.3/32 flowid 1:a',
      'class add dev eth0 parent 1:fff classid 1:b htb rate 8000000bit ceil 24000000bit',
      'qdisc add dev eth0 parent 1:b handle b: netem delay 50ms',
      'filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 172.18.0.4/32 flowid 1:b',
    ]);
  });

  it('caps a link without an access link, and an access link without links', () => {
    const link = netemCommands(
      'eth0',
      new Map([['10.0.0.3', { delayMs: 0, jitterMs: 0, lossPercent: 0, rateBytes: 2097152 }]]),
    );
    expect(link.map((a) => a.join(' '))).toContain('class add dev eth0 parent 1: classid 1:a htb rate 16777216bit');
    const access = netemCommands('eth0', new Map(), { upBytes: 2097152 }).map((a) => a.join(' '));
    expect(access).toEqual([
      'qdisc add dev eth0 root handle 1: htb default 1',
      'class add dev eth0 parent 1: classid 1:fff htb rate 16777216bit',
      'class add dev eth0 parent 1:fff classid 1:1 htb rate 16777216bit ceil 16777216bit',
    ]);
    expect(netemCommands('eth0', new Map(), { upBytes: null })).toEqual([]);
  });

  it("shapes the way in on the container's veth peer, found by its index", () => {
    expect(peerIndexOf('58: eth0@if59: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP')).toBe(59);
    expect(peerIndexOf('1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536')).toBeUndefined();
    const host = ['5: docker0: <NO-CARRIER> mtu 1500', '59: veth1a2b3c4@if58: <BROADCAST> mtu 1500'].join('\n');
    expect(deviceByIndex(host, 59)).toBe('veth1a2b3c4');
    expect(deviceByIndex(host, 58)).toBeUndefined();
    expect(ingressCommands('veth1a2b3c4', 2097152).map((a) => a.join(' '))).toEqual([
      'qdisc add dev veth1a2b3c4 root handle 1: htb default 1',
      'class add dev veth1a2b3c4 parent 1: classid 1:1 htb rate 16777216bit',
    ]);
    expect(ingressCommands('veth1a2b3c4', null)).toEqual([]);
  });

  it('probe: htb present when a class and a u32 filter can be added on lo (removed again), absent when refused', async () => {
    const calls: string[] = [];
    const works: NamespaceTc = (_pid, args) => {
      calls.push(args.join(' '));
      return Promise.resolve('');
    };
    expect(await new NetemShaper({ tc: works }).probeHtb(5, signal)).toBe(true);
    expect(calls[0]).toBe('qdisc add dev lo root handle 1: htb default 1');
    expect(calls.at(-1)).toBe('qdisc del dev lo root');
    const noU32: NamespaceTc = (_pid, args) =>
      args[0] === 'filter' ? Promise.reject(new Error('Error: TC classifier not found.')) : Promise.resolve('');
    expect(await new NetemShaper({ tc: noU32 }).probeHtb(5, signal)).toBe(false);
  });

  it('RunNetwork: bandwidth in htb at both ends, none in the emulator, the access buckets lifted, link steps followed', async () => {
    const addresses: Record<string, string> = { 'peer-1': '10.0.0.2', 'peer-2': '10.0.0.3', tracker: '10.0.0.9' };
    const pids: Record<string, number> = { 'peer-1': 11, 'peer-2': 12, tracker: 19 };
    const app: string[] = [];
    const tc: string[] = [];
    const root: string[] = [];
    const rates: string[] = [];
    const nsTc: NamespaceTc = (pid, args, _signal, tool) => {
      if (tool === 'ip' && args[0] === '-o' && args[1] === 'link')
        return Promise.resolve(`2: eth0@if${pid + 100}: <UP>`);
      if (tool === 'ip')
        return Promise.resolve(`2: eth0    inet ${addresses[pid === 19 ? 'tracker' : `peer-${pid - 10}`]}/16`);
      tc.push(`${pid} ${args.join(' ')}`);
      return Promise.resolve('');
    };
    const rootTc: RootTc = (args, _signal, tool) => {
      if (tool === 'ip') return Promise.resolve(['111: veth11@if2: <UP>', '112: veth12@if2: <UP>'].join('\n'));
      root.push(args.join(' '));
      return Promise.resolve('');
    };
    const run = new RunNetwork(
      {
        nodes: {
          address: (node) => addresses[node],
          hasEmulator: (node) => node !== 'tracker',
          setLink: (peer, address, c) => {
            app.push(`${peer}->${address} ${c.latencyMs}/${String(c.bandwidth)}`);
            return Promise.resolve();
          },
          pid: (node) => Promise.resolve(pids[node]),
          setRates: (peer, r) => {
            rates.push(`${peer} ${JSON.stringify(r)}`);
            return Promise.resolve();
          },
        },
        shaper: new NetemShaper({ tc: nsTc, root: rootTc }),
      },
      {
        network: {
          links: [{ between: ['peer-1', 'peer-2'], latencyMs: 20, bandwidth: 1000 }],
          peers: { 'peer-1': { up: 2000 }, 'peer-2': { down: 3000 } },
        },
        names: Object.keys(addresses),
        enforcement: decideEnforcement({ packetFilter: true, netem: false, htb: true }, 'auto'),
      },
    );
    await run.applyAll(signal);
    expect(run.report().enforcement).toMatchObject({ latency: 'app', bandwidth: 'kernel' });
    // The emulator keeps the delay, not the bandwidth.
    expect(app).toContain('peer-1->10.0.0.3 20/null');
    expect(app).toContain('peer-2->10.0.0.2 20/null');
    expect(rates.sort()).toEqual(['peer-1 {"upload":null}', 'peer-2 {"download":null}']);
    // peer-1: its access link above its class for peer-2; peer-2: its class for peer-1; the tracker: nothing.
    expect(tc).toContain('11 class add dev eth0 parent 1: classid 1:fff htb rate 16000bit');
    expect(tc).toContain('11 class add dev eth0 parent 1:fff classid 1:a htb rate 8000bit ceil 8000bit');
    expect(tc).toContain('11 filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 10.0.0.3/32 flowid 1:a');
    expect(tc).toContain('12 class add dev eth0 parent 1: classid 1:a htb rate 8000bit');
    expect(tc.filter((line) => line.startsWith('19 '))).toEqual(['19 qdisc del dev eth0 root']);
    // peer-2's way in, on its veth peer in the lab's namespace.
    expect(root).toEqual([
      'qdisc del dev veth12 root',
      'qdisc add dev veth12 root handle 1: htb default 1',
      'class add dev veth12 parent 1: classid 1:1 htb rate 24000bit',
    ]);

    tc.length = 0;
    root.length = 0;
    await run.change(['peer-1', 'peer-2'], { bandwidth: 5000 }, signal);
    expect(tc).toContain('11 class add dev eth0 parent 1:fff classid 1:a htb rate 8000bit ceil 16000bit');
    expect(tc).toContain('12 class add dev eth0 parent 1: classid 1:a htb rate 40000bit');
    expect(root).toEqual([]);
    tc.length = 0;
    await run.change(['peer-1', 'peer-2'], { bandwidth: null, latencyMs: 0 }, signal);
    // Back to perfect: peer-2's root goes, peer-1 keeps its access link only.
    expect(tc.filter((line) => line.startsWith('12 '))).toEqual(['12 qdisc del dev eth0 root']);
    expect(tc.filter((line) => line.startsWith('11 ') && line.includes('1:a'))).toEqual([]);
  });
});
