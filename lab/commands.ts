/**
 * The lab's commands, callable from `main.ts` (argument parsing) and from tests. Each returns the
 * process exit code: 0 success, 1 a failed run or assertion, 2 bad usage or an invalid scenario.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { createLogger } from '../src/shared/logger';
import { TRACKER_NAME } from './constants';
import { LabController, type LabRun } from './controller';
import { withTimeout } from './abort';
import { UsageError, asLabError, messageOf } from './errors';
import type { LabContainer } from './engine/lab-docker';
import { DEFAULT_LAB_ENGINE, type LabEngine } from './engine/lab-engine';
import { Printer } from './print';
import type { DownloadReport, RunCosts, ScenarioReport } from './report-types';
import { describeEnforcement, hostEnforcement } from './network/run-network';
import { loadScenario, scenarioPeers } from './scenario/load';
import { medianContainerMemoryMB } from './observe/container-memory';
import type { ProgressMode } from './observe/live-summary';
import { nodeEvent } from './observe/node-event';
import { writeRunReport } from './observe/report-writer';
import { RunRecorder } from './observe/run-events';
import { buildRunRecord, recordImages } from './replay/record-builder';
import { readRunRecord, writeRunRecord } from './replay/record-io';
import { runTarget } from './replay/replay-args';
import { environmentNotes, versionNotes } from './replay/replay-notes';
import { resolveScenario } from './replay/resolve';
import { SWARMLAB_VERSION, type RunRecord } from './replay/run-record';
import { drawRunSeed, runSeeds, seedGenerateSteps, type RunSeeds } from './replay/seed';
import { ScenarioRunner } from './scenario/runner';
import { MAX_PEERS, type Scenario } from './scenario/schema';

const log = createLogger('lab');

const STATUS_TIMEOUT_MS = 5_000;

export interface CommandContext {
  controller: LabController;
  printer: Printer;
  /** Fires on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** The engine behind `controller` (default `docker`), for the commands printed as hints. */
  engine?: LabEngine;
}

/** Finds a scenario shipped in lab/scenarios, from the sources (ts-jest) or from dist/ (the bundle). */
export function shippedScenarioPath(file: string): string {
  const candidates = [join(__dirname, 'scenarios', file), join(__dirname, '..', 'lab', 'scenarios', file)];
  return candidates.find((path) => existsSync(path)) ?? candidates[0]!;
}

export async function buildCommand(ctx: CommandContext): Promise<number> {
  ctx.printer.line('building images...');
  const images = await ctx.controller.ensureImages({ rebuild: true });
  const rows = await Promise.all(
    (
      [
        ['tracker', images.tracker],
        ['peer', images.peer],
        ...(images.base === undefined ? [] : [['base', images.base] as const]),
      ] as const
    ).map(async ([role, name]) => ({
      role,
      name,
      sizeBytes: (await ctx.controller.docker.inspectImage(name))?.sizeBytes,
    })),
  );
  ctx.printer.images(rows);
  return 0;
}

export interface UpOptions {
  run: string;
  peers: number;
  chunkSize?: number;
}

export async function upCommand(ctx: CommandContext, options: UpOptions): Promise<number> {
  if (options.peers > MAX_PEERS)
    throw new UsageError(`--peers: a run has at most ${MAX_PEERS} peers (got ${options.peers})`);
  ctx.printer.line(`starting run ${options.run} with ${options.peers} peer(s)...`);
  const run = await ctx.controller.up({
    run: options.run,
    peers: Array.from({ length: options.peers }, (_, i) => ({ name: `peer-${i + 1}` })),
    autoConnect: true,
    waitHealthy: true,
    ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }),
    signal: ctx.signal,
  });
  ctx.printer.containers(run.all());
  ctx.printer.line();
  // On Swarm a task's container is named `<service>.<slot>.<task id>`: find it by its service's label.
  const swarm = ctx.engine === 'swarm';
  const peer1 = swarm
    ? `$(docker ps -qf label=com.docker.swarm.service.name=${run.name}-peer-1)`
    : `${run.name}-peer-1`;
  ctx.printer.line(`control a peer:  docker exec -it ${peer1} swarmlab ctl status`);
  ctx.printer.line(`tear down:       npm run lab -- down --run ${run.name}${swarm ? ' --engine swarm' : ''}`);
  return 0;
}

