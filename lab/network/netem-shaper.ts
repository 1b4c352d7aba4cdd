/**
 * Links in the kernel with tc, written from the host (`nsenter -t PID -n tc ...`) like the packet filter,
 * so the peer process never holds NET_ADMIN: latency, jitter (and loss, when there is no packet filter)
 * with netem where the kernel has it (`probe`), bandwidth with htb where it has that (`probeHtb`).
 *
 * Egress, in each container's own namespace: an htb root whose default class is unshaped, one class per
 * remote address (its rate the link's bandwidth, with a netem leaf when the link has a delay or loss),
 * and a u32 filter sending packets for that address to its class. A node's access link `up` is an htb
 * class above all of them, so the per-destination classes borrow from it and never exceed it together.
 * Each node delays and caps what it sends, like the peers' emulator, so a link set at both ends has a
 * round trip of twice its latency and its bandwidth in each direction.
 *
 * Ingress: a node's access link `down` caps what reaches it from every sender together, which no
 * sender's egress can do; without ifb or act_police (absent on some hosts), it is shaped on the
 * egress of the container's veth peer in the host's namespace, the last queue before the container.
 *
 * The roots are replaced whole on each change, so a change is idempotent and a perfect table is a delete.
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

/** Runs `tc ARGS` (or `ip ARGS`) in the lab's own network namespace, where the containers' veth peers are. */
export type RootTc = (args: readonly string[], signal: AbortSignal, tool?: 'tc' | 'ip') => Promise<string>;

export const rootTc: RootTc = async (args, signal, tool = 'tc') => {
  const { stdout } = await execFileAsync(tool, [...args], { signal });
  return stdout;
};

/** What the kernel does to the packets a node sends to one remote address. */
export interface NetemRule {
  delayMs: number;
  jitterMs: number;
  lossPercent: number;
  /** The link's bandwidth, bytes/s; null or absent: uncapped. */
  rateBytes?: number | null;
}

/** A node's access link in the kernel, bytes/s; null or absent: uncapped. */
export interface AccessRates {
  upBytes?: number | null;
  downBytes?: number | null;
}

/** Classes 1:10 and up carry the rules; 1:1 is the unshaped default, 1:fff the access link above them. */
const FIRST_CLASS = 10;
const ACCESS_CLASS = '1:fff';
const UNSHAPED_RATE = '10gbit';

/** tc's rate of `bytes` per second, in bits so that no reader mistakes tc's `bps` (bytes) for bits. */
export function tcRate(bytes: number): string {
  return `${Math.max(8, Math.round(bytes * 8))}bit`;
}

function hasDelay(rule: NetemRule): boolean {
  return rule.delayMs > 0 || rule.jitterMs > 0 || rule.lossPercent > 0;
}

/** The netem parameters of a rule: `delay 80ms 10ms loss 1%`. */
export function netemParameters(rule: NetemRule): string[] {
  const params = ['delay', `${rule.delayMs}ms`];
  if (rule.jitterMs > 0) params.push(`${rule.jitterMs}ms`);
  if (rule.lossPercent > 0) params.push('loss', `${rule.lossPercent}%`);
  return params;
}

/**
 * The tc argv lists that install `rules` (and the access link `upBytes`) on the egress of `device`, after
 * its root was deleted; [] when there is nothing to shape.
 */
