/**
 * The network of one scenario run: the link tables the scenario asks for, kept current as steps change
 * them, and pushed to the layer that enforces each property (`enforcement.ts` decides which).
 *
 * - app: the peers' own link emulator (src/shared/link-emulator.ts): the lab sets, in each peer, one rule
 *   per remote node's address (`ctl link set ADDR ...`). Each peer delays only what it sends, so a link is
 *   set at both ends and the round trip is twice its latency. The tracker has no emulator: its links are
 *   delayed on the peers' side only.
 * - netem: the same per-address delays as netem qdiscs in each node's namespace (netem-shaper.ts), the
 *   tracker's included; the peers' emulator then keeps only the bandwidth.
 * - kernel bandwidth: each link's bandwidth as an htb class per address in each node's namespace, and the
 *   access links (`network.peers`) as htb classes on the node's way out and on its veth peer's way in
 *   (netem-shaper.ts). The peers' emulator then has no bandwidth, and the peers' own upload and download
 *   buckets, which a scenario's access links set at start-up, are lifted (`ctl rate`).
 * - kernel: loss and partitions with the packet filter (packet-filter.ts).
 * `enforcement` says which layer did what, and the run report shows it.
 */
import { UnsupportedError } from '../errors';
import { linkLabel } from '../observe/link-label';
import type { RunEventBody, RunRecorder } from '../observe/run-events';
import type { NetworkEnforcement, NetworkReport } from '../report-types';
import type { ScenarioNetwork } from './network-schema';
import { APP_ENFORCEMENT, decideEnforcement, enforcementMode, usesNetem, usesShaper } from './enforcement';
import { NetemShaper, type AccessRates, type NetemRule } from './netem-shaper';
import { kernelFilterAvailable, type NodeRules, type PacketFilter } from './packet-filter';
import {
  accessLinks,
  applyLink,
  expandSide,
  isPerfect,
  linkList,
  PERFECT_LINK,
  resolveNetwork,
  type LinkConditions,
  type LinkEntry,
  type LinkTables,
} from './resolve';

/** What the run network needs of the lab: addresses, and the peers' control sockets. */
export interface NetworkNodes {
  /** The node's address on the run's network, undefined while it has none (stopped, disconnected). */
  address: (node: string) => string | undefined;
  /** True for a peer (it has a link emulator), false for the tracker. */
  hasEmulator: (node: string) => boolean;
  /** Sets the peer's outgoing link to `address` (`ctl link set ADDR latencyMs=..,jitterMs=..,bandwidth=..`). */
  setLink: (peer: string, address: string, conditions: LinkConditions, signal: AbortSignal) => Promise<void>;
  /** The node's main process on this host, for the packet filter; undefined when it has none. */
  pid: (node: string, signal: AbortSignal) => Promise<number | undefined>;
  /** Sets the peer's own upload and download buckets (`ctl rate`; null: uncapped, absent: unchanged). */
  setRates?: (
    peer: string,
    rates: { upload?: number | null; download?: number | null },
    signal: AbortSignal,
  ) => Promise<void>;
}

export { APP_ENFORCEMENT } from './enforcement';

/** Latency, jitter and bandwidth in the peers; loss and partitions with the host's packet filter. */
export const KERNEL_FILTER_ENFORCEMENT: NetworkEnforcement = {
  ...APP_ENFORCEMENT,
  loss: 'kernel',
  partition: 'kernel',
};

/**
 * What this host enforces where, under SWARMLAB_LINK_ENFORCEMENT (enforcement.ts). netem is probed in the
 * namespace of `pid` (a container of the run) when given; without one it counts as absent.
 */
export async function hostEnforcement(
  init: { pid?: number | undefined; shaper?: NetemShaper; signal?: AbortSignal } = {},
): Promise<NetworkEnforcement> {
  const mode = enforcementMode();
  if (mode === 'app') return decideEnforcement({ packetFilter: false, netem: false }, mode);
  const packetFilter = await kernelFilterAvailable();
  const signal = init.signal ?? AbortSignal.timeout(10_000);
  const shaper = init.shaper ?? new NetemShaper();
  // Only root enters a container's namespace.
  const pid = process.getuid?.() === 0 ? init.pid : undefined;
  const netem = pid === undefined ? false : await shaper.probe(pid, signal);
  const htb = pid === undefined ? false : await shaper.probeHtb(pid, signal);
  return decideEnforcement({ packetFilter, netem, htb }, mode);
}

