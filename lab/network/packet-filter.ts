/**
 * Loss and partitions in the kernel: iptables rules in each container's own network namespace, entered
 * from the host (`nsenter -t PID -n iptables ...`). The peer process never holds NET_ADMIN: the lab
 * controller does, from outside. Every rule sits in one chain, SWARMLAB, jumped to from INPUT and
 * OUTPUT, rebuilt whole on each change, so a change is idempotent and `heal` is a flush.
 *
 * - partition: a node drops every packet from and to the nodes of the other sides (both ends do).
 * - loss: a node drops lossPercent of the packets it receives from the remote (`-m statistic --mode
 *   random`), so each direction of the link loses that share once. A counting rule before it gives the
 *   total, so the filter's own counters say what share it dropped.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const CHAIN = 'SWARMLAB';

/** Runs `iptables ARGS` in the network namespace of the process `pid`; resolves with stdout. */
export type NamespaceIptables = (pid: number, args: readonly string[], signal: AbortSignal) => Promise<string>;

/** The host's iptables, entered into the container's namespace with nsenter (needs root on the host). */
export const hostIptables: NamespaceIptables = async (pid, args, signal) => {
  const { stdout } = await execFileAsync('nsenter', ['-t', String(pid), '-n', 'iptables', '-w', ...args], { signal });
  return stdout;
};

/** True when this host can filter in a container's namespace: root, nsenter and iptables present. */
export async function kernelFilterAvailable(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    await execFileAsync('nsenter', ['--version']);
    await execFileAsync('iptables', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** What one node's chain must hold. */
export interface NodeRules {
  /** Addresses this node can neither reach nor be reached from. */
  blocked: readonly string[];
  /** Address -> share of packets from it to drop, 0..100. */
  loss: ReadonlyMap<string, number>;
}

/** The iptables argv lists that rebuild a node's chain (after the chain exists and is jumped to). */
export function chainRules(rules: NodeRules): string[][] {
  const argv: string[][] = [['-F', CHAIN]];
  for (const address of rules.blocked) {
    argv.push(['-A', CHAIN, '-s', address, '-j', 'DROP'], ['-A', CHAIN, '-d', address, '-j', 'DROP']);
  }
  for (const [address, percent] of rules.loss) {
    if (percent <= 0) continue;
    // The rule without a target only counts: the total the drop rule's count is a share of.
    argv.push(['-A', CHAIN, '-s', address]);
    argv.push([
      '-A',
      CHAIN,
      '-s',
      address,
      '-m',
      'statistic',
      '--mode',
      'random',
      '--probability',
      (percent / 100).toFixed(4),
      '-j',
      'DROP',
    ]);
  }
  return argv;
}

export class PacketFilter {
  private readonly iptables: NamespaceIptables;
  private readonly prepared = new Set<number>();

  constructor(components: { iptables?: NamespaceIptables } = {}) {
    this.iptables = components.iptables ?? hostIptables;
  }

  /** Replaces the rules of the node whose main process is `pid`. */
  async apply(pid: number, rules: NodeRules, signal: AbortSignal): Promise<void> {
    if (!this.prepared.has(pid)) {
      await this.iptables(pid, ['-N', CHAIN], signal).catch(() => undefined); // exists already: fine
      for (const hook of ['INPUT', 'OUTPUT']) {
        const present = await this.iptables(pid, ['-C', hook, '-j', CHAIN], signal).then(
          () => true,
          () => false,
        );
        if (!present) await this.iptables(pid, ['-I', hook, '-j', CHAIN], signal);
      }
      this.prepared.add(pid);
    }
    for (const argv of chainRules(rules)) await this.iptables(pid, argv, signal);
  }

  /** Packets counted by each rule of the chain, in order: `{source, dropped, packets}` per rule. */
  async counters(pid: number, signal: AbortSignal): Promise<{ line: string; packets: number }[]> {
    const text = await this.iptables(pid, ['-L', CHAIN, '-v', '-x', '-n'], signal);
    return text
      .split('\n')
      .slice(2)
      .filter((line) => line.trim() !== '')
      .map((line) => ({ line: line.trim(), packets: Number(line.trim().split(/\s+/)[0]) }));
  }
}
