/**
 * The soak's churn as a pure plan: a seed and a duration give the same list of timed actions on every
 * run, so a failing soak can be replayed. Actions name no process: each carries a `pick` in [0, 1) that
 * the runner maps onto whatever is alive at that moment (a plan cannot know which peers are up).
 */

export const MIB = 1024 * 1024;

export type SoakAction =
  /** SIGKILL a churning peer, then restart it on its directory after `downMs`. */
  | { atMs: number; kind: 'kill-peer'; pick: number; downMs: number }
  /** A new peer with an empty directory joins. */
  | { atMs: number; kind: 'join-peer' }
  /** A live peer downloads a file it does not hold; with `abandonAfterMs` the client hangs up after that long. */
  | { atMs: number; kind: 'download'; pick: number; filePick: number; abandonAfterMs?: number }
  /** A live publisher creates a new file (and the lying peer the same bytes), then publishes it. */
  | { atMs: number; kind: 'publish'; pick: number; sizeBytes: number }
  /** Stop the tracker with `signal`, and start it again on the same port after `downMs`. */
  | { atMs: number; kind: 'restart-tracker'; signal: 'SIGTERM' | 'SIGKILL'; downMs: number };

export type SoakActionKind = SoakAction['kind'];

export interface SoakPlanInit {
  seed: number;
  durationMs: number;
  /** Peers that join during the run (on top of those started at once). */
  joiners: number;
}

/** Timing of a run, derived from its duration (the memory windows and the tracker restarts depend on it). */
export interface SoakTiming {
  /** Memory before this is warm-up; the "start" figure is taken right after it. */
  warmupMs: number;
  /** Width of the windows whose median gives the "start" and "end" memory figures. */
  windowMs: number;
  /** The tracker restarts every this long... */
  trackerRestartEveryMs: number;
  /** ...but not in the last this long, so the last tracker has lived long enough to show growth. */
  trackerQuietEndMs: number;
}

const MINUTE_MS = 60_000;

export function soakTiming(durationMs: number): SoakTiming {
  return {
    warmupMs: Math.min(MINUTE_MS, durationMs / 4),
    windowMs: Math.min(MINUTE_MS, durationMs / 4),
    trackerRestartEveryMs: Math.min(3 * MINUTE_MS, durationMs / 2),
    trackerQuietEndMs: Math.min(2 * MINUTE_MS, durationMs / 2),
  };
}

/** mulberry32: a small seeded generator, enough for a schedule (not for anything secret). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mean gaps between actions of each kind, with a spread of ±50 %. */
const DOWNLOAD_GAP_MS = 2_000;
const KILL_GAP_MS = 20_000;
const PUBLISH_GAP_MS = 25_000;
/** Share of downloads whose client hangs up before the end (within a second: a small file on loopback is done in a few). */
const ABANDON_SHARE = 0.2;
const MIN_FILE_BYTES = 1 * MIB;
const MAX_FILE_BYTES = 8 * MIB;

/** The whole churn of a run, sorted by time. */
export function planSoak(init: SoakPlanInit): SoakAction[] {
  const random = seededRandom(init.seed);
  const between = (low: number, high: number): number => low + random() * (high - low);
  const actions: SoakAction[] = [];
  const every = (meanGapMs: number, add: (atMs: number) => void): void => {
    for (let atMs = between(0.5, 1.5) * meanGapMs; atMs < init.durationMs; atMs += between(0.5, 1.5) * meanGapMs) add(Math.round(atMs));
  };
  every(DOWNLOAD_GAP_MS, (atMs) => {
    const abandoned = random() < ABANDON_SHARE;
    actions.push({ atMs, kind: 'download', pick: random(), filePick: random(), ...(abandoned ? { abandonAfterMs: Math.round(between(20, 1_000)) } : {}) });
  });
  every(KILL_GAP_MS, (atMs) => actions.push({ atMs, kind: 'kill-peer', pick: random(), downMs: Math.round(between(1_000, 8_000)) }));
  every(PUBLISH_GAP_MS, (atMs) => actions.push({ atMs, kind: 'publish', pick: random(), sizeBytes: Math.round(between(MIN_FILE_BYTES, MAX_FILE_BYTES)) }));
  // Joiners arrive spread over the first 80 % of the run, so each still has time to download.
  for (let i = 1; i <= init.joiners; i++) actions.push({ atMs: Math.round((init.durationMs * 0.8 * i) / (init.joiners + 1)), kind: 'join-peer' });
  const timing = soakTiming(init.durationMs);
  for (let k = 1, atMs = timing.trackerRestartEveryMs; atMs <= init.durationMs - timing.trackerQuietEndMs; k++, atMs = k * timing.trackerRestartEveryMs) {
    actions.push({ atMs: Math.round(atMs), kind: 'restart-tracker', signal: k % 2 === 1 ? 'SIGTERM' : 'SIGKILL', downMs: Math.round(between(500, 3_000)) });
  }
  return actions.sort((a, b) => a.atMs - b.atMs);
}

/** Maps a pick in [0, 1) onto one of `items` (undefined when there are none). */
export function pickOne<T>(items: readonly T[], pick: number): T | undefined {
  if (items.length === 0) return undefined;
  return items[Math.min(items.length - 1, Math.floor(pick * items.length))];
}
