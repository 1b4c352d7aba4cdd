/**
 * Turns a scenario's `network` section into what each node must enforce: per node, the conditions of its
 * link to every other node. Pure: no Docker, no peers; the lab applies the tables (`apply.ts`).
 *
 * Precedence: the default, then the entries between two groups, then between a node and a group, then
 * between two nodes. Each entry sets only the fields it names, so a field an entry leaves out keeps the
 * value of the less specific ones; among entries equally specific the later one wins. Links are
 * symmetric: the table of A has for B exactly what the table of B has for A.
 */
import { parseSize } from '../../src/cli/format';
import { LINK_FIELDS, type AccessLink, type Bandwidth, type LinkSpec, type ScenarioNetwork } from './network-schema';

/** One direction of a link, every field known. */
export interface LinkConditions {
  latencyMs: number;
  jitterMs: number;
  lossPercent: number;
  /** Bytes per second; null = uncapped. */
  bandwidth: number | null;
}

/** node -> remote node -> the conditions of the link between them. */
export type LinkTables = Map<string, Map<string, LinkConditions>>;

/** One symmetric link of the run, as the report lists it. */
export interface LinkEntry extends LinkConditions {
  between: [string, string];
}

export const PERFECT_LINK: LinkConditions = { latencyMs: 0, jitterMs: 0, lossPercent: 0, bandwidth: null };

/** `2M` -> 2097152; integers stay; null stays (uncapped); undefined stays (not named). */
export function bandwidthBytes(value: Bandwidth | undefined): number | null | undefined {
  if (value === undefined || value === null) return value;
  return typeof value === 'number' ? value : parseSize(value);
}

/** The nodes a side of `between` names: a group's members, or the node itself. */
export function expandSide(name: string, groups: Readonly<Record<string, readonly string[]>> = {}): string[] {
  return Object.hasOwn(groups, name) ? [...(groups[name] ?? [])] : [name];
}

/** The conditions `spec` names, with bandwidth in bytes/s; the fields it leaves out are absent. */
export function namedConditions(spec: LinkSpec): Partial<LinkConditions> {
  const out: Partial<LinkConditions> = {};
  for (const field of LINK_FIELDS) {
    if (spec[field] === undefined) continue;
    if (field === 'bandwidth') out.bandwidth = bandwidthBytes(spec.bandwidth) ?? null;
    else out[field] = spec[field];
  }
  return out;
}

/** The link tables of `nodes` (the peers and the tracker) under `network`. */
export function resolveNetwork(network: ScenarioNetwork | undefined, nodes: readonly string[]): LinkTables {
  const base: LinkConditions = { ...PERFECT_LINK, ...namedConditions(network?.default ?? {}) };
  const tables: LinkTables = new Map(nodes.map((node) => [node, new Map<string, LinkConditions>()]));
  for (const a of nodes) for (const b of nodes) if (a !== b) tables.get(a)?.set(b, { ...base });
  const groups = network?.groups ?? {};
  const specificity = (name: string): number => (Object.hasOwn(groups, name) ? 0 : 1);
  // A stable sort keeps the file's order among entries equally specific, so the later one wins.
  const entries = [...(network?.links ?? [])].sort(
    (x, y) =>
      specificity(x.between[0]) + specificity(x.between[1]) - (specificity(y.between[0]) + specificity(y.between[1])),
  );
  for (const entry of entries) applyLink(tables, groups, entry.between, namedConditions(entry));
  return tables;
}

/**
 * Changes the links across `between` (nodes or groups) in place, both directions; the fields `changes`
 * leaves out keep their value. Returns the pairs it changed, each once (`[a, b]` in `between`'s order).
 */
export function applyLink(
  tables: LinkTables,
  groups: Readonly<Record<string, readonly string[]>>,
  between: readonly [string, string],
  changes: Partial<LinkConditions>,
): [string, string][] {
  const changed: [string, string][] = [];
  const seen = new Set<string>();
  for (const a of expandSide(between[0], groups)) {
    for (const b of expandSide(between[1], groups)) {
      const key = a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
      if (a === b || seen.has(key)) continue;
      const there = tables.get(a)?.get(b);
      const back = tables.get(b)?.get(a);
      if (there === undefined || back === undefined) continue;
      seen.add(key);
      Object.assign(there, changes);
      Object.assign(back, changes);
      changed.push([a, b]);
    }
  }
  return changed;
}

/** Every link once (`between` sorted by name), for the report and `lab status`. */
export function linkList(tables: LinkTables): LinkEntry[] {
  const links: LinkEntry[] = [];
  for (const [a, remotes] of tables) {
    for (const [b, conditions] of remotes) if (a < b) links.push({ between: [a, b], ...conditions });
  }
  return links.sort((x, y) => x.between[0].localeCompare(y.between[0]) || x.between[1].localeCompare(y.between[1]));
}

/** A link that changes nothing (the kernel and the emulator leave it alone). */
export function isPerfect(link: LinkConditions): boolean {
  return link.latencyMs === 0 && link.jitterMs === 0 && link.lossPercent === 0 && link.bandwidth === null;
}

/** Each peer's access link in bytes/s (null: uncapped; undefined: not named, the peer's own rates apply). */
export function accessLinks(
  network: ScenarioNetwork | undefined,
): Map<string, { up?: number | null; down?: number | null }> {
  const out = new Map<string, { up?: number | null; down?: number | null }>();
  for (const [peer, access] of Object.entries(network?.peers ?? {}) as [string, AccessLink][]) {
    const up = bandwidthBytes(access.up);
    const down = bandwidthBytes(access.down);
    out.set(peer, { ...(up === undefined ? {} : { up }), ...(down === undefined ? {} : { down }) });
  }
  return out;
}
