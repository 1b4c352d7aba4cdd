/**
 * `npm run lab -- COMMAND`: the lab controller's command line. Parses arguments, wires dockerode,
 * the image builder and the printer together, and turns SIGINT/SIGTERM into an abort that tears the
 * run down. Exit codes: 0 ok, 1 a run or assertion failed, 2 bad usage or invalid scenario, 130 interrupted.
 */
import { parseArgs } from 'node:util';

import Docker from 'dockerode';

import { createLogger, setLogLevel } from '../src/shared/logger';
import { chaosCommand, DEFAULT_CHAOS_RUN_PREFIX } from './chaos';
import {
  buildCommand,
  demoCommand,
  downCommand,
  logsCommand,
  runCommand,
  statusCommand,
  upCommand,
  type CommandContext,
} from './commands';
import { DEFAULT_RUN_NAME, LabController } from './controller';
import { exerciseCommand, EXERCISE_USAGE } from './exercise/exercise-main';
import { ERROR_CODES, LabError, NODE_PARSE_ARGS_CODE_PREFIX, UsageError, messageOf } from './errors';
import { ensureImages } from './images/build-images';
import { swarmHostMemory, type DaemonHost } from './memory-estimate';
import { createLabDocker, parseLabEngine } from './engine/lab-engine';
import { compareCommand } from './experiment/compare-command';
import { dashboardOptionsFrom, upWithDashboard, withDashboard } from './observe/dashboard-command';
import { PROGRESS_MODES, SUMMARY_ABOVE_PEERS, type ProgressMode } from './observe/live-summary';
import { Printer } from './print';
import { diffCommand } from './replay/diff-command';
import { isRunSeed, RUN_SEED_PATTERN } from './replay/seed';

const log = createLogger('lab');

const USAGE = `usage: npm run lab -- COMMAND [options]

commands:
  build                              (re)build the images and print their names and sizes
  up --peers N [--run NAME]          start a tracker and N peers on a fresh network (default run: ${DEFAULT_RUN_NAME})
     [--chunk-size BYTES]
  demo [--json] [--keep] [--run NAME] [--seed S]
                                     replay the classic demo (lab/scenarios/demo.yaml) on 5 containers
  run SCENARIO [--json] [--keep] [--run NAME] [--seed S]
                                     replay a scenario file (YAML or JSON), e.g. lab/scenarios/seeder-killed.yaml
  run RUN_FOLDER [...]               replay a recorded run (lab/runs/RUN/ or its run.json): same resolved
                                     scenario, same seeds, into a new run folder
  diff RUN_A RUN_B [--json]          what differed between two run folders: settings, seeds, outcome, timings
  chaos [SCENARIO...] [--json] [--keep] [--run PREFIX] [--seed S]
                                     replay every fault scenario (or the named ones: partition, lying-peer, ...)
                                     on runs PREFIX-SCENARIO (default ${DEFAULT_CHAOS_RUN_PREFIX}) and print
                                     fault, survived, bytes verified, time to recover; exit 0 only if all survived
  compare SCENARIO --vary KEY=V1,V2[,...] [--vary KEY2=...] [--repeat N] [--seed S] [--json]
                                     run the scenario N times (default 3) for every combination of the values
                                     and compare them against the theoretical minimum (compare.html,
                                     compare.json); KEY: picker, endgame, superSeed, maxInflight, chunkSize,
                                     image, or PEER.KEY for one peer (docs/experiments.md); exit 0 only if
                                     every run's downloads verified
  status [--run NAME]                containers, addresses, states and what each peer holds
  logs [PEER] [--run NAME] [--tail N]
                                     container logs (PEER: tracker, peer-1, ...)
  down [--run NAME | --all]          remove the containers and networks of a run (or of every run)
${EXERCISE_USAGE}

--dashboard (up, demo, run) serves a live dashboard on http://127.0.0.1:PORT/ (--dashboard-port N, default
7080, 0 = any free port); after demo/run it keeps serving the final state until Ctrl-C, unless
--dashboard-exit. up --dashboard stays in the foreground until Ctrl-C and leaves the run up.

demo and run write a report (report.html, report.json, events.jsonl) and run.json (what replays the run)
into lab/runs/RUN-UTCTIME/ and print its path; compare writes lab/runs/compare-UTCTIME/ (compare.html,
compare.json, each run's report under runs/; its runs are named PREFIX-vN-rR, --run PREFIX); --report-dir DIR
puts them under DIR instead.

--engine swarm (every command) runs the nodes as Docker Swarm services on an overlay network instead of
containers on a bridge network (--engine docker, the default); it needs a Swarm manager (docs/swarm.md).

--progress chunks|summary (demo, run) prints a line per received chunk, or a compact live summary (progress
per peer, aggregate rates; redrawn once a second on a terminal, a plain line every 5 s otherwise); the
default, auto, is the summary above ${SUMMARY_ABOVE_PEERS} peers. Every chunk is in the report's events.jsonl either way.

--seed S (demo, run, chaos) is the run seed: a generate step without a seed of its own uses one derived
from it, so the same S generates the same files; without it each run draws one (run and demo print it).

--json prints one JSON record as the last line of stdout. --keep leaves the run up afterwards.
-v/--verbose logs progress (image builds, containers) to stderr; so does LOG_LEVEL=info.`;

