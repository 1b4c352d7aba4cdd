/**
 * `catches-variant`: the student's assertions ran on a deliberately broken swarm and one of them failed.
 * Read from the run's own report (which step failed, and why), never from the student's files. Pure.
 */
import type { ScenarioReport } from '../report-types';
import type { RunEvent } from '../observe/run-events';
import type { EventOf } from '../observe/run-state';

/** The parts of a run this check reads: its report and events, and which steps are the student's. */
export interface VariantRun {
  events: readonly RunEvent[];
  report: ScenarioReport;
  /** Indices (from 0) of the student's assertion steps in the run's scenario. */
  ownSteps?: readonly number[];
}

export interface VariantMeasurement {
  passed: boolean;
  measured: number | null;
  words: string;
  atT?: number;
}

/** Caught (1) when the first step that failed is one of the student's assertions; 0 otherwise. */
export function measureCatches(run: VariantRun, variant: string): VariantMeasurement {
  const own = run.ownSteps ?? [];
  if (own.length === 0) return { passed: false, measured: 0, words: 'you gave no assertions (--assertions FILE)' };
  const failed = run.report.steps.find((step) => !step.ok);
  if (failed === undefined && run.report.ok) {
    return {
      passed: false,
      measured: 0,
      words: `all ${own.length} of your assertions held on the broken swarm "${variant}": none noticed it`,
    };
  }
  if (failed === undefined || !own.includes(failed.index)) {
    // The swarm broke before the assertions ran (a step of the exercise failed): the lab's problem, not a catch.
    const why = failed === undefined ? (run.report.error?.message ?? 'the run failed') : (failed.error ?? 'failed');
    const where = failed === undefined ? '' : ` at step ${failed.index + 1} (${failed.action})`;
    return {
      passed: false,
      measured: null,
      words: `the broken swarm "${variant}" failed${where} before your assertions ran: ${why}`,
    };
  }
  const stepEnd = run.events.find((e): e is EventOf<'step-end'> => e.type === 'step-end' && e.index === failed.index);
  return {
    passed: true,
    measured: 1,
    words: `caught "${variant}": your assertion ${own.indexOf(failed.index) + 1} of ${own.length} failed: ${failed.error ?? 'failed'}`,
    ...(stepEnd === undefined ? {} : { atT: stepEnd.t }),
  };
}
