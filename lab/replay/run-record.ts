/**
 * run.json: what a run folder records so that the run can be replayed and compared. It holds the fully
 * resolved scenario (resolve.ts), every seed (seed.ts), the images the containers ran, the swarmlab
 * version, the engine, the host's network enforcement and the command line. `RUN_RECORD_SCHEMA` is
 * checked when a record is read back (record-io.ts); the scenario inside is then validated as a scenario.
 */
import packageJson from '../../package.json';
import { LAB_ENGINES, type LabEngine } from '../engine/lab-engine';
import type { NetworkEnforcement } from '../report-types';
import type { Scenario } from '../scenario/schema';
import { RUN_SEED_PATTERN, type RunSeeds } from './seed';

export const RUN_RECORD_FILE = 'run.json';
/** The record's own format; a reader refuses other versions rather than misread them. */
export const RUN_RECORD_VERSION = 1;
/** This build's version (package.json), recorded so that a replay can say it runs other code. */
export const SWARMLAB_VERSION: string = packageJson.version;

/** An image a run used: its tag and its id (`docker image inspect`), null when it could not be inspected. */
export interface RecordedImage {
  name: string;
  id: string | null;
}

export interface RunRecord {
  recordVersion: typeof RUN_RECORD_VERSION;
  /** The run's name (containers and network). */
  run: string;
  /** When the run started (ISO 8601, UTC). */
  startedAt: string;
  swarmlabVersion: string;
  engine: LabEngine;
  /** The lab's arguments (`run lab/scenarios/demo.yaml --seed 1`), as `npm run lab --` received them. */
  command: string[];
  /** The scenario file the run came from, or the run folder it replayed. */
  source?: string;
  /** The run folder this run replayed, when it is a replay. */
  replayOf?: string;
  scenario: Scenario;
  seeds: RunSeeds;
  /** Undefined when the run never got its containers (it failed before). */
  images?: { tracker: RecordedImage; peer: RecordedImage };
  /** Which layer enforced each network property on this host. */
  enforcement: NetworkEnforcement;
}

const image = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1 }, id: { type: ['string', 'null'] } },
  required: ['name', 'id'],
  additionalProperties: false,
} as const;

/** The record's shape; the `scenario` inside is checked by the scenario's own schema afterwards. */
export const RUN_RECORD_SCHEMA = {
  type: 'object',
  properties: {
    recordVersion: { const: RUN_RECORD_VERSION },
    run: { type: 'string', minLength: 1 },
    startedAt: { type: 'string', minLength: 1 },
    swarmlabVersion: { type: 'string', minLength: 1 },
    engine: { enum: LAB_ENGINES },
    command: { type: 'array', items: { type: 'string' } },
    source: { type: 'string' },
    replayOf: { type: 'string' },
    scenario: { type: 'object' },
    seeds: {
      type: 'object',
      properties: {
        run: { type: 'string', pattern: RUN_SEED_PATTERN },
        files: { type: 'object', additionalProperties: { type: 'string', minLength: 1, maxLength: 200 } },
      },
      required: ['run', 'files'],
      additionalProperties: false,
    },
    images: {
      type: 'object',
      properties: { tracker: image, peer: image },
      required: ['tracker', 'peer'],
      additionalProperties: false,
    },
    enforcement: { type: 'object', additionalProperties: { type: 'string' } },
  },
  required: [
    'recordVersion',
    'run',
    'startedAt',
    'swarmlabVersion',
    'engine',
    'command',
    'scenario',
    'seeds',
    'enforcement',
  ],
  additionalProperties: false,
} as const;
