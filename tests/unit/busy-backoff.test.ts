/**
 * busyRetryMs: the pause before asking a busy source again doubles per round of refusals, stops at
 * BUSY_RETRY_MAX_MS, and is spread between half and one and a half times the step.
 */
import fc from 'fast-check';

import { BUSY_RETRY_BASE_MS, BUSY_RETRY_MAX_MS, busyRetryMs } from '../../src/peer/busy-backoff';

describe('busyRetryMs', () => {
  test('doubles with each round in a row, from the base to the cap', () => {
    const middle = (): number => 0.5;
    expect([1, 2, 3, 4, 5, 6, 50].map((streak) => busyRetryMs(streak, middle))).toEqual([100, 200, 400, 800, 1_600, 1_600, 1_600]);
  });

  test('a streak of 0 or less pauses as the first round does', () => {
    expect(busyRetryMs(0, () => 0.5)).toBe(BUSY_RETRY_BASE_MS);
    expect(busyRetryMs(-3, () => 0.5)).toBe(BUSY_RETRY_BASE_MS);
  });

  test('for any streak and draw: within half to one and a half of its step, never shorter than a lower streak at the same draw', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (streak, draw) => {
        const pause = busyRetryMs(streak, () => draw);
        const step = Math.min(BUSY_RETRY_MAX_MS, BUSY_RETRY_BASE_MS * 2 ** (streak - 1));
        expect(pause).toBeGreaterThanOrEqual(Math.floor(step / 2));
        expect(pause).toBeLessThanOrEqual(Math.ceil(step * 1.5));
        expect(pause).toBeGreaterThanOrEqual(busyRetryMs(streak - 1, () => draw));
      }),
    );
  });
});
