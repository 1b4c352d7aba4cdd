/**
 * How a link's conditions read on the dashboard's graph and in the run report: `80 ms ±10 ms, 1 % loss,
 * 2.0 MiB/s`. Pure and import-free (types aside), so the browser bundle and the report share it.
 */
import type { NetworkLinkView } from './run-events';

/** Labelled links drawn at most: past that (a partition of a big swarm) the graph would be unreadable. */
export const MAX_LINK_LABELS = 60;

export type LinkConditionsView = Omit<NetworkLinkView, 'between'>;

/** One key per unordered pair: links are symmetric. */
export function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

/** A link that changes nothing. */
export function isPerfectLink(link: LinkConditionsView): boolean {
  return link.latencyMs === 0 && link.jitterMs === 0 && link.lossPercent === 0 && link.bandwidth === null;
}

function rate(bytesPerSecond: number): string {
  if (bytesPerSecond < 1024) return `${Math.round(bytesPerSecond)} B/s`;
  if (bytesPerSecond < 1048576) return `${(bytesPerSecond / 1024).toFixed(1)} KiB/s`;
  return `${(bytesPerSecond / 1048576).toFixed(1)} MiB/s`;
}

/** `80 ms ±10 ms, 1 % loss, 2.0 MiB/s` (one-way latency); `perfect` when it changes nothing. */
export function linkLabel(link: LinkConditionsView): string {
  const parts: string[] = [];
  if (link.latencyMs > 0 || link.jitterMs > 0) {
    parts.push(`${link.latencyMs} ms${link.jitterMs > 0 ? ` ±${link.jitterMs} ms` : ''}`);
  }
  if (link.lossPercent > 0) parts.push(`${link.lossPercent} % loss`);
  if (link.bandwidth !== null) parts.push(rate(link.bandwidth));
  return parts.length === 0 ? 'perfect' : parts.join(', ');
}

/** A link as labelled on the graph: its ends, its label, and whether a partition cuts it. */
export interface LinkMark {
  between: [string, string];
  label: string;
  cut: boolean;
}

/** What `linkMarks` reads of a run's state (run-state.ts's RunState has both; declared here so it imports nothing back). */
export interface NetworkNow {
  links: ReadonlyMap<string, NetworkLinkView>;
  partition: readonly (readonly string[])[];
}

/** The links to label: each pair the partition cuts, then each link that is not perfect (at most MAX_LINK_LABELS). */
export function linkMarks(state: NetworkNow): LinkMark[] {
  const marks: LinkMark[] = [];
  const cut = new Set<string>();
  state.partition.forEach((side, i) => {
    for (const other of state.partition.slice(i + 1)) {
      for (const a of side) {
        for (const b of other) {
          cut.add(pairKey(a, b));
          marks.push({ between: [a, b], label: 'cut', cut: true });
        }
      }
    }
  });
  for (const link of state.links.values()) {
    const [a, b] = link.between;
    if (cut.has(pairKey(a, b))) continue;
    marks.push({ between: [a, b], label: linkLabel(link), cut: false });
  }
  return marks.slice(0, MAX_LINK_LABELS);
}