const EXIT_USAGE = 2;
/** Errors in what was asked for (a scenario, a `--vary`), not in a run: exit 2 like bad usage. */
const USAGE_CODES: ReadonlySet<string> = new Set([
  ERROR_CODES.SCENARIO_INVALID,
  ERROR_CODES.SCENARIO_READ,
  ERROR_CODES.VARY_UNKNOWN_KEY,
  ERROR_CODES.VARY_BAD_VALUE,
  ERROR_CODES.RUN_RECORD_MISSING,
  ERROR_CODES.RUN_RECORD_INVALID,
  ERROR_CODES.EXERCISE_INVALID,
  ERROR_CODES.EXERCISE_REFUSED,
]);
const EXIT_INTERRUPTED = 130;

function positiveInt(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`${option} must be a positive integer, got "${value}"`);
  return Number(value);
}

function progressMode(value: string | undefined): ProgressMode | undefined {
  if (value === undefined) return undefined;
  const mode = PROGRESS_MODES.find((m) => m === value);
  if (mode === undefined)
    throw new UsageError(`--progress must be one of ${PROGRESS_MODES.join(', ')}, got "${value}"`);
  return mode;
}

function runSeedOption(value: string | undefined): string | undefined {
  if (value !== undefined && !isRunSeed(value))
    throw new UsageError(`--seed must match ${RUN_SEED_PATTERN} (letters, digits, '_', '.', ':', '-'), got "${value}"`);
  return value;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      peers: { type: 'string' },
      run: { type: 'string' },
      'chunk-size': { type: 'string' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      tail: { type: 'string' },
      engine: { type: 'string', default: 'docker' },
      'report-dir': { type: 'string' },
      progress: { type: 'string' },
      vary: { type: 'string', multiple: true },
      repeat: { type: 'string' },
      seed: { type: 'string' },
      dashboard: { type: 'boolean', default: false },
      'dashboard-port': { type: 'string' },
      'dashboard-exit': { type: 'boolean', default: false },
      picker: { type: 'string' },
      assertions: { type: 'string' },
      uploader: { type: 'string' },
      runs: { type: 'string' },
      set: { type: 'string', multiple: true },
      scenario: { type: 'string' },
      student: { type: 'string' },
      submissions: { type: 'string' },
      hidden: { type: 'string' },
      csv: { type: 'boolean', default: false },
      dir: { type: 'string' },
      verbose: { type: 'boolean', short: 'v', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  // The transcript on stdout is the point; progress logs on stderr only with --verbose or LOG_LEVEL.
  if (values.verbose) setLogLevel('debug');
  else if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');
  const printer = new Printer();
  if (command === undefined || command === 'help' || values.help) {
    printer.line(USAGE);
    return command === undefined && !values.help ? EXIT_USAGE : 0;
  }

  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts += 1;
    if (interrupts > 1) {
      log.error('Second interrupt: exiting without teardown (clean up with: npm run lab -- down --all)');
      process.exit(EXIT_INTERRUPTED);
    }
    log.warn(`${signal}: stopping and tearing down...`);
    abort.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const docker = new Docker();
  const engine = parseLabEngine(values.engine);
  const controller = new LabController({
    docker: await createLabDocker(engine, docker),
    ensureImages: (init) => ensureImages(docker, init),
    // Every Swarm service is pinned to the manager the lab talks to: its memory is the limit.
    ...(engine === 'swarm' ? { hostMemory: swarmHostMemory(await daemonHost(docker)) } : {}),
  });
  const ctx: CommandContext = { controller, printer, signal: abort.signal, engine };
  const run = values.run;
  const reportDir = values['report-dir'];
  const progress = progressMode(values.progress);
  const seed = runSeedOption(values.seed);
  // A Ctrl-C that only ends the viewing of a finished run's dashboard does not make the run "interrupted".
  let viewingFinishedRun = false;
  const dashboardFlags = dashboardOptionsFrom(values);
  const dashboard = dashboardFlags && { ...dashboardFlags, onHold: () => (viewingFinishedRun = true) };

  const code = await (async (): Promise<number> => {
    switch (command) {
      case 'build':
        return buildCommand(ctx);
      case 'up': {
        const peers = positiveInt(values.peers, '--peers');
        if (peers === undefined) throw new UsageError('up needs --peers N');
        const chunkSize = positiveInt(values['chunk-size'], '--chunk-size');
        const upOptions = { run: run ?? DEFAULT_RUN_NAME, peers, ...(chunkSize === undefined ? {} : { chunkSize }) };
        return dashboard === undefined ? upCommand(ctx, upOptions) : upWithDashboard(ctx, upOptions, dashboard);
      }
      case 'demo':
        return withDashboard(ctx, dashboard, (recorder) =>
          demoCommand(ctx, {
            command: argv,
            json: values.json,
            keep: values.keep,
            ...(run === undefined ? {} : { run }),
            ...(reportDir === undefined ? {} : { reportDir }),
            ...(progress === undefined ? {} : { progress }),
            ...(seed === undefined ? {} : { seed }),
            ...(recorder === undefined ? {} : { recorder }),
          }),
        );
      case 'run': {
        const file = rest[0];
        if (file === undefined) throw new UsageError('run needs a SCENARIO file');
        return withDashboard(ctx, dashboard, (recorder) =>
          runCommand(ctx, file, {
            command: argv,
            json: values.json,
            keep: values.keep,
            ...(run === undefined ? {} : { run }),
            ...(reportDir === undefined ? {} : { reportDir }),
            ...(progress === undefined ? {} : { progress }),
            ...(seed === undefined ? {} : { seed }),
            ...(recorder === undefined ? {} : { recorder }),
          }),
        );
      }
      case 'chaos':
        return chaosCommand(ctx, {
          only: rest,
          json: values.json,
          keep: values.keep,
          ...(run === undefined ? {} : { runPrefix: run }),
          ...(seed === undefined ? {} : { seed }),
        });
      case 'diff': {
        const [runA, runB, ...extra] = rest;
        if (runA === undefined || runB === undefined || extra.length > 0)
          throw new UsageError('diff needs two run folders: diff RUN_A RUN_B');
        return diffCommand(printer, runA, runB, { json: values.json });
      }
      case 'compare': {
        const file = rest[0];
        if (file === undefined) throw new UsageError('compare needs a SCENARIO file');
        if (values.vary === undefined) throw new UsageError('compare needs at least one --vary KEY=V1,V2');
        const repeat = positiveInt(values.repeat, '--repeat');
        return compareCommand(ctx, file, {
          vary: values.vary,
          json: values.json,
          ...(repeat === undefined ? {} : { repeat }),
          ...(seed === undefined ? {} : { seed }),
          ...(run === undefined ? {} : { run }),
          ...(reportDir === undefined ? {} : { reportDir }),
        });
      }
      case 'status':
        return statusCommand(ctx, run);
      case 'logs':
        return logsCommand(ctx, rest[0], run, positiveInt(values.tail, '--tail'));
      case 'exercise':
        return exerciseCommand(ctx, rest, { ...values, dashboard });
      case 'down':
        if (values.all && run !== undefined) throw new UsageError('down takes --run NAME or --all, not both');
        return downCommand(ctx, run, values.all);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  })();
  return abort.signal.aborted && !viewingFinishedRun ? EXIT_INTERRUPTED : code;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (
      err instanceof UsageError ||
      (err instanceof TypeError && 'code' in err && String(err.code).startsWith(NODE_PARSE_ARGS_CODE_PREFIX))
    ) {
      process.stderr.write(`${messageOf(err)}\n\n${USAGE}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    if (err instanceof LabError) {
      process.stderr.write(`error [${err.code}]: ${err.message}\n`);
      process.exitCode = USAGE_CODES.has(err.code) ? EXIT_USAGE : 1;
      return;
    }
    log.error('Unexpected failure', { error: err instanceof Error ? err.stack : String(err) });
    process.exitCode = 1;
  },
);

/** The daemon's host name and memory (`docker info`). */
async function daemonHost(docker: Docker): Promise<DaemonHost> {
  const info = (await docker.info()) as { Name?: unknown; MemTotal?: unknown };
  return {
    hostname: typeof info.Name === 'string' ? info.Name : '',
    memTotalBytes: typeof info.MemTotal === 'number' ? info.MemTotal : 0,
  };
}
