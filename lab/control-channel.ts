/**
 * One long-lived control channel to one peer: every request of a run travels over the same byte stream
 * (an exec of lab/control-bridge.ts piped to the peer's control socket), multiplexed by the protocol's
 * request ids (docs/control.md), and each request's events reach the caller that sent it.
 *
 * DEV DOCS
 * - The stream is opened at the first request and kept; `close()` drops it. While no request is in
 *   flight it does not keep the lab process alive (`setKeepAlive(false)`), so a `lab up` that probed its
 *   peers still exits.
 * - A stream that ends (the container stopped, the bridge died) fails over once: a request not yet written
 *   to it, or written but idempotent (safe to send twice: reads and absolute settings), is sent again on a
 *   fresh stream; any other request in flight fails with `ControlChannelError`. A request never gets more
 *   than MAX_STREAMS_PER_REQUEST streams, so a peer whose channel keeps dying fails its steps instead of
 *   looping.
 * - Opening is bounded (OPEN_TIMEOUT_MS); a request may carry its own `timeoutMs` (`ControlTimeoutError`)
 *   and an abort signal. A late answer to a request that timed out or was aborted is dropped.
 * - The peer's own answers are returned as they are: `ok: false` is the caller's business (PeerControl
 *   turns it into `ControlError` with the peer's code).
 */
import { createLogger } from '../src/shared/logger';
import { AbortedError, ControlChannelError, ControlTimeoutError, messageOf } from './errors';

const log = createLogger('control-channel');

/** How long opening a stream (the exec, not the bridge's wait for the socket) may take. */
export const OPEN_TIMEOUT_MS = 30_000;
/** The first stream, and one more after it dies. */
export const MAX_STREAMS_PER_REQUEST = 2;

/** The byte stream under a channel: what `LabDocker.openExec` returns. */
export interface ChannelStream {
  write(text: string): void;
  close(): void;
  setKeepAlive(keep: boolean): void;
}

export interface ChannelStreamHandlers {
  onLine: (line: string) => void;
  /** Once, when the stream ended; `reason` says why, as far as it is known. */
  onClose: (reason: string) => void;
}

export interface ControlChannelComponents {
  /** Opens a new stream to the peer's control socket. */
  open: (handlers: ChannelStreamHandlers) => Promise<ChannelStream>;
}

export interface ControlChannelInit {
  /** The peer's name in the run, for messages. */
  peer: string;
  /** Bound on opening a stream, in ms (default OPEN_TIMEOUT_MS). */
  openTimeoutMs?: number;
  /** Sent with every request, for a listener that requires one (a Unix socket ignores it). */
  token?: string;
}

/** A response line as the peer sent it: `{ id, ok: true, result }` or `{ id, ok: false, error }`. */
export type ChannelResponse = Record<string, unknown> & { ok: boolean };
/** An event line: `{ id, event, ... }`. */
export type ChannelEvent = Record<string, unknown> & { event: string };

export interface ChannelRequestInit {
  onEvent?: (event: ChannelEvent) => void;
  signal?: AbortSignal;
  /** Fails the request with `ControlTimeoutError` when no answer came in this many ms (default: no limit). */
  timeoutMs?: number;
  /** Safe to send twice: sent again on a fresh stream when the stream dies with it in flight. */
  idempotent?: boolean;
}

interface Pending {
  id: number;
  cmd: string;
  line: string;
  idempotent: boolean;
  /** The stream it was written to, undefined while it waits for one. */
  sentOn: number | undefined;
  /** Streams it has been given to. */
  streams: number;
  onEvent: ((event: ChannelEvent) => void) | undefined;
  settle: (error: Error | undefined, response?: ChannelResponse) => void;
}

interface OpenStream {
  generation: number;
  ready: Promise<ChannelStream>;
  /** Set once `ready` resolved. */
  stream: ChannelStream | undefined;
}

export class ControlChannel {
  private readonly openFn: ControlChannelComponents['open'];
  private readonly peer: string;
  private readonly openTimeoutMs: number;
  private readonly token: string | undefined;
  private readonly pending = new Map<number, Pending>();
  private current: OpenStream | undefined;
  private generation = 0;
  private nextId = 1;

  constructor(components: ControlChannelComponents, init: ControlChannelInit) {
    this.openFn = components.open;
    this.peer = init.peer;
    this.openTimeoutMs = init.openTimeoutMs ?? OPEN_TIMEOUT_MS;
    this.token = init.token;
  }

  /** Streams opened so far (one per run unless a channel died). */
  get opened(): number {
    return this.generation;
  }

