/**
 * `mapBounded`: `Promise.all(items.map(fn))` with at most `limit` calls in flight. The lab starts peers
 * through it so that 50 containers do not hit dockerd and the cores all at the same instant.
 */

/**
 * Calls `fn` on every item, at most `limit` at a time, and resolves with the results in the items' order.
 * After the first failure no new call starts; the calls in flight are awaited, then the first error is
 * thrown (so nothing is left running behind the caller's back).
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next;
      next += 1;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => worker()));
  if (failure !== undefined) throw failure.error;
  return results;
}
