/**
 * Replays a validated scenario against a started run.
 *
 * Steps run in order, each once the previous one ended and its own `at`, `after` or `when:` allows (a `when:`
 * waits on the run's events for its condition, and `peer: $holder` then names the node that fired it). A step with several targets acts on them concurrently (two `download`s on
 * `peers: [peer-3, peer-4]` run at the same time). What a step does is its handler's business
 * (`step-table.ts`); this loop only times the steps, bounds them, records them and stops at the first
 * failure. The caller tears the run down. A step whose handler can heal is healed once the scenario ends,
 * however it ends.
 */
import { setMaxListeners } from 'node:events';

import { createLogger } from '../../src/shared/logger';
import { sleep, withTimeout } from '../abort';
import type { LabRun } from '../controller';
import { TRACKER_NAME } from '../constants';
import type { LabDocker } from '../engine/lab-docker';
import {
  AbortedError,
  LabError,
  LabTimeoutError,
  StepFailedError,
  TriggerTimeoutError,
  asLabError,
  messageOf,
} from '../errors';
import { LiveSummary, usesSummary, type ProgressMode } from '../observe/live-summary';
import { RunRecorder } from '../observe/run-events';
import { usesShaper } from '../network/enforcement';
import { NetemShaper } from '../network/netem-shaper';
import { PacketFilter } from '../network/packet-filter';
import { describeEnforcement, hostEnforcement, RunNetwork, type NetworkNodes } from '../network/run-network';
import type { Printer } from '../print';
import type { FaultMark, NetworkEnforcement, ScenarioReport, StepReport } from '../report-types';
import { scenarioPeers, stepTargets } from './load';
import { recoveryOf } from './recovery';
import { MAX_PEERS, type Scenario, type ScenarioPeer, type ScenarioStep } from './schema';
import type { StepContext, StepHandler, StepHandlers } from './step-handler';
import { handlerOf, STEP_HANDLERS } from './step-table';
import { waitPending } from './steps/downloads';
import { compileWhen, HOLDER_REF, type When } from '../trigger/compile';
import { waitForTrigger } from '../trigger/wait';

const log = createLogger('scenario');

export const DEFAULT_SCENARIO_TIMEOUT_S = 300;
export const DEFAULT_STEP_TIMEOUT_S = 120;
/** Listeners allowed on a scenario's or a step's abort signal: a few per targeted peer. */
const SIGNAL_LISTENERS = 4 * MAX_PEERS;

export interface ScenarioRunnerComponents {
  run: LabRun;
  docker: LabDocker;
  printer: Printer;
  /** Waits until a restarted container is ready again. */
  waitReady?: (run: LabRun, name: string, signal: AbortSignal) => Promise<void>;
  /** Receives the run's events (steps, nodes, transfers, progress, downloads) for the dashboard and report. */
  recorder?: RunRecorder;
}

export interface ScenarioRunnerInit {
  signal?: AbortSignal;
  /** Print a line per received chunk (default true), or with many peers a live summary (see `progress`). */
  printChunks?: boolean;
  /** Chunk lines or a compact live summary when printing chunks (default `auto`: a summary above 8 peers). */
  progress?: ProgressMode;
  /** The handler of each action (default `STEP_HANDLERS`). */
  handlers?: StepHandlers;
}

/** A started step whose handler heals: healed when the scenario ends. */
interface PendingHeal {
  index: number;
  step: ScenarioStep;
  targets: string[];
  handler: StepHandler<ScenarioStep>;
}

export class ScenarioRunner {
  private readonly components: ScenarioRunnerComponents;
  private readonly scenario: Scenario;
  private readonly peers: ScenarioPeer[];
  private readonly outerSignal: AbortSignal | undefined;
  private readonly printChunks: boolean;
  private readonly progress: ProgressMode;
  private readonly handlers: StepHandlers;

  constructor(components: ScenarioRunnerComponents, scenario: Scenario, init: ScenarioRunnerInit = {}) {
    this.components = components;
    this.scenario = scenario;
    this.peers = scenarioPeers(scenario);
    this.outerSignal = init.signal;
    this.printChunks = init.printChunks ?? true;
    this.progress = init.progress ?? 'auto';
    this.handlers = init.handlers ?? STEP_HANDLERS;
  }

