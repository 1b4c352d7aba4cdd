/**
 * The contract between the scenario runner and its steps. Each action of the scenario schema has one
 * handler (`step-table.ts`): it describes the step for the transcript, runs it, and may leave a heal
 * that the runner always runs once the scenario ends. The runner itself never looks at the action.
 */
import type { LabRun } from '../controller';
import type { LabContainer, LabDocker } from '../engine/lab-docker';
import type { LiveSummary } from '../observe/live-summary';
import { nodeEvent } from '../observe/node-event';
import type { RunRecorder } from '../observe/run-events';
import type { RunNetwork } from '../network/run-network';
import type { Printer } from '../print';
import type { DownloadReport } from '../report-types';
import type { ScenarioAction, ScenarioStep } from './schema';

/** A download started with `wait: false`, until a `wait` step (or the end of the scenario) collects it. */
export interface PendingDownload {
  peer: string;
  file: string;
  promise: Promise<void>;
}

/** What the steps of one replay share: the run, its collaborators, and what earlier steps left behind. */
export interface StepContext {
  readonly run: LabRun;
  readonly docker: LabDocker;
  readonly printer: Printer;
  readonly recorder: RunRecorder | undefined;
  /** Waits until a restarted container is ready again. */
  readonly waitReady: ((run: LabRun, name: string, signal: AbortSignal) => Promise<void>) | undefined;
  /** Print a line per received chunk. */
  readonly printChunks: boolean;
  /** Instead of chunk lines: the live summary of every download (a run of many peers). */
  readonly summary?: LiveSummary;
  /** The scenario-level signal (without a step's timeout), for work that outlives its step. */
  readonly scenarioSignal: AbortSignal;
  /** `Date.now()` when the scenario started. */
  readonly startedAtMs: number;
  /** sha256 of each generated file, computed with sha256sum where it was generated. */
  readonly expectedSha: Map<string, string>;
  /** The latest download report per `downloadKey(peer, file)`. */
  readonly downloads: Map<string, DownloadReport>;
  readonly pending: PendingDownload[];
  /** The scenario's network (its `network` section), which the network steps change. */
  readonly network: RunNetwork;
}

export interface StepHandler<S extends ScenarioStep> {
  /** One line for the transcript and the run events, e.g. `download a.txt on peer-3, peer-4 (background)`. */
  describe: (step: S, targets: readonly string[]) => string;
  /** Carries the step out on its targets; `signal` carries the step's timeout and the scenario's. */
  run: (step: S, targets: readonly string[], ctx: StepContext, signal: AbortSignal) => Promise<void>;
  /**
   * Undoes what `run` put in place (a fault that must not outlive the scenario). Once a step with a heal
   * has started, the runner runs its heal after the last step, in reverse order, whether the scenario
   * passed, failed or timed out.
   */
  heal?: (step: S, targets: readonly string[], ctx: StepContext, signal: AbortSignal) => Promise<void>;
}

/** The step type of one action; for actions that share a step type (the container verbs) that shared type. */
export type StepOf<A extends ScenarioAction> = ScenarioStep extends infer S
  ? S extends { action: infer B }
    ? A extends B
      ? S
      : never
    : never
  : never;

/** One handler per action of the schema: the compiler checks that none is missing. */
export type StepHandlers = { readonly [A in ScenarioAction]: StepHandler<StepOf<A>> };

/** Runs `fn` on every item concurrently; waits for all, then throws the first error. */
export async function each<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  const results = await Promise.allSettled(items.map((item) => fn(item)));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
}

/** ` peer-3, peer-4`, or '' for a step without targets. */
export function onTargets(targets: readonly string[]): string {
  return targets.length === 0 ? '' : ` ${targets.join(', ')}`;
}

/** The description of a step that needs no more than its action and targets: `pause peer-2`. */
export function describeAction(step: ScenarioStep, targets: readonly string[]): string {
  return `${step.action}${onTargets(targets)}`;
}

export function downloadKey(peer: string, file: string): string {
  return `${peer}\u0000${file}`;
}

/** Re-reads a container after a state change and records where it now stands. */
export async function refreshNode(ctx: StepContext, name: string): Promise<LabContainer> {
  const fresh = await ctx.run.refresh(name);
  ctx.recorder?.record(nodeEvent(name, fresh));
  return fresh;
}
