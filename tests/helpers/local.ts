/**
 * Shared helpers for the integration tests: the built CLI, a LocalSwarm that keeps its processes'
 * logs (printed when a test fails to help debugging), file hashing, polling, running the CLI as a
 * child process, and raw TCP clients that speak (or break) the wire protocol.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalSwarm } from '../../src/cli/local-swarm';
import type { ControlLine } from '../../src/control/control-schemas';
import { FrameDecoder } from '../../src/protocol';
import type { Message } from '../../src/protocol';

export const cliPath = path.resolve(__dirname, '../../dist/swarmlab.js');

/** Fails with a clear message when the bundle is missing (run `npm run build` first). */
export function assertBuilt(): void {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` before the integration tests`);
}

export interface LoggedSwarm {
  swarm: LocalSwarm;
  logs: string[];
}

/** A LocalSwarm whose process logs are kept in `logs` (last lines are handy when a test fails). */
export async function createSwarm(env: NodeJS.ProcessEnv = {}): Promise<LoggedSwarm> {
  assertBuilt();
  const logs: string[] = [];
  const swarm = await LocalSwarm.create({ cliPath, onLog: (source, line) => logs.push(`${source}: ${line}`), env: { LOG_LEVEL: 'info', ...env } });
  return { swarm, logs };
}

/** A frame built by hand (not by the encoder), so that it can carry anything, valid or not. */
export function handFrame(type: number, requestId: number, body: Buffer | string): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const out = Buffer.alloc(9 + payload.length);
  out.writeUInt32BE(5 + payload.length, 0);
  out.writeUInt8(type, 4);
  out.writeUInt32BE(requestId, 5);
  payload.copy(out, 9);
  return out;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  return sha256(await readFile(file));
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes; returns the last value. */
export async function waitFor<T>(probe: () => Promise<T> | T, timeoutMs = 20_000, intervalMs = 200): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    try {
      value = await probe();
    } catch {
      value = undefined;
    }
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/swarmlab.js ARGS`, optionally writing `input` to stdin and closing it. */
export function runCli(args: string[], init: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...init.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`swarmlab ${args.join(' ')} did not exit in ${init.timeoutMs ?? 30_000} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, init.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // Let the pipes drain.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
    if (init.input !== undefined) child.stdin.end(init.input);
    else child.stdin.end();
  });
}

/** The JSON lines of a `ctl --json` run. */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Collects the control lines of a download (events) for assertions. */
export function collector(): { lines: ControlLine[]; onLine: (line: ControlLine) => void; events: (name: string) => Array<Record<string, unknown>> } {
  const lines: ControlLine[] = [];
  return {
    lines,
    onLine: (line) => lines.push(line),
    events: (name) => lines.filter((line) => 'event' in line && line.event === name) as Array<Record<string, unknown>>,
  };
}

export interface RawExchange {
  messages: Message[];
  /** Set when what came back did not decode. */
  decodeError?: string;
  /** True when the remote closed the connection (end or reset) before the timeout. */
  closed: boolean;
}

/**
 * Opens a raw TCP connection to 127.0.0.1:`port`, writes `chunks` (then optionally half-closes), and
 * decodes everything the remote sends until it closes or `timeoutMs` passes.
 */
export function rawExchange(port: number, chunks: Buffer[], init: { end?: boolean; timeoutMs?: number; until?: (messages: Message[]) => boolean } = {}): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: '127.0.0.1', port });
    const decoder = new FrameDecoder();
    const messages: Message[] = [];
    let decodeError: string | undefined;
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ messages, closed, ...(decodeError ? { decodeError } : {}) });
    };
    const timer = setTimeout(() => finish(false), init.timeoutMs ?? 5_000);
    socket.on('connect', () => {
      for (const chunk of chunks) socket.write(chunk);
      if (init.end) socket.end();
    });
    socket.on('data', (data: Buffer) => {
      const result = decoder.push(data);
      messages.push(...result.messages);
      if (result.error) decodeError = result.error.message;
      if (init.until?.(messages)) finish(false);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

/** With SWARMLAB_TEST_LOGS=1, prints the tail of the processes' logs (e.g. after a failing test). */
export function dumpLogs(logs: string[], lines = 80): void {
  if (process.env['SWARMLAB_TEST_LOGS']) console.log(logs.slice(-lines).join('\n'));
}

/**
 * A `swarmlab peer` console (no --daemon) with stdin piped: send lines one at a time and wait for
 * the output they produce.
 */
export class ConsoleDriver {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: import('node:child_process').ChildProcessWithoutNullStreams;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    assertBuilt();
    this.child = spawn(process.execPath, [cliPath, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LOG_FORMAT: 'json', ...env } });
    this.child.stdout.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get lines(): string[] {
    return this.stdout.split('\n').filter((line) => line !== '');
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Sends `line`, then waits for a new stdout line matching `expected`; returns the new lines. */
  async command(line: string, expected: RegExp, timeoutMs = 20_000): Promise<string[]> {
    const before = this.lines.length;
    this.send(line);
    try {
      await waitFor(() => this.lines.slice(before).some((out) => expected.test(out)), timeoutMs, 50);
    } catch {
      throw new Error(`"${line}": no output matching ${String(expected)} in ${timeoutMs} ms; stdout so far:\n${this.stdout}`);
    }
    return this.lines.slice(before);
  }

  end(): void {
    this.child.stdin.end();
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** A persistent raw TCP client speaking frames: write any bytes, await the answer to a request id. */
export class RawFrameClient {
  readonly messages: Message[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder();

  private constructor(readonly socket: Socket) {
    socket.on('data', (data: Buffer) => this.messages.push(...this.decoder.push(data).messages));
    socket.on('error', () => undefined);
    socket.on('close', () => (this.closed = true));
  }

  static open(port: number): Promise<RawFrameClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => resolve(new RawFrameClient(socket)));
      socket.once('error', reject);
    });
  }

  write(frame: Buffer): void {
    this.socket.write(frame);
  }

  /** Writes `frame` and waits for the message with `requestId`. */
  async exchange(frame: Buffer, requestId: number, timeoutMs = 5_000): Promise<Message> {
    this.write(frame);
    return waitFor(() => this.messages.find((message) => message.requestId === requestId), timeoutMs, 20);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A raw client of a peer's control socket: write any line, wait for the response with an id. */
export class RawLineClient {
  readonly lines: Array<Record<string, unknown>> = [];
  closed = false;
  private pending = '';

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      this.pending += data;
      const parts = this.pending.split('\n');
      this.pending = parts.pop() ?? '';
      for (const part of parts) if (part.trim()) this.lines.push(JSON.parse(part) as Record<string, unknown>);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => (this.closed = true));
  }

  /** A Unix socket path, or tcp://HOST:PORT. */
  static open(target: string): Promise<RawLineClient> {
    return new Promise((resolve, reject) => {
      const tcp = /^tcp:\/\/(.+):(\d+)$/.exec(target);
      const socket = tcp ? connect({ host: tcp[1]!, port: Number(tcp[2]) }) : connect(target);
      socket.once('connect', () => resolve(new RawLineClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes `line` (a newline is added) and waits for the next response line (one with `ok`). */
  async send(line: string, timeoutMs = 5_000): Promise<Record<string, unknown>> {
    const before = this.lines.length;
    this.socket.write(`${line}\n`);
    return waitFor(() => this.lines.slice(before).find((response) => 'ok' in response), timeoutMs, 20);
  }

  close(): void {
    this.socket.destroy();
  }
}
