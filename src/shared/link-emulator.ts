/**
 * The application-level link emulator: what a peer does to its own outgoing frames when the kernel
 * cannot shape its links (no netem), or when there is no lab at all (`swarmlab peer --link ...`).
 *
 * DEV DOCS
 * - A `LinkTable` holds the conditions of this peer's links: one default, and rules per remote
 *   `HOST` or `HOST:PORT` (the most specific wins: HOST:PORT, then HOST, then the default). It is
 *   read on every frame, so a change applies to the frames sent after it.
 * - A `LinkShaper` sits in one FramedConnection, between its writers and its socket. Each outgoing
 *   frame gets a release time, `max(previous release, now + latency + jitter sample)`: jitter spreads
 *   the delay but never reorders bytes within a connection (TCP cannot). At its release time a frame
 *   takes its bytes from the link's token bucket (bandwidth), shared by every connection to that
 *   remote, then goes to the socket.
 * - Only outgoing frames are delayed: a link is emulated by configuring BOTH ends with it, and the
 *   round trip between two such peers is then twice the latency. A remote that has no emulator (the
 *   tracker) answers undelayed, so a peer–tracker link shaped here carries the delay one way only.
 * - Loss is not emulated: over TCP the application never sees a lost packet, only the retransmission's
 *   delay, which the kernel path (netem, iptables) produces and this layer cannot fake honestly.
 * - Backpressure: a shaper holding more than MAX_SHAPED_BYTES tells its writer to wait (like a full
 *   socket), so a capped link never buffers a whole file in memory.
 */
import { TokenBucket } from './token-bucket';

/** The conditions of one link, in the direction this peer sends. */
export interface LinkConditions {
  /** One-way delay added to every frame, ms. */
  latencyMs: number;
  /** Each frame's delay is latencyMs ± up to jitterMs (uniform), never below 0 and never reordering. */
  jitterMs: number;
  /** Bytes per second this peer may send on the link; null = uncapped. */
  bandwidth: number | null;
}

/** Where a rule applies: 'default', a remote HOST, or a remote HOST:PORT. */
export type LinkTarget = string;
export const DEFAULT_LINK: LinkTarget = 'default';

export interface LinkRule extends LinkConditions {
  to: LinkTarget;
}

const NO_CONDITIONS: LinkConditions = { latencyMs: 0, jitterMs: 0, bandwidth: null };
/** Bytes a shaper may hold before its writer is told to wait (a TCP window's worth). */
export const MAX_SHAPED_BYTES = 4 * 1024 * 1024;

export interface LinkTableInit {
  /** Random numbers in [0, 1) for jitter samples (tests pass a fixed sequence). */
  random?: () => number;
  now?: () => number;
}

export class LinkTable {
  readonly now: () => number;
  private readonly random: () => number;
  private readonly rules = new Map<LinkTarget, LinkConditions>();
  /** One bucket per link (the rule that matched, per remote host for the default). */
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(rules: readonly LinkRule[] = [], init: LinkTableInit = {}) {
    this.random = init.random ?? Math.random;
    this.now = init.now ?? (() => performance.now());
    for (const rule of rules) this.set(rule.to, rule);
  }

  /** No rule at all: every connection writes straight to its socket. */
  get empty(): boolean {
    return this.rules.size === 0;
  }

  /** Sets a rule's conditions; fields left out keep their value (0 / uncapped for a new rule). */
  set(to: LinkTarget, changes: Partial<LinkConditions>): LinkRule {
    const current = this.rules.get(to) ?? NO_CONDITIONS;
    const next: LinkConditions = {
      latencyMs: changes.latencyMs ?? current.latencyMs,
      jitterMs: changes.jitterMs ?? current.jitterMs,
      bandwidth: changes.bandwidth === undefined ? current.bandwidth : changes.bandwidth,
    };
    this.rules.set(to, next);
    return { to, ...next };
  }

  /** Removes one rule, or every rule when `to` is left out; returns how many went. */
  clear(to?: LinkTarget): number {
    if (to === undefined) {
      const removed = this.rules.size;
      this.rules.clear();
      return removed;
    }
    return this.rules.delete(to) ? 1 : 0;
  }

  /** Every rule, the default first. */
  show(): LinkRule[] {
    return [...this.rules]
      .map(([to, conditions]) => ({ to, ...conditions }))
      .sort((a, b) => (a.to === DEFAULT_LINK ? -1 : b.to === DEFAULT_LINK ? 1 : a.to.localeCompare(b.to)));
  }

  /** The conditions of the link to host:port and the key of its token bucket; undefined when none applies. */
  resolve(host: string, port: number): { conditions: LinkConditions; link: string } | undefined {
    if (this.rules.size === 0) return undefined;
    const exact = `${host}:${port}`;
    let conditions = this.rules.get(exact);
    if (conditions) return { conditions, link: exact };
    conditions = this.rules.get(host);
    if (conditions) return { conditions, link: host };
    conditions = this.rules.get(DEFAULT_LINK);
    return conditions ? { conditions, link: `${DEFAULT_LINK}@${host}` } : undefined;
  }

