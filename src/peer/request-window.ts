/**
 * The request window of one source: how many requests a download keeps outstanding there, between
 * MIN_WINDOW and `maxInflight`, adapted to each chunk's round trip (request sent to chunk arrived).
 *
 * A round trip is the path's own delay plus the time the request waited at the source behind others
 * (its upload queue, its rate limit). Only the wait says the source is saturated, so the window reacts
 * to the round trip *above the lowest one seen lately* (the floor): it shrinks by one when a chunk waited
 * more than QUEUEING_LATENCY_MS, and grows by one when a chunk waited less than half that. On a long fat
 * link every
 * round trip is long but none waits, so the window grows to `maxInflight` and the rate approaches
 * `maxInflight × chunk / RTT`; at a rate-limited seeder each extra request waits a whole chunk's time
 * there, so the window stays small and the chunks stay free to ask of quicker sources.
 *
 * The floor is the path's own round trip when the scheduler measured it (`setPathRtt`: the INTERESTED
 * answer, which waits behind no chunk), else the lowest chunk round trip of the last FLOOR_WINDOW_MS to
 * FLOOR_WINDOW_MS * 2 (two epochs, as BBR keeps its min RTT), whichever is lower. A busy seeder's every
 * chunk waits behind other downloaders' chunks, so its chunk floor is a queue, not the path: only the
 * path's round trip lets the window shrink there as it should. Without it, an old chunk floor ages out
 * when the path itself slows down (a longer link) instead of reading the new delay as a queue forever.
 */

/** A chunk that waited longer than this at its source says the window is larger than the source needs. */
export const QUEUEING_LATENCY_MS = 250;
/**
 * One request per source at the least: a source that serves many downloaders at a limited rate keeps
 * its upload busy with theirs, and a request parked in its queue is a chunk this downloader cannot ask
 * a quicker source for. A new source starts small too: many downloaders meeting one seeder at once
 * would otherwise queue most of the file there before the first chunk arrives.
 */
export const MIN_WINDOW = 1;
export const INITIAL_WINDOW = 2;
/** How long a floor sample counts (one epoch; the floor covers the current and the previous one). */
export const FLOOR_WINDOW_MS = 10_000;

export interface RequestWindowInit {
  /** The most requests outstanding at this source (`--max-inflight`). */
  maxInflight: number;
  /** The window before any chunk came back; default INITIAL_WINDOW (never above maxInflight). */
  initial?: number;
}

export class RequestWindow {
  /** Requests this source may have outstanding now. */
  size: number;
  private readonly maxInflight: number;
  private epochStartMs: number | undefined;
  private currentFloorMs = Number.POSITIVE_INFINITY;
  private previousFloorMs = Number.POSITIVE_INFINITY;

  constructor(init: RequestWindowInit) {
    this.maxInflight = Math.max(MIN_WINDOW, init.maxInflight);
    this.size = Math.max(MIN_WINDOW, Math.min(init.initial ?? INITIAL_WINDOW, this.maxInflight));
  }

  /** The path's own round trip, ms, when measured. */
  private pathRttMs = Number.POSITIVE_INFINITY;

  /** The lowest round trip seen lately, ms (Infinity before the first). */
  get floorMs(): number {
    return Math.min(this.currentFloorMs, this.previousFloorMs, this.pathRttMs);
  }

  /** The round trip of the path alone (a request that waited behind no chunk at the source), ms. */
  setPathRtt(ms: number): void {
    this.pathRttMs = ms;
  }

  /** A chunk came back `roundTripMs` after its request, at `nowMs`; returns the new size. */
  record(roundTripMs: number, nowMs: number): number {
    if (this.epochStartMs === undefined || nowMs - this.epochStartMs >= FLOOR_WINDOW_MS) {
      this.previousFloorMs = this.epochStartMs === undefined ? Number.POSITIVE_INFINITY : this.currentFloorMs;
      this.currentFloorMs = Number.POSITIVE_INFINITY;
      this.epochStartMs = nowMs;
    }
    this.currentFloorMs = Math.min(this.currentFloorMs, roundTripMs);
    const queueingMs = roundTripMs - this.floorMs;
    if (queueingMs > QUEUEING_LATENCY_MS) this.size = Math.max(MIN_WINDOW, this.size - 1);
    else if (queueingMs < QUEUEING_LATENCY_MS / 2) this.size = Math.min(this.maxInflight, this.size + 1);
    return this.size;
  }
}
