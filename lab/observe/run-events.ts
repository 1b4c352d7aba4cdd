/**
 * What happened during a lab run, as one ordered stream of events.
 *
 * The controller and the scenario runner record; the live dashboard and the run report read. Keeping a
 * single recorder (rather than each consumer listening to Docker and the peers on its own) means the page a
 * student watches and the report they open afterwards tell exactly the same story.
 */

/** Where a container stands, as the lab sees it. */
export type NodeState = 'running' | 'paused' | 'exited' | 'disconnected' | 'starting' | string;

/** One symmetric link and its conditions (bandwidth in bytes/s, null uncapped). */
export interface NetworkLinkView {
  between: [string, string];
  latencyMs: number;
  jitterMs: number;
  lossPercent: number;
  bandwidth: number | null;
}

export type RunEventBody =
  /** The run exists: first event of every recording. */
  | { type: 'run'; run: string; scenario?: string; engine?: string }
  /** A tracker or peer appeared or changed state (start, kill, pause, network disconnect...). */
  | { type: 'node'; name: string; role: 'tracker' | 'peer'; ip?: string; state: NodeState }
  /** A scenario step started; `fault` marks the step a scenario injects as its fault. */
  | {
      type: 'step';
      index: number;
      total: number;
      action: string;
      targets: string[];
      description: string;
      fault: boolean;
    }
  /** A step's `when:` condition held: the step `index` runs now, `reason` says why (`holder`: who fired it). */
  | { type: 'trigger'; index: number; condition: string; reason: string; holder?: string }
  /** A scenario step ended. */
  | { type: 'step-end'; index: number; ok: boolean; ms: number; error?: string }
  /** A peer holds a whole file (generated or published), so its chunk map is full. */
  | { type: 'file'; peer: string; file: string; size: number; chunks?: number; chunkSize?: number }
  /** Rate limits set on a peer, bytes/s; null lifts a limit. */
  | { type: 'rate'; peer: string; uploadBps?: number | null; downloadBps?: number | null }
  /**
   * One verified chunk received by `to` from `from`; `ms` from its request to its verification, `peerAt`
   * when `to` verified it (epoch ms, by its own clock; see `happenedT`).
   */
  | {
      type: 'transfer';
      file: string;
      index: number;
      chunks: number;
      from: string;
      to: string;
      bytes: number;
      ms?: number;
      peerAt?: number;
    }
  /** A downloader's progress on one file; `peerAt` as for `transfer`. */
  | {
      type: 'progress';
      peer: string;
      file: string;
      have: number;
      chunks: number;
      bytes?: number;
      size?: number;
      rateBps?: number;
      peerAt?: number;
    }
  /** A download ended, verified or not. */
  | {
      type: 'download';
      peer: string;
      file: string;
      ok: boolean;
      verified?: boolean;
      bytes?: number;
      ms?: number;
      error?: string;
      chunksBySource?: Record<string, number>;
    }
  /**
   * The scenario's network changed: its start (`initial`), a `link` step, a `partition` or a `heal`.
   * `links`: each link the change set, with all its conditions now (for `initial`, every link that is not
   * perfect); `sides`: the partition's nodes; `access`: the peers' access links (bytes/s, null uncapped).
   */
  | {
      type: 'network';
      change: 'initial' | 'link' | 'partition' | 'heal';
      description: string;
      links?: NetworkLinkView[];
      sides?: string[][];
      access?: Record<string, { up?: number | null; down?: number | null }>;
    }
  /** Free text worth showing beside the timeline (the printer's info lines). */
  | { type: 'info'; text: string }
  /** The run's recording ended. */
  | { type: 'end'; ok: boolean; ms: number; error?: string };

export type RunEventType = RunEventBody['type'];

/** An event as stored: `t` is ms since the recording started, `at` the wall clock (epoch ms). */
export type RunEvent = RunEventBody & { seq: number; t: number; at: number };

export type RunEventListener = (event: RunEvent) => void;

/** How far ahead of the controller a peer's clock may be for its `peerAt` to be believed, ms. */
export const PEER_CLOCK_AHEAD_MS = 1_000;
/** How late the controller may read a peer's event for its `peerAt` to be believed, ms. */
export const PEER_EVENT_MAX_LAG_MS = 120_000;

