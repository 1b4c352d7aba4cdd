/**
 * The scenario's `network` section: the JSON Schema fragment that `scenario/schema.ts` embeds, and the
 * types a validated section has. Links are symmetric: a link's conditions apply in both directions.
 *
 *     network:
 *       default: {latencyMs: 0, jitterMs: 0, lossPercent: 0, bandwidth: null}
 *       groups: {eu: [peer-1, peer-2], us: [peer-3, tracker]}
 *       links:
 *         - {between: [eu, us], latencyMs: 80, lossPercent: 1}
 *         - {between: [peer-1, peer-3], latencyMs: 150, bandwidth: 4M}
 *       peers:
 *         peer-1: {up: 2M, down: 8M}
 *
 * What the schema cannot check (names that exist, a node in two groups) is in `validate.ts`.
 */

/** Bytes per second: an integer, a size with the rate options' suffixes (`2M`, `512K`), or null (uncapped). */
export type Bandwidth = number | string | null;

/** Conditions of a link; each field left out keeps the value of a less specific entry (or the default). */
export interface LinkSpec {
  /** One-way delay, ms: the round trip between two nodes is twice it. */
  latencyMs?: number;
  /** Spread of the delay, ms (never reorders bytes within a TCP connection). */
  jitterMs?: number;
  /** Share of packets dropped, 0..100. */
  lossPercent?: number;
  /** Cap in each direction, bytes/s. */
  bandwidth?: Bandwidth;
}

export interface NetworkLink extends LinkSpec {
  /** Two nodes, two groups, or a node and a group: every pair across the two sides. */
  between: [string, string];
}

/** A peer's access link, in the units its rate options take (bytes/s). */
export interface AccessLink {
  up?: Bandwidth;
  down?: Bandwidth;
}

export interface ScenarioNetwork {
  default?: LinkSpec;
  groups?: Record<string, string[]>;
  links?: NetworkLink[];
  peers?: Record<string, AccessLink>;
}

/** The fields of a link, named so that every consumer (schema, resolver, steps) lists them once. */
export const LINK_FIELDS = ['latencyMs', 'jitterMs', 'lossPercent', 'bandwidth'] as const;

/** Delays above a minute are a typo, not a network (the peers' emulator refuses them too). */
export const MAX_DELAY_MS = 60_000;
export const SIZE_PATTERN = '^[0-9]+(\\.[0-9]+)?[kKmMgGtT]?([iI]?[bB])?$';
const NODE_NAME = '^[a-z0-9][a-z0-9_.-]{0,62}$';

const nodeName = { type: 'string', pattern: NODE_NAME } as const;
const delay = { type: 'number', minimum: 0, maximum: MAX_DELAY_MS } as const;
export const BANDWIDTH_SCHEMA = {
  anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: SIZE_PATTERN }, { type: 'null' }],
} as const;

export const LINK_SPEC_PROPERTIES = {
  latencyMs: delay,
  jitterMs: delay,
  lossPercent: { type: 'number', minimum: 0, maximum: 100 },
  bandwidth: BANDWIDTH_SCHEMA,
} as const;

/** Both ends of a link: nodes or groups. */
export const BETWEEN_SCHEMA = { type: 'array', items: nodeName, minItems: 2, maxItems: 2 } as const;

export const NETWORK_SCHEMA = {
  type: 'object',
  properties: {
    default: { type: 'object', properties: LINK_SPEC_PROPERTIES, additionalProperties: false },
    groups: {
      type: 'object',
      propertyNames: { pattern: NODE_NAME },
      additionalProperties: { type: 'array', items: nodeName, minItems: 1, uniqueItems: true },
    },
    links: {
      type: 'array',
      items: {
        type: 'object',
        properties: { between: BETWEEN_SCHEMA, ...LINK_SPEC_PROPERTIES },
        required: ['between'],
        additionalProperties: false,
      },
    },
    peers: {
      type: 'object',
      propertyNames: { pattern: NODE_NAME },
      additionalProperties: {
        type: 'object',
        properties: { up: BANDWIDTH_SCHEMA, down: BANDWIDTH_SCHEMA },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
} as const;