  /** Runs every step; never throws for a failing step (the report says what failed), only for bugs. */
  async replay(): Promise<ScenarioReport> {
    const startedAtMs = Date.now();
    const timeoutS = this.scenario.timeoutSeconds ?? DEFAULT_SCENARIO_TIMEOUT_S;
    const scenarioTimeout = withTimeout(this.outerSignal, timeoutS * 1000);
    const signal = scenarioTimeout.signal;
    // Every peer a step targets listens on these signals (up to MAX_PEERS, plus background downloads).
    setMaxListeners(SIGNAL_LISTENERS, signal);
    let layersFailure: LabError | undefined;
    const { enforcement, ...layers } = await networkLayers(this.scenario, this.components.run, signal).catch(
      (err: unknown): NetworkLayers => {
        layersFailure = asLabError(err);
        return {};
      },
    );
    // A `when:` step waits on the run's events: without a recorder of the caller's, the runner keeps one.
    const recorder =
      this.components.recorder ??
      (this.scenario.steps.some((step) => step.when !== undefined) ? new RunRecorder() : undefined);
    const network = new RunNetwork(
      { nodes: networkNodes(this.components.run), ...layers, recorder },
      {
        network: this.scenario.network,
        names: [...this.peers.map((peer) => peer.name), TRACKER_NAME],
        ...(enforcement === undefined ? {} : { enforcement }),
      },
    );
    const printer = this.components.printer;
    const summary =
      this.printChunks && usesSummary(this.progress, this.peers.length)
        ? new LiveSummary({
            write: (lines) => printer.liveBlock(lines),
            tty: printer.isTty,
            ...(printer.columns === undefined ? {} : { width: printer.columns }),
            // Stamped like the printer's own lines.
            startedAtMs: printer.startedAtMs,
          })
        : undefined;
    const ctx: StepContext = {
      run: this.components.run,
      docker: this.components.docker,
      printer: this.components.printer,
      recorder,
      waitReady: this.components.waitReady,
      printChunks: this.printChunks && summary === undefined,
      ...(summary === undefined ? {} : { summary }),
      scenarioSignal: signal,
      startedAtMs,
      expectedSha: new Map(),
      downloads: new Map(),
      pending: [],
      network,
    };
    const steps: StepReport[] = [];
    const heals: PendingHeal[] = [];
    let fault: FaultMark | undefined;
    let failure: LabError | undefined = layersFailure;
    const total = this.scenario.steps.length;

    try {
      if (this.scenario.network !== undefined && failure === undefined) {
        try {
          await network.applyAll(signal);
          this.components.printer.info(networkSummary(network));
        } catch (err) {
          failure = signal.aborted ? this.abortError(err, signal, timeoutS) : asLabError(err);
        }
      }
      for (const [index, step] of failure === undefined ? this.scenario.steps.entries() : []) {
        let targets = stepTargets(step, this.peers);
        const waitStartedAtMs = Date.now();
        try {
          if (step.at !== undefined) await sleep(startedAtMs + step.at * 1000 - Date.now(), signal);
          if (step.after !== undefined) await sleep(step.after * 1000, signal);
          if (step.when !== undefined) targets = await this.awaitTrigger(index, step.when, targets, ctx, signal);
        } catch (err) {
          if (!(err instanceof TriggerTimeoutError) || signal.aborted) {
            failure = this.abortError(err, signal, timeoutS);
            break;
          }
          failure = new TriggerTimeoutError(`step ${index + 1} (${step.action}) never ran: ${err.message}`);
          steps.push({
            index,
            action: step.action,
            targets,
            ok: false,
            startedAtMs: waitStartedAtMs - startedAtMs,
            ms: Date.now() - waitStartedAtMs,
            error: failure.message,
          });
          this.components.printer.stepFailed(index, failure.message);
          break;
        }
        const handler = handlerOf(step, this.handlers);
        const stepStartedAtMs = Date.now();
        const stepCpu = process.cpuUsage();
        if ('fault' in step && step.fault === true) {
          fault = { index, action: step.action, atMs: stepStartedAtMs - startedAtMs };
        }
        const description = handler.describe(step, targets);
        this.components.printer.step(
          index,
          total,
          `${description}${fault?.index === index ? ' [fault]' : ''}`,
          step.note,
        );
        ctx.recorder?.record({
          type: 'step',
          index,
          total,
          action: step.action,
          targets,
          description,
          fault: fault?.index === index,
        });
        // Registered before the step runs: a fault that failed half-way may still have been applied.
        if (handler.heal !== undefined) heals.push({ index, step, targets, handler });
        const stepReport = (ok: boolean, ms: number): StepReport => {
          const cpu = process.cpuUsage(stepCpu);
          const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
          return { index, action: step.action, targets, ok, startedAtMs: stepStartedAtMs - startedAtMs, ms, cpuMs };
        };
        try {
          await this.runStep(handler, step, targets, ctx, signal);
          const ms = Date.now() - stepStartedAtMs;
          steps.push(stepReport(true, ms));
          ctx.recorder?.record({ type: 'step-end', index, ok: true, ms });
        } catch (err) {
          const error = signal.aborted
            ? this.abortError(err, signal, timeoutS)
            : new StepFailedError(index, step.action, err);
          const ms = Date.now() - stepStartedAtMs;
          steps.push({
            ...stepReport(false, ms),
            error: error.message,
          });
          this.components.printer.stepFailed(index, messageOf(err));
          ctx.recorder?.record({ type: 'step-end', index, ok: false, ms, error: error.message });
          failure = error;
          break;
        }
      }

      if (failure === undefined && ctx.pending.length > 0) {
        try {
          await waitPending(ctx, undefined, undefined, signal);
        } catch (err) {
          failure = signal.aborted ? this.abortError(err, signal, timeoutS) : asLabError(err);
        }
      }
    } finally {
      summary?.stop();
      const healFailure = await healAll(heals, ctx);
      failure ??= healFailure;
      scenarioTimeout.clear();
    }

    const downloads = [...ctx.downloads.values()];
    const report: ScenarioReport = {
      scenario: this.scenario.name,
      ok: failure === undefined,
      ms: Date.now() - startedAtMs,
      steps,
      downloads,
      ...(failure === undefined ? {} : { error: { code: failure.code, message: failure.message } }),
      ...(fault === undefined ? {} : { fault }),
      ...recoveryOf(fault, downloads),
      ...(this.scenario.network === undefined ? {} : { network: network.report() }),
    };
    log.info('Scenario finished', { scenario: this.scenario.name, ok: report.ok, ms: report.ms });
    return report;
  }

