/**
 * JSON Schema of a lab scenario (draft 2020-12 subset that ajv 8 compiles), and the TypeScript types
 * that a validated scenario has. `load.ts` compiles it once and adds the checks a schema cannot
 * express (peer names that exist, `file` where a check needs one).
 *
 * A scenario is a list of steps replayed in order. Each step starts when the previous one has finished,
 * or `after` seconds later, or not before `at` seconds from the start of the scenario, or once its `when:`
 * condition on the swarm's state holds.
 */
import { MAX_CHUNK_BYTES } from '../../src/protocol';
import { WHEN_SCHEMA, type When } from '../trigger/compile';
import {
  BETWEEN_SCHEMA,
  LINK_FIELDS,
  LINK_SPEC_PROPERTIES,
  NETWORK_SCHEMA,
  type LinkSpec,
  type ScenarioNetwork,
} from '../network/network-schema';
import { PEER_DEFAULTS_SCHEMA, type PeerDefaults } from './peer-defaults';

/** Docker verbs on a step's containers; they differ only in the verb (`start` then waits until ready). */
export const CONTAINER_VERBS = ['start', 'stop', 'kill', 'pause', 'unpause'] as const;
/** A container leaves or rejoins the run's network. */
export const NETWORK_ACTIONS = ['disconnect-network', 'connect-network'] as const;
/** Actions on containers, the tracker's included. */
export const PEER_ACTIONS = [...CONTAINER_VERBS, ...NETWORK_ACTIONS] as const;
/** Control commands without arguments; `files` and `status` print what the peer answers. */
export const CONTROL_ACTIONS = ['connect', 'disconnect', 'publish', 'files', 'status'] as const;

/** The file `fill-disk` writes into the data directory (hidden, so `publish` skips it) and `free-disk` removes. */
export const FILLER_FILE = '.swarmlab-fill';

export type ContainerVerb = (typeof CONTAINER_VERBS)[number];
export type NetworkAction = (typeof NETWORK_ACTIONS)[number];
export type ContainerAction = (typeof PEER_ACTIONS)[number];
export type SimpleControlAction = (typeof CONTROL_ACTIONS)[number];

/** `peer-3`, `tracker`, or for `peers` the word `all` (every peer, not the tracker). */
export type Target = { peer: string; peers?: never } | { peers: string[] | 'all'; peer?: never };

export interface StepTiming {
  /** Seconds from the start of the scenario before which the step does not start. */
  at?: number;
  /** Seconds to wait after the previous step finished. */
  after?: number;
  /** Instead of `at`/`after`: wait until this condition on the swarm's state holds (lab/trigger). */
  when?: When;
  /** A note printed when the step starts. */
  note?: string;
  /** Upper bound for this step, in seconds. */
  timeoutSeconds?: number;
  /**
   * This step injects the scenario's fault (at most one step per scenario): `chaos` measures the time to
   * recover from its start to the completion of the last download that finishes after it.
   */
  fault?: boolean;
}

export type ContainerStep = StepTiming & Target & { action: ContainerVerb };
export type NetworkStep = StepTiming & Target & { action: NetworkAction };
export type SimpleControlStep = StepTiming & Target & { action: SimpleControlAction };
export type GenerateStep = StepTiming &
  Target & { action: 'generate'; file: string; size: number; seed?: string; text?: boolean };
export type DownloadStep = StepTiming &
  Target & {
    action: 'download';
    file: string;
    /** Wait for the download to finish (default true); false runs it in the background until a `wait`. */
    wait?: boolean;
    /** The download is expected to fail (the step fails if it succeeds). */
    expectFailure?: boolean;
    /** The download is expected to fail with this error code from the peer (`ERR_DISK_FULL`); implies `expectFailure`. */
    expectError?: string;
  };
export type WaitStep = StepTiming & Partial<Target> & { action: 'wait'; file?: string };
export type RateStep = StepTiming & Target & { action: 'rate'; upload?: number | null; download?: number | null };
export type SleepStep = Omit<StepTiming, 'timeoutSeconds' | 'fault'> & { action: 'sleep'; seconds: number };
/** `ctl faults`: lab faults on the chunks the peer serves; a field left out is reset to 0 (docs/control.md). */
export type FaultsStep = StepTiming &
  Target & {
    action: 'faults';
    /** Share (0..1) of served chunks sent with a byte flipped: a lying peer. */
    corrupt?: number;
    /** Share (0..1) of requested chunks never answered. */
    drop?: number;
    /** Delay added to every served chunk, in ms. */
    delayMs?: number;
  };
