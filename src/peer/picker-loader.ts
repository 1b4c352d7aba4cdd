/**
 * Resolves `--picker rarest|random|sequential|PATH` to a pick function, once, at start.
 *
 * PATH is a JavaScript module (CommonJS or ESM, resolved against the working directory) that exports
 * `pick` (docs/strategies.md). It is checked before the peer starts: it must load, export a function,
 * and answer a small constructed input with a valid choice; anything else is an `ERR_PICKER` error, so
 * a typo fails the start rather than the download.
 *
 * `--picker-isolation worker` (the default) runs the module in a sandbox thread without filesystem or
 * network access and with a time budget per call (isolated-picker.ts); the scheduler then gets one
 * pick function per source (`pickerFor`). `none` loads it into the peer itself, with Node's
 * `require`/`import`, and wraps it with `guardPicker`: a throw or an invalid choice is logged and
 * answered by `rarest`.
 */
import { createRequire } from 'node:module';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Bitfield } from '../protocol';
import { errorCode, errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { PeerError, PeerErrorCode } from './errors';
import type { PickFunction, PickInput } from './piece-picker';
import { IsolatedPicker } from './isolated-picker';
import type { IsolatedPickerInit } from './isolated-picker';
import { describeChoice, guardPicker, isBuiltInPicker, isValidPick, PICKERS } from './pickers';

/** How a picker module runs: in a sandbox thread (`worker`), or inside the peer (`none`). */
export const PICKER_ISOLATIONS = ['worker', 'none'] as const;
export type PickerIsolation = (typeof PICKER_ISOLATIONS)[number];

export interface LoadedPicker {
  /** `rarest`, `random`, `sequential`, or the module's absolute path. */
  name: string;
  /** One function for every source: built-ins, and modules loaded with isolation `none`. */
  pick?: PickFunction;
  /** One function per source, woken when its choice is ready: isolated modules. */
  pickerFor?: (wake: () => void) => PickFunction;
  custom: boolean;
  /** How a custom module runs (absent for built-ins). */
  isolation?: PickerIsolation;
  /** Stops the sandbox thread (isolated modules). */
  close?: () => Promise<void>;
}

export interface LoadPickerInit {
  /** Relative paths resolve against this directory; default `process.cwd()`. */
  cwd?: string;
  /** Where a custom picker's run-time failures are reported. */
  logger: Logger;
  /** Default `worker`. */
  isolation?: PickerIsolation;
  /** Budget and ranking depth of an isolated picker (tests). */
  isolated?: IsolatedPickerInit;
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

const PROBE_DESCRIPTION = 'on a test input (chunk 0 held, the source holds 0..2)';
const VALID_CHOICE = 'a choice is a chunk index the source has and we lack, or undefined';

async function loadIsolated(spec: string, path: string, init: LoadPickerInit): Promise<LoadedPicker> {
  let picker: IsolatedPicker;
  try {
    picker = await IsolatedPicker.open(path, init.logger, init.isolated);
  } catch (error) {
    const reason = errorMessage(error).split('\n')[0] ?? '';
    const what = /^exports no function/.test(reason)
      ? `${path} ${reason}`
      : `not rarest, random or sequential, and ${path} does not load: ${reason}`;
    throw pickerError(spec, what, error);
  }
  const answer = await picker.probe(probeInput());
  if (answer.error !== undefined) {
    await picker.close();
    const invalid = /^invalid choice (.*)$/.exec(answer.error);
    if (invalid) throw pickerError(spec, `pick returned ${invalid[1]} ${PROBE_DESCRIPTION}: ${VALID_CHOICE}`);
    if (answer.error.startsWith('threw'))
      throw pickerError(spec, `pick ${answer.error.replace(/^threw:?/, 'threw on a test input:')}`);
    throw pickerError(spec, `pick failed on a test input: ${answer.error}`);
  }
  return {
    name: path,
    pickerFor: (wake) => picker.forSource(wake),
    custom: true,
    isolation: 'worker',
    close: () => picker.close(),
  };
}

export async function loadPicker(spec: string, init: LoadPickerInit): Promise<LoadedPicker> {
  if (isBuiltInPicker(spec)) return { name: spec, pick: PICKERS[spec], custom: false };
  const path = resolve(init.cwd ?? process.cwd(), spec);
  if ((init.isolation ?? 'worker') === 'worker') return loadIsolated(spec, path, init);
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
    throw pickerError(spec, `pick returned ${describeChoice(choice)} ${PROBE_DESCRIPTION}: ${VALID_CHOICE}`);
  }
  return { name: path, pick: guardPicker(path, pick, init.logger), custom: true, isolation: 'none' };
}
