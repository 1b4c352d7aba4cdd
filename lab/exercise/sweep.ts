/**
 * A sweep over the number of downloaders (`sweep: {downloaders: [4, 8, 16]}`): the scenario runs once
 * per count N, peer-1 seeding to peer-2 .. peer-(N+1). The scenario, and a student's own scenario
 * written once for every N, say where N goes with `${N}`, `${peers}` (N + 1) and `${downloaders}`: as
 * a step's `peers` it is the list of the downloaders' names, and an item of the scenario's `peers` list
 * named `${downloaders}` stands for one such peer per downloader (same rates and env). Pure: no I/O.
 */
import { substituteParameters } from './parameters';

/** The string that stands for the downloaders' names, as a whole value (`peers: "${downloaders}"`). */
export const DOWNLOADERS_PLACEHOLDER = '${downloaders}';

/** The numbers a sweep's run at N adds to the parameters: `${N}` and `${peers}`. */
export function sweepValues(downloaders: number): Record<string, number> {
  return { N: downloaders, peers: downloaders + 1 };
}

/** peer-2 .. peer-(N+1): the downloaders of a sweep's run at N (peer-1 seeds). */
export function downloaderNames(downloaders: number): string[] {
  return Array.from({ length: downloaders }, (_, i) => `peer-${i + 2}`);
}

function isDownloadersItem(item: unknown): item is Record<string, unknown> {
  return (
    typeof item === 'object' && item !== null && (item as Record<string, unknown>)['name'] === DOWNLOADERS_PLACEHOLDER
  );
}

function expandDownloaders(value: unknown, names: readonly string[]): unknown {
  if (value === DOWNLOADERS_PLACEHOLDER) return [...names];
  if (Array.isArray(value)) {
    return value.flatMap((item) =>
      isDownloadersItem(item) ? names.map((name) => ({ ...item, name })) : [expandDownloaders(item, names)],
    );
  }
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandDownloaders(v, names)]));
  }
  return value;
}

/** A template at N: `${downloaders}` becomes the list of names, then every number placeholder its value. */
export function substituteSweep(
  template: unknown,
  values: Readonly<Record<string, number>>,
  downloaders: number | undefined,
): unknown {
  if (downloaders === undefined) return substituteParameters(template, values);
  const expanded = expandDownloaders(template, downloaderNames(downloaders));
  return substituteParameters(expanded, { ...values, ...sweepValues(downloaders) });
}