export interface ReplayOptions {
  run?: string;
  keep?: boolean;
  json?: boolean;
  /** Print a line per chunk (default true). */
  printChunks?: boolean;
  /** Chunk lines or a live summary (default `auto`: a summary above 8 peers). */
  progress?: ProgressMode;
  /** Records the run's events (for the dashboard and the run report). */
  recorder?: RunRecorder;
  /** Where `run` and `demo` write the run report's directory (default `defaultReportDir()`: lab/runs). */
  reportDir?: string;
  /** The run seed (lab/replay/seed.ts): generate steps without a seed derive theirs from it; drawn when absent. */
  seed?: string;
  /** The lab's command line, for run.json (default: the command and its scenario). */
  command?: string[];
  /** Peer name to the image it starts from instead of the lab's peer image (`lab compare --vary image=`). */
  peerImages?: Record<string, string>;
  /** Host files every peer sees read-only (an exercise's picker module). */
  peerFiles?: { source: string; target: string }[];
  /** Called with the run after the scenario, before teardown (an exercise reads the peers' upload counts). */
  beforeTeardown?: (run: LabRun) => Promise<void>;
}

/** lab/runs in the repository (beside lab/scenarios), from the sources or from dist/. */
export function defaultReportDir(): string {
  return join(dirname(shippedScenarioPath('demo.yaml')), '..', 'runs');
}

/** What a run executed, for its run.json (lab/replay). */
export interface ExecutedScenario {
  report: ScenarioReport;
  /** The resolved scenario (lab/replay/resolve.ts) the runner executed, steps without derived seeds. */
  scenario: Scenario;
  seeds: RunSeeds;
  /** The ids of the images the containers ran; undefined when the run failed before it had containers. */
  images: RunRecord['images'];
}

/** Starts a run for the scenario, replays it, and tears the run down unless `keep`. */
export async function replayScenario(
  ctx: CommandContext,
  scenario: Scenario,
  options: ReplayOptions,
): Promise<ScenarioReport> {
  return (await executeScenario(ctx, scenario, options)).report;
}

