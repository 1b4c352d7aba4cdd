/**
 * What a student hands in, applied to the exercise's scenario: a picker module (`--picker PATH`), an
 * uploader policy module (`--uploader PATH`), peer settings within bounds (`--set maxInflight=8`), or a
 * scenario of their own (`--scenario FILE`). Anything
 * the exercise does not let them change is refused before a container starts, and so is a scenario whose
 * locked fields differ from the exercise's. Pure, apart from hashing the files it is given.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';

import { minimumDistributionMs } from '../observe/distribution-minimum';
import { listedPeers, scenarioPeers, stepTargets } from '../scenario/load';
import type { PeerDefaults } from '../scenario/peer-defaults';
import type { AssertStep, Scenario } from '../scenario/schema';
import { withAssertions } from './assertions-file';
import { ExerciseRefusedError } from './errors';
import type { ExpectedDownload, ScenarioFacts } from './grade';
import type { Exercise } from './schema';

/** Where a picker (or uploader) module appears inside every peer's container (its extension kept: `.mjs` is ESM). */
export const PICKER_MOUNT_DIR = '/exercise';

/** A scenario's fields a student's own scenario may not change, unless the exercise says otherwise. */
export const DEFAULT_LOCKED_FIELDS = ['peers', 'chunkSize', 'network', 'peerDefaults'];

export interface Submission {
  /** Path of the student's picker module on this machine. */
  picker?: string;
  /** Path of the student's uploader policy module on this machine (`--uploader PATH`). */
  uploader?: string;
  /** `--set NAME=VALUE` pairs. */
  settings?: Record<string, string>;
  /** The student's own scenario, already validated. */
  scenario?: Scenario;
  /** The student's assert steps (`--assertions FILE`, validated), appended to the scenario. */
  assertions?: AssertStep[];
  /** Where they came from, for error messages. */
  assertionsSource?: string;
}

export interface AppliedSubmission {
  scenario: Scenario;
  /** Host files to mount read-only in every peer. */
  peerFiles: { source: string; target: string }[];
  /** What the grade's footer pins: the file's name and sha256 (the module, or the settings as text). */
  name?: string;
  sha256?: string;
  /** Indices (from 0) of the steps that are the student's assertions. */
  ownSteps?: number[];
}

