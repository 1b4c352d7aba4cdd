/**
 * Follows one peer container's own activity for the dashboard of `lab up --dashboard`, where no scenario
 * runner sees the transfers: it execs `swarmlab ctl --json watch` in the container (docs/control.md) and
 * turns each event line into a run event for the recorder (a chunk received becomes a `transfer`, a
 * published file a `file`, ...).
 *
 * Docker does not stop an exec'd process when its output stream is closed, so the watch runs under
 * `sh -c 'echo $$; exec ...'`: the first line is its PID, and stopping the watcher kills exactly that
 * process in the container.
 */
import { sleep } from '../abort';

import { createLogger } from '../../src/shared/logger';
import { messageOf } from '../errors';
import type { LabDocker } from '../engine/lab-docker';
import { SWARMLAB_BIN } from '../constants';
import type { RunEventBody, RunRecorder } from './run-events';

const log = createLogger('dashboard-watch');

/** Pause before re-attaching after a watch ended (a restarted or paused peer). */
const REWATCH_DELAY_MS = 2_000;

export const WATCH_SHELL_ARGV: readonly string[] = ['sh', '-c', `echo $$; exec ${SWARMLAB_BIN} ctl --json watch`];

export interface PeerWatcherComponents {
  docker: LabDocker;
  recorder: RunRecorder;
  /** Re-reads the container after its watch ended, and records its state (exited, paused...). */
  refresh?: (peer: string) => Promise<RunEventBody | undefined>;
}

export interface PeerWatcherInit {
  /** The peer's name in the run (`peer-3`): the `to` of what it receives. */
  peer: string;
  containerId: string;
  /** The node event already recorded for this peer, so the same state is not recorded twice. */
  initialState?: RunEventBody;
}

/** Turns one `watch` event line of `peer` into the run event it means, if any. */
export function runEventOfWatchLine(
  peer: string,
  line: Record<string, unknown>,
  namesById: Map<string, string>,
): RunEventBody | undefined {
  const str = (key: string): string | undefined => (typeof line[key] === 'string' ? (line[key] as string) : undefined);
  const num = (key: string): number | undefined => (typeof line[key] === 'number' ? (line[key] as number) : undefined);
  const fileId = str('fileId');
  const named = str('file');
  if (fileId !== undefined && named !== undefined) namesById.set(fileId, named);
  const file = named ?? (fileId === undefined ? undefined : namesById.get(fileId));
  switch (line['event']) {
    case 'watching':
      return { type: 'info', text: `${peer}: following its activity (ctl watch)` };
    case 'held':
    case 'published': {
      const size = num('size');
      const chunks = num('chunks');
      if (file === undefined || size === undefined) return undefined;
      if (line['event'] === 'held' && line['complete'] !== true) {
        const have = num('have') ?? 0;
        return have > 0 && chunks !== undefined ? { type: 'progress', peer, file, have, chunks, size } : undefined;
      }
      return { type: 'file', peer, file, size, ...(chunks === undefined ? {} : { chunks }) };
    }
    case 'download-started':
      return { type: 'info', text: `${peer} started downloading ${file ?? fileId ?? 'a file'}` };
    case 'chunk': {
      const index = num('index');
      const chunks = num('chunks');
      const from = str('from');
      const bytes = num('bytes');
      const ms = num('ms');
      if (file === undefined || index === undefined || chunks === undefined || from === undefined) return undefined;
      return {
        type: 'transfer',
        file,
        index,
        chunks,
        from,
        to: peer,
        bytes: bytes ?? 0,
        ...(ms === undefined ? {} : { ms }),
      };
    }
    case 'progress': {
      const have = num('have');
      const chunks = num('chunks');
      if (file === undefined || have === undefined || chunks === undefined) return undefined;
      const extra = { bytes: num('bytes'), size: num('size'), rateBps: num('rateBps') };
      return {
        type: 'progress',
        peer,
        file,
        have,
        chunks,
        ...Object.fromEntries(Object.entries(extra).filter(([, value]) => value !== undefined)),
      };
    }
    case 'download-finished': {
      const ok = line['succeeded'] === true;
      const bytes = num('bytes');
      const ms = num('ms');
      const error = str('error');
      const sources = line['chunksBySource'];
      return {
        type: 'download',
        peer,
        file: file ?? fileId ?? '?',
        ok,
        ...(typeof line['verified'] === 'boolean' ? { verified: line['verified'] } : {}),
        ...(bytes === undefined ? {} : { bytes }),
        ...(ms === undefined ? {} : { ms }),
        ...(error === undefined ? {} : { error }),
        ...(typeof sources === 'object' && sources !== null
          ? { chunksBySource: sources as Record<string, number> }
          : {}),
      };
    }
    default:
      return undefined;
  }
}

export class PeerWatcher {
  private readonly docker: LabDocker;
  private readonly recorder: RunRecorder;
  private readonly refresh: PeerWatcherComponents['refresh'];
  private readonly peer: string;
  private readonly containerId: string;
  private readonly namesById = new Map<string, string>();
  private readonly abort = new AbortController();
  private pid: string | undefined;
  /** The last node state recorded, so a peer that stays down is not recorded every retry. */
  private lastState: string | undefined;
  private running: Promise<void> | undefined;

  constructor(components: PeerWatcherComponents, init: PeerWatcherInit) {
    this.docker = components.docker;
    this.recorder = components.recorder;
    this.refresh = components.refresh;
    this.peer = init.peer;
    this.containerId = init.containerId;
    this.lastState = init.initialState === undefined ? undefined : JSON.stringify(init.initialState);
  }

  /** Starts following the peer (re-attaching whenever a watch ends) until `stop`. */
  start(): void {
    this.running ??= this.loop();
  }

  /** Stops following and kills the watch process in the container; idempotent. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    await this.killWatchProcess();
  }

  private async loop(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      this.pid = undefined;
      try {
        await this.docker.exec(this.containerId, [...WATCH_SHELL_ARGV], {
          signal,
          onStdoutLine: (line) => this.onLine(line),
        });
      } catch (err) {
        if (signal.aborted) break;
        log.debug('watch ended with an error', { peer: this.peer, error: messageOf(err) });
      }
      if (signal.aborted) break;
      await this.recordState();
      await sleep(REWATCH_DELAY_MS, signal).catch(() => undefined);
    }
  }

  /** Records the container's state when it changed: a watch that ends or (re)attaches says it may have. */
  private async recordState(): Promise<void> {
    const state = await this.refresh?.(this.peer).catch(() => undefined);
    if (state === undefined || JSON.stringify(state) === this.lastState) return;
    this.lastState = JSON.stringify(state);
    this.recorder.record(state);
  }

  private onLine(line: string): void {
    if (this.pid === undefined && /^\d+$/.test(line.trim())) {
      this.pid = line.trim();
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return; // not a ctl line (a warning on stdout, say)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return;
    // Attached (again, after a restart, say): the peer is up, which the dashboard may not know yet.
    if ((parsed as Record<string, unknown>)['event'] === 'watching') void this.recordState();
    const event = runEventOfWatchLine(this.peer, parsed as Record<string, unknown>, this.namesById);
    if (event !== undefined) this.recorder.record(event);
  }

  private async killWatchProcess(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    this.pid = undefined;
    await this.docker
      .exec(this.containerId, ['kill', pid], { signal: AbortSignal.timeout(10_000) })
      .catch((err: unknown) =>
        log.debug('could not stop the watch process', { peer: this.peer, error: messageOf(err) }),
      );
  }
}
