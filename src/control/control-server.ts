/**
 * The peer's control socket: a Unix socket (mode 0600) speaking JSON lines (docs/control.md). Every
 * request is validated, dispatched to the PeerNode, and answered with exactly one response line;
 * long commands (download) stream event lines before it. A broken request gets an error line and
 * the connection stays usable.
 *
 * One live peer per socket path: peers started at once on one --control path (after a crash left its
 * socket behind) take it by the scheme of ../shared/exclusive-socket.ts, so exactly one of them listens
 * there and the others fail with ERR_CONTROL_IN_USE; a stopping peer removes the path only while it is
 * still its own socket.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { lstat, mkdir, stat, unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { dirname } from 'node:path';
import { ConfigError, errorCode, errorMessage, SwarmlabError, SharedErrorCode } from '../shared/errors';
import { listenPrivate, MAX_SOCKET_PATH_BYTES, privateSocketName, releaseSocketPath, SOCKET_SUFFIX_BYTES, takeSocketPath } from '../shared/exclusive-socket';
import type { SocketIdentity, TakeSocketPathInit } from '../shared/exclusive-socket';
import type { Logger } from '../shared/logger';
import type { ChunkTransferEvent } from '../peer/download-scheduler';
import type { PeerNode } from '../peer/peer-node';
import { MAX_CONTROL_LINE_BYTES, parseControlRequest, requestIdOf } from './control-schemas';
import type { ControlLine, ControlRequest } from './control-schemas';
import { LineSplitter } from './line-splitter';
import { watchActivity } from './watch';
import type { WatchSession } from './watch';
import { ControlErrorCode } from './errors';

/** Where the control server listens: a Unix socket, or TCP, which requires a token. */
export type ControlListen = { path: string } | { host: string; port: number; token: string };