/**
 * When the event happened, ms since the recording started. The controller stamps `t` and `at` when it
 * reads an event, and with a hundred busy containers it reads a downloader's events up to seconds after
 * they happened; a `transfer` or `progress` carries the downloader's own time (`peerAt`), which this
 * prefers. A peer clock too far off the controller's (another host's, in Swarm mode) is not believed:
 * ahead by more than PEER_CLOCK_AHEAD_MS, or behind by more than PEER_EVENT_MAX_LAG_MS, the event keeps
 * the controller's time. Never later than `t`: nothing is read before it happened.
 */
export function happenedT(event: RunEvent): number {
  if (event.type !== 'transfer' && event.type !== 'progress') return event.t;
  const peerAt = event.peerAt;
  if (peerAt === undefined || !Number.isFinite(peerAt)) return event.t;
  const lagMs = event.at - peerAt;
  if (lagMs < -PEER_CLOCK_AHEAD_MS || lagMs > PEER_EVENT_MAX_LAG_MS) return event.t;
  return event.t - Math.max(0, lagMs);
}

/** Events in the order they happened (`happenedT`); events of the same time keep their order. */
export function inHappenedOrder<E extends RunEvent>(events: readonly E[]): E[] {
  return timedInHappenedOrder(events).map(({ event }) => event);
}

/** `inHappenedOrder` with each event's `happenedT`, for callers that need both. */
export function timedInHappenedOrder<E extends RunEvent>(events: readonly E[]): Array<{ event: E; t: number }> {
  return events
    .map((event, i) => ({ event, i, t: happenedT(event) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map(({ event, t }) => ({ event, t }));
}

/** How many events `lab up --dashboard` keeps in memory: a session left open for days must not grow without bound. */
export const UP_DASHBOARD_MAX_EVENTS = 50_000;

export interface RunRecorderInit {
  startedAt?: number;
  /**
   * Keep at most this many of the latest events in memory (default: all, which the run report needs).
   * Older ones are trimmed a quarter of the limit at a time, so that trimming costs O(1) per event.
   */
  maxEvents?: number;
}

/**
 * Records a run's events in order and hands each one to the current listeners. Late subscribers (a browser
 * that opens the dashboard half way) read `events` first, then follow live. With `maxEvents`, `events` is
 * the latest window only: `firstSeq` says where it starts.
 */
export class RunRecorder {
  readonly startedAt: number;
  private recorded: RunEvent[] = [];
  private trimmed = 0;
  private readonly maxEvents: number;
  private readonly listeners = new Set<RunEventListener>();

  constructor(init: RunRecorderInit = {}) {
    this.startedAt = init.startedAt ?? Date.now();
    this.maxEvents = Math.max(1, init.maxEvents ?? Number.POSITIVE_INFINITY);
  }

  /** The events kept in memory, oldest first: every event so far unless `maxEvents` trimmed the oldest. */
  get events(): readonly RunEvent[] {
    return this.recorded;
  }

  /** The seq of the oldest event kept (0 until something is trimmed). */
  get firstSeq(): number {
    return this.trimmed;
  }

  /** The seq the next event will get: how many were recorded in all. */
  get nextSeq(): number {
    return this.trimmed + this.recorded.length;
  }

  /** The event of this seq, or undefined when it was trimmed or is not recorded yet. */
  eventAt(seq: number): RunEvent | undefined {
    return seq < this.trimmed ? undefined : this.recorded[seq - this.trimmed];
  }

  record(body: RunEventBody): RunEvent {
    const at = Date.now();
    const event = { ...body, seq: this.nextSeq, t: at - this.startedAt, at } as RunEvent;
    this.recorded.push(event);
    if (this.recorded.length > this.maxEvents + Math.ceil(this.maxEvents / 4)) {
      const drop = this.recorded.length - this.maxEvents;
      this.recorded = this.recorded.slice(drop);
      this.trimmed += drop;
    }
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A consumer's bug (a closed browser stream, say) must not stop the run it watches.
      }
    }
    return event;
  }

  /** Calls `listener` for every later event; returns the unsubscribe function. */
  subscribe(listener: RunEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
