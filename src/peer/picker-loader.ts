/**
 * Resolves `--picker rarest|random|sequential|PATH` to a pick function, once, at start.
 *
 * PATH is a JavaScript module (CommonJS or ESM, resolved against the working directory) that exports
 * `pick` (docs/strategies.md). It is checked before the peer starts: it must load, export a function,
 * and answer a small constructed input with a valid choice; anything else is an `ERR_PICKER` error, so
 * a typo fails the start rather than the download. At run time the function is wrapped by
 * `guardPicker`: a throw or an invalid choice is logged and answered by `rarest`.
 */
import { createRequire } from 'node:module';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Bitfield } from '../protocol';
import { errorCode, errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { PeerError, PeerErrorCode } from './errors';
import type { PickFunction, PickInput } from './piece-picker';
import { describeChoice, guardPicker, isBuiltInPicker, isValidPick, PICKERS } from './pickers';

export interface LoadedPicker {
  /** `rarest`, `random`, `sequential`, or the module's absolute path. */
  name: string;
  pick: PickFunction;
  custom: boolean;
}

export interface LoadPickerInit {
  /** Relative paths resolve against this directory; default `process.cwd()`. */
  cwd?: string;
  /** Where a custom picker's run-time failures are reported. */
  logger: Logger;
}

/** The input a custom picker is first called with: chunk 0 held, the source holds 0..2, nothing asked yet. */
export function probeInput(): PickInput {
  const chunks = 4;
  const have = new Bitfield(chunks);
  have.set(0);
  const sourceHas = new Bitfield(chunks);
  for (const index of [0, 1, 2]) sourceHas.set(index);
  return {
    chunks,
    have,
    writing: new Set<number>(),
    sourceHas,
    askedOfSource: new Set<number>(),
    requesters: () => 0,
    availability: (index) => (index === 2 ? 1 : 2),
    maxRequesters: 2,
    endgame: () => false,
    front: 1,
    spread: 4,
    random: Math.random,
  };
}

function pickerError(spec: string, message: string, cause?: unknown): PeerError {
  const error = new PeerError(PeerErrorCode.Picker, `--picker ${spec}: ${message}`);
  if (cause !== undefined) (error as Error & { cause?: unknown }).cause = cause;
  return error;
}

async function importModule(path: string): Promise<unknown> {
  // require() first: it loads CommonJS synchronously everywhere (jest included); ESM needs import().
  if (extname(path) !== '.mjs') {
    try {
      return createRequire(__filename)(path) as unknown;
    } catch (error) {
      if (errorCode(error) !== 'ERR_REQUIRE_ESM') throw error;
    }
  }
  return (await import(pathToFileURL(path).href)) as unknown;
}

/** The exported pick function: `pick`, else a default export that is a function or has `pick`. */
function exportedPick(loaded: unknown): ((input: PickInput) => unknown) | undefined {
  if (typeof loaded === 'function') return loaded as (input: PickInput) => unknown;
  if (typeof loaded !== 'object' || loaded === null) return undefined;
  const named = (loaded as { pick?: unknown }).pick;
  if (typeof named === 'function') return named as (input: PickInput) => unknown;
  const fallback = (loaded as { default?: unknown }).default;
  return fallback === loaded ? undefined : exportedPick(fallback);
}

export async function loadPicker(spec: string, init: LoadPickerInit): Promise<LoadedPicker> {
  if (isBuiltInPicker(spec)) return { name: spec, pick: PICKERS[spec], custom: false };
  const path = resolve(init.cwd ?? process.cwd(), spec);
  let loaded: unknown;
  try {
    loaded = await importModule(path);
  } catch (error) {
    // The first line only: Node appends the require stack to a missing module's message.
    const reason = errorMessage(error).split('\n')[0] ?? '';
    throw pickerError(spec, `not rarest, random or sequential, and ${path} does not load: ${reason}`, error);
  }
  const pick = exportedPick(loaded);
  if (!pick) throw pickerError(spec, `${path} exports no function named "pick"`);
  const input = probeInput();
  let choice: unknown;
  try {
    choice = pick(input);
  } catch (error) {
    throw pickerError(spec, `pick threw on a test input: ${errorMessage(error)}`, error);
  }
  if (!isValidPick(input, choice)) {
    throw pickerError(
      spec,
      `pick returned ${describeChoice(choice)} on a test input (chunk 0 held, the source holds 0..2): ` +
        'a choice is a chunk index the source has and we lack, or undefined',
    );
  }
  return { name: path, pick: guardPicker(path, pick, init.logger), custom: true };
}
