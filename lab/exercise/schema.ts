/**
 * An exercise: `lab/exercises/NN-slug/exercise.yaml`. A leaf module (types and the JSON Schema only), so the
 * loader, the grader and the docs test can all name the shapes without importing each other.
 *
 * The scenario is the ordinary scenario format (lab/scenario/schema.ts), inline or as a path beside the
 * exercise. String values in it may name a parameter as `${name}`: a value that is exactly `${name}`
 * becomes the drawn number, one that contains it gets the number spliced in (lab/exercise/parameters.ts).
 */
import type { PeerDefaults } from '../scenario/peer-defaults';

export const BANDS = ['validity', 'integrity', 'performance', 'robustness'] as const;

/**
 * `catches-variant`: in the run of the broken swarm `variant`, one of the student's assertions failed.
 * `sweep-bound`: at every count of downloaders of the `sweep`, the distribution took at most `atMost` x
 * the theoretical minimum. `sweep-growth`: the distribution time at the last count over the first is at
 * most `atMost` (the client-server prediction is their ratio of counts).
 */
export const VARIANT_SWEEP_KINDS = ['catches-variant', 'sweep-bound', 'sweep-growth'] as const;
export type Band = (typeof BANDS)[number];

export const CHECK_KINDS = [
  'started',
  'completed',
  'verified',
  'distribution-time',
  'seeder-upload',
  'duplicate-bytes',
  'survives-fault',
  'assertion',
  // The student's assertions against broken swarms, and a sweep over the number of downloaders.
  ...VARIANT_SWEEP_KINDS,
  // Groups of peers compared (the tit-for-tat exercise): lab/exercise/grade.ts, measureGroupCompletion.
  'group-completion',
] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

/** A parameter drawn per student within [min, max], on a grid of `step` (default 1). */
export interface ParameterRange {
  min: number;
  max: number;
  step?: number;
  /** What the value means, for `show` ("file size in bytes"). */
  describe?: string;
}

/** A peer setting the student may choose, within bounds (`--set NAME=VALUE`). */
export interface SettingBound {
  min: number;
  max: number;
}

export interface ExerciseChange {
  /** The student's piece-selection module (`--picker PATH`), given to these peers (default: every peer). */
  picker?: { peers?: string[] };
  /** Peer settings (docs/strategies.md names) the student may set for every peer, and their bounds. */
  settings?: Partial<Record<'maxInflight', SettingBound>>;
  /**
   * A scenario of the student's own (`--scenario FILE`); its `locked` fields must equal the exercise's
   * (default: peers, chunkSize, network, peerDefaults).
   */
  scenario?: { locked?: string[] };
  /** Assert steps of the student's own (`--assertions FILE`), run after the scenario's steps: at most `max`. */
  assertions?: { max?: number };
  /**
   * The student's uploader policy module (`--uploader PATH`, docs/strategies.md "Whom to upload to"),
   * given to these peers (default: every peer), run isolated like a picker module.
   */
  uploader?: { peers?: string[] };
}

/**
 * A deliberately broken swarm: the exercise's scenario with some peers' environment changed (a free
 * rider: `SWARMLAB_FREE_RIDE: "1"`) and steps inserted before the step at index `at` (default: after the
 * last step, before the student's assertions). Its run is graded by `catches-variant` checks.
 */
export interface BrokenVariant {
  name: string;
  /** What is broken, for the teacher (the student sees the check's `describe`). */
  describe?: string;
  env?: Record<string, Record<string, string>>;
  steps?: Record<string, unknown>[];
  at?: number;
}

/**
 * Runs the scenario once per count of downloaders. peer-1 is the seeder; the scenario (and a student's
 * scenario) may use `${N}` (the count), `${peers}` (N + 1) and `${downloaders}` (the list peer-2 ..
 * peer-(N+1), in place of a step's `peers`).
 */
export interface DownloaderSweep {
  downloaders: number[];
}

export interface ExerciseCheck {
  id: string;
  band: Band;
  kind: CheckKind;
  points: number;
  hint: string;
  /** Shown by `show` and in the grade without its threshold (hidden variants count it only). */
  describe?: string;
  /** The file the check measures (distribution-time, seeder-upload, duplicate-bytes). */
  file?: string;
  /** The seeder whose upload counts (seeder-upload). */
  peer?: string;
  /** The measurement must be at most this: a ratio to the minimum, copies of the file, a share of the file. */
  atMost?: number;
  /** The index (from 0) of the scenario's `assert` step this check reads (assertion); default every one. */
  step?: number;
  /** The broken variant whose run this check reads (catches-variant). */
  variant?: string;
  // group-completion: when `peers` completed `file`, against `versus` (atLeast) or against their bound (atMost).
  /** The group measured (group-completion). */
  peers?: string[];
  /** The group compared with: the median completion of `versus` over that of `peers` must be at least `atLeast`. */
  versus?: string[];
  /** The measurement must be at least this (group-completion with `versus`). */
  atLeast?: number;
}

export interface Exercise {
  id: string;
  title: string;
  goal: string;
  /** A scenario object, or the path of a scenario file relative to the exercise's folder. */
  scenario: string | Record<string, unknown>;
  parameters?: Record<string, ParameterRange>;
  /**
   * Values computed from the drawn parameters: a product of parameter names and numbers, rounded to an
   * integer (`fileBytes: "chunks * 16384"`), usable as `${name}` like a parameter.
   */
  derived?: Record<string, string>;
  change: ExerciseChange;
  /** Runs a timed check takes the median of, unless `--runs K` (default 1). */
  runs?: number;
  checks: ExerciseCheck[];
  /** Broken swarms the student's assertions must catch (catches-variant checks). */
  variants?: BrokenVariant[];
  /** Run once per count of downloaders (sweep-bound, sweep-growth checks). */
  sweep?: DownloaderSweep;
}

