/**
 * The live dashboard's HTTP server: one page, one Server-Sent Events stream of the run's events, and the
 * events so far as JSON. It listens on 127.0.0.1 only: the lab's dashboard is for the person at the
 * machine, and a run's names and addresses are nobody else's business.
 *
 *   GET /            the page (lab/observe/dashboard-page.ts)
 *   GET /events      SSE: the recorder's history, then every new event as it is recorded; each message is
 *                    `id: SEQ` + `data: JSON`, so a browser that reconnects sends `Last-Event-ID` and resumes
 *                    right after the last event it saw
 *   GET /state.json  `{ startedAt, events: [...] }`: the events so far (for tests and curious users); when the
 *                    recorder keeps a window (`lab up --dashboard`), the events of that window
 *
 * A client that asks for events older than the recorder's window gets one `event: trimmed` message
 * (`{"trimmed":{"fromSeq","toSeq"}}`) and then the events from the oldest kept.
 *
 * Each SSE client reads the recorder's (append-only) history through its own cursor and the server writes
 * only while the socket drains, so a slow browser costs a socket buffer, never a growing queue; a client
 * that has not drained for `stallTimeoutMs` is dropped (its EventSource reconnects and resumes by seq).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { createLogger } from '../../src/shared/logger';
import { dashboardHtml } from './dashboard-page';
import type { RunEvent, RunRecorder } from './run-events';

/** The only address the dashboard listens on. */
export const DASHBOARD_HOST = '127.0.0.1';
export const DEFAULT_DASHBOARD_PORT = 7080;
/** A comment line this often keeps proxies and idle timeouts from cutting a quiet stream. */
export const DEFAULT_HEARTBEAT_MS = 15_000;
/** Bytes a client may have waiting in its socket before the server stops writing to it until 'drain'. */
export const DEFAULT_CLIENT_HIGH_WATER_BYTES = 256 * 1024;
/** A client whose socket has not drained for this long is dropped. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;
/** How long the browser waits before reconnecting a dropped stream. */
const SSE_RETRY_MS = 2_000;

export interface DashboardServerComponents {
  recorder: RunRecorder;
}

export interface DashboardServerInit {
  /** TCP port; 0 picks a free one (default DEFAULT_DASHBOARD_PORT). */
  port?: number;
  /** Interval of the keep-alive comments on each stream. */
  heartbeatMs?: number;
  /** Per-client cap on bytes written but not yet sent. */
  clientHighWaterBytes?: number;
  /** Drop a client whose socket has not drained for this long. */
  stallTimeoutMs?: number;
}

/** What the server knows about one SSE client (for tests and diagnostics). */
export interface DashboardClientState {
  /** Seq of the next event this client will be sent. */
  nextSeq: number;
  /** Bytes written to the socket and not yet flushed to the kernel. */
  bufferedBytes: number;
  /** True while the server waits for 'drain' before writing more. */
  waitingForDrain: boolean;
}

class SseClient {
  nextSeq: number;
  waitingForDrain = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly response: ServerResponse,
    private readonly recorder: RunRecorder,
    private readonly init: Required<Omit<DashboardServerInit, 'port'>>,
    startSeq: number,
    private readonly onClose: () => void,
  ) {
    this.nextSeq = startSeq;
    response.on('drain', () => this.onDrain());
    response.on('close', () => this.close());
    this.heartbeat = setInterval(() => {
      if (!this.waitingForDrain) this.write(': heartbeat\n\n');
    }, init.heartbeatMs);
    this.heartbeat.unref();
  }

  get bufferedBytes(): number {
    return this.response.writableLength;
  }

  /** Writes recorded events from the cursor on, until the history is sent or the socket pushes back. */
  pump(): void {
    while (!this.closed && !this.waitingForDrain && this.nextSeq < this.recorder.nextSeq) {
      const event = this.recorder.eventAt(this.nextSeq);
      // Older than the recorder keeps: say which events are gone, then go on from the oldest kept.
      const text = event === undefined ? formatTrimmed(this.nextSeq, this.recorder.firstSeq) : formatEvent(event);
      this.nextSeq = event === undefined ? this.recorder.firstSeq : this.nextSeq + 1;
      if (!this.write(text) || this.response.writableLength > this.init.clientHighWaterBytes) {
        this.waitForDrain();
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.stallTimer);
    if (!this.response.destroyed) this.response.destroy();
    this.onClose();
  }

  private write(text: string): boolean {
    if (this.closed || this.response.destroyed) return false;
    return this.response.write(text);
  }

  private waitForDrain(): void {
    this.waitingForDrain = true;
    this.stallTimer ??= setTimeout(() => this.close(), this.init.stallTimeoutMs);
  }

  private onDrain(): void {
    this.waitingForDrain = false;
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    this.pump();
  }
}