export function sha256Of(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** JSON with sorted keys: two scenarios equal field by field print the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

/** `name=value` in the env of `peers` (default every peer); every other peer is kept as it is. */
function withPeerEnv(scenario: Scenario, name: string, value: string, peers: readonly string[] | undefined): Scenario {
  return {
    ...scenario,
    peers: listedPeers(scenario).map((peer) =>
      peers === undefined || peers.includes(peer.name) ? { ...peer, env: { ...peer.env, [name]: value } } : peer,
    ),
  };
}

function withPicker(scenario: Scenario, target: string, peers: readonly string[] | undefined): Scenario {
  if (peers === undefined) return { ...scenario, peerDefaults: { ...scenario.peerDefaults, picker: target } };
  return withPeerEnv(scenario, 'SWARMLAB_PICKER', target, peers);
}

/** The student's module of `kind`, where it appears in the peers' containers, and its digest. */
function studentModule(
  exercise: Exercise,
  kind: 'picker' | 'uploader',
  path: string,
): { source: string; target: string; sha256: string } {
  if (exercise.change[kind] === undefined) {
    throw new ExerciseRefusedError(`exercise ${exercise.id} does not let you change the ${kind} (--${kind})`);
  }
  const source = resolve(path);
  return {
    source,
    target: `${PICKER_MOUNT_DIR}/${kind}${extname(source) || '.js'}`,
    sha256: sha256Of(readFileSync(source)),
  };
}

/** The exercise's scenario with the submission applied, or ExerciseRefusedError. */
export function applySubmission(exercise: Exercise, base: Scenario, submission: Submission): AppliedSubmission {
  const { change } = exercise;
  let scenario = base;
  const pinned: string[] = [];
  if (submission.scenario !== undefined) {
    if (change.scenario === undefined) {
      throw new ExerciseRefusedError(`exercise ${exercise.id} does not let you change the scenario (--scenario)`);
    }
    const locked = change.scenario.locked ?? DEFAULT_LOCKED_FIELDS;
    const own = submission.scenario as unknown as Record<string, unknown>;
    const theirs = base as unknown as Record<string, unknown>;
    const changed = locked.filter((field) => canonical(own[field]) !== canonical(theirs[field]));
    if (changed.length > 0) {
      throw new ExerciseRefusedError(
        `your scenario changes locked field(s) ${changed.join(', ')} of exercise ${exercise.id}; keep them as the exercise has them`,
      );
    }
    scenario = submission.scenario;
    pinned.push(canonical(submission.scenario));
  }
  const settings = Object.entries(submission.settings ?? {});
  for (const [name, text] of settings) {
    const bound = (change.settings as Record<string, { min: number; max: number }> | undefined)?.[name];
    if (bound === undefined) {
      const allowed = Object.keys(change.settings ?? {});
      throw new ExerciseRefusedError(
        `exercise ${exercise.id} locks the peer setting "${name}"` +
          (allowed.length === 0 ? '' : ` (you may set: ${allowed.join(', ')})`),
      );
    }
    const value = Number(text);
    if (!/^-?\d+$/.test(text) || value < bound.min || value > bound.max) {
      throw new ExerciseRefusedError(`--set ${name}=${text}: must be an integer from ${bound.min} to ${bound.max}`);
    }
    scenario = { ...scenario, peerDefaults: { ...scenario.peerDefaults, [name]: value } as PeerDefaults };
    pinned.push(`${name}=${value}`);
  }
  let ownSteps: number[] | undefined;
  if (submission.assertions !== undefined) {
    if (change.assertions === undefined) {
      throw new ExerciseRefusedError(`exercise ${exercise.id} does not take assertions (--assertions)`);
    }
    const offset = scenario.steps.length;
    scenario = withAssertions(scenario, submission.assertions, submission.assertionsSource ?? 'assertions');
    ownSteps = submission.assertions.map((_, i) => offset + i);
    pinned.push(canonical(submission.assertions));
  }
  const peerFiles: AppliedSubmission['peerFiles'] = [];
  let name: string | undefined;
  if (submission.picker !== undefined) {
    const module = studentModule(exercise, 'picker', submission.picker);
    peerFiles.push({ source: module.source, target: module.target });
    scenario = withPicker(scenario, module.target, change.picker?.peers);
    name = basename(module.source);
    pinned.unshift(module.sha256);
  }
  if (submission.uploader !== undefined) {
    const module = studentModule(exercise, 'uploader', submission.uploader);
    peerFiles.push({ source: module.source, target: module.target });
    scenario = withPeerEnv(scenario, 'SWARMLAB_UPLOADER', module.target, change.uploader?.peers);
    name = name === undefined ? basename(module.source) : `${name} + ${basename(module.source)}`;
    pinned.unshift(module.sha256);
  }
  const own = ownSteps === undefined ? {} : { ownSteps };
  if (pinned.length === 0) return { scenario, peerFiles, ...own };
  const oneModule = pinned.length === 1 && (submission.picker !== undefined || submission.uploader !== undefined);
  const sha256 = oneModule ? pinned[0]! : sha256Of(pinned.join('\n'));
  const kind = submission.assertions !== undefined ? 'assertions' : settings.length > 0 ? 'settings' : 'scenario';
  return { scenario, peerFiles, name: name ?? kind, sha256, ...own };
}

/** What the grader reads of the scenario: the downloads it expects to verify and its assert steps. */
export function scenarioFacts(scenario: Scenario): ScenarioFacts {
  const peers = scenarioPeers(scenario);
  const downloads: ExpectedDownload[] = [];
  const assertSteps: number[] = [];
  scenario.steps.forEach((step, index) => {
    if (step.action === 'assert') assertSteps.push(index);
    if (step.action !== 'download' || step.expectFailure === true) return;
    for (const peer of stepTargets(step, peers)) {
      if (!downloads.some((d) => d.peer === peer && d.file === step.file)) downloads.push({ peer, file: step.file });
    }
  });
  return { downloads, assertSteps };
}

/** The theoretical minimum of a scenario's download of `file`, from its sizes and upload limits. */
export type ScenarioBound =
  | { file: string; fileBytes: number; seeders: number; downloaders: number; minMs: number }
  | { file: string; note: string };

/**
 * The bound each downloaded file implies: F from its generate step, u_s and u_i from the peers' upload
 * limits (their `uploadRate`, access link or a `rate` step before the download).
 */
export function scenarioBounds(scenario: Scenario): ScenarioBound[] {
  const peers = scenarioPeers(scenario);
  const upload = new Map(peers.map((peer) => [peer.name, peer.uploadRate]));
  const sizes = new Map<string, number>();
  const holders = new Map<string, string[]>();
  const bounds: ScenarioBound[] = [];
  for (const step of scenario.steps) {
    if (step.action === 'rate' && typeof step.upload === 'number') {
      for (const peer of stepTargets(step, peers)) upload.set(peer, step.upload);
    } else if (step.action === 'generate') {
      sizes.set(step.file, step.size);
      holders.set(step.file, stepTargets(step, peers));
    } else if (step.action === 'download' && step.expectFailure !== true) {
      if (bounds.some((b) => b.file === step.file)) continue;
      const downloaders = stepTargets(step, peers);
      const seeders = holders.get(step.file) ?? [];
      const fileBytes = sizes.get(step.file);
      const unset = [...seeders, ...downloaders].filter((peer) => upload.get(peer) === undefined);
      if (fileBytes === undefined || seeders.length === 0) {
        bounds.push({ file: step.file, note: `no bound for ${step.file}: no generate step makes it` });
      } else if (unset.length > 0) {
        bounds.push({
          file: step.file,
          note: `no bound for ${step.file}: the upload of ${unset.join(', ')} is not limited`,
        });
      } else {
        const us = seeders.reduce((sum, peer) => sum + (upload.get(peer) ?? 0), 0);
        const minMs = minimumDistributionMs(
          fileBytes,
          us,
          downloaders.map((peer) => upload.get(peer) ?? 0),
        );
        bounds.push({ file: step.file, fileBytes, seeders: seeders.length, downloaders: downloaders.length, minMs });
      }
    }
  }
  return bounds;
}