const SETTING_BOUND_SCHEMA = {
  type: 'object',
  properties: { min: { type: 'integer' }, max: { type: 'integer' } },
  required: ['min', 'max'],
  additionalProperties: false,
} as const;

export const EXERCISE_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^[0-9]{2}-[a-z0-9-]+$' },
    title: { type: 'string', minLength: 1, maxLength: 120 },
    goal: { type: 'string', minLength: 1 },
    scenario: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'object' }] },
    parameters: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9]*$' },
      additionalProperties: {
        type: 'object',
        properties: {
          min: { type: 'number' },
          max: { type: 'number' },
          step: { type: 'number', exclusiveMinimum: 0 },
          describe: { type: 'string' },
        },
        required: ['min', 'max'],
        additionalProperties: false,
      },
    },
    derived: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9]*$' },
      additionalProperties: { type: 'string', pattern: '^\\s*[A-Za-z0-9.]+(\\s*\\*\\s*[A-Za-z0-9.]+)*\\s*$' },
    },
    change: {
      type: 'object',
      properties: {
        picker: {
          type: 'object',
          properties: { peers: { type: 'array', items: { type: 'string' }, minItems: 1 } },
          additionalProperties: false,
        },
        settings: {
          type: 'object',
          properties: { maxInflight: SETTING_BOUND_SCHEMA },
          additionalProperties: false,
        },
        scenario: {
          type: 'object',
          properties: { locked: { type: 'array', items: { type: 'string' } } },
          additionalProperties: false,
        },
        assertions: {
          type: 'object',
          properties: { max: { type: 'integer', minimum: 1, maximum: 50 } },
          additionalProperties: false,
        },
        uploader: {
          type: 'object',
          properties: { peers: { type: 'array', items: { type: 'string' }, minItems: 1 } },
          additionalProperties: false,
        },
      },
      additionalProperties: false,
    },
    runs: { type: 'integer', minimum: 1, maximum: 9 },
    checks: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          id: { type: 'string', pattern: '^[a-z0-9-]+$' },
          band: { enum: [...BANDS] },
          kind: { enum: [...CHECK_KINDS] },
          points: { type: 'integer', minimum: 0 },
          hint: { type: 'string', minLength: 1 },
          describe: { type: 'string' },
          file: { type: 'string', minLength: 1 },
          peer: { type: 'string', minLength: 1 },
          atMost: { type: 'number', exclusiveMinimum: 0 },
          step: { type: 'integer', minimum: 0 },
          variant: { type: 'string', minLength: 1 },
          peers: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
          versus: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
          atLeast: { type: 'number', exclusiveMinimum: 0 },
        },
        required: ['id', 'band', 'kind', 'points', 'hint'],
        additionalProperties: false,
      },
    },
    variants: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9-]+$' },
          describe: { type: 'string' },
          env: {
            type: 'object',
            additionalProperties: {
              type: 'object',
              propertyNames: { pattern: '^[A-Z_][A-Z0-9_]*$' },
              additionalProperties: { type: 'string' },
            },
          },
          steps: { type: 'array', items: { type: 'object' } },
          at: { type: 'integer', minimum: 0 },
        },
        required: ['name'],
        additionalProperties: false,
      },
    },
    sweep: {
      type: 'object',
      properties: {
        downloaders: {
          type: 'array',
          items: { type: 'integer', minimum: 1, maximum: 100 },
          minItems: 2,
          uniqueItems: true,
        },
      },
      required: ['downloaders'],
      additionalProperties: false,
    },
  },
  required: ['id', 'title', 'goal', 'scenario', 'change', 'checks'],
  additionalProperties: false,
} as const;

/** The peer settings `--set` may name: the scenario's `peerDefaults` keys that are numbers. */
export type SettingName = keyof ExerciseChange['settings'] & keyof PeerDefaults;

/** What `--hidden FILE` holds: variants of the parameters a teacher grades with but does not show. */
export interface HiddenVariants {
  variants: { name: string; parameters: Record<string, number> }[];
}

export const HIDDEN_SCHEMA = {
  type: 'object',
  properties: {
    variants: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', minLength: 1 },
          parameters: { type: 'object', additionalProperties: { type: 'number' } },
        },
        required: ['name', 'parameters'],
        additionalProperties: false,
      },
    },
  },
  required: ['variants'],
  additionalProperties: false,
} as const;

/** The kinds whose measurement depends on the machine's speed: the median of the runs counts. */
export const TIMED_KINDS: ReadonlySet<CheckKind> = new Set(['distribution-time', 'group-completion']);

/** The kinds that need `atMost`, and what it bounds. */
export const BOUNDED_KINDS: Readonly<Partial<Record<CheckKind, string>>> = {
  'distribution-time': 'ratio to the theoretical minimum',
  'seeder-upload': 'copies of the file',
  'duplicate-bytes': 'share of the file',
  'sweep-bound': 'ratio to the theoretical minimum, at every count of downloaders',
  'sweep-growth': 'distribution time at the last count of downloaders over the first',
};