/** One SSE message: the event's seq as its id (what `Last-Event-ID` carries back), the event as data. */
export function formatEvent(event: RunEvent): string {
  // JSON.stringify never emits a raw newline, so the event is one `data:` line.
  return `id: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * The marker sent instead of events the recorder no longer keeps (`lab up --dashboard` keeps a window):
 * a named SSE event, so a page that only handles `message` events skips it.
 */
export function formatTrimmed(fromSeq: number, firstSeq: number): string {
  return `event: trimmed\ndata: ${JSON.stringify({ trimmed: { fromSeq, toSeq: firstSeq - 1 } })}\n\n`;
}

/** The seq to start from: one past `Last-Event-ID` (header, or `lastEventId` query for hand-made clients). */
export function startSeqOf(request: IncomingMessage, url: URL): number {
  const header = request.headers['last-event-id'];
  const raw = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('lastEventId') ?? undefined;
  if (raw === undefined || !/^\d{1,15}$/.test(raw.trim())) return 0;
  return Number(raw.trim()) + 1;
}

export class DashboardServer {
  private readonly recorder: RunRecorder;
  private readonly requestedPort: number;
  private readonly clientInit: Required<Omit<DashboardServerInit, 'port'>>;
  private readonly server: Server;
  private readonly clients = new Set<SseClient>();
  private unsubscribe: (() => void) | undefined;

  constructor(components: DashboardServerComponents, init: DashboardServerInit = {}) {
    this.recorder = components.recorder;
    this.requestedPort = init.port ?? DEFAULT_DASHBOARD_PORT;
    this.clientInit = {
      heartbeatMs: init.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
      clientHighWaterBytes: init.clientHighWaterBytes ?? DEFAULT_CLIENT_HIGH_WATER_BYTES,
      stallTimeoutMs: init.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
    };
    this.server = createServer((request, response) => this.handle(request, response));
  }

  /** The port it listens on (after `start`). */
  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  get url(): string {
    return `http://${DASHBOARD_HOST}:${this.port}/`;
  }

  /** Every connected SSE client's cursor and buffer. */
  get clientStates(): DashboardClientState[] {
    return [...this.clients].map((client) => ({
      nextSeq: client.nextSeq,
      bufferedBytes: client.bufferedBytes,
      waitingForDrain: client.waitingForDrain,
    }));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.requestedPort, DASHBOARD_HOST, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    // After listen, an error (EMFILE on accept) is logged: without a listener it would end the lab run.
    this.server.on('error', (error) => createLogger('lab').error('dashboard server error', { error: error.message }));
    // One listener for all clients: a recorded event only nudges each client's pump.
    this.unsubscribe = this.recorder.subscribe(() => {
      for (const client of this.clients) client.pump();
    });
  }

  /** Ends every stream and closes the server; idempotent. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const client of [...this.clients]) client.close();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    // A page on another origin could otherwise reach 127.0.0.1 through a rebound DNS name.
    if (!this.isLocalHost(request.headers.host)) {
      this.plain(response, 403, 'forbidden: use http://127.0.0.1:PORT/\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      this.plain(response, 405, 'method not allowed\n');
      return;
    }
    const url = new URL(request.url ?? '/', `http://${DASHBOARD_HOST}`);
    switch (url.pathname) {
      case '/':
      case '/index.html':
        this.send(response, 200, 'text/html; charset=utf-8', dashboardHtml(), request.method === 'HEAD');
        return;
      case '/state.json':
        this.send(
          response,
          200,
          'application/json; charset=utf-8',
          JSON.stringify({ startedAt: this.recorder.startedAt, events: this.recorder.events }),
          request.method === 'HEAD',
        );
        return;
      case '/events':
        this.openStream(request, response, url);
        return;
      default:
        this.plain(response, 404, 'not found\n');
    }
  }

  private openStream(request: IncomingMessage, response: ServerResponse, url: URL): void {
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    response.write(`retry: ${SSE_RETRY_MS}\n\n`);
    const client = new SseClient(response, this.recorder, this.clientInit, startSeqOf(request, url), () =>
      this.clients.delete(client),
    );
    this.clients.add(client);
    client.pump();
  }

  private isLocalHost(host: string | undefined): boolean {
    if (host === undefined) return true; // HTTP/1.0 clients send none; the socket is loopback anyway
    const name = host.replace(/:\d+$/, '').toLowerCase();
    return name === DASHBOARD_HOST || name === 'localhost' || name === '[::1]';
  }

  private send(response: ServerResponse, status: number, type: string, body: string, headOnly: boolean): void {
    response.writeHead(status, {
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      // The page loads nothing from anywhere: its script and style are inline, its data comes from /events.
      'Content-Security-Policy':
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
    });
    response.end(headOnly ? undefined : body);
  }

  private plain(response: ServerResponse, status: number, text: string): void {
    response.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
    });
    response.end(text);
  }
}