/** `replayScenario`, also returning what run.json records: the resolved scenario, the seeds, the images. */
export async function executeScenario(
  ctx: CommandContext,
  given: Scenario,
  options: ReplayOptions,
): Promise<ExecutedScenario> {
  const scenario = resolveScenario(given);
  const runSeed = options.seed ?? drawRunSeed();
  const seeds = runSeeds(scenario, runSeed);
  // Generate steps without a seed of their own take one derived from the run seed.
  const seeded = seedGenerateSteps(scenario, runSeed);
  let images: RunRecord['images'];
  const executed = (report: ScenarioReport): ExecutedScenario => ({ report, scenario, seeds, images });
  const runName = options.run ?? scenario.name;
  ctx.printer.info(`scenario ${scenario.name}: starting run ${runName} (images, network, tracker, peers)...`);
  let run: LabRun | undefined;
  let costs: RunCosts | undefined;
  let report: ScenarioReport;
  try {
    run = await ctx.controller.up({
      run: runName,
      peers: scenarioPeers(scenario),
      autoConnect: scenario.autoConnect ?? false,
      ...(options.peerImages === undefined ? {} : { peerImages: options.peerImages }),
      ...(options.peerFiles === undefined ? {} : { peerFiles: options.peerFiles }),
      ...(scenario.chunkSize === undefined ? {} : { chunkSize: scenario.chunkSize }),
      signal: ctx.signal,
    });
    // Before any step: what an idle peer holds is the floor of a run's memory (lab/memory-estimate.ts).
    const peerPids = run.all().flatMap((c) => (c.role === 'peer' ? [c.pid] : []));
    costs = { upS: (run.upMs ?? 0) / 1000, peerIdleRssMB: await medianContainerMemoryMB(peerPids) };
    if (run.images !== undefined) images = await recordImages(ctx.controller.docker, run.images);
    ctx.printer.containers(run.all());
    options.recorder?.record({ type: 'run', run: runName, scenario: scenario.name });
    for (const container of run.all()) {
      options.recorder?.record(nodeEvent(container.shortName ?? container.name, container));
    }
    // Limits given in the scenario's peer list are rates too (the report's minimum time needs them).
    for (const peer of scenarioPeers(scenario)) {
      if (peer.uploadRate === undefined && peer.downloadRate === undefined) continue;
      options.recorder?.record({
        type: 'rate',
        peer: peer.name,
        ...(peer.uploadRate === undefined ? {} : { uploadBps: peer.uploadRate }),
        ...(peer.downloadRate === undefined ? {} : { downloadBps: peer.downloadRate }),
      });
    }
    const runner = new ScenarioRunner(
      {
        run,
        docker: ctx.controller.docker,
        printer: ctx.printer,
        ...(options.recorder === undefined ? {} : { recorder: options.recorder }),
        waitReady: async (labRun, name, signal) => {
          const control = name === TRACKER_NAME ? undefined : labRun.peer(name).control;
          await ctx.controller.waitReady(labRun.container(name), control, signal);
        },
      },
      seeded,
      {
        signal: ctx.signal,
        printChunks: options.printChunks ?? true,
        ...(options.progress === undefined ? {} : { progress: options.progress }),
      },
    );
    report = await runner.replay();
    options.recorder?.record({
      type: 'end',
      ok: report.ok,
      ms: report.ms,
      ...(report.error === undefined ? {} : { error: report.error.message }),
    });
  } catch (err) {
    const error = asLabError(err);
    // The image layer's errors keep their own codes (ERR_IMAGE_BUILD, ...): a grade tells the lab's failure by them.
    const ownCode = (err as { code?: unknown } | undefined)?.code;
    const code = typeof ownCode === 'string' && ownCode.startsWith('ERR_') ? ownCode : error.code;
    options.recorder?.record({ type: 'end', ok: false, ms: 0, error: error.message });
    report = {
      scenario: scenario.name,
      ok: false,
      ms: 0,
      steps: [],
      downloads: [],
      error: { code, message: error.message },
    };
  } finally {
    if (run !== undefined && options.beforeTeardown !== undefined) {
      await options
        .beforeTeardown(run)
        .catch((err: unknown) => log.warn('Before teardown failed', { run: runName, error: messageOf(err) }));
    }
    if (run !== undefined) {
      if (options.keep === true) {
        ctx.printer.info(`kept run ${runName}; remove it with: npm run lab -- down --run ${runName}`);
      } else {
        // The teardown is bounded (lab/controller.ts): its time is reported whether or not it left something.
        const downStartedAtMs = Date.now();
        const teardownError = await run.teardown().then(
          () => undefined,
          (err: unknown) => {
            log.error('Teardown failed', { run: runName, error: messageOf(err) });
            return asLabError(err);
          },
        );
        if (costs !== undefined) {
          costs.downS = (Date.now() - downStartedAtMs) / 1000;
          if (teardownError !== undefined) {
            costs.teardownError = { code: teardownError.code, message: teardownError.message };
          }
        }
        if (teardownError !== undefined) ctx.printer.info(`teardown incomplete: ${teardownError.message}`);
      }
    }
  }
  return executed(costs === undefined ? report : { ...report, costs });
}

/**
 * `run SCENARIO`: a scenario file (or a shipped one by name), or a run folder (or its run.json) to replay:
 * its resolved scenario with its seeds (`--seed` overrides the run seed), into a new run folder.
 */
export async function runCommand(ctx: CommandContext, file: string, options: ReplayOptions): Promise<number> {
  const target = runTarget(file);
  if (target.kind === 'scenario') {
    const source = resolveScenarioFile(file);
    return runScenarioCommand(ctx, await loadScenario(source), { ...options, source });
  }
  const { record, dir } = await readRunRecord(target.target);
  ctx.printer.line(`replaying ${dir} (scenario ${record.scenario.name}, seed ${record.seeds.run})`);
  for (const note of versionNotes(record, SWARMLAB_VERSION)) ctx.printer.line(note);
  return runScenarioCommand(ctx, record.scenario, {
    ...options,
    run: options.run ?? record.run,
    seed: options.seed ?? record.seeds.run,
    source: dir,
    replayed: record,
    replayDir: dir,
  });
}