export class ControlServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly path: string;
  private readonly token: Buffer | undefined;
  /** Our socket at `path` once started: stop() removes the path only while it is still this one. */
  private socket: SocketIdentity | undefined;

  constructor(
    private readonly node: PeerNode,
    private readonly listen: ControlListen,
    private readonly logger: Logger,
  ) {
    this.server = createServer((socket) => this.accept(socket));
    this.path = 'path' in listen ? listen.path : '';
    if ('token' in listen) {
      if (listen.token.length < 16) throw new SwarmlabError(SharedErrorCode.Config, 'a TCP control listener needs a token of at least 16 characters');
      this.token = createHash('sha256').update(listen.token).digest();
    }
  }

  /** The TCP port when listening on TCP (0 otherwise). */
  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async start(): Promise<void> {
    if (!('path' in this.listen)) {
      const { host, port } = this.listen;
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(port, host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
      this.listenErrors();
      this.logger.info('control listening on TCP (token required)', { host, port: this.port });
      return;
    }
    if (Buffer.byteLength(this.path) + SOCKET_SUFFIX_BYTES > MAX_SOCKET_PATH_BYTES) {
      // The socket is bound under a longer name next to the path first (see exclusive-socket.ts); a
      // name past the limit would be cut short by bind(), silently.
      throw new ConfigError(`control socket path ${this.path} is too long: at most ${MAX_SOCKET_PATH_BYTES - SOCKET_SUFFIX_BYTES} bytes`);
    }
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await this.checkDirectory();
    // Only a socket is ours to remove: --control may name the user's file by mistake.
    const existing = await lstat(this.path).catch(() => undefined);
    if (existing !== undefined && !existing.isSocket()) throw notASocket(this.path);
    const own = privateSocketName(this.path);
    const listened = await listenPrivate(this.server, own);
    if (listened !== undefined) throw Object.assign(new Error(`cannot listen on ${own}: ${listened}`), { code: listened });
    this.listenErrors();
    try {
      this.socket = await takeSocketPath(this.path, own, controlInit(this.path));
      // From now on the path is its only name: a peer that dies leaves nothing else behind.
      await unlink(own).catch(() => undefined);
    } catch (error) {
      // Closing removes `own`; no claim of ours is left (takeSocketPath unlinks them first).
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
      throw error;
    }
    this.logger.info('control socket listening', { path: this.path });
  }

  async stop(): Promise<void> {
    // Unlinked while still listening, and only if still ours: after close() the path may hold the socket
    // of a peer that started since, and a socket found refusing may be removed by one that starts now.
    if (this.socket) await releaseSocketPath(this.path, this.socket);
    this.socket = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** After listen, an error (EMFILE on accept) is logged: without a listener it would crash the peer. */
  private listenErrors(): void {
    this.server.on('error', (error) => this.logger.error('control server error', { error: errorMessage(error) }));
  }

  /**
   * The socket's directory must be ours (or root's) and writable by nobody else, unless sticky (like
   * /tmp): whoever can write to it can replace the socket with their own.
   */
  private async checkDirectory(): Promise<void> {
    const dir = dirname(this.path);
    const info = await stat(dir);
    const uid = process.getuid?.();
    const problem =
      !info.isDirectory() ? 'is not a directory'
      : uid !== undefined && info.uid !== uid && info.uid !== 0 ? `belongs to uid ${info.uid}`
      : (info.mode & 0o022) !== 0 && (info.mode & 0o1000) === 0 ? `is writable by others (mode ${(info.mode & 0o7777).toString(8)})`
      : undefined;
    if (problem) throw new SwarmlabError(ControlErrorCode.DirUnsafe, `refusing a control socket in ${dir}: it ${problem}`);
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setEncoding('utf8');
    const splitter = new LineSplitter(MAX_CONTROL_LINE_BYTES);
    const closed = new AbortController();
    const session: WatchSession = { signal: closed.signal, bufferedBytes: () => socket.writableLength, drop: () => socket.destroy() };
    // Lines produced in one tick (a burst of chunk events) leave in one write.
    let corked = false;
    const send = (line: ControlLine): void => {
      if (socket.destroyed) return;
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(() => {
          corked = false;
          socket.uncork();
        });
      }
      socket.write(`${JSON.stringify(line)}\n`);
    };
    socket.on('data', (chunk: string) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch (error) {
        send({ id: 0, ok: false, error: { code: ControlErrorCode.LineTooLong, message: errorMessage(error) } });
        // end(), not destroy(): the error line must reach the client before the close.
        socket.removeAllListeners('data');
        socket.end();
        return;
      }
      for (const line of lines) void this.handle(line, send, session);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      closed.abort();
    });
  }

  private async handle(line: string, send: (line: ControlLine) => void, session: WatchSession): Promise<void> {
    let request: ControlRequest;
    try {
      request = parseControlRequest(line);
    } catch (error) {
      send({ id: requestIdOf(line), ok: false, error: { code: ControlErrorCode.BadRequest, message: errorMessage(error) } });
      return;
    }
    if (this.token && !this.tokenMatches(request.token)) {
      send({ id: request.id, ok: false, error: { code: ControlErrorCode.Unauthorized, message: 'a valid token is required on this control listener' } });
      return;
    }
    try {
      const result = await this.dispatch(request, send, session);
      send({ id: request.id, ok: true, result });
    } catch (error) {
      send({ id: request.id, ok: false, error: { code: errorCode(error), message: errorMessage(error) } });
    }
  }

  private tokenMatches(token: string | undefined): boolean {
    if (!this.token || token === undefined) return false;
    return timingSafeEqual(createHash('sha256').update(token).digest(), this.token);
  }

  private async dispatch(request: ControlRequest, send: (line: ControlLine) => void, session: WatchSession): Promise<unknown> {
    const args = request.args ?? {};
    switch (request.cmd) {
      case 'connect':
        return this.node.connect(args['tracker'] as string | undefined);
      case 'disconnect':
        return this.node.disconnect();
      case 'upload':
        return this.node.upload();
      case 'files':
        return this.node.files();
      case 'status':
        return this.node.status();
      case 'generate':
        return this.node.generate(args['name'] as string, args['size'] as number, (args['seed'] as string | undefined) ?? 'swarmlab', args['text'] === true);
      case 'rate':
        return this.node.setRates(args as { upload?: number | null; download?: number | null });
      case 'faults':
        return this.node.setFaults(args as { delayMs?: number; dropRate?: number; corruptRate?: number });
      case 'download': {
        const target = { ...(args['name'] ? { name: args['name'] as string } : {}), ...(args['fileId'] ? { fileId: args['fileId'] as string } : {}) };
        const outcome = await this.node.download(target, {
          ...(args['chunkEvents'] === false ? {} : { onChunk: (event: ChunkTransferEvent) => send({ id: request.id, event: 'chunk', ...event }) }),
          onProgress: (event) => send({ id: request.id, event: 'progress', ...event }),
          ...(args['digest'] === false ? { digest: false } : {}),
        });
        return { ...outcome, file: outcome.file };
      }
      case 'ping':
        return this.node.ping(args['target'] as string, args['count'] as number | undefined);
      case 'link': {
        const to = args['to'] as string | undefined;
        if (args['action'] === 'show') return this.node.showLinks();
        if (args['action'] === 'clear') return this.node.clearLinks(to);
        return this.node.setLink(to!, args as { latencyMs?: number; jitterMs?: number; bandwidth?: number | null });
      }
      case 'watch':
        return watchActivity(this.node, request.id, send, session);
      default: {
        const unreachable: never = request.cmd;
        throw new Error(`unknown command ${String(unreachable)}`);
      }
    }
  }
}

function notASocket(path: string): SwarmlabError {
  return new SwarmlabError(ControlErrorCode.PathTaken, `${path} exists and is not a socket; refusing to replace it`);
}

/** What a failed take means for a control socket path. */
function controlInit(path: string): TakeSocketPathInit {
  return {
    inUse: () => new SwarmlabError(ControlErrorCode.InUse, `another peer already listens on ${path}`),
    failed: (problem) => {
      switch (problem.kind) {
        case 'link':
        case 'probe':
          // The errno is the code, as for a listen() that fails.
          return Object.assign(new Error(`cannot listen on ${path} (${problem.name}): ${problem.code}`), { code: problem.code });
        case 'unlink':
          return Object.assign(new Error(`cannot remove the dead socket at ${path}: ${errorMessage(problem.error)}`), { code: errorCode(problem.error) });
        case 'not-socket':
          return notASocket(path);
        case 'changing':
          return new SwarmlabError(ControlErrorCode.InUse, `${path} keeps changing (peers starting and dying on it)`);
        default: {
          const unreachable: never = problem;
          throw new Error(`unknown problem ${String(unreachable)}`);
        }
      }
    },
  };
}
