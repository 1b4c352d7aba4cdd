/**
 * Follows one peer container's own activity for the dashboard of `lab up --dashboard`, where no scenario
 * runner sees the transfers: a `watch` request (docs/control.md) on the peer's control channel, the same
 * one exec per peer that carries every other request of the run (no `swarmlab ctl watch` Node process per
 * peer), and each of its events turned into a run event for the recorder (a chunk received becomes a
 * `transfer`, a published file a `file`, ...).
 *
 * A watch lasts until its connection ends, so stopping the watcher closes the peer's channel: the bridge
 * in the container exits and the peer drops the watch. A later request opens a new channel.
 */
import { sleep } from '../abort';

import { createLogger } from '../../src/shared/logger';
import { messageOf } from '../errors';
import type { PeerControl } from '../peer-control';
import type { RunEventBody, RunRecorder } from './run-events';

const log = createLogger('dashboard-watch');

/** Pause before re-attaching after a watch ended (a restarted or paused peer). */
const REWATCH_DELAY_MS = 2_000;

export interface PeerWatcherComponents {
  /** The peer's control channel. */
  control: Pick<PeerControl, 'channel'>;
  recorder: RunRecorder;
  /** Re-reads the container after its watch ended, and records its state (exited, paused...). */
  refresh?: (peer: string) => Promise<RunEventBody | undefined>;
}

export interface PeerWatcherInit {
  /** The peer's name in the run (`peer-3`): the `to` of what it receives. */
  peer: string;
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
      const peerAt = num('at');
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
        ...(peerAt === undefined ? {} : { peerAt }),
      };
    }
    case 'progress': {
      const have = num('have');
      const chunks = num('chunks');
      if (file === undefined || have === undefined || chunks === undefined) return undefined;
      const extra = { bytes: num('bytes'), size: num('size'), rateBps: num('rateBps'), peerAt: num('at') };
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
  private readonly control: PeerWatcherComponents['control'];
  private readonly recorder: RunRecorder;
  private readonly refresh: PeerWatcherComponents['refresh'];
  private readonly peer: string;
  private readonly namesById = new Map<string, string>();
  private readonly abort = new AbortController();
  /** The last node state recorded, so a peer that stays down is not recorded every retry. */
  private lastState: string | undefined;
  private running: Promise<void> | undefined;

  constructor(components: PeerWatcherComponents, init: PeerWatcherInit) {
    this.control = components.control;
    this.recorder = components.recorder;
    this.refresh = components.refresh;
    this.peer = init.peer;
    this.lastState = init.initialState === undefined ? undefined : JSON.stringify(init.initialState);
  }

  /** Starts following the peer (re-attaching whenever a watch ends) until `stop`. */
  start(): void {
    this.running ??= this.loop();
  }

  /** Stops following and ends the watch in the peer (its channel closes); idempotent. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.control.channel.close();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      try {
        // Answered only when the channel ends (the peer stopped, or stop() closed it).
        await this.control.channel.request('watch', {}, { signal, onEvent: (event) => this.onEvent(event) });
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

  private onEvent(event: Record<string, unknown>): void {
    // Attached (again, after a restart, say): the peer is up, which the dashboard may not know yet.
    if (event['event'] === 'watching') void this.recordState();
    const runEvent = runEventOfWatchLine(this.peer, event, this.namesById);
    if (runEvent !== undefined) this.recorder.record(runEvent);
  }
}