/** Writes a filler of `bytes` into the peer's data directory, a tmpfs of `dataTmpfsBytes`, so that it fills up. */
export type FillDiskStep = StepTiming & Target & { action: 'fill-disk'; bytes: number };
/** Changes the links across `between` (two nodes or groups) mid-run; the fields left out keep their value. */
export type LinkStep = StepTiming & LinkSpec & { action: 'link'; between: [string, string] };
/**
 * Nodes (or network groups) in different groups cannot reach each other; each reaches its own group, and
 * nodes in no group reach everyone (a partial partition, unlike `disconnect-network`).
 */
export type PartitionStep = StepTiming & { action: 'partition'; groups: string[][] };
/** Ends the partition (link conditions stay). */
export type HealStep = StepTiming & { action: 'heal' };
/** Removes the filler that `fill-disk` wrote. */
export type FreeDiskStep = StepTiming & Target & { action: 'free-disk' };
export type AssertStep = StepTiming &
  Target & {
    action: 'assert';
    file?: string;
    /** The downloaded file's sha256 (computed in the container) equals the publishers' (true) or not (false). */
    verified?: boolean;
    /** The last download of `file` on the peer drew chunks from at least this many sources. */
    minSources?: number;
    /** ... and from each of these peers. */
    sourcesInclude?: string[];
    /** ... and from none of these peers. */
    sourcesExclude?: string[];
    /** `files` on the peer lists these names. */
    listed?: string[];
    /** `files` on the peer shows `file` with exactly this many holders (0: not listed at all). */
    holders?: number;
    /** The peer's container logs contain each of these texts (e.g. a warning the peer must have logged). */
    logged?: string[];
    /** `status` on the peer shows `file` complete (true) or not held completely (false). */
    complete?: boolean;
    /** The container is running (true) or not (false). */
    running?: boolean;
    /** Retry the checks until they hold or this many seconds have passed (state that settles, e.g. re-registration). */
    withinSeconds?: number;
  };

export type ScenarioStep =
  | ContainerStep
  | NetworkStep
  | SimpleControlStep
  | GenerateStep
  | DownloadStep
  | WaitStep
  | RateStep
  | SleepStep
  | AssertStep
  | FaultsStep
  | FillDiskStep
  | FreeDiskStep
  | LinkStep
  | PartitionStep
  | HealStep;

export type ScenarioAction = ScenarioStep['action'];

export interface ScenarioPeer {
  name: string;
  /** Upload limit in bytes/s (SWARMLAB_UPLOAD_RATE). */
  uploadRate?: number;
  /** Download limit in bytes/s (SWARMLAB_DOWNLOAD_RATE). */
  downloadRate?: number;
  /** Start the container with the run (default true); false leaves it created until a `start` step. */
  start?: boolean;
  /** Extra environment for the container. */
  env?: Record<string, string>;
  /** Mount a tmpfs of this many bytes at the data directory (/data), a small disk that `fill-disk` can fill. */
  dataTmpfsBytes?: number;
}

export interface Scenario {
  name: string;
  description?: string;
  /** A count (`peer-1`..`peer-N`) or a list of peers. */
  peers: number | ScenarioPeer[];
  /** Chunk size for every peer, in bytes (SWARMLAB_CHUNK_SIZE). */
  chunkSize?: number;
  /** Peer settings for every peer (picker, endgame, ...), under each peer's own `env`. */
  peerDefaults?: PeerDefaults;
  /** Peers connect to the tracker by themselves at start-up (default false: use `connect` steps). */
  autoConnect?: boolean;
  /** Upper bound for the whole scenario, in seconds (default 300). */
  timeoutSeconds?: number;
  /** Latency, jitter, loss and bandwidth per link, and the peers' access links (lab/network). */
  network?: ScenarioNetwork;
  steps: ScenarioStep[];
}

/**
 * Peers a scenario may have. Above a few hundred containers Docker's own bookkeeping (a veth and an
 * iptables path per container, dockerd's state) rather than the swarm becomes what a run measures.
 */
export const MAX_PEERS = 200;