/** `latency app, jitter app, loss kernel, ...` for the transcript and `lab status`. */
export function describeEnforcement(enforcement: NetworkEnforcement): string {
  return Object.entries(enforcement)
    .map(([property, layer]) => `${property} ${layer}`)
    .join(', ');
}

export class RunNetwork {
  readonly tables: LinkTables;
  readonly groups: Readonly<Record<string, readonly string[]>>;
  readonly enforcement: NetworkEnforcement;
  private readonly nodes: NetworkNodes;
  private readonly filter: PacketFilter | undefined;
  /** netem qdiscs, when the enforcement puts a property there. */
  private readonly shaper: NetemShaper | undefined;
  private readonly recorder: RunRecorder | undefined;
  private readonly names: readonly string[];
  /** The current partition's sides (nodes), [] when healed. */
  private sides: string[][] = [];
  /** Where each node was when its links were last pushed: a restart or a reconnect may move it. */
  private readonly pushedAddress = new Map<string, string>();
  /** Whether anything was ever pushed (a network section, a link or partition step). */
  private touched = false;
  /** Whether tc ever shaped a node: from then on, every change is pushed (it may undo a shaping). */
  private shaped = false;
  /** Each peer's access link, bytes/s (`network.peers`). */
  private readonly access: ReadonlyMap<string, { up?: number | null; down?: number | null }>;

  /**
   * Without a `filter`, loss and partitions are not enforced (a partition step then fails). The `recorder`
   * gets a `network` event for the start and for each change (the report's marks, the dashboard's labels).
   */
  constructor(
    components: {
      nodes: NetworkNodes;
      filter?: PacketFilter;
      shaper?: NetemShaper;
      recorder?: RunRecorder | undefined;
    },
    init: { network: ScenarioNetwork | undefined; names: readonly string[]; enforcement?: NetworkEnforcement },
  ) {
    this.nodes = components.nodes;
    this.filter = components.filter;
    this.shaper = components.shaper;
    this.recorder = components.recorder;
    this.names = init.names;
    this.tables = resolveNetwork(init.network, init.names);
    this.groups = init.network?.groups ?? {};
    this.enforcement = init.enforcement ?? (this.filter === undefined ? APP_ENFORCEMENT : KERNEL_FILTER_ENFORCEMENT);
    this.access = accessLinks(init.network);
  }

  report(): NetworkReport {
    return { enforcement: { ...this.enforcement }, links: linkList(this.tables) };
  }

  /** Pushes every link to both of its ends (at the start of a scenario). */
  async applyAll(signal: AbortSignal): Promise<void> {
    const pairs: [string, string][] = [];
    for (const a of this.names) for (const b of this.names) if (a < b) pairs.push([a, b]);
    await this.push(pairs, signal);
    if (linkList(this.tables).some((link) => link.lossPercent > 0)) await this.pushKernel(this.names, signal);
    await this.liftAccessRates(this.names, signal);
    await this.pushShaping(this.names, signal, true);
    const links = linkList(this.tables).filter((link) => !isPerfect(link));
    const access = Object.fromEntries(this.access);
    this.record({
      change: 'initial',
      description: `${links.length} links set (${describeEnforcement(this.enforcement)})`,
      links,
      ...(Object.keys(access).length === 0 ? {} : { access }),
    });
  }

  /** Nodes in different sides (nodes or groups) cannot reach each other; nodes in no side reach everyone. */
  async partition(sides: readonly (readonly string[])[], signal: AbortSignal): Promise<void> {
    if (this.filter === undefined) {
      throw new UnsupportedError('a partition needs the packet filter (root on the Docker host, nsenter, iptables)');
    }
    this.sides = sides.map((side) => side.flatMap((name) => expandSide(name, this.groups)));
    await this.pushKernel(this.names, signal);
    this.record({
      change: 'partition',
      description: `partition ${this.sides.map((side) => `[${side.join(', ')}]`).join(' | ')}`,
      sides: this.sides.map((side) => [...side]),
    });
  }

  /** Ends the partition; loss rules stay. */
  async heal(signal: AbortSignal): Promise<void> {
    if (this.sides.length === 0 || this.filter === undefined) return;
    this.sides = [];
    await this.pushKernel(this.names, signal);
    this.record({ change: 'heal', description: 'partition healed' });
  }

