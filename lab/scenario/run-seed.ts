/**
 * A run-level seed: `generate` steps that give no `seed` of their own derive theirs from it, so two runs
 * with the same run seed generate the same files (and `lab compare` feeds every variant the same ones).
 * Steps with their own seed keep it: the scenario's author fixed that content on purpose.
 */
import type { Scenario } from './schema';

/** The seed a `generate` step of `file` gets from the run seed; by file, so every holder writes the same bytes. */
export function derivedSeed(runSeed: string, file: string): string {
  return `${runSeed}/${file}`;
}

/** `scenario` with each `generate` step that has no seed given one derived from `runSeed`. */
export function withRunSeed(scenario: Scenario, runSeed: string): Scenario {
  return {
    ...scenario,
    steps: scenario.steps.map((step) =>
      step.action === 'generate' && step.seed === undefined ? { ...step, seed: derivedSeed(runSeed, step.file) } : step,
    ),
  };
}
