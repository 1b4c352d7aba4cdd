/**
 * The soak's verdict from what it saw, with no I/O: memory figures from RSS samples, and whether the run
 * passes. Memory is "flat" when the figure at the end is at most FLAT_FACTOR times the figure right
 * after warm-up. Each figure is the median of the samples in a window (one minute in a 10-minute run),
 * so one garbage collection landing on one sample neither passes nor fails a run.
 */

export const FLAT_FACTOR = 1.1;

export interface RssSample {
  atMs: number;
  rssMB: number;
}

export interface RssSummary {
  start: number;
  end: number;
  max: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

/**
 * start: median of the samples in [warmupMs, warmupMs + windowMs); end: median of the samples in
 * [endMs - windowMs, endMs]; max: the largest sample of the run.
 */
export function summariseRss(samples: readonly RssSample[], window: { warmupMs: number; windowMs: number; endMs: number }): RssSummary {
  const inRange = (from: number, to: number): number[] => samples.filter((s) => s.atMs >= from && s.atMs <= to).map((s) => s.rssMB);
  return {
    start: round1(median(inRange(window.warmupMs, window.warmupMs + window.windowMs - 1))),
    end: round1(median(inRange(window.endMs - window.windowMs, window.endMs))),
    max: round1(samples.reduce((max, s) => Math.max(max, s.rssMB), 0)),
  };
}

export function isFlat(summary: RssSummary): boolean {
  return summary.start > 0 && summary.end <= FLAT_FACTOR * summary.start;
}

/** One peer process that lived through both windows: its own start and end. */
export interface PeerGrowth {
  name: string;
  start: number;
  end: number;
}

export interface SoakTally {
  downloads: number;
  verified: number;
  corrupt: number;
  lost: number;
  /** Processes that exited without the soak killing them, e.g. "peer-07 exited with code 1". */
  crashes: string[];
}

export interface SoakVerdict {
  flat: boolean;
  ok: boolean;
  failures: string[];
}

export function soakVerdict(tally: SoakTally, tracker: RssSummary, peers: RssSummary, peerGrowth: readonly PeerGrowth[]): SoakVerdict {
  const failures: string[] = [];
  const trackerFlat = isFlat(tracker);
  const peersFlat = isFlat(peers);
  if (!trackerFlat) failures.push(`tracker memory grew: ${tracker.start} MB after warm-up, ${tracker.end} MB at the end (limit ${FLAT_FACTOR}x)`);
  if (!peersFlat) {
    const grown = peerGrowth
      .filter((peer) => peer.start > 0 && peer.end > FLAT_FACTOR * peer.start)
      .sort((a, b) => b.end / b.start - a.end / a.start)
      .map((peer) => `${peer.name} ${peer.start} -> ${peer.end} MB`);
    failures.push(
      `peer memory grew: the largest peer held ${peers.start} MB after warm-up, ${peers.end} MB at the end (limit ${FLAT_FACTOR}x)` +
        (grown.length > 0 ? `; grew: ${grown.join(', ')}` : ''),
    );
  }
  if (tally.corrupt > 0) failures.push(`${tally.corrupt} downloaded files differ from their publisher's bytes`);
  if (tally.lost > 0) failures.push(`${tally.lost} files lost (a finished download or a published file is missing)`);
  if (tally.downloads === 0) failures.push('no download finished');
  for (const crash of tally.crashes) failures.push(`crash: ${crash}`);
  return { flat: trackerFlat && peersFlat, ok: failures.length === 0, failures };
}