export function netemCommands(
  device: string,
  rules: ReadonlyMap<string, NetemRule>,
  access: AccessRates = {},
): string[][] {
  const up = access.upBytes ?? null;
  if (rules.size === 0 && up === null) return [];
  const argv: string[][] = [['qdisc', 'add', 'dev', device, 'root', 'handle', '1:', 'htb', 'default', '1']];
  // Under an access link each class is assured an equal share of it, so that together they never exceed
  // it (htb lets a class under its assured rate send whatever its parent has left), and borrows the rest.
  const parent = up === null ? '1:' : ACCESS_CLASS;
  const share = up === null ? undefined : up / (rules.size + 1);
  const htbRate = (ceilBytes: number | null): string[] => {
    if (up === null) return ['rate', ceilBytes === null ? UNSHAPED_RATE : tcRate(ceilBytes)];
    const ceil = Math.min(ceilBytes ?? up, up);
    return ['rate', tcRate(Math.min(share ?? ceil, ceil)), 'ceil', tcRate(ceil)];
  };
  if (up !== null) {
    argv.push(['class', 'add', 'dev', device, 'parent', '1:', 'classid', ACCESS_CLASS, 'htb', 'rate', tcRate(up)]);
  }
  argv.push(['class', 'add', 'dev', device, 'parent', parent, 'classid', '1:1', 'htb', ...htbRate(null)]);
  [...rules].forEach(([address, rule], i) => {
    const id = (FIRST_CLASS + i).toString(16);
    argv.push([
      'class',
      'add',
      'dev',
      device,
      'parent',
      parent,
      'classid',
      `1:${id}`,
      'htb',
      ...htbRate(rule.rateBytes ?? null),
    ]);
    if (hasDelay(rule)) {
      argv.push([
        'qdisc',
        'add',
        'dev',
        device,
        'parent',
        `1:${id}`,
        'handle',
        `${id}:`,
        'netem',
        ...netemParameters(rule),
      ]);
    }
    argv.push(
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

/** The tc argv lists that cap everything `device` (a container's veth peer) passes on at `downBytes`. */
export function ingressCommands(device: string, downBytes: number | null | undefined): string[][] {
  if (downBytes === null || downBytes === undefined) return [];
  return [
    ['qdisc', 'add', 'dev', device, 'root', 'handle', '1:', 'htb', 'default', '1'],
    ['class', 'add', 'dev', device, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', tcRate(downBytes)],
  ];
}

/** The index of the veth peer of `device` in `ip -o link show dev DEVICE` output (`58: eth0@if59: ...`). */
export function peerIndexOf(ipLinkOutput: string): number | undefined {
  const match = /^\d+:\s+[^\s@:]+@if(\d+):/.exec(ipLinkOutput.trim());
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** The name of the interface numbered `index` in `ip -o link` output (`59: veth1a2b3c4@if58: ...`). */
export function deviceByIndex(ipLinkOutput: string, index: number): string | undefined {
  for (const line of ipLinkOutput.split('\n')) {
    const match = /^(\d+):\s+([^\s@:]+)/.exec(line.trim());
    if (match !== null && Number(match[1]) === index) return match[2];
  }
  return undefined;
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
  private readonly root: RootTc;

  constructor(components: { tc?: NamespaceTc; root?: RootTc } = {}) {
    this.tc = components.tc ?? hostTc;
    this.root = components.root ?? rootTc;
  }

  /**
   * True when htb classes with u32 filters can be set up in the namespace of `pid` (tried on its
   * loopback, then removed): the kernel can then enforce bandwidth.
   */
  async probeHtb(pid: number, signal: AbortSignal): Promise<boolean> {
    const lo = ['dev', 'lo'];
    try {
      await this.tc(pid, ['qdisc', 'add', ...lo, 'root', 'handle', '1:', 'htb', 'default', '1'], signal);
      await this.tc(pid, ['class', 'add', ...lo, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', '1mbit'], signal);
      const match = ['u32', 'match', 'ip', 'dst', '127.0.0.1/32', 'flowid', '1:1'];
      await this.tc(pid, ['filter', 'add', ...lo, 'parent', '1:', 'protocol', 'ip', 'prio', '1', ...match], signal);
      return true;
    } catch {
      return false;
    } finally {
      await this.tc(pid, ['qdisc', 'del', ...lo, 'root'], signal).catch(() => undefined);
    }
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

  /**
   * Replaces the shaping of the node whose main process is `pid` and whose address is `address`. With
   * `access`, its access link is shaped too (`downBytes` on its veth peer; left alone when absent).
   */
  async apply(
    pid: number,
    address: string,
    rules: ReadonlyMap<string, NetemRule>,
    signal: AbortSignal,
    access: AccessRates = {},
  ): Promise<void> {
    const device = deviceOf(await this.tc(pid, ['-o', '-4', 'addr', 'show'], signal, 'ip'), address);
    if (device === undefined) throw new Error(`no interface holds ${address} in the namespace of process ${pid}`);
    await this.tc(pid, ['qdisc', 'del', 'dev', device, 'root'], signal).catch(() => undefined); // none yet: fine
    for (const argv of netemCommands(device, rules, access)) await this.tc(pid, argv, signal);
    if (access.downBytes !== undefined) await this.applyIngress(pid, device, access.downBytes, signal);
  }

  /** Caps what reaches `device` in the namespace of `pid` at its veth peer in the lab's namespace. */
  private async applyIngress(
    pid: number,
    device: string,
    downBytes: number | null,
    signal: AbortSignal,
  ): Promise<void> {
    const index = peerIndexOf(await this.tc(pid, ['-o', 'link', 'show', 'dev', device], signal, 'ip'));
    const veth = index === undefined ? undefined : deviceByIndex(await this.root(['-o', 'link'], signal, 'ip'), index);
    if (veth === undefined) {
      throw new Error(`the veth peer of ${device} (process ${pid}) is not in this namespace: cannot shape its way in`);
    }
    await this.root(['qdisc', 'del', 'dev', veth, 'root'], signal).catch(() => undefined); // none yet: fine
    for (const argv of ingressCommands(veth, downBytes)) await this.root(argv, signal);
  }
}