  /** Waits until `when` holds, records why it fired, and returns the targets with `$holder` resolved. */
  private async awaitTrigger(
    index: number,
    when: When,
    targets: string[],
    ctx: StepContext,
    signal: AbortSignal,
  ): Promise<string[]> {
    const compiled = compileWhen(when);
    const recorder = ctx.recorder ?? new RunRecorder();
    this.components.printer.info(
      `step ${index + 1} waits until ${compiled.description} (within ${compiled.withinS} s)`,
    );
    const fired = await waitForTrigger(recorder, compiled, signal);
    recorder.record({
      type: 'trigger',
      index,
      condition: compiled.description,
      reason: fired.reason,
      ...(fired.holder === undefined ? {} : { holder: fired.holder }),
    });
    this.components.printer.info(`trigger for step ${index + 1}: ${fired.reason}`);
    return targets.map((name) => (name === HOLDER_REF && fired.holder !== undefined ? fired.holder : name));
  }

  private abortError(err: unknown, signal: AbortSignal, timeoutS: number): LabError {
    const reason: unknown = signal.reason;
    if (reason instanceof Error && reason.name === 'TimeoutError') {
      return new LabTimeoutError(`scenario ${this.scenario.name} did not finish within ${timeoutS} s`);
    }
    if (reason instanceof Error) return new AbortedError(reason.message);
    if (err instanceof AbortedError) return err;
    return new AbortedError(`scenario ${this.scenario.name} interrupted`);
  }

