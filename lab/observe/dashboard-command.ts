/**
 * `--dashboard` for the lab's commands: starts the live dashboard (dashboard-server.ts) on 127.0.0.1 around
 * a command, hands the command the recorder to fill, and afterwards keeps serving the final state until
 * Ctrl-C, so a student can look at what happened, unless `--dashboard-exit` asks to exit at once.
 */
import { sleep } from '../abort';

import { upCommand, type CommandContext, type UpOptions } from '../commands';
import { UsageError } from '../errors';
import { nodeEvent } from './node-event';
import { DashboardServer, DEFAULT_DASHBOARD_PORT } from './dashboard-server';
import { PeerWatcher } from './dashboard-watch';
import { RunRecorder, UP_DASHBOARD_MAX_EVENTS } from './run-events';

export interface DashboardOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one (default DEFAULT_DASHBOARD_PORT). */
  port?: number;
  /** Stop serving as soon as the command ends instead of waiting for Ctrl-C. */
  exitWhenDone?: boolean;
  /** Where the note "still serving; Ctrl-C to exit" goes (default stderr, so a --json record stays last). */
  notice?: (line: string) => void;
  /** Called when the command has ended and the dashboard keeps serving until Ctrl-C. */
  onHold?: () => void;
  /** Keep at most this many events in memory (default all: a scenario's report needs every one). */
  maxEvents?: number;
  /** Called once the server listens (tests use it to learn the URL). */
  onListening?: (url: string, recorder: RunRecorder) => void;
}

const stderrNotice = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/**
 * Runs `command` with a recorder whose events the dashboard streams. Without `options` it just runs the
 * command (no recorder, no server). Returns the command's exit code, also after a Ctrl-C that only ended
 * the post-run viewing.
 */
export async function withDashboard(
  ctx: CommandContext,
  options: DashboardOptions | undefined,
  command: (recorder: RunRecorder | undefined) => Promise<number>,
): Promise<number> {
  if (options === undefined) return command(undefined);
  const recorder = new RunRecorder(options.maxEvents === undefined ? {} : { maxEvents: options.maxEvents });
  const server = new DashboardServer({ recorder }, { port: options.port ?? DEFAULT_DASHBOARD_PORT });
  await server.start().catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new UsageError(
      `the dashboard's port ${options.port ?? DEFAULT_DASHBOARD_PORT} is in use on 127.0.0.1: pick another with --dashboard-port N (0 = any free port)`,
    );
  });
  try {
    ctx.printer.line(`dashboard: ${server.url}`);
    options.onListening?.(server.url, recorder);
    const code = await command(recorder);
    if (options.exitWhenDone !== true && !ctx.signal.aborted) {
      options.onHold?.();
      (options.notice ?? stderrNotice)(`the dashboard still shows the run at ${server.url}; Ctrl-C to exit`);
      await untilAborted(ctx.signal);
    }
    return code;
  } finally {
    await server.stop();
  }
}

/** Resolves when `signal` aborts (never rejects). */
export async function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await sleep(2 ** 31 - 1, signal).catch(() => undefined);
}

/** The command-line flags of the dashboard, as `parseArgs` returns them. */
export interface DashboardFlags {
  dashboard?: boolean;
  'dashboard-port'?: string;
  'dashboard-exit'?: boolean;
}

/** `--dashboard [--dashboard-port N] [--dashboard-exit]`; either of the last two implies `--dashboard`. */
export function dashboardOptionsFrom(flags: DashboardFlags): DashboardOptions | undefined {
  const portText = flags['dashboard-port'];
  if (flags.dashboard !== true && portText === undefined && flags['dashboard-exit'] !== true) return undefined;
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535) {
      throw new UsageError(`--dashboard-port must be a port number (0 = any free port), got "${portText}"`);
    }
    port = Number(portText);
  }
  return { ...(port === undefined ? {} : { port }), exitWhenDone: flags['dashboard-exit'] === true };
}

/**
 * `lab up --dashboard`: starts the run like `up`, then follows every peer's own activity (dashboard-watch.ts)
 * so transfers started by hand (`docker exec RUN-peer-3 swarmlab ctl download NAME`) show live. Stays in
 * the foreground until Ctrl-C, then stops watching and leaves the run up.
 */
export async function upWithDashboard(
  ctx: CommandContext,
  options: UpOptions,
  dashboard: DashboardOptions,
): Promise<number> {
  return withDashboard(ctx, { maxEvents: UP_DASHBOARD_MAX_EVENTS, ...dashboard, exitWhenDone: true }, async (recorder) => {
    const code = await upCommand(ctx, options);
    if (code !== 0 || recorder === undefined || ctx.signal.aborted) return code;
    const run = await ctx.controller.attach(options.run);
    recorder.record({ type: 'run', run: options.run });
    for (const container of run.all()) recorder.record(nodeEvent(container.shortName ?? container.name, container));
    const watchers = [...run.peers.values()].map(
      (peer) =>
        new PeerWatcher(
          {
            control: peer.control,
            recorder,
            refresh: async (name) => nodeEvent(name, await run.refresh(name)),
          },
          { peer: peer.name, initialState: nodeEvent(peer.name, peer.container) },
        ),
    );
    for (const watcher of watchers) watcher.start();
    dashboard.onHold?.();
    ctx.printer.line(
      `watching ${watchers.length} peer(s); try: docker exec ${options.run}-peer-1 swarmlab ctl generate f.txt 4M` +
        ` && docker exec ${options.run}-peer-1 swarmlab ctl upload` +
        ` && docker exec ${options.run}-peer-2 swarmlab ctl download f.txt`,
    );
    (dashboard.notice ?? stderrNotice)(
      `Ctrl-C stops the dashboard and leaves run ${options.run} up (remove it with: npm run lab -- down --run ${options.run})`,
    );
    await untilAborted(ctx.signal);
    await Promise.all(watchers.map((watcher) => watcher.stop()));
    (dashboard.notice ?? stderrNotice)(`dashboard stopped; run ${options.run} is still up`);
    return 0;
  });
}
