/**
 * The checks of a `network` section (and of the network steps) that a JSON Schema cannot make: names
 * that exist, a node in one group only, a link between two distinct nodes. Each problem comes with the
 * JSON pointer of the offending field, like the schema's own errors.
 */
import type { ScenarioIssue } from '../errors';
import type { ScenarioNetwork } from './network-schema';

/** What the checks need to know of the scenario: its nodes (the tracker included) and its peers' own rates. */
export interface NetworkNodes {
  /** Every node a link can name: the peers and the tracker. */
  nodes: readonly string[];
  /** Peers whose scenario entry sets `uploadRate` / `downloadRate` (an access link would contradict it). */
  ratedPeers: ReadonlyMap<string, { uploadRate?: number; downloadRate?: number }>;
  tracker: string;
}

export function pointerKey(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Issues of the section at `/network`; [] when it is absent or sound. */
export function checkNetwork(network: ScenarioNetwork | undefined, known: NetworkNodes): ScenarioIssue[] {
  if (network === undefined) return [];
  const issues: ScenarioIssue[] = [];
  const nodes = new Set(known.nodes);
  const groups = network.groups ?? {};
  const nodeList = known.nodes.join(', ');
  const groupOf = new Map<string, string>();
  for (const [group, members] of Object.entries(groups)) {
    const at = `/network/groups/${pointerKey(group)}`;
    if (nodes.has(group)) issues.push({ instancePath: at, message: `group "${group}" has the name of a node` });
    members.forEach((member, i) => {
      if (!nodes.has(member)) {
        issues.push({ instancePath: `${at}/${i}`, message: `unknown node "${member}" (nodes: ${nodeList})` });
      } else if (groupOf.has(member)) {
        issues.push({
          instancePath: `${at}/${i}`,
          message: `"${member}" is already in group "${groupOf.get(member) ?? ''}" (a node is in one group at most)`,
        });
      } else groupOf.set(member, group);
    });
  }
  (network.links ?? []).forEach((link, i) => {
    issues.push(...checkBetween(link.between, `/network/links/${i}/between`, nodes, groups));
  });
  for (const [peer, access] of Object.entries(network.peers ?? {})) {
    const at = `/network/peers/${pointerKey(peer)}`;
    if (peer === known.tracker) {
      issues.push({ instancePath: at, message: 'the tracker has no access link (it takes no rate options)' });
    } else if (!nodes.has(peer)) {
      issues.push({ instancePath: at, message: `unknown peer "${peer}" (nodes: ${nodeList})` });
    }
    const rated = known.ratedPeers.get(peer);
    if (access.up !== undefined && rated?.uploadRate !== undefined) {
      issues.push({ instancePath: `${at}/up`, message: `peer "${peer}" sets uploadRate already; keep one` });
    }
    if (access.down !== undefined && rated?.downloadRate !== undefined) {
      issues.push({ instancePath: `${at}/down`, message: `peer "${peer}" sets downloadRate already; keep one` });
    }
  }
  return issues;
}

/** Both sides of a `between` name a node or a group, and do not name the same node twice. */
export function checkBetween(
  between: readonly string[],
  at: string,
  nodes: ReadonlySet<string>,
  groups: Readonly<Record<string, readonly string[]>>,
): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  between.forEach((side, j) => {
    if (!nodes.has(side) && !Object.hasOwn(groups, side)) {
      issues.push({ instancePath: `${at}/${j}`, message: `unknown node or group "${side}"` });
    }
  });
  if (between[0] === between[1] && nodes.has(between[0] ?? '')) {
    issues.push({ instancePath: at, message: `a link joins two different nodes (got "${between[0] ?? ''}" twice)` });
  }
  return issues;
}

/**
 * A partition's groups: each entry a node or a network group, every node in one side at most (else it
 * would have to reach and not reach the same node).
 */
export function checkPartition(
  sides: readonly (readonly string[])[],
  at: string,
  nodes: ReadonlySet<string>,
  groups: Readonly<Record<string, readonly string[]>>,
): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  const sideOf = new Map<string, number>();
  sides.forEach((side, i) => {
    side.forEach((name, j) => {
      const path = `${at}/${i}/${j}`;
      if (!nodes.has(name) && !Object.hasOwn(groups, name)) {
        issues.push({ instancePath: path, message: `unknown node or group "${name}"` });
        return;
      }
      for (const node of Object.hasOwn(groups, name) ? (groups[name] ?? []) : [name]) {
        const other = sideOf.get(node);
        if (other !== undefined && other !== i) {
          issues.push({ instancePath: path, message: `"${node}" is in groups ${other} and ${i} of the partition` });
        }
        sideOf.set(node, i);
      }
    });
  });
  return issues;
}
