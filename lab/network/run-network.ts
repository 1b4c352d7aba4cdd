/**
 * The network of one scenario run: the link tables the scenario asks for, kept current as steps change
 * them, and pushed to the layer that enforces each property.
 *
 * Latency, jitter and bandwidth are enforced by the peers' own link emulator (src/shared/link-emulator.ts):
 * the lab sets, in each peer, one rule per remote node's address (`ctl link set ADDR ...`). Each peer
 * delays only what it sends, so a link is set at both ends and the round trip is twice its latency. The
 * tracker has no emulator: its links are delayed on the peers' side only. Loss and partitions need the
 * kernel (`enforcement` says which layer did what, and the run report shows it).
 */
import type { NetworkEnforcement, NetworkReport } from '../report-types';
import type { ScenarioNetwork } from './network-schema';
import { applyLink, linkList, resolveNetwork, type LinkConditions, type LinkTables } from './resolve';

/** What the run network needs of the lab: addresses, and the peers' control sockets. */
export interface NetworkNodes {
  /** The node's address on the run's network, undefined while it has none (stopped, disconnected). */
  address: (node: string) => string | undefined;
  /** True for a peer (it has a link emulator), false for the tracker. */
  hasEmulator: (node: string) => boolean;
  /** Sets the peer's outgoing link to `address` (`ctl link set ADDR latencyMs=..,jitterMs=..,bandwidth=..`). */
  setLink: (peer: string, address: string, conditions: LinkConditions, signal: AbortSignal) => Promise<void>;
}

export const APP_ENFORCEMENT: NetworkEnforcement = {
  latency: 'app',
  jitter: 'app',
  bandwidth: 'app',
  loss: 'unsupported',
  partition: 'unsupported',
};

export class RunNetwork {
  readonly tables: LinkTables;
  readonly groups: Readonly<Record<string, readonly string[]>>;
  readonly enforcement: NetworkEnforcement;
  private readonly nodes: NetworkNodes;
  private readonly names: readonly string[];

  constructor(
    components: { nodes: NetworkNodes },
    init: { network: ScenarioNetwork | undefined; names: readonly string[]; enforcement?: NetworkEnforcement },
  ) {
    this.nodes = components.nodes;
    this.names = init.names;
    this.tables = resolveNetwork(init.network, init.names);
    this.groups = init.network?.groups ?? {};
    this.enforcement = init.enforcement ?? APP_ENFORCEMENT;
  }

  report(): NetworkReport {
    return { enforcement: { ...this.enforcement }, links: linkList(this.tables) };
  }

  /** Pushes every link to both of its ends (at the start of a scenario). */
  async applyAll(signal: AbortSignal): Promise<void> {
    const pairs: [string, string][] = [];
    for (const a of this.names) for (const b of this.names) if (a < b) pairs.push([a, b]);
    await this.push(pairs, signal);
  }

  /** Changes the links across `between` (fields left out keep their value) and pushes them; returns the pairs. */
  async change(
    between: readonly [string, string],
    changes: Partial<LinkConditions>,
    signal: AbortSignal,
  ): Promise<[string, string][]> {
    const pairs = applyLink(this.tables, this.groups, between, changes);
    await this.push(pairs, signal);
    return pairs;
  }

  /** A link that changes nothing is still pushed when a step named it: it may be undoing an earlier one. */
  private async push(pairs: readonly [string, string][], signal: AbortSignal): Promise<void> {
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
        jobs.push(this.nodes.setLink(from, address, conditions, signal));
      }
    }
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}
