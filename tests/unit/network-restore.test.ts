/**
 * A restarted or reconnected node gets its links back: the emulator rules of its new process, the other
 * ends' rules for its (maybe new) address, and the packet filter of its new network namespace.
 */
import { PacketFilter } from '../../lab/network/packet-filter';
import { RunNetwork } from '../../lab/network/run-network';

const signal = new AbortController().signal;

function make(links: { between: [string, string]; latencyMs?: number; lossPercent?: number }[] | undefined): {
  run: RunNetwork;
  addresses: Record<string, string | undefined>;
  pids: Record<string, number>;
  links: string[];
  iptables: string[];
} {
  const addresses: Record<string, string | undefined> = {
    'peer-1': '10.0.0.2',
    'peer-2': '10.0.0.3',
    'peer-3': '10.0.0.4',
    tracker: '10.0.0.9',
  };
  const pids: Record<string, number> = { 'peer-1': 11, 'peer-2': 12, 'peer-3': 13, tracker: 19 };
  const calls = { links: [] as string[], iptables: [] as string[] };
  const run = new RunNetwork(
    {
      nodes: {
        address: (node) => addresses[node],
        hasEmulator: (node) => node !== 'tracker',
        setLink: (peer, address, conditions) => {
          calls.links.push(`${peer}->${address} ${conditions.latencyMs}`);
          return Promise.resolve();
        },
        pid: (node) => Promise.resolve(pids[node]),
      },
      filter: new PacketFilter({
        iptables: (pid, args) => {
          calls.iptables.push(`${pid} ${args.join(' ')}`);
          return Promise.resolve('');
        },
      }),
    },
    { network: links === undefined ? undefined : { links }, names: Object.keys(addresses) },
  );
  return { run, addresses, pids, ...calls };
}

describe('RunNetwork.restore', () => {
  it("sets a restarted peer's own links again, and only the links that are not perfect", async () => {
    const net = make([{ between: ['peer-1', 'peer-2'], latencyMs: 50 }]);
    await net.run.applyAll(signal);
    net.links.length = 0;
    await net.run.restore('peer-1', signal);
    expect(net.links.sort()).toEqual(['peer-1->10.0.0.3 50', 'peer-2->10.0.0.2 50']);
    expect(net.iptables).toEqual([]); // no loss, no partition: no filter to rebuild
  });

  it('moves the other ends to its new address and resets the old one', async () => {
    const net = make([{ between: ['peer-1', 'peer-2'], latencyMs: 50 }]);
    await net.run.applyAll(signal);
    net.links.length = 0;
    net.addresses['peer-1'] = '10.0.0.7';
    await net.run.restore('peer-1', signal);
    expect(net.links.sort()).toEqual(['peer-1->10.0.0.3 50', 'peer-2->10.0.0.2 0', 'peer-2->10.0.0.7 50']);
  });

  it('rebuilds the packet filter in the new namespace (and everywhere when the address moved)', async () => {
    const net = make([{ between: ['peer-1', 'peer-2'], lossPercent: 5 }]);
    await net.run.applyAll(signal);
    await net.run.partition([['peer-3'], ['peer-1', 'peer-2']], signal);
    net.iptables.length = 0;
    net.pids['peer-3'] = 33; // a new process, a new namespace
    await net.run.restore('peer-3', signal);
    expect(net.iptables[0]).toBe('33 -N SWARMLAB');
    expect(net.iptables).toContain('33 -A SWARMLAB -s 10.0.0.2 -j DROP');
    expect(new Set(net.iptables.map((line) => line.split(' ')[0]))).toEqual(new Set(['33']));
    net.iptables.length = 0;
    net.addresses['peer-3'] = '10.0.0.8';
    await net.run.restore('peer-3', signal);
    expect(net.iptables).toContain('11 -A SWARMLAB -s 10.0.0.8 -j DROP');
    expect(net.iptables).toContain('12 -A SWARMLAB -d 10.0.0.8 -j DROP');
  });

  it('does nothing while the network was never set, or the node has no address', async () => {
    const none = make(undefined);
    await none.run.restore('peer-1', signal);
    expect(none.links).toEqual([]);
    const away = make([{ between: ['peer-1', 'peer-2'], latencyMs: 50 }]);
    await away.run.applyAll(signal);
    away.links.length = 0;
    away.addresses['peer-1'] = undefined;
    await away.run.restore('peer-1', signal);
    expect(away.links).toEqual([]);
  });
});
