/**
 * The live dashboard's server over real sockets: the page, /state.json, the SSE stream (history then
 * live, Last-Event-ID resume, heartbeats, cleanup on close), the 127.0.0.1-only binding, and the bound
 * on what a slow client can make the server hold.
 */
import type { EventEmitter } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';

import { DashboardServer } from '../../lab/observe/dashboard-server';
import { RunRecorder, type RunEvent } from '../../lab/observe/run-events';
import { waitFor } from '../helpers/local';

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** An SSE reader: collects the parsed events and comment lines of one /events stream. */
class SseReader {
  readonly events: RunEvent[] = [];
  readonly ids: string[] = [];
  readonly comments: string[] = [];
  status = 0;
  private buffered = '';
  private readonly req;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.req = httpRequest(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      this.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.push(chunk));
    });
    this.req.on('error', () => undefined);
    this.req.end();
  }

  close(): void {
    this.req.destroy();
  }

  private push(chunk: string): void {
    this.buffered += chunk;
    let end: number;
    while ((end = this.buffered.indexOf('\n\n')) >= 0) {
      const block = this.buffered.slice(0, end);
      this.buffered = this.buffered.slice(end + 2);
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line);
        else if (line.startsWith('id: ')) this.ids.push(line.slice(4));
        else if (line.startsWith('data: ')) this.events.push(JSON.parse(line.slice(6)) as RunEvent);
      }
    }
  }
}

function recordSome(recorder: RunRecorder, count: number): void {
  for (let i = 0; i < count; i++) {
    recorder.record({
      type: 'transfer',
      file: 'f.txt',
      index: i,
      chunks: 64,
      from: 'peer-1',
      to: 'peer-3',
      bytes: 16384,
    });
  }
}