  /** Requests waiting for their answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Sends `{ id, cmd, args }` and resolves with the peer's response line, whatever its `ok`. */
  async request(cmd: string, args: Record<string, unknown>, init: ChannelRequestInit = {}): Promise<ChannelResponse> {
    const { signal } = init;
    if (signal?.aborted === true) throw new AbortedError(`${this.peer}: ${cmd} aborted`);
    return new Promise<ChannelResponse>((resolve, reject) => {
      const id = this.nextId++;
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        const reason: unknown = signal?.reason;
        pending.settle(
          new AbortedError(`${this.peer}: ${cmd} aborted${reason instanceof Error ? `: ${reason.message}` : ''}`),
        );
      };
      const pending: Pending = {
        id,
        cmd,
        line: `${JSON.stringify(this.token === undefined ? { id, cmd, args } : { id, cmd, args, token: this.token })}\n`,
        idempotent: init.idempotent === true,
        sentOn: undefined,
        streams: 0,
        onEvent: init.onEvent,
        settle: (error, response) => {
          if (!this.pending.delete(id)) return;
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.updateKeepAlive();
          if (error === undefined) resolve(response as ChannelResponse);
          else reject(error);
        },
      };
      this.pending.set(id, pending);
      this.updateKeepAlive();
      if (init.timeoutMs !== undefined) {
        const timeoutMs = init.timeoutMs;
        timer = setTimeout(
          () => pending.settle(new ControlTimeoutError(`${this.peer}: no answer to ${cmd} in ${timeoutMs} ms`)),
          timeoutMs,
        );
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.send(pending);
    });
  }

  /** Drops the stream; requests in flight fail with `ControlChannelError`. A later request opens a new one. */
  close(): void {
    const open = this.current;
    this.current = undefined;
    for (const pending of [...this.pending.values()]) {
      pending.settle(new ControlChannelError(`${this.peer}: control channel closed by the lab during ${pending.cmd}`));
    }
    // A stream still opening is closed as soon as it is there (see open()).
    open?.stream?.close();
  }

  private send(pending: Pending): void {
    const open = this.current ?? this.open();
    pending.streams++;
    open.ready.then(
      (stream) => {
        if (!this.pending.has(pending.id)) return;
        // The stream died between opening and this write: nothing was sent on it.
        if (this.current !== open) {
          this.retryOrFail(pending, 'the channel closed before the request could be sent');
          return;
        }
        pending.sentOn = open.generation;
        stream.write(pending.line);
      },
      (error: unknown) => {
        pending.settle(new ControlChannelError(`${this.peer}: cannot open the control channel: ${messageOf(error)}`));
      },
    );
  }

  private open(): OpenStream {
    const generation = ++this.generation;
    log.debug('Opening control channel', { peer: this.peer, generation });
    let resolveReady: (stream: ChannelStream) => void = () => undefined;
    let rejectReady: (error: unknown) => void = () => undefined;
    const open: OpenStream = {
      generation,
      ready: new Promise<ChannelStream>((resolve, reject) => {
        resolveReady = resolve;
        rejectReady = reject;
      }),
      stream: undefined,
    };
    // Current before the stream exists: it may end before `openFn` even returns.
    this.current = open;
    const opening = this.openFn({
      onLine: (line) => this.onLine(open, line),
      onClose: (reason) => this.onClose(open, reason),
    });
    withTimeout(opening, this.openTimeoutMs, `opening took more than ${this.openTimeoutMs} ms`).then(
      (stream) => {
        open.stream = stream;
        // Closed (by the lab, or by its own end) while it was opening.
        if (this.current !== open) stream.close();
        else stream.setKeepAlive(this.pending.size > 0);
        resolveReady(stream);
      },
      (error: unknown) => {
        if (this.current === open) this.current = undefined;
        // A stream that opens after the timeout is closed at once.
        opening.then((stream) => stream.close()).catch(() => undefined);
        rejectReady(error);
      },
    );
    return open;
  }

  private onLine(open: OpenStream, line: string): void {
    let message: Record<string, unknown>;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
      message = value as Record<string, unknown>;
    } catch {
      log.debug('Ignoring a non-JSON line on the control channel', { peer: this.peer, line: line.slice(0, 200) });
      return;
    }
    const id = message['id'];
    const pending = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (pending === undefined || pending.sentOn !== open.generation) {
      // A late answer to a request that timed out or was aborted, or the peer's reply to a line it could not
      // read at all (id 0).
      if (message['ok'] === false) log.warn('Control error for no request in flight', { peer: this.peer, message });
      return;
    }
    if (typeof message['event'] === 'string') pending.onEvent?.(message as ChannelEvent);
    else if (typeof message['ok'] === 'boolean') pending.settle(undefined, message as ChannelResponse);
  }

  private onClose(open: OpenStream, reason: string): void {
    if (this.current !== open) return;
    this.current = undefined;
    log.info('Control channel closed', { peer: this.peer, reason, inFlight: this.pending.size });
    for (const pending of [...this.pending.values()]) {
      // Requests still waiting for this stream to open are handled when it resolves.
      if (pending.sentOn === open.generation) this.retryOrFail(pending, reason);
    }
  }

  private retryOrFail(pending: Pending, reason: string): void {
    const safe = pending.sentOn === undefined || pending.idempotent;
    if (safe && pending.streams < MAX_STREAMS_PER_REQUEST) {
      log.info('Sending a request again on a new control channel', { peer: this.peer, cmd: pending.cmd });
      pending.sentOn = undefined;
      this.send(pending);
      return;
    }
    const why = safe ? 'a second channel closed too' : `${pending.cmd} is not safe to send twice`;
    pending.settle(
      new ControlChannelError(`${this.peer}: the control channel closed during ${pending.cmd} (${reason}); ${why}`),
    );
  }

  private updateKeepAlive(): void {
    this.current?.stream?.setKeepAlive(this.pending.size > 0);
  }
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
