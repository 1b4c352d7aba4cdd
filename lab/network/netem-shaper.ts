/**
 * Latency, jitter (and loss, when there is no packet filter) in the kernel: netem qdiscs in each
 * container's own network namespace, written from the host (`nsenter -t PID -n tc ...`) like the packet
 * filter, so the peer process never holds NET_ADMIN. Only where the kernel has netem (`probe`).
 *
 * Per destination: an htb root whose default class is unshaped, one class per remote address with a
 * netem leaf, and a u32 filter sending packets for that address to its class. Each node delays what it
 * sends, like the peers' emulator, so a link set at both ends has a round trip of twice its latency.
 * The root is replaced whole on each change, so a change is idempotent and a perfect table is a delete.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs `tc ARGS` (or `ip ARGS` with `tool: 'ip'`) in the network namespace of the process `pid`. */
export type NamespaceTc = (
  pid: number,
  args: readonly string[],
  signal: AbortSignal,
  tool?: 'tc' | 'ip',
) => Promise<string>;

export const hostTc: NamespaceTc = async (pid, args, signal, tool = 'tc') => {
  const { stdout } = await execFileAsync('nsenter', ['-t', String(pid), '-n', tool, ...args], { signal });
  return stdout;
};

/** What netem does to the packets a node sends to one remote address. */
export interface NetemRule {
  delayMs: number;
  jitterMs: number;
  lossPercent: number;
}

/** Classes 1:10 and up carry the rules; 1:1 is the unshaped default. */
const FIRST_CLASS = 10;
const UNSHAPED_RATE = '10gbit';

/** The netem parameters of a rule: `delay 80ms 10ms loss 1%`. */
export function netemParameters(rule: NetemRule): string[] {
  const params = ['delay', `${rule.delayMs}ms`];
  if (rule.jitterMs > 0) params.push(`${rule.jitterMs}ms`);
  if (rule.lossPercent > 0) params.push('loss', `${rule.lossPercent}%`);
  return params;
}

/** The tc argv lists that install `rules` on `device` (after its root was deleted); [] for no rule. */
export function netemCommands(device: string, rules: ReadonlyMap<string, NetemRule>): string[][] {
  if (rules.size === 0) return [];
  const argv: string[][] = [
    ['qdisc', 'add', 'dev', device, 'root', 'handle', '1:', 'htb', 'default', '1'],
    ['class', 'add', 'dev', device, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', UNSHAPED_RATE],
  ];
  [...rules].forEach(([address, rule], i) => {
    const id = (FIRST_CLASS + i).toString(16);
    argv.push(
      ['class', 'add', 'dev', device, 'parent', '1:', 'classid', `1:${id}`, 'htb', 'rate', UNSHAPED_RATE],
      ['qdisc', 'add', 'dev', device, 'parent', `1:${id}`, 'handle', `${id}:`, 'netem', ...netemParameters(rule)],
      ['filter', 'add', 'dev', device, 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32'].concat([
        'match',
        'ip',
        'dst',
        `${address}/32`,
        'flowid',
        `1:${id}`,
      ]),
    );
  });
  return argv;
}

/** The interface that holds `address` in `ip -o -4 addr show` output (`2: eth0    inet 172.18.0.3/16 ...`). */
export function deviceOf(ipAddrOutput: string, address: string): string | undefined {
  for (const line of ipAddrOutput.split('\n')) {
    const match = /^\d+:\s+([^\s@]+)\S*\s+inet\s+([0-9.]+)\//.exec(line.trim());
    if (match?.[2] === address) return match[1];
  }
  return undefined;
}

export class NetemShaper {
  private readonly tc: NamespaceTc;

  constructor(components: { tc?: NamespaceTc } = {}) {
    this.tc = components.tc ?? hostTc;
  }

  /** True when a netem qdisc can be added in the namespace of `pid` (tried on its loopback, then removed). */
  async probe(pid: number, signal: AbortSignal): Promise<boolean> {
    try {
      await this.tc(pid, ['qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '0ms'], signal);
    } catch {
      return false;
    }
    await this.tc(pid, ['qdisc', 'del', 'dev', 'lo', 'root'], signal).catch(() => undefined);
    return true;
  }

  /** Replaces the shaping of the node whose main process is `pid` and whose address is `address`. */
  async apply(pid: number, address: string, rules: ReadonlyMap<string, NetemRule>, signal: AbortSignal): Promise<void> {
    const device = deviceOf(await this.tc(pid, ['-o', '-4', 'addr', 'show'], signal, 'ip'), address);
    if (device === undefined) throw new Error(`no interface holds ${address} in the namespace of process ${pid}`);
    await this.tc(pid, ['qdisc', 'del', 'dev', device, 'root'], signal).catch(() => undefined); // none yet: fine
    for (const argv of netemCommands(device, rules)) await this.tc(pid, argv, signal);
  }
}
