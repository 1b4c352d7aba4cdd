/**
 * Client side of the control socket: sends one request and yields the event lines, then the response.
 */
import { connect } from 'node:net';
import { SwarmlabError } from '../shared/errors';
import { MAX_CONTROL_LINE_BYTES, parseControlLine } from './control-schemas';
import type { ControlCommand, ControlLine } from './control-schemas';
import { LineSplitter } from './line-splitter';
import { ControlErrorCode } from './errors';

export interface ControlCallInit {
  onLine?: (line: ControlLine) => void;
  timeoutMs?: number;
  /** Required by a TCP control listener. */
  token?: string;
}

/** A Unix socket path, or "tcp://HOST:PORT". */
export type ControlTarget = string;

function connectTo(target: ControlTarget): ReturnType<typeof connect> {
  const tcp = /^tcp:\/\/(.+):(\d+)$/.exec(target);
  return tcp ? connect({ host: tcp[1]!, port: Number(tcp[2]) }) : connect(target);
}

export type ControlResponse = Extract<ControlLine, { ok: boolean }>;

let nextId = 1;

/** Sends `cmd` to the peer listening at `socketPath`; resolves with the final response line. */
export function callControl(socketPath: ControlTarget, cmd: ControlCommand, args: Record<string, unknown> = {}, init: ControlCallInit = {}): Promise<ControlResponse> {
  const id = nextId++;
  return new Promise<ControlResponse>((resolve, reject) => {
    const socket = connectTo(socketPath);
    socket.setEncoding('utf8');
    const splitter = new LineSplitter(MAX_CONTROL_LINE_BYTES);
    let settled = false;
    const finish = (error: Error | undefined, response?: ControlResponse): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(response!);
    };
    const timer = init.timeoutMs ? setTimeout(() => finish(new SwarmlabError(ControlErrorCode.Timeout, `no answer from ${socketPath} in ${init.timeoutMs} ms`)), init.timeoutMs) : undefined;
    socket.once('connect', () => socket.write(`${JSON.stringify({ id, cmd, args, ...(init.token ? { token: init.token } : {}) })}\n`));
    socket.on('error', (error: NodeJS.ErrnoException) =>
      finish(new SwarmlabError(ControlErrorCode.Unreachable, `cannot reach the peer's control socket ${socketPath} (${error.code ?? error.message})`)),
    );
    socket.on('close', () => finish(new SwarmlabError(ControlErrorCode.Closed, 'the peer closed the control connection')));
    socket.on('data', (chunk: string) => {
      try {
        for (const raw of splitter.push(chunk)) {
          const line = parseControlLine(raw);
          init.onLine?.(line);
          if ('ok' in line && line.id === id) finish(undefined, line as ControlResponse);
        }
      } catch (error) {
        finish(new SwarmlabError(ControlErrorCode.BadLine, (error as Error).message));
      }
    });
  });
}