interface RunScenarioOptions extends ReplayOptions {
  /** The scenario file, or the folder replayed. */
  source: string;
  /** When replaying: the recorded run and its folder. */
  replayed?: RunRecord;
  replayDir?: string;
}

async function runScenarioCommand(
  ctx: CommandContext,
  scenario: Scenario,
  options: RunScenarioOptions,
): Promise<number> {
  const recorder = options.recorder ?? new RunRecorder();
  const seed = announceSeed(ctx, options.seed);
  const run = options.run ?? scenario.name;
  const executed = await executeScenario(ctx, scenario, { ...options, recorder, seed });
  const { report } = executed;
  printReport(ctx.printer, report);
  const record = await buildRunRecord({
    run,
    startedAt: recorder.startedAt,
    engine: ctx.engine ?? DEFAULT_LAB_ENGINE,
    command: options.command ?? ['run', options.source],
    source: options.source,
    ...(options.replayDir === undefined ? {} : { replayOf: options.replayDir }),
    scenario: executed.scenario,
    seeds: executed.seeds,
    images: executed.images,
    report,
  });
  if (options.replayed !== undefined)
    for (const note of environmentNotes(options.replayed, record)) ctx.printer.line(note);
  const reportPath = await writeReport(ctx, options.reportDir, run, recorder, report, record);
  if (options.json === true) ctx.printer.json({ ...report, ...(reportPath === undefined ? {} : { reportPath }) });
  return report.ok ? 0 : 1;
}

/** The classic demo: lab/scenarios/demo.yaml, then a verified summary per downloader. */
export async function demoCommand(ctx: CommandContext, options: ReplayOptions): Promise<number> {
  const scenario = await loadScenario(shippedScenarioPath('demo.yaml'));
  const run = options.run ?? 'demo';
  const recorder = options.recorder ?? new RunRecorder();
  const seed = announceSeed(ctx, options.seed);
  const executed = await executeScenario(ctx, scenario, { ...options, run, recorder, seed });
  const { report } = executed;
  printReport(ctx.printer, report);
  const record = await buildRunRecord({
    run,
    startedAt: recorder.startedAt,
    engine: ctx.engine ?? DEFAULT_LAB_ENGINE,
    command: options.command ?? ['demo'],
    scenario: executed.scenario,
    seeds: executed.seeds,
    images: executed.images,
    report,
  });
  const reportPath = await writeReport(ctx, options.reportDir, run, recorder, report, record);
  const downloads: DownloadReport[] = report.downloads.map((d) => ({
    peer: d.peer,
    file: d.file,
    bytes: d.bytes,
    sha256: d.sha256,
    verified: d.verified,
    chunksBySource: d.chunksBySource,
  }));
  if (options.json === true) ctx.printer.json({ downloads, ...(reportPath === undefined ? {} : { reportPath }) });
  const ok = report.ok && downloads.length >= 2 && downloads.every((d) => d.verified);
  return ok ? 0 : 1;
}

/** The run seed (`--seed`, else a fresh one), printed so that the run can be repeated with `--seed`. */
function announceSeed(ctx: CommandContext, seed: string | undefined): string {
  const runSeed = seed ?? drawRunSeed();
  ctx.printer.line(`seed: ${runSeed}`);
  return runSeed;
}

/**
 * Writes the run report (events.jsonl, report.json, report.html) and run.json and prints where; returns the path of
 * report.html. A report that cannot be written is an error line, not a failed run: the run itself happened.
 */
async function writeReport(
  ctx: CommandContext,
  reportDir: string | undefined,
  run: string,
  recorder: RunRecorder,
  report: ScenarioReport,
  record: RunRecord,
): Promise<string | undefined> {
  try {
    const written = await writeRunReport({
      reportDir: reportDir ?? defaultReportDir(),
      run,
      events: recorder.events,
      report,
      startedAt: recorder.startedAt,
    });
    await writeRunRecord(written.dir, record);
    ctx.printer.line(`report: ${written.html}`);
    return written.html;
  } catch (err) {
    log.error('Could not write the run report', { run, error: messageOf(err) });
    ctx.printer.line(`report: not written (${messageOf(err)})`);
    return undefined;
  }
}

