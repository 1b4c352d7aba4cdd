/**
 * The few statistics a comparison shows per variant: the median and the range (min, max) over its
 * repeats. Values a run could not measure (null: it failed, or had no minimum) are left out.
 */

/** The median of the numbers, null when there are none (the mean of the middle two for an even count). */
export function median(values: readonly (number | null | undefined)[]): number | null {
  const sorted = measured(values).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The smallest and largest of the numbers, null when there are none. */
export function range(values: readonly (number | null | undefined)[]): [number, number] | null {
  const present = measured(values);
  if (present.length === 0) return null;
  return [Math.min(...present), Math.max(...present)];
}

/**
 * The empirical CDF of the values as steps: for each distinct value in order, the share of values at
 * or below it. `[{x: 1, p: 0.5}, {x: 3, p: 1}]` for [3, 1].
 */
export function cdfPoints(values: readonly number[]): { x: number; p: number }[] {
  const sorted = [...values].sort((a, b) => a - b);
  const points: { x: number; p: number }[] = [];
  sorted.forEach((x, i) => {
    const p = (i + 1) / sorted.length;
    if (points.length > 0 && points[points.length - 1]!.x === x) points[points.length - 1]!.p = p;
    else points.push({ x, p });
  });
  return points;
}

function measured(values: readonly (number | null | undefined)[]): number[] {
  return values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
}
