/**
 * What happened during a lab run, as one ordered stream of events.
 *
 * The controller and the scenario runner record; the live dashboard and the run report read. Keeping a
 * single recorder (rather than each consumer listening to Docker and the peers on its own) means the page a
 * student watches and the report they open afterwards tell exactly the same story.
 */

/** Where a container stands, as the lab sees it. */
export type NodeState = 'running' | 'paused' | 'exited' | 'disconnected' | 'starting' | string;

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
  /** One verified chunk received by `to` from `from`. */
  | {
      type: 'transfer';
      file: string;
      index: number;
      chunks: number;
      from: string;
      to: string;
      bytes: number;
      ms?: number;
    }
  /** A downloader's progress on one file. */
  | {
      type: 'progress';
      peer: string;
      file: string;
      have: number;
      chunks: number;
      bytes?: number;
      size?: number;
      rateBps?: number;
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
  /** Free text worth showing beside the timeline (the printer's info lines). */
  | { type: 'info'; text: string }
  /** The run's recording ended. */
  | { type: 'end'; ok: boolean; ms: number; error?: string };

export type RunEventType = RunEventBody['type'];

/** An event as stored: `t` is ms since the recording started, `at` the wall clock (epoch ms). */
export type RunEvent = RunEventBody & { seq: number; t: number; at: number };

export type RunEventListener = (event: RunEvent) => void;

/**
 * Records a run's events in order and hands each one to the current listeners. Late subscribers (a browser
 * that opens the dashboard half way) read `events` first, then follow live.
 */
export class RunRecorder {
  readonly startedAt: number;
  private readonly recorded: RunEvent[] = [];
  private readonly listeners = new Set<RunEventListener>();

  constructor(init: { startedAt?: number } = {}) {
    this.startedAt = init.startedAt ?? Date.now();
  }

  /** Every event so far, oldest first. */
  get events(): readonly RunEvent[] {
    return this.recorded;
  }

  record(body: RunEventBody): RunEvent {
    const at = Date.now();
    const event = { ...body, seq: this.recorded.length, t: at - this.startedAt, at } as RunEvent;
    this.recorded.push(event);
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
