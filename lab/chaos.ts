/**
 * `npm run lab -- chaos`: the container faults of issue 5, one shipped scenario each, replayed one after
 * another on runs of their own (`PREFIX-SCENARIO`), each torn down before the next starts. A fault is
 * survived when its scenario passes (every assertion, including that the downloaded file is
 * byte-identical) and a download finished, verified, after the fault step.
 *
 * Time to recover: from the start of the step marked `fault: true` to the end of the last download
 * that finished, verified, after it (`recoveryDownload`).
 */
import { replayScenario, shippedScenarioPath, type CommandContext } from './commands';
import { UsageError } from './errors';
import { loadScenario } from './scenario/load';
import type { ChaosResult, ScenarioReport } from './report-types';
import { recoveryDownload } from './scenario/recovery';
import type { Scenario } from './scenario/schema';

/** One fault and the shipped scenario (lab/scenarios) that injects it and checks the swarm survives. */
export interface ChaosFault {
  fault: string;
  scenario: string;
}

/** Every container fault, in the order `chaos` runs them. */
export const CHAOS_FAULTS: readonly ChaosFault[] = [
  { fault: 'source killed (SIGKILL)', scenario: 'seeder-killed.yaml' },
  { fault: 'source paused (docker pause)', scenario: 'source-paused.yaml' },
  { fault: 'tracker killed and restarted', scenario: 'tracker-restart.yaml' },
  { fault: 'network partition', scenario: 'partition.yaml' },
  { fault: 'lying peer (corrupt chunks)', scenario: 'lying-peer.yaml' },
  { fault: 'downloader disk full', scenario: 'disk-full.yaml' },
  { fault: 'partial partition (packet filter)', scenario: 'partial-partition.yaml' },
  { fault: 'flaky link (latency, jitter, loss)', scenario: 'flaky-link.yaml' },
];

export const DEFAULT_CHAOS_RUN_PREFIX = 'chaos';

export interface ChaosInit {
  /** Scenario names to run (`partition`, `lying-peer`); all of CHAOS_FAULTS when empty or undefined. */
  only?: readonly string[];
  /** Run names are `PREFIX-SCENARIO` (default `chaos`). */
  runPrefix?: string;
  /** Leave every run up afterwards. */
  keep?: boolean;
  /** Print a line per received chunk (default false: the transcript keeps to the steps). */
  printChunks?: boolean;
  /** The run seed of every scenario (lab/replay/seed.ts); each run draws its own when absent. */
  seed?: string;
}

export function scenarioNameOf(fault: ChaosFault): string {
  return fault.scenario.replace(/\.(yaml|json)$/, '');
}

/** The faults `only` names, in CHAOS_FAULTS order; an unknown name is a usage error. */
export function selectFaults(only: readonly string[] | undefined): ChaosFault[] {
  if (only === undefined || only.length === 0) return [...CHAOS_FAULTS];
  const known = CHAOS_FAULTS.map(scenarioNameOf);
  const unknown = only.filter((name) => !known.includes(name.replace(/\.(yaml|json)$/, '')));
  if (unknown.length > 0) {
    throw new UsageError(`unknown chaos scenario(s) ${unknown.join(', ')} (one of: ${known.join(', ')})`);
  }
  return CHAOS_FAULTS.filter((fault) =>
    only.some((name) => name.replace(/\.(yaml|json)$/, '') === scenarioNameOf(fault)),
  );
}

/** Judges one scenario's report. */
export function chaosResult(fault: ChaosFault, run: string, report: ScenarioReport): ChaosResult {
  const recovered = recoveryDownload(report.fault, report.downloads);
  const survived = report.ok && recovered !== undefined;
  const error = report.ok
    ? recovered === undefined
      ? report.fault === undefined
        ? 'the scenario has no step marked fault: true'
        : 'no download finished verified after the fault'
      : undefined
    : (report.error?.message ?? 'failed');
  return {
    fault: fault.fault,
    scenario: scenarioNameOf(fault),
    run,
    survived,
    bytesVerified: recovered?.bytes ?? 0,
    recoverS: survived && report.recoverMs !== undefined ? Math.round(report.recoverMs / 100) / 10 : null,
    ...(error === undefined ? {} : { error }),
  };
}

/**
 * Loads every selected scenario first (an invalid one stops everything before a container exists), then
 * replays them one by one. An interrupt stops after the current scenario's teardown; the faults not run
 * are reported as not survived.
 */
export async function runChaos(ctx: CommandContext, init: ChaosInit = {}): Promise<ChaosResult[]> {
  const faults = selectFaults(init.only);
  const prefix = init.runPrefix ?? DEFAULT_CHAOS_RUN_PREFIX;
  const scenarios: { fault: ChaosFault; scenario: Scenario }[] = [];
  for (const fault of faults) {
    scenarios.push({ fault, scenario: await loadScenario(shippedScenarioPath(fault.scenario)) });
  }
  const results: ChaosResult[] = [];
  for (const [i, { fault, scenario }] of scenarios.entries()) {
    const run = `${prefix}-${scenario.name}`;
    if (ctx.signal.aborted) {
      results.push({ ...chaosResultNotRun(fault, run), error: 'not run (interrupted)' });
      continue;
    }
    ctx.printer.line();
    ctx.printer.line(`== fault ${i + 1}/${scenarios.length}: ${fault.fault} (${fault.scenario}, run ${run}) ==`);
    const report = await replayScenario(ctx, scenario, {
      run,
      keep: init.keep ?? false,
      printChunks: init.printChunks ?? false,
      ...(init.seed === undefined ? {} : { seed: init.seed }),
    });
    const result = chaosResult(fault, run, report);
    results.push(result);
    ctx.printer.line(
      result.survived
        ? `survived: ${result.bytesVerified} bytes verified, recovered in ${result.recoverS ?? '?'} s`
        : `NOT survived: ${result.error ?? 'failed'}`,
    );
  }
  return results;
}

function chaosResultNotRun(fault: ChaosFault, run: string): ChaosResult {
  return {
    fault: fault.fault,
    scenario: scenarioNameOf(fault),
    run,
    survived: false,
    bytesVerified: 0,
    recoverS: null,
  };
}

/** The `--json` record: `{"chaos":[{fault, survived, bytesVerified, recoverS, ...}]}`. */
export function chaosJson(results: readonly ChaosResult[]): { chaos: Omit<ChaosResult, 'run'>[] } {
  return {
    chaos: results.map((r) => ({
      fault: r.fault,
      scenario: r.scenario,
      survived: r.survived,
      bytesVerified: r.bytesVerified,
      recoverS: r.recoverS,
      ...(r.error === undefined ? {} : { error: r.error }),
    })),
  };
}

export interface ChaosCommandOptions extends ChaosInit {
  json?: boolean;
}

/** `chaos [NAME...] [--json] [--keep] [--run PREFIX]`: exit 0 only when every fault was survived. */
export async function chaosCommand(ctx: CommandContext, options: ChaosCommandOptions = {}): Promise<number> {
  const results = await runChaos(ctx, options);
  ctx.printer.line();
  ctx.printer.chaos(results);
  const failed = results.filter((r) => !r.survived);
  for (const r of failed) ctx.printer.line(`${r.fault}: ${r.error ?? 'not survived'}`);
  if (options.json === true) ctx.printer.json(chaosJson(results));
  return failed.length === 0 ? 0 : 1;
}
