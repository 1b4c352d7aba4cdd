/**
 * The piece-selection policies a peer can switch between (`--picker`), and the guard that keeps a
 * custom policy from stalling a download.
 *
 * Every policy is a `PickFunction` over the same `PickInput` (piece-picker.ts, docs/strategies.md).
 * A chunk is *eligible* for a source when the source holds it and we neither hold it, nor are writing
 * it, nor have asked this source for it. The built-ins differ only in which unrequested eligible chunk
 * they choose; all three fall back to the same endgame duplicate (fewest requesters, below
 * `maxRequesters`, only while `endgame()` allows it).
 */
import type { Logger } from '../shared/logger';
import { pickChunk } from './piece-picker';
import type { PickFunction, PickInput } from './piece-picker';

export const BUILT_IN_PICKERS = ['rarest', 'random', 'sequential'] as const;
export type BuiltInPickerName = (typeof BUILT_IN_PICKERS)[number];

/**
 * A custom picker's failures are logged once, then once per this many more, so a picker that throws on
 * every call (thousands per download) does not flood the log.
 */
export const PICKER_WARN_EVERY = 100;

function eligible(input: PickInput, index: number): boolean {
  return (
    input.sourceHas.has(index) && !input.have.has(index) && !input.askedOfSource.has(index) && !(input.writing?.has(index) ?? false)
  );
}

/** The endgame duplicate every built-in falls back to: the eligible chunk with the fewest requesters, lowest index first. */
function endgameDuplicate(input: PickInput): number | undefined {
  let best: number | undefined;
  let bestRequesters = Infinity;
  for (let index = 0; index < input.chunks; index++) {
    if (!eligible(input, index)) continue;
    const requesters = input.requesters(index);
    if (requesters > 0 && requesters < input.maxRequesters && requesters < bestRequesters) {
      best = index;
      bestRequesters = requesters;
    }
  }
  return best !== undefined && (input.endgame?.() ?? true) ? best : undefined;
}

/** `random`: uniformly among the eligible chunks nobody was asked for (one draw of `random()` per pick). */
export function pickRandom(input: PickInput): number | undefined {
  let count = 0;
  for (let index = 0; index < input.chunks; index++) if (eligible(input, index) && input.requesters(index) === 0) count++;
  if (count === 0) return endgameDuplicate(input);
  let skip = Math.min(count - 1, Math.floor((input.random ?? Math.random)() * count));
  for (let index = 0; index < input.chunks; index++) {
    if (!eligible(input, index) || input.requesters(index) !== 0) continue;
    if (skip === 0) return index;
    skip--;
  }
  return undefined;
}

/** `sequential`: the lowest-index eligible chunk nobody was asked for (what a streaming player would do). */
export function pickSequential(input: PickInput): number | undefined {
  // Every chunk below `front` is held, so the scan may start there.
  for (let index = Math.max(0, input.front ?? 0); index < input.chunks; index++) {
    if (eligible(input, index) && input.requesters(index) === 0) return index;
  }
  return endgameDuplicate(input);
}

export const PICKERS: Record<BuiltInPickerName, PickFunction> = {
  rarest: pickChunk,
  random: pickRandom,
  sequential: pickSequential,
};

export function isBuiltInPicker(name: string): name is BuiltInPickerName {
  return (BUILT_IN_PICKERS as readonly string[]).includes(name);
}

/**
 * Whether `choice` is an answer a picker may give: undefined (ask this source for nothing now), or an
 * eligible chunk index; a chunk already asked of another source only as an endgame duplicate (below
 * `maxRequesters` while `endgame()` allows it), so `--endgame off` binds custom pickers too.
 */
export function isValidPick(input: PickInput, choice: unknown): choice is number | undefined {
  if (choice === undefined) return true;
  if (typeof choice !== 'number' || !Number.isInteger(choice) || choice < 0 || choice >= input.chunks) return false;
  if (!eligible(input, choice)) return false;
  const requesters = input.requesters(choice);
  return requesters === 0 || (requesters < input.maxRequesters && (input.endgame?.() ?? true));
}

/** Describes a rejected choice for a log line or an error message. */
export function describeChoice(choice: unknown): string {
  if (typeof choice === 'number' || choice === null || typeof choice === 'boolean') return String(choice);
  if (typeof choice === 'string') return JSON.stringify(choice);
  return typeof choice;
}

/**
 * Wraps a custom picker so that a call that throws or answers an invalid choice is logged and answered
 * by `rarest` instead: a bug in the picker costs that one choice, never a stuck download (an invalid
 * index asked of a source would otherwise be re-picked forever).
 */
export function guardPicker(name: string, pick: (input: PickInput) => unknown, logger: Logger): PickFunction {
  let failures = 0;
  const fallback = (input: PickInput, reason: string): number | undefined => {
    failures++;
    if (failures === 1 || failures % PICKER_WARN_EVERY === 0) {
      logger.warn('custom picker failed; this choice falls back to rarest', { picker: name, reason, failures });
    }
    return pickChunk(input);
  };
  return (input) => {
    let choice: unknown;
    try {
      choice = pick(input);
    } catch (error) {
      return fallback(input, `threw: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!isValidPick(input, choice)) return fallback(input, `invalid choice ${describeChoice(choice)}`);
    return choice;
  };
}
