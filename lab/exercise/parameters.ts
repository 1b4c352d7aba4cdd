/**
 * Per-student parameters: each drawn within its range from a seed derived from the student's id and the
 * exercise, so a student gets the same values on every `show` and `check`, a classmate different ones,
 * and a teacher can re-run a disputed grade from the seed in its footer. Pure: no I/O.
 */
import { createHash } from 'node:crypto';

import type { ParameterRange } from './schema';

/** The 32-bit seed of a student on an exercise. */
export function studentSeed(student: string, exerciseId: string): number {
  return createHash('sha256').update(`${exerciseId}\u0000${student}`).digest().readUInt32BE(0);
}

/** mulberry32: a small deterministic generator, the same sequence on every platform. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws every parameter on its grid (`min + k·step`, within [min, max]), in the order of their names. */
export function drawParameters(ranges: Readonly<Record<string, ParameterRange>>, seed: number): Record<string, number> {
  const next = generator(seed);
  const drawn: Record<string, number> = {};
  for (const name of Object.keys(ranges).sort()) {
    const range = ranges[name]!;
    const step = range.step ?? 1;
    const slots = Math.floor((range.max - range.min) / step + 1e-9) + 1;
    const value = range.min + Math.floor(next() * slots) * step;
    // Grids of decimals (step 0.1) must not print as 0.30000000000000004.
    drawn[name] = Number(value.toPrecision(12));
  }
  return drawn;
}

/**
 * The drawn parameters and the derived values (`"chunks * 16384"`: a product of names and numbers,
 * rounded), or the first factor that is neither a number nor a parameter.
 */
export function withDerived(
  values: Readonly<Record<string, number>>,
  derived: Readonly<Record<string, string>> = {},
): Record<string, number> {
  const all: Record<string, number> = { ...values };
  for (const [name, expression] of Object.entries(derived)) {
    let product = 1;
    for (const factor of expression.split('*').map((f) => f.trim())) {
      const value = /^[0-9.]+$/.test(factor) ? Number(factor) : values[factor];
      if (value === undefined || Number.isNaN(value))
        throw new RangeError(`"${factor}" is neither a number nor a parameter`);
      product *= value;
    }
    all[name] = Math.round(product);
  }
  return all;
}

const PLACEHOLDER = /\$\{([A-Za-z][A-Za-z0-9]*)\}/g;
const WHOLE_PLACEHOLDER = /^\$\{([A-Za-z][A-Za-z0-9]*)\}$/;

/** Names used as `${name}` anywhere in the value that are not among `values`. */
export function unknownPlaceholders(value: unknown, values: Readonly<Record<string, number>>): string[] {
  const unknown = new Set<string>();
  const visit = (node: unknown): void => {
    if (typeof node === 'string') {
      for (const match of node.matchAll(PLACEHOLDER)) if (!(match[1]! in values)) unknown.add(match[1]!);
    } else if (Array.isArray(node)) node.forEach(visit);
    else if (typeof node === 'object' && node !== null) Object.values(node).forEach(visit);
  };
  visit(value);
  return [...unknown];
}

/** A copy of `value` with every `${name}` replaced: a whole-string placeholder by the number itself. */
export function substituteParameters(value: unknown, values: Readonly<Record<string, number>>): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_PLACEHOLDER.exec(value);
    if (whole !== null && whole[1]! in values) return values[whole[1]!];
    return value.replace(PLACEHOLDER, (text, name: string) => (name in values ? String(values[name]) : text));
  }
  if (Array.isArray(value)) return value.map((item) => substituteParameters(item, values));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteParameters(v, values)]));
  }
  return value;
}