  /** Runs one step under its own timeout (`timeoutSeconds`, default DEFAULT_STEP_TIMEOUT_S) and the scenario's. */
  private async runStep(
    handler: StepHandler<ScenarioStep>,
    step: ScenarioStep,
    targets: string[],
    ctx: StepContext,
    outer: AbortSignal,
  ): Promise<void> {
    const stepTimeoutS =
      'timeoutSeconds' in step && step.timeoutSeconds !== undefined ? step.timeoutSeconds : DEFAULT_STEP_TIMEOUT_S;
    const { signal, clear } = withTimeout(outer, stepTimeoutS * 1000);
    setMaxListeners(SIGNAL_LISTENERS, signal);
    try {
      await handler.run(step, targets, ctx, signal);
    } catch (err) {
      if (!outer.aborted && signal.aborted) throw new LabTimeoutError(`step did not finish within ${stepTimeoutS} s`);
      throw err;
    } finally {
      clear();
    }
  }
}

/**
 * Heals every pending step, last first, each within DEFAULT_STEP_TIMEOUT_S and regardless of the scenario's
 * signal (which may be why the scenario ended). Returns the first heal's failure, after trying them all.
 */
async function healAll(heals: readonly PendingHeal[], ctx: StepContext): Promise<LabError | undefined> {
  let first: LabError | undefined;
  for (const { index, step, targets, handler } of [...heals].reverse()) {
    const signal = AbortSignal.timeout(DEFAULT_STEP_TIMEOUT_S * 1000);
    setMaxListeners(SIGNAL_LISTENERS, signal);
    try {
      await handler.heal?.(step, targets, ctx, signal);
    } catch (err) {
      log.warn('Healing a step failed', { step: index + 1, action: step.action, error: messageOf(err) });
      ctx.printer.stepFailed(index, `heal: ${messageOf(err)}`);
      first ??= new StepFailedError(index, `heal ${step.action}`, err);
    }
  }
  return first;
}

/** The run's nodes as the network sees them: addresses, and `ctl link set` on the peers. */
function networkNodes(run: LabRun): NetworkNodes {
  return {
    address: (node) => run.container(node).ip,
    hasEmulator: (node) => node !== TRACKER_NAME,
    setLink: async (peer, address, conditions, signal) => {
      const { latencyMs, jitterMs, bandwidth } = conditions;
      await run.peer(peer).control.request('link', { to: address, latencyMs, jitterMs, bandwidth }, { signal });
    },
    pid: async (node) => (await run.refresh(node)).pid,
    setRates: async (peer, rates, signal) => {
      await run.peer(peer).control.request('rate', rates, { signal });
    },
  };
}

interface NetworkLayers {
  enforcement?: NetworkEnforcement;
  filter?: PacketFilter;
  shaper?: NetemShaper;
}

/**
 * The kernel layers the scenario may need (a network section, or partition/link steps) and that the host
 * allows, and the enforcement they give; netem is probed in the namespace of one of the run's containers.
 */
async function networkLayers(scenario: Scenario, run: LabRun, signal: AbortSignal): Promise<NetworkLayers> {
  const needs =
    scenario.network !== undefined ||
    scenario.steps.some((step) => step.action === 'partition' || step.action === 'link');
  if (!needs) return {};
  const pid = run.all().find((container) => container.pid !== undefined && container.state === 'running')?.pid;
  const shaper = new NetemShaper();
  const enforcement = await hostEnforcement({ pid, shaper, signal });
  return {
    enforcement,
    ...(enforcement.partition === 'kernel' ? { filter: new PacketFilter() } : {}),
    ...(usesShaper(enforcement) ? { shaper } : {}),
  };
}

/** `network: latency app, jitter app, loss unsupported, ...; 12 links` for the transcript. */
function networkSummary(network: RunNetwork): string {
  const { links } = network.report();
  const lossy = links.filter((link) => link.lossPercent > 0).length;
  const unenforced =
    network.enforcement.loss === 'unsupported' && lossy > 0 ? ` (loss on ${lossy} links NOT applied)` : '';
  return `network: ${describeEnforcement(network.enforcement)}; ${links.length} links${unenforced}`;
}