  /** The packet filter's rules of `node` for the current partition and losses. */
  rulesOf(node: string): NodeRules {
    const side = this.sides.findIndex((members) => members.includes(node));
    const blocked =
      side < 0 ? [] : this.sides.flatMap((members, i) => (i === side ? [] : members)).filter((n) => n !== node);
    const loss = new Map<string, number>();
    for (const [remote, conditions] of this.tables.get(node) ?? []) {
      const address = this.nodes.address(remote);
      if (address !== undefined && conditions.lossPercent > 0 && this.enforcement.loss === 'kernel') {
        loss.set(address, conditions.lossPercent);
      }
    }
    return {
      blocked: blocked.map((n) => this.nodes.address(n)).filter((a): a is string => a !== undefined),
      loss,
    };
  }

  private async pushKernel(nodes: readonly string[], signal: AbortSignal): Promise<void> {
    const filter = this.filter;
    if (filter === undefined) return;
    this.touched = true;
    await settleAll(
      nodes.map(async (node) => {
        const pid = await this.nodes.pid(node, signal);
        if (pid !== undefined) await filter.apply(pid, this.rulesOf(node), signal);
      }),
    );
  }

  /** Changes the links across `between` (fields left out keep their value) and pushes them; returns the pairs. */
  async change(
    between: readonly [string, string],
    changes: Partial<LinkConditions>,
    signal: AbortSignal,
  ): Promise<[string, string][]> {
    const pairs = applyLink(this.tables, this.groups, between, changes);
    await this.push(pairs, signal);
    if (changes.lossPercent !== undefined) await this.pushKernel([...new Set(pairs.flat())], signal);
    await this.pushShaping([...new Set(pairs.flat())], signal, false);
    const links = pairs.map(([a, b]): LinkEntry => ({
      between: [a, b],
      ...(this.tables.get(a)?.get(b) ?? PERFECT_LINK),
    }));
    const labels = [...new Set(links.map((link) => linkLabel(link)))];
    this.record({ change: 'link', description: `link ${between.join(' <-> ')}: ${labels.join(' / ')}`, links });
    return pairs;
  }

  /** What the peers' emulator keeps of a link: all of it, but what the kernel enforces. */
  private appConditions(conditions: LinkConditions): LinkConditions {
    const app = { ...conditions };
    if (this.enforcement.latency === 'netem') Object.assign(app, { latencyMs: 0, jitterMs: 0 });
    if (this.enforcement.bandwidth === 'kernel') app.bandwidth = null;
    return app;
  }

  /**
   * With the bandwidth in the kernel, lifts the peers' own buckets that their access links set at
   * start-up (`scenarioPeers`), so that the kernel alone caps them and the report's `kernel` is true.
   */
  private async liftAccessRates(nodes: readonly string[], signal: AbortSignal): Promise<void> {
    const setRates = this.nodes.setRates;
    if (this.enforcement.bandwidth !== 'kernel' || setRates === undefined) return;
    const jobs: Promise<void>[] = [];
    for (const node of nodes) {
      const access = this.access.get(node);
      if (access === undefined || !this.nodes.hasEmulator(node)) continue;
      const rates = {
        ...(typeof access.up === 'number' ? { upload: null } : {}),
        ...(typeof access.down === 'number' ? { download: null } : {}),
      };
      if (Object.keys(rates).length > 0) jobs.push(setRates(node, rates, signal));
    }
    await settleAll(jobs);
  }

  /** `node`'s access link as the kernel enforces it; {} when the kernel does not do bandwidth. */
  accessRatesOf(node: string): AccessRates {
    if (this.enforcement.bandwidth !== 'kernel') return {};
    const access = this.access.get(node);
    // The way in changes only with its access link, which no step changes: shaped when there is one.
    return { upBytes: access?.up ?? null, ...(typeof access?.down === 'number' ? { downBytes: access.down } : {}) };
  }

  private record(body: Omit<Extract<RunEventBody, { type: 'network' }>, 'type'>): void {
    this.recorder?.record({ type: 'network', ...body });
  }