/** The checks an `assert` step can make; it needs at least one. */
export const ASSERT_CHECKS = [
  'verified',
  'minSources',
  'sourcesInclude',
  'sourcesExclude',
  'listed',
  'holders',
  'logged',
  'complete',
  'running',
] as const;

const NAME_PATTERN = '^[a-z0-9][a-z0-9_.-]{0,62}$';
// No separators and no control characters (C0, DEL, C1): names are printed, and ESC or a newline
// would reach the operator's terminal.
const FILE_PATTERN = '^[^/\\\\\\x00-\\x1f\\x7f-\\x9f]{1,255}$';

const peerName = { type: 'string', pattern: NAME_PATTERN } as const;
const fileName = { type: 'string', pattern: FILE_PATTERN, not: { enum: ['.', '..'] } } as const;
const seconds = { type: 'number', minimum: 0, maximum: 3600 } as const;
const bytesPerSecond = { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }] } as const;
const share = { type: 'number', minimum: 0, maximum: 1 } as const;
export const MIN_TMPFS_BYTES = 64 * 1024;
export const MAX_TMPFS_BYTES = 1024 * 1024 * 1024;

const timing = {
  at: seconds,
  after: seconds,
  when: WHEN_SCHEMA,
  note: { type: 'string', maxLength: 200 },
  timeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600 },
  fault: { type: 'boolean' },
} as const;

// `$holder`: the node that fired the step's `holders` trigger (load.ts allows it only with one).
const targetPeer = { type: 'string', pattern: '^([a-z0-9][a-z0-9_.-]{0,62}|\\$holder)$' } as const;

const target = {
  peer: targetPeer,
  peers: {
    anyOf: [{ type: 'array', items: peerName, minItems: 1, uniqueItems: true }, { const: 'all' }],
  },
} as const;

/** Exactly one of `peer` and `peers` (allOf/1 of a targeted step), and not both `at` and `after` (allOf/0). */
const oneTarget = { oneOf: [{ required: ['peer'] }, { required: ['peers'] }] } as const;
const notAtAndAfter = { not: { required: ['at', 'after'] } } as const;

function stepSchema(
  actions: readonly string[],
  properties: Record<string, unknown>,
  extra: { required?: string[]; targeted?: boolean; allOf?: unknown[] } = {},
): Record<string, unknown> {
  const targeted = extra.targeted ?? true;
  return {
    type: 'object',
    properties: {
      action: actions.length === 1 ? { const: actions[0] } : { enum: actions },
      ...timing,
      ...(targeted ? target : {}),
      ...properties,
    },
    required: ['action', ...(extra.required ?? [])],
    additionalProperties: false,
    allOf: [notAtAndAfter, ...(targeted ? [oneTarget] : []), ...(extra.allOf ?? [])],
  };
}