function printReport(printer: Printer, report: ScenarioReport): void {
  printer.line();
  if (report.downloads.length > 0) printer.downloads(report.downloads);
  if (report.ok) printer.line(`scenario ${report.scenario} passed in ${(report.ms / 1000).toFixed(1)} s`);
  else printer.line(`scenario ${report.scenario} FAILED: ${report.error?.message ?? 'unknown error'}`);
}

/** `--run NAME`, else the only run, else `lab`. */
export async function resolveRun(ctx: CommandContext, run: string | undefined): Promise<string> {
  if (run !== undefined) return run;
  const runs = await ctx.controller.listRuns();
  if (runs.length === 1) return runs[0]!;
  if (runs.includes('lab')) return 'lab';
  if (runs.length === 0) throw new UsageError('no runs (start one with: npm run lab -- up --peers 3)');
  throw new UsageError(`several runs (${runs.join(', ')}): pick one with --run NAME`);
}

export async function statusCommand(ctx: CommandContext, run: string | undefined): Promise<number> {
  const runs = run === undefined ? await ctx.controller.listRuns() : [run];
  if (runs.length === 0) {
    ctx.printer.runs([]);
    return 0;
  }
  for (const name of runs) {
    const labRun = await ctx.controller.attach(name);
    // netem is probed in the namespace of one of the run's containers.
    const probePid = labRun.all().find((container) => container.pid !== undefined)?.pid;
    const enforcement = describeEnforcement(await hostEnforcement({ pid: probePid, signal: ctx.signal }));
    ctx.printer.line(`run ${name} (network ${labRun.network?.name ?? '-'})`);
    ctx.printer.line(`links enforced by: ${enforcement}`);
    const rows = await Promise.all(
      labRun.all().map(async (container: LabContainer) => {
        if (container.role !== 'peer' || container.state !== 'running' || container.shortName === undefined)
          return { container };
        const bounded = withTimeout(ctx.signal, STATUS_TIMEOUT_MS);
        try {
          const status = await labRun
            .peer(container.shortName)
            .control.request('status', {}, { signal: bounded.signal });
          return { container, status };
        } catch (err) {
          return { container, error: messageOf(err) };
        } finally {
          bounded.clear();
        }
      }),
    );
    ctx.printer.status(rows);
    ctx.printer.line();
  }
  return 0;
}

export async function logsCommand(
  ctx: CommandContext,
  peer: string | undefined,
  run: string | undefined,
  tail?: number,
): Promise<number> {
  const labRun = await ctx.controller.attach(await resolveRun(ctx, run));
  const containers = peer === undefined ? labRun.all() : [labRun.container(peer)];
  for (const container of containers) {
    const { combined } = await ctx.controller.docker.logs(container.id, tail === undefined ? {} : { tail });
    ctx.printer.logs(container.shortName ?? container.name, combined);
  }
  return 0;
}

export async function downCommand(ctx: CommandContext, run: string | undefined, all: boolean): Promise<number> {
  if (all) {
    const result = await ctx.controller.down(undefined);
    ctx.printer.line(`removed ${result.containers} container(s) and ${result.networks} network(s)`);
    return 0;
  }
  if (run === undefined && (await ctx.controller.listRuns()).length === 0) {
    ctx.printer.runs([]);
    return 0;
  }
  const name = await resolveRun(ctx, run);
  const result = await ctx.controller.down(name);
  ctx.printer.line(`run ${name}: removed ${result.containers} container(s) and ${result.networks} network(s)`);
  return 0;
}

export function resolveScenarioFile(file: string): string {
  if (existsSync(file)) return resolve(file);
  const shipped = shippedScenarioPath(file.endsWith('.yaml') || file.endsWith('.json') ? file : `${file}.yaml`);
  return existsSync(shipped) ? shipped : resolve(file);
}