  /**
   * Pushes again what `node` lost: a restarted container has a new network namespace (its packet filter
   * is gone) and a new peer process (its emulator's rules are gone), and a restart or a reconnect may give
   * it a new address (the other ends' rules and filters name the old one, which is reset to perfect).
   * Called once the node is back and its address known; a no-op while the run's network was never set.
   */
  async restore(node: string, signal: AbortSignal): Promise<void> {
    if (!this.touched || this.nodes.address(node) === undefined) return;
    const pairs: [string, string][] = [];
    for (const [remote, conditions] of this.tables.get(node) ?? [])
      if (!isPerfect(conditions)) pairs.push([node, remote]);
    const before = this.pushedAddress.get(node);
    const moved = before !== undefined && before !== this.nodes.address(node);
    const stale: Promise<void>[] = [];
    if (moved) {
      for (const [, remote] of pairs) {
        if (this.nodes.hasEmulator(remote)) stale.push(this.nodes.setLink(remote, before, PERFECT_LINK, signal));
      }
    }
    await settleAll(stale);
    await this.push(pairs, signal);
    const filtered = this.sides.length > 0 || linkList(this.tables).some((link) => link.lossPercent > 0);
    if (filtered) await this.pushKernel(moved ? this.names : [node], signal);
    await this.liftAccessRates([node], signal);
    await this.pushShaping(moved ? this.names : [node], signal, true);
  }

  /** What tc must do to the packets `node` sends to each remote address (the links it enforces). */
  netemRulesOf(node: string): Map<string, NetemRule> {
    const rules = new Map<string, NetemRule>();
    const delay = this.enforcement.latency === 'netem';
    const loss = this.enforcement.loss === 'netem';
    const rate = this.enforcement.bandwidth === 'kernel';
    for (const [remote, conditions] of this.tables.get(node) ?? []) {
      const address = this.nodes.address(remote);
      const rule: NetemRule = {
        delayMs: delay ? conditions.latencyMs : 0,
        jitterMs: delay ? conditions.jitterMs : 0,
        lossPercent: loss ? conditions.lossPercent : 0,
        ...(rate && conditions.bandwidth !== null ? { rateBytes: conditions.bandwidth } : {}),
      };
      const shaped = rule.delayMs > 0 || rule.jitterMs > 0 || rule.lossPercent > 0 || rule.rateBytes !== undefined;
      if (address !== undefined && shaped) rules.set(address, rule);
    }
    return rules;
  }

  /**
   * Pushes the tc shaping of `nodes` (with their access links when `withAccess`: at the start and on a
   * restore; a link step leaves the veth peers alone). Bandwidth alone pushes nothing until some link or
   * access link has one, so a run without any touches no namespace.
   */
  private async pushShaping(nodes: readonly string[], signal: AbortSignal, withAccess: boolean): Promise<void> {
    const shaper = this.shaper;
    if (shaper === undefined || !usesShaper(this.enforcement)) return;
    const needed =
      usesNetem(this.enforcement) ||
      this.shaped ||
      linkList(this.tables).some((link) => link.bandwidth !== null) ||
      [...this.access.values()].some((access) => typeof access.up === 'number' || typeof access.down === 'number');
    if (!needed) return;
    this.touched = true;
    this.shaped = true;
    await settleAll(
      nodes.map(async (node) => {
        const pid = await this.nodes.pid(node, signal);
        const address = this.nodes.address(node);
        if (pid === undefined || address === undefined) return;
        const access = this.accessRatesOf(node);
        await shaper.apply(
          pid,
          address,
          this.netemRulesOf(node),
          signal,
          withAccess ? access : { upBytes: access.upBytes },
        );
      }),
    );
  }

  /** A link that changes nothing is still pushed when a step named it: it may be undoing an earlier one. */
  private async push(pairs: readonly [string, string][], signal: AbortSignal): Promise<void> {
    this.touched = true;
    for (const node of pairs.flat()) {
      const address = this.nodes.address(node);
      if (address !== undefined) this.pushedAddress.set(node, address);
    }
    const jobs: Promise<void>[] = [];
    for (const [a, b] of pairs) {
      for (const [from, to] of [
        [a, b],
        [b, a],
      ] as const) {
        if (!this.nodes.hasEmulator(from)) continue;
        const address = this.nodes.address(to);
        const conditions = this.tables.get(from)?.get(to);
        if (address === undefined || conditions === undefined) continue;
        jobs.push(this.nodes.setLink(from, address, this.appConditions(conditions), signal));
      }
    }
    await settleAll(jobs);
  }
}

/** Waits for every job, then throws the first failure. */
async function settleAll(jobs: readonly Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
