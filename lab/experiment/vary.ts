/**
 * `--vary KEY=V1,V2`: parsing each option into an axis and expanding the axes into variants (their
 * cartesian product). Pure: no Docker, no files, so every rule is checked by unit tests.
 *
 * KEY is a peer setting of `peerDefaults` (lab/scenario/peer-defaults.ts), or `image` (the peer image
 * tag), for every peer; `peer-3.picker` sets it for that one peer. Values are checked against the same
 * bounds the scenario schema uses, so a bad value fails before any container starts.
 */
import Ajv from 'ajv';

import { PEER_DEFAULTS_SCHEMA, type PeerDefaults } from '../scenario/peer-defaults';
import { VaryKeyError, VaryValueError } from './errors';

export type PeerSettingKey = keyof PeerDefaults;
export type VaryKey = PeerSettingKey | 'image';

export const PEER_SETTING_KEYS = Object.keys(PEER_DEFAULTS_SCHEMA.properties) as PeerSettingKey[];
export const VARY_KEYS: readonly VaryKey[] = [...PEER_SETTING_KEYS, 'image'];

/** Settings whose values are whole numbers (written `65536`, or `64K`, `1M` for sizes). */
const NUMERIC_KEYS: ReadonlySet<VaryKey> = new Set(['maxInflight', 'chunkSize']);

/** Every run of a compare is a real run: a bound keeps a typo (`--vary chunkSize=1,2,...`) from meaning hours. */
export const MAX_VARIANTS = 64;

/** A Docker image reference: repository[:tag][@digest], lowercase repository as Docker requires. */
const IMAGE_PATTERN = /^[a-z0-9][a-z0-9._/-]{0,254}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
const PEER_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

export type VaryValue = string | number;

/** One `--vary`: a setting, for every peer or for one, and the values it takes in turn. */
export interface VaryAxis {
  /** As written before `=`: `picker`, `peer-3.picker`; the key of the setting in each variant's `vary`. */
  name: string;
  key: VaryKey;
  /** The one peer it applies to; undefined: every peer. */
  peer?: string;
  values: VaryValue[];
}

/** One combination of the axes' values, keyed by axis name: `{ picker: 'rarest', 'peer-3.endgame': 'off' }`. */
export type Variant = Record<string, VaryValue>;

const ajv = new Ajv({ allErrors: true, strict: true });
const validators = new Map(
  PEER_SETTING_KEYS.map((key) => [
    key,
    ajv.compile({ ...PEER_DEFAULTS_SCHEMA, required: [key] } as Record<string, unknown>),
  ]),
);

function isVaryKey(key: string): key is VaryKey {
  return (VARY_KEYS as readonly string[]).includes(key);
}

function parseNumber(text: string): number | undefined {
  const match = /^(\d+)([KM]?)$/i.exec(text);
  if (match === null) return undefined;
  const unit = match[2]!.toUpperCase();
  return Number(match[1]) * (unit === 'K' ? 1024 : unit === 'M' ? 1024 * 1024 : 1);
}

function parseValue(axis: string, key: VaryKey, text: string): VaryValue {
  if (key === 'image') {
    if (!IMAGE_PATTERN.test(text)) throw new VaryValueError(`--vary ${axis}: "${text}" is not an image reference`);
    return text;
  }
  const value = NUMERIC_KEYS.has(key) ? parseNumber(text) : text;
  const validate = validators.get(key)!;
  if (value === undefined || !validate({ [key]: value })) {
    const why = validate.errors?.[0]?.message ?? 'must be a whole number';
    throw new VaryValueError(`--vary ${axis}: "${text}" is not a valid ${key} (${why})`);
  }
  return value;
}

/** Parses one `--vary KEY=V1,V2[,...]`. */
export function parseVary(spec: string): VaryAxis {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new VaryValueError(`--vary "${spec}" must be KEY=V1,V2,... (e.g. picker=rarest,sequential)`);
  const name = spec.slice(0, eq).trim();
  const texts = spec
    .slice(eq + 1)
    .split(',')
    .map((value) => value.trim());
  const dot = name.lastIndexOf('.');
  const peer = dot < 0 ? undefined : name.slice(0, dot);
  const key = dot < 0 ? name : name.slice(dot + 1);
  if (!isVaryKey(key)) {
    throw new VaryKeyError(
      `--vary ${name}: unknown setting "${key}" (one of: ${VARY_KEYS.join(', ')}, or PEER.SETTING)`,
    );
  }
  if (peer !== undefined && !PEER_NAME_PATTERN.test(peer)) {
    throw new VaryKeyError(`--vary ${name}: "${peer}" is not a peer name`);
  }
  if (texts.some((text) => text === '')) throw new VaryValueError(`--vary ${name}: empty value in "${spec}"`);
  const values = texts.map((text) => parseValue(name, key, text));
  const seen = new Set<string>();
  for (const value of values) {
    if (seen.has(String(value))) throw new VaryValueError(`--vary ${name}: ${String(value)} is given twice`);
    seen.add(String(value));
  }
  return { name, key, ...(peer === undefined ? {} : { peer }), values };
}

/**
 * Every combination of the axes' values, the first axis varying slowest:
 * `picker=a,b` x `endgame=on,off` gives a/on, a/off, b/on, b/off.
 */
export function expandVariants(axes: readonly VaryAxis[]): Variant[] {
  if (axes.length === 0) throw new VaryValueError('compare needs at least one --vary KEY=V1,V2');
  const names = new Set<string>();
  for (const axis of axes) {
    if (names.has(axis.name)) throw new VaryValueError(`--vary ${axis.name} is given twice; list its values once`);
    names.add(axis.name);
  }
  const count = axes.reduce((product, axis) => product * axis.values.length, 1);
  if (count > MAX_VARIANTS) {
    throw new VaryValueError(`--vary gives ${count} combinations; at most ${MAX_VARIANTS} (each one is a real run)`);
  }
  let variants: Variant[] = [{}];
  for (const axis of axes) {
    variants = variants.flatMap((variant) => axis.values.map((value) => ({ ...variant, [axis.name]: value })));
  }
  return variants;
}

/** `picker=rarest endgame=off`: a variant as one short label. */
export function variantLabel(variant: Variant): string {
  return Object.entries(variant)
    .map(([name, value]) => `${name}=${String(value)}`)
    .join(' ');
}