describe('dashboard server', () => {
  let recorder: RunRecorder;
  let server: DashboardServer;
  const readers: SseReader[] = [];

  beforeEach(async () => {
    recorder = new RunRecorder();
    server = new DashboardServer({ recorder }, { port: 0, heartbeatMs: 100 });
    await server.start();
  });

  afterEach(async () => {
    for (const reader of readers.splice(0)) reader.close();
    await server.stop();
  });

  function open(headers: Record<string, string> = {}, path = 'events'): SseReader {
    const reader = new SseReader(`${server.url}${path}`, headers);
    readers.push(reader);
    return reader;
  }

  it('listens on 127.0.0.1 only', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address !== undefined && address.family === 'IPv4' && !address.internal);
    if (external === undefined) return; // no other interface to try on this machine
    const refused = await new Promise<boolean>((resolve) => {
      const socket: Socket = connect({ host: external.address, port: server.port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  // Issue 18 hole 9: with no 'error' listener after listen, an accept error (EMFILE) was thrown.
  it('an error on the listening server (EMFILE on accept) is logged, and it keeps serving', async () => {
    const error = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
    expect(() => (server as unknown as { server: EventEmitter }).server.emit('error', error)).not.toThrow();
    expect((await fetch(server.url)).status).toBe(200);
  });

  it('serves the page, the events so far as JSON, and nothing else', async () => {
    recorder.record({ type: 'run', run: 'r1', scenario: 'demo' });
    recordSome(recorder, 2);
    const page = await get(server.url);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('new EventSource(');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");

    const state = await get(`${server.url}state.json`);
    const parsed = JSON.parse(state.body) as { startedAt: number; events: RunEvent[] };
    expect(parsed.events.map((e) => e.type)).toEqual(['run', 'transfer', 'transfer']);
    expect(parsed.startedAt).toBe(recorder.startedAt);

    expect((await get(`${server.url}nope`)).status).toBe(404);
    expect((await get(server.url, {}, 'POST')).status).toBe(405);
    // A page on another origin reaching the port through a rebound DNS name is refused.
    expect((await get(server.url, { Host: 'attacker.example:80' })).status).toBe(403);
  });

  it('streams the history, then live events, each with its seq as the SSE id', async () => {
    recordSome(recorder, 3);
    const reader = open();
    await waitFor(() => reader.events.length === 3);
    recordSome(recorder, 2);
    recorder.record({ type: 'end', ok: true, ms: 5 });
    await waitFor(() => reader.events.length === 6);
    expect(reader.status).toBe(200);
    expect(reader.events.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(reader.ids).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(reader.events[5]?.type).toBe('end');
  });

  it('resumes after Last-Event-ID without repeating what the client saw', async () => {
    recordSome(recorder, 5);
    const reader = open({ 'Last-Event-ID': '2' });
    await waitFor(() => reader.events.length === 2);
    recordSome(recorder, 1);
    await waitFor(() => reader.events.length === 3);
    expect(reader.events.map((e) => e.seq)).toEqual([3, 4, 5]);

    const byQuery = open({}, 'events?lastEventId=4');
    await waitFor(() => byQuery.events.length === 1);
    expect(byQuery.events[0]?.seq).toBe(5);
  });

  // Issue 18 hole 9: `lab up --dashboard` keeps a window of events; older ones are reported as trimmed.
  it('tells a client that asks for trimmed events which ones are gone, then streams the window and live', async () => {
    await server.stop();
    recorder = new RunRecorder({ maxEvents: 4 });
    server = new DashboardServer({ recorder }, { port: 0, heartbeatMs: 100 });
    await server.start();
    recordSome(recorder, 10);
    const kept = recorder.events.map((e) => e.seq);
    expect(kept[kept.length - 1]).toBe(9);
    expect(kept.length).toBeLessThanOrEqual(5);
    const firstKept = kept[0]!;

    const reader = open({ 'Last-Event-ID': '1' });
    await waitFor(() => reader.events.length === 1 + kept.length);
    expect(reader.events[0]).toEqual({ trimmed: { fromSeq: 2, toSeq: firstKept - 1 } });
    expect(reader.events.slice(1).map((e) => e.seq)).toEqual(kept);
    recordSome(recorder, 1);
    await waitFor(() => reader.events.length === 2 + kept.length);
    expect(reader.events[reader.events.length - 1]?.seq).toBe(10);

    // A client that saw everything still kept gets no marker.
    const current = open({ 'Last-Event-ID': '9' });
    await waitFor(() => current.events.length === 1);
    expect(current.events.map((e) => e.seq)).toEqual([10]);
  });

  it('sends heartbeat comments and forgets a client that goes away', async () => {
    const reader = open();
    await waitFor(() => reader.comments.some((line) => line.startsWith(': heartbeat')));
    expect(server.clientStates).toHaveLength(1);
    reader.close();
    await waitFor(() => server.clientStates.length === 0);
  });

  it('holds at most its high-water mark for a client that does not read, then drops it', async () => {
    await server.stop();
    const highWaterBytes = 64 * 1024;
    server = new DashboardServer({ recorder }, { port: 0, clientHighWaterBytes: highWaterBytes, stallTimeoutMs: 500 });
    await server.start();

    // A raw client that asks for the stream and never reads a byte.
    const socket = connect({ host: '127.0.0.1', port: server.port });
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause();
    socket.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
    await waitFor(() => server.clientStates.length === 1);

    // 8,000 events of ~4 KiB (32 MiB): far more than the kernel's socket buffers take.
    const text = 'x'.repeat(4096);
    let maxBuffered = 0;
    for (let i = 0; i < 8000; i++) {
      recorder.record({ type: 'info', text });
      const [client] = server.clientStates;
      if (client !== undefined) maxBuffered = Math.max(maxBuffered, client.bufferedBytes);
    }
    const [client] = server.clientStates;
    expect(client?.waitingForDrain).toBe(true);
    expect(client?.nextSeq).toBeLessThan(recorder.events.length);
    // One event may overshoot the mark: the check comes after a write.
    expect(maxBuffered).toBeLessThanOrEqual(highWaterBytes + 8192);

    await waitFor(() => server.clientStates.length === 0, 20_000);
    socket.destroy();
  });
});