  /** The delay of one frame on a link: latency ± a uniform jitter sample, never negative. */
  sampleDelayMs(conditions: LinkConditions): number {
    const jitter = conditions.jitterMs === 0 ? 0 : (this.random() * 2 - 1) * conditions.jitterMs;
    return Math.max(0, conditions.latencyMs + jitter);
  }

  /** The token bucket of a link at its current bandwidth; undefined when the link is uncapped. */
  bucket(link: string, bandwidth: number | null): TokenBucket | undefined {
    let bucket = this.buckets.get(link);
    if (bandwidth === null) {
      if (bucket) this.buckets.delete(link);
      return undefined;
    }
    if (!bucket) this.buckets.set(link, (bucket = new TokenBucket({ rateBytesPerS: bandwidth, now: this.now })));
    else if (bucket.rateBytesPerS !== bandwidth) bucket.setRate(bandwidth);
    return bucket;
  }
}

/** What a shaper writes to: the connection's socket. */
export interface ShapedSocket {
  write(data: Buffer, callback?: (error?: Error | null) => void): boolean;
  cork(): void;
  uncork(): void;
  once(event: 'drain', listener: () => void): unknown;
  readonly writableNeedDrain: boolean;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
}

interface ShapedFrame {
  buffers: Buffer[];
  bytes: number;
  releaseAtMs: number;
  onFlushed: (() => void) | undefined;
}

export class LinkShaper {
  private readonly queue: ShapedFrame[] = [];
  private queuedBytes = 0;
  private lastReleaseMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private waitingForSocket = false;
  private closed = false;
  private readonly drainWaiters: Array<() => void> = [];

  constructor(
    private readonly table: LinkTable,
    private readonly host: string,
    private readonly port: number,
    private readonly socket: ShapedSocket,
  ) {}

  /** Whether frames must go through the queue now: a rule applies, or earlier frames still wait (order). */
  get shaping(): boolean {
    return this.queue.length > 0 || (!this.table.empty && this.table.resolve(this.host, this.port) !== undefined);
  }

  get bufferedBytes(): number {
    return this.queuedBytes;
  }

  /** Queues one frame (its buffers leave together, uncopied); false when the writer should wait for `drained`. */
  send(buffers: Buffer[], onFlushed?: () => void): boolean {
    if (this.closed) {
      onFlushed?.();
      return false;
    }
    const now = this.table.now();
    const resolved = this.table.resolve(this.host, this.port);
    const delayMs = resolved ? this.table.sampleDelayMs(resolved.conditions) : 0;
    const releaseAtMs = Math.max(this.lastReleaseMs, now + delayMs);
    this.lastReleaseMs = releaseAtMs;
    const bytes = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    this.queue.push({ buffers, bytes, releaseAtMs, onFlushed });
    this.queuedBytes += bytes;
    this.pump();
    return this.queuedBytes <= MAX_SHAPED_BYTES;
  }

  /** Resolves once the shaper holds at most MAX_SHAPED_BYTES (or is closed). */
  async drained(): Promise<void> {
    if (this.closed || this.queuedBytes <= MAX_SHAPED_BYTES) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /** Drops every queued frame (their buffers are handed back) and wakes every waiter. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const frame of this.queue.splice(0)) frame.onFlushed?.();
    this.queuedBytes = 0;
    this.wakeWaiters();
  }

  private pump(): void {
    if (this.timer || this.waitingForSocket) return;
    while (this.queue.length > 0 && !this.closed) {
      if (this.socket.destroyed || this.socket.writableEnded) {
        this.close();
        return;
      }
      const frame = this.queue[0]!;
      const releaseInMs = frame.releaseAtMs - this.table.now();
      if (releaseInMs > 0) return this.wake(releaseInMs);
      if (this.socket.writableNeedDrain) {
        this.waitingForSocket = true;
        this.socket.once('drain', () => {
          this.waitingForSocket = false;
          this.pump();
        });
        return;
      }
      // The bandwidth of the link as it is at release time: a change applies to the frames not yet sent.
      const resolved = this.table.resolve(this.host, this.port);
      const bucket = resolved ? this.table.bucket(resolved.link, resolved.conditions.bandwidth) : undefined;
      if (bucket && !bucket.tryTake(frame.bytes)) return this.wake(Math.max(1, bucket.delayFor(frame.bytes)));
      this.queue.shift();
      this.queuedBytes -= frame.bytes;
      this.writeFrame(frame);
      if (this.queuedBytes <= MAX_SHAPED_BYTES) this.wakeWaiters();
    }
  }

  private wake(afterMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.ceil(afterMs));
  }

  private writeFrame(frame: ShapedFrame): void {
    const { buffers, onFlushed } = frame;
    if (buffers.length > 1) this.socket.cork();
    buffers.forEach((buffer, i) => {
      if (i === buffers.length - 1 && onFlushed) this.socket.write(buffer, () => onFlushed());
      else this.socket.write(buffer);
    });
    if (buffers.length > 1) this.socket.uncork();
  }

  private wakeWaiters(): void {
    for (const wake of this.drainWaiters.splice(0)) wake();
  }
}
