/**
 * TokenBucket on an injected clock: refill, burst cap, negative balance, rate changes, and waiting
 * takes driven by fake timers (nothing here depends on real time).
 */
import { MAX_OWED_S, sleep, TokenBucket } from '../../src/shared/token-bucket';

class FakeClock {
  ms = 1_000;
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

describe('TokenBucket', () => {
  let clock: FakeClock;
  beforeEach(() => {
    clock = new FakeClock();
  });

  it('with a null rate never waits', async () => {
    const bucket = new TokenBucket({ rateBytesPerS: null, now: clock.now });
    expect(bucket.rateBytesPerS).toBeNull();
    expect(bucket.delayFor(1e12)).toBe(0);
    await expect(bucket.take(1e12)).resolves.toBeUndefined();
    expect(bucket.delayFor(1e12)).toBe(0);
  });

  it('starts full: a take up to the burst is immediate, one byte more must wait', () => {
    const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 500, now: clock.now });
    expect(bucket.delayFor(500)).toBe(0);
    void bucket.take(500);
    expect(bucket.delayFor(1)).toBeCloseTo(1, 6);
    expect(bucket.delayFor(100)).toBeCloseTo(100, 6);
  });

  it('refills at the rate on the injected clock', () => {
    const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 500, now: clock.now });
    void bucket.take(500);
    clock.advance(200);
    expect(bucket.delayFor(200)).toBe(0);
    expect(bucket.delayFor(300)).toBeCloseTo(100, 6);
  });

  it('never saves more than the burst', () => {
    const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 500, now: clock.now });
    clock.advance(60_000);
    void bucket.take(500);
    expect(bucket.delayFor(1)).toBeCloseTo(1, 6);
  });

  it('lets a take larger than the burst through at once and drives the balance negative', () => {
    const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 500, now: clock.now });
    expect(bucket.delayFor(5000)).toBe(0);
    void bucket.take(5000);
    // Balance is 500 - 5000 = -4500; a 1-byte take needs 4501 tokens of refill.
    expect(bucket.delayFor(1)).toBeCloseTo(4501, 6);
    // A take larger than the burst waits only until the bucket is full.
    expect(bucket.delayFor(10_000)).toBeCloseTo(5000, 6);
  });

  it.each([
    [1000, 64 * 1024],
    [1_000_000, 250_000],
    [4 * 64 * 1024, 64 * 1024],
  ])('at rate %i the default burst is %i (a quarter second, at least 64 KiB)', (rate, burst) => {
    const bucket = new TokenBucket({ rateBytesPerS: rate, now: clock.now });
    expect(bucket.delayFor(burst)).toBe(0);
    void bucket.take(burst);
    expect(bucket.delayFor(1)).toBeGreaterThan(0);
  });

  it('giveBack returns tokens taken for bytes never sent, up to the burst', () => {
    const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 500, now: clock.now });
    expect(bucket.tryTake(400)).toBe(true);
    expect(bucket.tryTake(400)).toBe(false);
    bucket.giveBack(400);
    expect(bucket.tryTake(400)).toBe(true);
    bucket.giveBack(10_000);
    expect(bucket.delayFor(500)).toBe(0);
    expect(bucket.delayFor(501)).toBe(0); // a take above the burst waits only for a full bucket
    expect(bucket.tryTake(500)).toBe(true);
    expect(bucket.delayFor(1)).toBeGreaterThan(0);
  });

  it('setRate(null) makes it unlimited and a later rate applies again', () => {
    const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 500, now: clock.now });
    void bucket.take(500);
    bucket.setRate(null);
    expect(bucket.rateBytesPerS).toBeNull();
    expect(bucket.delayFor(1e9)).toBe(0);
    bucket.setRate(2000);
    expect(bucket.rateBytesPerS).toBe(2000);
    expect(bucket.delayFor(1)).toBeGreaterThan(0);
  });

  it('setRate keeps the refill earned at the old rate and clamps to the new burst', () => {
    const bucket = new TokenBucket({ rateBytesPerS: 1_000_000, now: clock.now });
    void bucket.take(250_000);
    clock.advance(100); // +100_000 tokens at the old rate
    bucket.setRate(1000); // burst becomes 64 KiB; the balance is clamped to it
    expect(bucket.delayFor(64 * 1024)).toBe(0);
    void bucket.take(64 * 1024);
    expect(bucket.delayFor(1000)).toBeCloseTo(1000, 6);
  });

  it('over any schedule, bytes granted never exceed burst + rate * elapsed', () => {
    const rate = 10_000;
    const burst = 2_000;
    const bucket = new TokenBucket({ rateBytesPerS: rate, burstBytes: burst, now: clock.now });
    const start = clock.ms;
    let granted = 0;
    const sizes = [700, 1500, 300, 2000, 50, 1200, 999, 1, 1800];
    for (let round = 0; round < 50; round++) {
      const size = sizes[round % sizes.length]!;
      // Whole milliseconds, as take() sleeps.
      clock.advance(Math.ceil(bucket.delayFor(size)));
      expect(bucket.delayFor(size)).toBe(0);
      void bucket.take(size);
      granted += size;
      expect(granted).toBeLessThanOrEqual(burst + (rate * (clock.ms - start)) / 1000 + 1e-6);
    }
    // And it does not under-deliver: rounding each wait up to a whole ms loses at most 1 ms per take.
    expect(granted).toBeGreaterThanOrEqual((rate * (clock.ms - start - 50)) / 1000);
  });

  describe('take with timers', () => {
    beforeEach(() => {
      jest.useFakeTimers();
    });
    afterEach(() => {
      jest.useRealTimers();
    });

    it('waits until enough tokens have refilled', async () => {
      const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 500, now: clock.now });
      await bucket.take(500);
      let done = false;
      const taking = bucket.take(100).then(() => {
        done = true;
      });
      clock.advance(50);
      await jest.advanceTimersByTimeAsync(50);
      expect(done).toBe(false);
      clock.advance(50);
      await jest.advanceTimersByTimeAsync(50);
      await taking;
      expect(done).toBe(true);
      expect(bucket.delayFor(1)).toBeCloseTo(1, 6);
    });

    it('an aborted signal rejects a waiting take with its reason', async () => {
      const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 500, now: clock.now });
      await bucket.take(500);
      const controller = new AbortController();
      const taking = bucket.take(100, controller.signal);
      const reason = Object.assign(new Error('stop'), { name: 'AbortError' });
      controller.abort(reason);
      await expect(taking).rejects.toBe(reason);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('serves waiting takes in the order they came, with one timer however many wait', async () => {
      // A seeder's upload: fifty connections wait for it, each with the chunk it is about to send.
      const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 100, now: clock.now });
      await bucket.take(100);
      const served: number[] = [];
      const takes = Array.from({ length: 50 }, (_, i) => bucket.take(100).then(() => served.push(i)));
      expect(bucket.waiting).toBe(50);
      expect(jest.getTimerCount()).toBe(1);
      for (let step = 0; step < 50; step++) {
        clock.advance(100);
        await jest.advanceTimersByTimeAsync(100);
        expect(served.length).toBe(step + 1);
        expect(jest.getTimerCount()).toBe(served.length < 50 ? 1 : 0);
      }
      await Promise.all(takes);
      expect(served).toEqual(Array.from({ length: 50 }, (_, i) => i));
    });

    it('a take that comes while others wait queues behind them, even when it would fit now', async () => {
      const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 500, now: clock.now });
      await bucket.take(500);
      const served: string[] = [];
      const big = bucket.take(400).then(() => served.push('big'));
      clock.advance(100); // 100 tokens: the small take would fit, the big one waits for 300 more
      const small = bucket.take(100).then(() => served.push('small'));
      await jest.advanceTimersByTimeAsync(0);
      expect(served).toEqual([]);
      clock.advance(400);
      await jest.advanceTimersByTimeAsync(400);
      await Promise.all([big, small]);
      expect(served).toEqual(['big', 'small']);
    });

    it('an aborted waiter leaves the queue and the next one is served in its place', async () => {
      const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 100, now: clock.now });
      await bucket.take(100);
      const controller = new AbortController();
      const first = bucket.take(100, controller.signal);
      first.catch(() => undefined);
      const served: string[] = [];
      const second = bucket.take(100).then(() => served.push('second'));
      controller.abort(new Error('cancelled'));
      await expect(first).rejects.toThrow('cancelled');
      expect(bucket.waiting).toBe(1);
      clock.advance(100);
      await jest.advanceTimersByTimeAsync(100);
      await second;
      expect(served).toEqual(['second']);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('keeps the tokens of a stall for the takes that waited through it (MAX_OWED_S), not only the burst', async () => {
      // The seeder's process was not scheduled for 600 ms while five chunks waited: all five are owed.
      const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 100, now: clock.now });
      await bucket.take(100);
      const served: number[] = [];
      const takes = Array.from({ length: 8 }, (_, i) => bucket.take(100).then(() => served.push(i)));
      clock.advance(600); // the timer (due at 100 ms) fires only now
      await jest.advanceTimersByTimeAsync(600);
      expect(served).toEqual([0, 1, 2, 3, 4, 5]);
      // And from there on the rate again: the seventh after 100 ms more.
      clock.advance(99);
      await jest.advanceTimersByTimeAsync(99);
      expect(served.length).toBe(6);
      clock.advance(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(served.length).toBe(7);
      clock.advance(100);
      await jest.advanceTimersByTimeAsync(100);
      await Promise.all(takes);
    });

    it('owes at most MAX_OWED_S of traffic, however long the stall', async () => {
      expect(MAX_OWED_S).toBe(1);
      const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 100, now: clock.now });
      await bucket.take(100);
      const served: number[] = [];
      const takes = Array.from({ length: 30 }, (_, i) => bucket.take(100).then(() => served.push(i)));
      clock.advance(5_000);
      await jest.advanceTimersByTimeAsync(5_000);
      expect(served.length).toBe(10); // one second's 1000 tokens, not five seconds' worth
      bucket.setRate(null);
      await Promise.all(takes);
    });

    it('an explicit maxOwedBytes bounds what a stall gives back', async () => {
      const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 100, maxOwedBytes: 300, now: clock.now });
      await bucket.take(100);
      const served: number[] = [];
      const takes = Array.from({ length: 10 }, (_, i) => bucket.take(100).then(() => served.push(i)));
      clock.advance(2_000);
      await jest.advanceTimersByTimeAsync(2_000);
      expect(served.length).toBe(3);
      bucket.setRate(null);
      await Promise.all(takes);
    });

    it('with stalls and waiters, bytes granted still never exceed burst + rate * elapsed', async () => {
      const rate = 10_000;
      const burst = 2_000;
      const bucket = new TokenBucket({ rateBytesPerS: rate, burstBytes: burst, now: clock.now });
      const start = clock.ms;
      let granted = 0;
      let limited = true;
      const takes: Array<Promise<void>> = [];
      for (let i = 0; i < 200; i++)
        takes.push(
          bucket.take(500).then(() => {
            if (!limited) return;
            granted += 500;
            expect(granted).toBeLessThanOrEqual(burst + (rate * (clock.ms - start)) / 1000 + 1e-6);
          }),
        );
      // Irregular wake-ups: on time, late, a long stall.
      for (const stepMs of [50, 3, 700, 20, 1_500, 10, 250, 5, 2_000, 100, 100, 100, 4_000]) {
        clock.advance(stepMs);
        await jest.advanceTimersByTimeAsync(stepMs);
      }
      // Only what a stall had beyond MAX_OWED_S is lost: 0.5 + 1 + 3 s here (the 700 ms one loses nothing).
      expect(granted).toBeGreaterThanOrEqual((rate * (clock.ms - start - 4_500)) / 1000 - 500);
      limited = false;
      bucket.setRate(null);
      await Promise.all(takes);
    });

    it('an idle bucket still saves only the burst', async () => {
      const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 100, now: clock.now });
      clock.advance(5_000);
      await bucket.take(100);
      let done = false;
      const taking = bucket.take(100).then(() => {
        done = true;
      });
      await jest.advanceTimersByTimeAsync(0);
      expect(done).toBe(false);
      clock.advance(100);
      await jest.advanceTimersByTimeAsync(100);
      await taking;
    });

    it('setRate(null) releases every waiting take', async () => {
      const bucket = new TokenBucket({ rateBytesPerS: 1000, burstBytes: 100, now: clock.now });
      await bucket.take(100);
      const takes = [bucket.take(100), bucket.take(100), bucket.take(100)];
      bucket.setRate(null);
      await Promise.all(takes);
      expect(bucket.waiting).toBe(0);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('sleep rejects at once when the signal is already aborted', async () => {
      const controller = new AbortController();
      const reason = new Error('already');
      controller.abort(reason);
      await expect(sleep(1000, controller.signal)).rejects.toBe(reason);
      expect(jest.getTimerCount()).toBe(0);
    });
  });
});
