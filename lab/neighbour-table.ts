/**
 * The host kernel's neighbour (ARP) table, sized for a run before it starts. The table is one for the
 * whole machine: every container's network namespace counts against the same limits
 * (net.ipv4.neigh.default.gc_thresh1/2/3), and the kernel's defaults (128/512/1024) are sized for one
 * host talking to its LAN. On one Docker bridge each container resolves the address of every container
 * it talks to, so a run of N peers can need about (N + 2)² entries: past gc_thresh3 the kernel logs
 * "neighbor table overflow", drops the packets that needed a new entry, and connections stall in
 * retransmits while the swarm looks merely slow (docs/benchmarks.md, the 99-leecher run).
 *
 * So `up` checks the limits against the run and raises them when it can (root on the Docker host, like
 * the packet filter), never lowering them; when it cannot, it warns with the numbers and the command.
 * Kubernetes nodes raise the same limits for the same reason.
 */
import { readFile, writeFile } from 'node:fs/promises';

import { messageOf } from './errors';

/** The kernel's default gc_thresh3: runs that need no more than this are left alone. */
export const KERNEL_DEFAULT_GC_THRESH3 = 1024;

const SYSCTL_DIR = '/proc/sys/net/ipv4/neigh/default';

export interface NeighbourLimits {
  /** Below this many entries the kernel never collects. */
  gcThresh1: number;
  /** Above this, entries older than 5 s are collected. */
  gcThresh2: number;
  /** The hard limit: past it new entries are refused (and their packets dropped). */
  gcThresh3: number;
}

/** Where the limits are read and written: the Docker host's /proc/sys, or a fake in tests. */
export interface NeighbourTable {
  /** The current limits, or undefined where the machine has no such table (not Linux). */
  read(): Promise<NeighbourLimits | undefined>;
  write(limits: NeighbourLimits): Promise<void>;
}

export type NeighbourTableOutcome =
  | { kind: 'enough'; needed: number; limits?: NeighbourLimits }
  | { kind: 'raised'; needed: number; before: NeighbourLimits; after: NeighbourLimits }
  | { kind: 'too-small'; needed: number; limits: NeighbourLimits; reason: string; command: string };

/** Entries a run of `peers` peers may hold: every container (peers, tracker, the bridge's gateway) resolving every other. */
export function neighbourEntriesNeeded(peers: number): number {
  const hosts = peers + 2;
  return hosts * hosts;
}

/**
 * The limits a run needing `needed` entries should have, or undefined when the current ones will do.
 * Only ever raises: a host whose operator set larger limits keeps them. Collection starts at half the
 * need, so stale entries of containers gone since are dropped before the hard limit is near.
 */
export function plannedNeighbourLimits(current: NeighbourLimits, needed: number): NeighbourLimits | undefined {
  if (current.gcThresh3 >= needed) return undefined;
  const gcThresh3 = needed;
  const gcThresh2 = Math.max(current.gcThresh2, Math.ceil(needed / 2));
  const gcThresh1 = Math.min(current.gcThresh1, gcThresh2);
  return { gcThresh1, gcThresh2: Math.min(gcThresh2, gcThresh3), gcThresh3 };
}

/** The command that sets `limits` by hand (what the warning tells an operator to run). */
export function sysctlCommand(limits: NeighbourLimits): string {
  return (
    `sysctl -w net.ipv4.neigh.default.gc_thresh1=${limits.gcThresh1}` +
    ` net.ipv4.neigh.default.gc_thresh2=${limits.gcThresh2} net.ipv4.neigh.default.gc_thresh3=${limits.gcThresh3}`
  );
}

/** Checks the table against a run of `peers` peers and raises its limits when they are too small. */
export async function ensureNeighbourTable(table: NeighbourTable, peers: number): Promise<NeighbourTableOutcome> {
  const needed = neighbourEntriesNeeded(peers);
  if (needed <= KERNEL_DEFAULT_GC_THRESH3) return { kind: 'enough', needed };
  const current = await table.read();
  if (current === undefined) return { kind: 'enough', needed };
  const planned = plannedNeighbourLimits(current, needed);
  if (planned === undefined) return { kind: 'enough', needed, limits: current };
  try {
    await table.write(planned);
  } catch (error) {
    return { kind: 'too-small', needed, limits: current, reason: messageOf(error), command: sysctlCommand(planned) };
  }
  return { kind: 'raised', needed, before: current, after: planned };
}

/**
 * This machine's table through /proc/sys, which describes the Docker host when the engine is local (as
 * the memory check assumes). Writing needs root, as the packet filter does; reading does not.
 */
export const hostNeighbourTable: NeighbourTable = {
  async read() {
    try {
      const [gcThresh1, gcThresh2, gcThresh3] = await Promise.all(
        [1, 2, 3].map(async (n) => Number((await readFile(`${SYSCTL_DIR}/gc_thresh${n}`, 'utf8')).trim())),
      );
      if (![gcThresh1, gcThresh2, gcThresh3].every((value) => Number.isInteger(value))) return undefined;
      return { gcThresh1: gcThresh1!, gcThresh2: gcThresh2!, gcThresh3: gcThresh3! };
    } catch {
      return undefined;
    }
  },
  async write(limits) {
    // Largest first, so that thresh1 <= thresh2 <= thresh3 holds after each single write.
    await writeFile(`${SYSCTL_DIR}/gc_thresh3`, String(limits.gcThresh3));
    await writeFile(`${SYSCTL_DIR}/gc_thresh2`, String(limits.gcThresh2));
    await writeFile(`${SYSCTL_DIR}/gc_thresh1`, String(limits.gcThresh1));
  },
};
