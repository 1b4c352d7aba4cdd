/**
 * A token bucket: `rateBytesPerS` tokens a second, up to `burstBytes` saved up. `take(n)` waits until
 * n tokens are there. A take larger than the burst is allowed and drives the balance negative, so
 * one chunk never needs more than one wait. A rate of null means unlimited.
 *
 * Waiting takes are served first come, first served, by one timer for the whole bucket. A peer's
 * upload bucket is shared by every connection it serves, each waiting for it with the chunk it is
 * about to send: when each waiter polled with its own timer, whichever woke first after a refill won,
 * so a chunk accepted behind 4 s of others could wait 8 s or more (past the downloader's request
 * timeout, a copy sent for nothing), and fifty connections meant fifty timers firing per chunk.
 *
 * Tokens that came in while takes were waiting are owed to them, up to MAX_OWED_S of traffic: when
 * the process was not scheduled (a loaded machine) or the timer fired late, the waiters get that time
 * back at once instead of losing whatever went past the burst. An idle bucket still saves only the
 * burst. Either way the bytes granted never exceed the burst plus the rate times the time elapsed.
 */
export interface TokenBucketInit {
  rateBytesPerS: number | null;
  /** Defaults to a quarter of a second of traffic, at least 64 KiB. */
  burstBytes?: number;
  /** Tokens kept for waiting takes (default MAX_OWED_S of traffic, never less than the burst). */
  maxOwedBytes?: number;
  now?: () => number;
}

/** Seconds of traffic a bucket keeps for takes that waited while the process could not serve them. */
export const MAX_OWED_S = 1;

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class TokenBucket {
  private rate: number | null;
  /** Takes waiting for tokens, in arrival order; `timer` wakes the bucket for the first of them. */
  private readonly waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private burst: number;
  private maxOwed: number;
  private readonly maxOwedInit: number | undefined;
  private tokens: number;
  private lastRefillMs: number;
  private readonly now: () => number;

  constructor(init: TokenBucketInit) {
    this.now = init.now ?? (() => performance.now());
    this.rate = init.rateBytesPerS;
    this.burst = init.burstBytes ?? defaultBurst(init.rateBytesPerS);
    this.maxOwedInit = init.maxOwedBytes;
    this.maxOwed = owedCap(this.burst, init.rateBytesPerS, init.maxOwedBytes);
    this.tokens = this.burst;
    this.lastRefillMs = this.now();
  }

  get rateBytesPerS(): number | null {
    return this.rate;
  }

  setRate(rateBytesPerS: number | null): void {
    this.refill();
    this.rate = rateBytesPerS;
    this.burst = defaultBurst(rateBytesPerS);
    this.maxOwed = owedCap(this.burst, rateBytesPerS, this.maxOwedInit);
    this.tokens = Math.min(this.tokens, this.burst);
    // The first waiter's wait changed with the rate (none at all when unlimited).
    this.rearm();
  }

  /** Takes waiting now. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** How long a take of `bytes` would have to wait now, in ms (0 = at once). */
  delayFor(bytes: number): number {
    if (this.rate === null) return 0;
    this.refill();
    if (this.tokens >= Math.min(bytes, this.burst)) return 0;
    return ((Math.min(bytes, this.burst) - this.tokens) / this.rate) * 1000;
  }

  /** Takes `bytes` now if the bucket allows it, without waiting; the common, unlimited case stays synchronous. */
  tryTake(bytes: number): boolean {
    if (this.rate === null) return true;
    if (this.delayFor(bytes) > 0) return false;
    this.tokens -= bytes;
    return true;
  }

  /** Waits until `bytes` tokens are there, behind every take already waiting, and takes them. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.rate === null) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.waiters.length === 0 && this.delayFor(bytes) <= 0) {
      this.tokens -= bytes;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const position = this.waiters.indexOf(waiter);
          if (position < 0) return;
          this.waiters.splice(position, 1);
          reject(signal?.reason as Error);
          // The first waiter may have gone: the next one's wait is another.
          if (position === 0) this.rearm();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
      if (this.waiters.length === 1) this.rearm();
    });
  }

  /** Serves the waiters that can be served now, in order, then sets the timer for the next one. */
  private rearm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (let waiter = this.waiters[0]; waiter; waiter = this.waiters[0]) {
      const waitMs = this.delayFor(waiter.bytes);
      if (waitMs > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.rearm();
        }, Math.ceil(waitMs));
        return;
      }
      if (this.rate !== null) this.tokens -= waiter.bytes;
      this.waiters.shift();
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
  }

  /** Returns tokens taken for bytes that were not sent after all (e.g. a request cancelled while it waited). */
  giveBack(bytes: number): void {
    if (this.rate === null) return;
    this.refill();
    this.tokens = Math.min(this.cap(), this.tokens + bytes);
    if (this.waiters.length > 0) this.rearm();
  }

  /**
   * Adds the tokens of the time since the last refill. Every change to the waiters refills first (a
   * take that finds none, the loop that serves them), so waiters now means waiters all that time.
   */
  private refill(): void {
    const nowMs = this.now();
    if (this.rate !== null)
      this.tokens = Math.min(this.cap(), this.tokens + ((nowMs - this.lastRefillMs) / 1000) * this.rate);
    this.lastRefillMs = nowMs;
  }

  /** What the balance may grow to: the burst, or while takes wait, what they are owed. */
  private cap(): number {
    return this.waiters.length > 0 ? this.maxOwed : this.burst;
  }
}

function owedCap(burst: number, rateBytesPerS: number | null, maxOwedBytes: number | undefined): number {
  if (rateBytesPerS === null) return Infinity;
  return Math.max(burst, maxOwedBytes ?? rateBytesPerS * MAX_OWED_S);
}

function defaultBurst(rateBytesPerS: number | null): number {
  return rateBytesPerS === null ? Infinity : Math.max(64 * 1024, rateBytesPerS / 4);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
