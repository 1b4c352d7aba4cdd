/**
 * The run seed: one string per run from which the run's generated files derive their seeds, so that a run
 * replayed with the same seed generates the same bytes. A derived seed is sha256 of the run seed and a
 * label naming what it seeds (`file/NAME`); the labels use `/`, which neither a run seed nor a file name
 * may contain, so two purposes never derive the same seed. The peers' and the tracker's own random draws
 * (the `random` picker, the order of holders) are not seeded from it: they depend on timing anyway.
 */
import { createHash, randomBytes } from 'node:crypto';

import type { Scenario, ScenarioStep } from '../scenario/schema';

/** What `--seed` accepts; also what `drawRunSeed` draws (16 hex digits). */
export const RUN_SEED_PATTERN = '^[A-Za-z0-9_.:-]{1,64}$';
const RUN_SEED_RE = new RegExp(RUN_SEED_PATTERN);
const RUN_SEED_BYTES = 8;
/** Hex digits kept from a derived sha256: 128 bits, well under the generate step's 200-character limit. */
const DERIVED_SEED_HEX = 32;

/** The seeds a run used: its own, and the seed each generated file was made from. */
export interface RunSeeds {
  run: string;
  /** File name to the seed its `generate` steps used (the step's own `seed`, else one derived from `run`). */
  files: Record<string, string>;
}

export function isRunSeed(seed: string): boolean {
  return RUN_SEED_RE.test(seed);
}

/** A fresh run seed, for a run started without `--seed`. */
export function drawRunSeed(): string {
  return randomBytes(RUN_SEED_BYTES).toString('hex');
}

function derive(runSeed: string, label: string): string {
  return createHash('sha256').update(`${runSeed}/${label}`).digest('hex').slice(0, DERIVED_SEED_HEX);
}

/** The seed of a generated file whose step gives none. */
export function fileSeed(runSeed: string, file: string): string {
  return derive(runSeed, `file/${file}`);
}

/** Every `generate` step given a seed: its own, else the one derived from the run seed and its file. */
export function seedGenerateSteps(scenario: Scenario, runSeed: string): Scenario {
  const steps = scenario.steps.map((step): ScenarioStep =>
    step.action === 'generate' && step.seed === undefined ? { ...step, seed: fileSeed(runSeed, step.file) } : step,
  );
  return { ...scenario, steps };
}

/** The seeds a run of `scenario` uses with `runSeed`. */
export function runSeeds(scenario: Scenario, runSeed: string): RunSeeds {
  const files: Record<string, string> = {};
  for (const step of scenario.steps) {
    if (step.action !== 'generate' || files[step.file] !== undefined) continue;
    files[step.file] = step.seed ?? fileSeed(runSeed, step.file);
  }
  return { run: runSeed, files };
}
