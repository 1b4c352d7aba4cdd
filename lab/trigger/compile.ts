/**
 * `when:` conditions of scenario steps: their scenario format (JSON Schema fragment and types) and their
 * compiled form, a discriminated union that `evaluate.ts` judges against the run's state.
 *
 * `when:` means "wait until": the step waits for its condition to hold, then runs (unlike a workflow
 * engine's skip-if-false). A condition that holds already when the step is reached fires at once.
 */

/** `{progress: {peer, file, atLeast}}`: `peer` holds at least this share (0..1) of `file`'s chunks. */
export interface ProgressCondition {
  peer: string;
  file: string;
  atLeast: number;
}

/**
 * `{holders: {file, atMost}}`: some chunk of `file` is held by at least one and at most `atMost` nodes that
 * are up. A node holding the whole file is not counted unless `includeComplete`.
 */
export interface HoldersCondition {
  file: string;
  atMost: number;
  includeComplete?: boolean;
}

/** `{completed: {file, peers}}`: at least `peers` downloaders hold the whole of `file`. */
export interface CompletedCondition {
  file: string;
  peers: number;
}

/** `{transfers: {from, atLeast}}`: `from` has served at least this many chunks (of `file`, when given). */
export interface TransfersCondition {
  from: string;
  atLeast: number;
  file?: string;
}

/** A step's `when:` as written: exactly one condition, and `within` seconds to wait at most. */
export interface When {
  progress?: ProgressCondition;
  holders?: HoldersCondition;
  completed?: CompletedCondition;
  transfers?: TransfersCondition;
  /** Seconds to wait at most (default DEFAULT_WITHIN_S); the step fails if the condition never holds. */
  within?: number;
}

export const TRIGGER_KINDS = ['progress', 'holders', 'completed', 'transfers'] as const;
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

/** The name a step's `peer` takes to act on the node that fired its `holders` trigger. */
export const HOLDER_REF = '$holder';

/** How long a trigger waits when its `when:` gives no `within`: as long as a step may take by default. */
export const DEFAULT_WITHIN_S = 120;

export type Trigger =
  | ({ kind: 'progress' } & ProgressCondition)
  | ({ kind: 'holders' } & HoldersCondition)
  | ({ kind: 'completed' } & CompletedCondition)
  | ({ kind: 'transfers' } & TransfersCondition);

export interface CompiledTrigger {
  trigger: Trigger;
  withinS: number;
  /** `holders of a.bin <= 1`, for the transcript and the `trigger` event. */
  description: string;
}

/** The conditions a `when:` names (a valid one names exactly one). */
export function conditionsOf(when: When): TriggerKind[] {
  return TRIGGER_KINDS.filter((kind) => when[kind] !== undefined);
}

/** Compiles a validated `when:` (exactly one condition, checked by load.ts). */
export function compileWhen(when: When): CompiledTrigger {
  const trigger = triggerOf(when);
  return { trigger, withinS: when.within ?? DEFAULT_WITHIN_S, description: describeTrigger(trigger) };
}

function triggerOf(when: When): Trigger {
  if (when.progress !== undefined) return { kind: 'progress', ...when.progress };
  if (when.holders !== undefined) return { kind: 'holders', ...when.holders };
  if (when.completed !== undefined) return { kind: 'completed', ...when.completed };
  if (when.transfers !== undefined) return { kind: 'transfers', ...when.transfers };
  throw new TypeError('a when: condition needs one of progress, holders, completed, transfers');
}

export function describeTrigger(trigger: Trigger): string {
  switch (trigger.kind) {
    case 'progress':
      return `${trigger.peer} has ${percent(trigger.atLeast)} of ${trigger.file}`;
    case 'holders':
      return `a chunk of ${trigger.file} held by <= ${trigger.atMost} node(s)${trigger.includeComplete === true ? '' : ' (complete holders aside)'}`;
    case 'completed':
      return `${trigger.peers} peer(s) completed ${trigger.file}`;
    case 'transfers':
      return `${trigger.from} served ${trigger.atLeast} chunk(s)${trigger.file === undefined ? '' : ` of ${trigger.file}`}`;
    default: {
      const unknown: never = trigger;
      return unknown;
    }
  }
}

export function percent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

const peerName = { type: 'string', pattern: '^[a-z0-9][a-z0-9_.-]{0,62}$' } as const;
const fileName = { type: 'string', minLength: 1, maxLength: 255 } as const;
const count = { type: 'integer', minimum: 1, maximum: 1_000_000 } as const;

function condition(properties: Record<string, unknown>, required: string[]): Record<string, unknown> {
  return { type: 'object', properties, required, additionalProperties: false };
}

/** The `when:` of a step; load.ts checks that it names exactly one condition, and the names it uses. */
export const WHEN_SCHEMA = {
  type: 'object',
  properties: {
    progress: condition(
      { peer: peerName, file: fileName, atLeast: { type: 'number', exclusiveMinimum: 0, maximum: 1 } },
      ['peer', 'file', 'atLeast'],
    ),
    holders: condition(
      { file: fileName, atMost: { type: 'integer', minimum: 1, maximum: 64 }, includeComplete: { type: 'boolean' } },
      ['file', 'atMost'],
    ),
    completed: condition({ file: fileName, peers: { type: 'integer', minimum: 1, maximum: 64 } }, ['file', 'peers']),
    transfers: condition({ from: peerName, atLeast: count, file: fileName }, ['from', 'atLeast']),
    within: { type: 'number', exclusiveMinimum: 0, maximum: 3600 },
  },
  additionalProperties: false,
} as const;