export const STEP_SCHEMAS: Record<ScenarioAction, Record<string, unknown>> = {
  ...(Object.fromEntries(PEER_ACTIONS.map((action) => [action, stepSchema([action], {})])) as Record<
    ContainerAction,
    Record<string, unknown>
  >),
  ...(Object.fromEntries(CONTROL_ACTIONS.map((action) => [action, stepSchema([action], {})])) as Record<
    SimpleControlAction,
    Record<string, unknown>
  >),
  generate: stepSchema(
    ['generate'],
    {
      file: fileName,
      size: { type: 'integer', minimum: 1, maximum: 1024 * 1024 * 1024 },
      seed: { type: 'string', maxLength: 200 },
      text: { type: 'boolean' },
    },
    { required: ['file', 'size'] },
  ),
  download: stepSchema(
    ['download'],
    {
      file: fileName,
      wait: { type: 'boolean' },
      expectFailure: { type: 'boolean' },
      expectError: { type: 'string', pattern: '^ERR_[A-Z0-9_]{1,60}$' },
    },
    { required: ['file'] },
  ),
  wait: {
    ...stepSchema(['wait'], { file: fileName }, { targeted: false }),
    properties: { action: { const: 'wait' }, ...timing, ...target, file: fileName },
    allOf: [notAtAndAfter, { not: { required: ['peer', 'peers'] } }],
  },
  rate: stepSchema(
    ['rate'],
    { upload: bytesPerSecond, download: bytesPerSecond },
    { allOf: [{ anyOf: [{ required: ['upload'] }, { required: ['download'] }] }] },
  ),
  sleep: {
    type: 'object',
    properties: {
      action: { const: 'sleep' },
      at: seconds,
      after: seconds,
      when: WHEN_SCHEMA,
      note: timing.note,
      seconds,
    },
    required: ['action', 'seconds'],
    additionalProperties: false,
    allOf: [notAtAndAfter],
  },
  assert: stepSchema(
    ['assert'],
    {
      file: fileName,
      verified: { type: 'boolean' },
      minSources: { type: 'integer', minimum: 1, maximum: MAX_PEERS },
      sourcesInclude: { type: 'array', items: peerName, minItems: 1, uniqueItems: true },
      sourcesExclude: { type: 'array', items: peerName, minItems: 1, uniqueItems: true },
      listed: { type: 'array', items: fileName, minItems: 1, uniqueItems: true },
      holders: { type: 'integer', minimum: 0, maximum: MAX_PEERS },
      logged: {
        type: 'array',
        items: { type: 'string', minLength: 1, maxLength: 200 },
        minItems: 1,
        uniqueItems: true,
      },
      complete: { type: 'boolean' },
      running: { type: 'boolean' },
      withinSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 600 },
    },
    {
      allOf: [
        {
          anyOf: ASSERT_CHECKS.map((check) => ({ required: [check] })),
        },
      ],
    },
  ),
  faults: stepSchema(
    ['faults'],
    { corrupt: share, drop: share, delayMs: { type: 'integer', minimum: 0, maximum: 60_000 } },
    { allOf: [{ anyOf: [{ required: ['corrupt'] }, { required: ['drop'] }, { required: ['delayMs'] }] }] },
  ),
  'fill-disk': stepSchema(
    ['fill-disk'],
    { bytes: { type: 'integer', minimum: 4096, maximum: MAX_TMPFS_BYTES } },
    { required: ['bytes'] },
  ),
  'free-disk': stepSchema(['free-disk'], {}),
  link: stepSchema(
    ['link'],
    { between: BETWEEN_SCHEMA, ...LINK_SPEC_PROPERTIES },
    {
      required: ['between'],
      targeted: false,
      allOf: [{ anyOf: LINK_FIELDS.map((field) => ({ required: [field] })) }],
    },
  ),
  partition: stepSchema(
    ['partition'],
    {
      groups: {
        type: 'array',
        minItems: 2,
        items: { type: 'array', items: peerName, minItems: 1, uniqueItems: true },
      },
    },
    { required: ['groups'], targeted: false },
  ),
  heal: stepSchema(['heal'], {}, { targeted: false }),
};

export const ACTIONS = Object.keys(STEP_SCHEMAS) as ScenarioAction[];

export const SCENARIO_SCHEMA = {
  $id: 'https://swarmlab.dev/schemas/scenario.json',
  type: 'object',
  properties: {
    name: peerName,
    description: { type: 'string', maxLength: 2000 },
    peers: {
      anyOf: [
        { type: 'integer', minimum: 1, maximum: MAX_PEERS },
        {
          type: 'array',
          minItems: 1,
          maxItems: MAX_PEERS,
          items: {
            type: 'object',
            properties: {
              name: { ...peerName, not: { const: 'tracker' } },
              uploadRate: { type: 'integer', minimum: 1 },
              downloadRate: { type: 'integer', minimum: 1 },
              start: { type: 'boolean' },
              env: {
                type: 'object',
                additionalProperties: { type: 'string' },
                propertyNames: { pattern: '^[A-Z_][A-Z0-9_]*$' },
              },
              dataTmpfsBytes: { type: 'integer', minimum: MIN_TMPFS_BYTES, maximum: MAX_TMPFS_BYTES },
            },
            required: ['name'],
            additionalProperties: false,
          },
        },
      ],
    },
    // Peers refuse larger chunks: a scenario asking for them would fail only after the containers start.
    chunkSize: { type: 'integer', minimum: 1024, maximum: MAX_CHUNK_BYTES },
    peerDefaults: PEER_DEFAULTS_SCHEMA,
    autoConnect: { type: 'boolean' },
    timeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600 },
    network: NETWORK_SCHEMA,
    steps: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['action'],
        properties: { action: { enum: Object.keys(STEP_SCHEMAS) } },
        discriminator: { propertyName: 'action' },
        oneOf: Object.values(STEP_SCHEMAS),
      },
    },
  },
  required: ['name', 'peers', 'steps'],
  additionalProperties: false,
} as const;
