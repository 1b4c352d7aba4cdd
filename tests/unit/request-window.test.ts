/**
 * The per-source request window against a simulated source: a path with a round trip `rttMs` and a
 * server that sends one chunk every `chunkMs`, first come first served. Requests are topped up the way
 * the download scheduler does it (only once half the window is free, then to the full window).
 */
import { FLOOR_WINDOW_MS, MIN_WINDOW, QUEUEING_LATENCY_MS, RequestWindow } from '../../src/peer/request-window';

interface Path {
  rttMs: number;
  /** The source's time to send one chunk (its upload rate, or its queue of other downloaders). */
  chunkMs: number;
  /** Other downloaders' chunks every request waits behind at the source (a busy seeder). */
  backlogMs?: number;
}

interface Simulated {
  /** Chunks per second over the second half of the run. */
  chunksPerS: number;
  /** The window after each chunk. */
  sizes: number[];
  endMs: number;
}

/** Runs `chunks` requests through `window`. */
function simulate(window: RequestWindow, path: (nowMs: number) => Path, chunks: number, startMs = 0): Simulated {
  let nowMs = startMs;
  let sourceFreeAtMs = startMs;
  const inflight: { sentAtMs: number; backAtMs: number }[] = [];
  const sizes: number[] = [];
  const arrivals: number[] = [];
  let sent = 0;
  while (arrivals.length < chunks) {
    if (inflight.length <= window.size / 2) {
      while (inflight.length < window.size && sent < chunks) {
        const { rttMs, chunkMs, backlogMs = 0 } = path(nowMs);
        const doneAtMs = Math.max(nowMs + rttMs / 2 + backlogMs, sourceFreeAtMs) + chunkMs;
        sourceFreeAtMs = doneAtMs;
        inflight.push({ sentAtMs: nowMs, backAtMs: doneAtMs + rttMs / 2 });
        sent++;
      }
    }
    const next = inflight.shift();
    if (next === undefined) break;
    nowMs = next.backAtMs;
    arrivals.push(nowMs);
    sizes.push(window.record(nowMs - next.sentAtMs, nowMs));
  }
  const half = Math.floor(arrivals.length / 2);
  const spanMs = (arrivals.at(-1) ?? 0) - (arrivals[half] ?? 0);
  return { chunksPerS: ((arrivals.length - 1 - half) * 1000) / spanMs, sizes, endMs: nowMs };
}

describe('RequestWindow', () => {
  it('starts at 2, never above maxInflight, never below 1', () => {
    expect(new RequestWindow({ maxInflight: 16 }).size).toBe(2);
    expect(new RequestWindow({ maxInflight: 1 }).size).toBe(1);
    const window = new RequestWindow({ maxInflight: 4 });
    for (let i = 0; i < 20; i++) window.record(10, i);
    expect(window.size).toBe(4);
    for (let i = 0; i < 20; i++) window.record(10 + QUEUEING_LATENCY_MS + 1, 100 + i);
    expect(window.size).toBe(MIN_WINDOW);
  });

  it('grows to maxInflight on a long fat link: 200 ms round trip, a chunk every 2 ms (regression)', () => {
    // The window used to react to the whole round trip (> 250 ms shrink, < 125 ms grow), so from a
    // 125 ms RTT up it never grew past its initial 2 and a single source gave 2 chunks per RTT.
    const window = new RequestWindow({ maxInflight: 8 });
    const { chunksPerS, sizes } = simulate(window, () => ({ rttMs: 200, chunkMs: 2 }), 400);
    expect(sizes.slice(10).every((size) => size === 8)).toBe(true);
    // 8 chunks per round trip, less the time the last of them takes to send.
    const ideal = 8 / 0.2;
    expect(chunksPerS).toBeGreaterThan(ideal * 0.9);
    expect(chunksPerS).toBeLessThanOrEqual(ideal * 1.01);
  });

  it('stays small at a rate-limited seeder (a chunk per second), where every extra request just waits', () => {
    for (const initial of [2, 16]) {
      const window = new RequestWindow({ maxInflight: 16, initial });
      window.setPathRtt(2);
      const { chunksPerS, sizes } = simulate(window, () => ({ rttMs: 2, chunkMs: 1000 }), 60);
      expect(Math.max(...sizes.slice(20))).toBeLessThanOrEqual(2);
      // The seeder's rate all the same: the window never starved it.
      expect(chunksPerS).toBeGreaterThan(0.95);
    }
  });

  it('shrinks when a source far away queues too: 200 ms round trip and a chunk every 400 ms', () => {
    const window = new RequestWindow({ maxInflight: 16, initial: 16 });
    window.setPathRtt(200);
    const { sizes } = simulate(window, () => ({ rttMs: 200, chunkMs: 400 }), 80);
    // One chunk in flight and one waiting covers the round trip; more only wait.
    expect(Math.max(...sizes.slice(40))).toBeLessThanOrEqual(3);
  });

  it('shrinks at a busy seeder, whose every chunk waits behind others, once it knows the path round trip', () => {
    const busy = (): Path => ({ rttMs: 2, chunkMs: 250, backlogMs: 1000 });
    const measured = new RequestWindow({ maxInflight: 16 });
    measured.setPathRtt(2);
    expect(Math.max(...simulate(measured, busy, 40).sizes.slice(10))).toBeLessThanOrEqual(2);
    // From chunk round trips alone the backlog is the floor and reads as no queue at all.
    const guessed = new RequestWindow({ maxInflight: 16 });
    expect(Math.max(...simulate(guessed, busy, 40).sizes.slice(10))).toBeGreaterThan(2);
  });

  it('forgets an old floor: after a link grows from 20 ms to 300 ms round trip the window grows again', () => {
    const window = new RequestWindow({ maxInflight: 8 });
    const { endMs } = simulate(window, () => ({ rttMs: 20, chunkMs: 1 }), 200);
    expect(window.size).toBe(8);
    const { sizes } = simulate(window, () => ({ rttMs: 300, chunkMs: 1 }), 200, endMs);
    // Right after the change every round trip reads as 280 ms of queueing, so the window shrinks ...
    expect(Math.min(...sizes)).toBeLessThan(8);
    // ... until the old floor ages out (at most two epochs), then it is back at the full window.
    expect(sizes.at(-1)).toBe(8);
    expect(window.floorMs).toBeGreaterThanOrEqual(300);
    expect(FLOOR_WINDOW_MS).toBeLessThanOrEqual(10_000);
  });
});
