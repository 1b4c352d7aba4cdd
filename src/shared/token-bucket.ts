/**
 * A token bucket: `rateBytesPerS` tokens a second, up to `burstBytes` saved up. `take(n)` waits until
 * n tokens are there. A take larger than the burst is allowed and drives the balance negative, so
 * one chunk never needs more than one wait. A rate of null means unlimited.
 */
export interface TokenBucketInit {
  rateBytesPerS: number | null;
  /** Defaults to a quarter of a second of traffic, at least 64 KiB. */
  burstBytes?: number;
  now?: () => number;
}

export class TokenBucket {
  private rate: number | null;
  private burst: number;
  private tokens: number;
  private lastRefillMs: number;
  private readonly now: () => number;

  constructor(init: TokenBucketInit) {
    this.now = init.now ?? (() => performance.now());
    this.rate = init.rateBytesPerS;
    this.burst = init.burstBytes ?? defaultBurst(init.rateBytesPerS);
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
    this.tokens = Math.min(this.tokens, this.burst);
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

  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (this.rate === null) return;
      const waitMs = this.delayFor(bytes);
      if (waitMs <= 0) {
        this.tokens -= bytes;
        return;
      }
      await sleep(Math.ceil(waitMs), signal);
    }
  }

  /** Returns tokens taken for bytes that were not sent after all (e.g. a request cancelled while it waited). */
  giveBack(bytes: number): void {
    if (this.rate === null) return;
    this.refill();
    this.tokens = Math.min(this.burst, this.tokens + bytes);
  }

  private refill(): void {
    const nowMs = this.now();
    if (this.rate !== null)
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastRefillMs) / 1000) * this.rate);
    this.lastRefillMs = nowMs;
  }
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
