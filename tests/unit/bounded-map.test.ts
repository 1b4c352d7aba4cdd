/** `mapBounded`, the lab's bounded `Promise.all` for starting many peers. */
import { mapBounded } from '../../lab/bounded-map';

/** A promise that settles when the test says so. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}

describe('mapBounded', () => {
  it('returns the results in the order of the items', async () => {
    const results = await mapBounded([3, 1, 2], 2, async (n) => {
      await settle();
      return n * 10;
    });
    expect(results).toEqual([30, 10, 20]);
  });

  it('never has more than `limit` calls in flight, and starts the next as soon as one ends', async () => {
    const gates = Array.from({ length: 7 }, () => deferred<void>());
    let inFlight = 0;
    let maxInFlight = 0;
    const started: number[] = [];
    const all = mapBounded(gates, 3, async (gate, index) => {
      started.push(index);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await gate.promise;
      inFlight -= 1;
      return index;
    });
    await settle();
    expect(started).toEqual([0, 1, 2]);
    gates[1]!.resolve();
    await settle();
    expect(started).toEqual([0, 1, 2, 3]);
    for (const gate of gates) gate.resolve();
    await expect(all).resolves.toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(maxInFlight).toBe(3);
  });

  it('starts nothing new after a failure, waits for the calls in flight, then throws the first error', async () => {
    const gates = Array.from({ length: 5 }, () => deferred<void>());
    const started: number[] = [];
    let finished = 0;
    const all = mapBounded(gates, 2, async (gate, index) => {
      started.push(index);
      await gate.promise;
      finished += 1;
    });
    const outcome = all.then(
      () => 'resolved',
      (error: Error) => error.message,
    );
    await settle();
    gates[0]!.reject(new Error('peer-1 failed'));
    await settle();
    let settled = false;
    void outcome.then(() => (settled = true));
    await settle();
    expect(settled).toBe(false); // index 1 is still in flight
    gates[1]!.resolve();
    await expect(outcome).resolves.toBe('peer-1 failed');
    expect(started).toEqual([0, 1]);
    expect(finished).toBe(1);
  });

  it('handles no items and refuses a limit below 1', async () => {
    await expect(mapBounded([], 4, async () => 1)).resolves.toEqual([]);
    await expect(mapBounded([1], 0, async () => 1)).rejects.toThrow(RangeError);
  });
});
