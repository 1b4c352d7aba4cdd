/**
 * One TCP connection speaking swarmlab frames: the transport edge shared by the tracker, the tracker
 * client, the data server and the downloader's connections.
 *
 * - Incoming bytes go through a FrameDecoder; a protocol error is handled by the shared failure
 *   policy (connection-failure.ts): one ERROR frame, and this connection only is closed.
 * - Responses (REGISTERED, PEERS, CHUNK, ERROR, ...) are matched to the pending request with the same id;
 *   everything else is handed to `onMessage`.
 * - Every pending request is rejected with ConnectionClosedError when the connection closes, so none
 *   is left hanging.
 * - With a LinkTable (link-emulator.ts), outgoing frames go through a LinkShaper that delays and
 *   rate-limits them as the link to this remote says, in order.
 * - With `maxUnsentBytes`, a remote that sends requests and does not read the answers is not read any
 *   further while the unsent bytes pass the cap: the messages already decoded wait and are handled on
 *   'drain'. With `frameTimeoutMs`, a frame must complete that long after its first byte arrived.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { encodeJson, FrameDecoder, MessageType, RESPONSE_TYPES } from '../protocol';
import type { BodyOf, DecodeResult, JsonMessageType, Message, ProtocolError } from '../protocol';
import { errorBody, failProtocol, remoteEnded } from './connection-failure';
import type { FailingConnection } from './connection-failure';
import { ConnectionClosedError, RemoteError, RequestTimeoutError } from './errors';
import { freeBufferNow } from './free-memory';
import { LinkShaper } from './link-emulator';
import type { LinkTable } from './link-emulator';
import type { Logger } from './logger';

/** Memory a queued write holds beyond its bytes (measured: about 230 bytes for a 100-byte frame). */
export const WRITE_OVERHEAD_BYTES = 256;
/**
 * Queued writes past which a connection with `maxUnsentBytes` is not read either, whatever they cost:
 * a remote that reads its answers has a chunk and a few small answers queued, never a thousand. Under
 * the byte cap alone a never-reader held about 14,000 small answers (5 MiB counted, 5-8 MB of memory),
 * and a loopback kernel takes several MB of answers first, so that memory arrived minutes after the
 * connection did.
 */
export const MAX_QUEUED_WRITES = 1024;

export interface FramedConnectionInit {
  /** Close the connection after this long without any incoming byte (0 = never). */
  idleTimeoutMs?: number;
  maxFrameBytes?: number;
  /** Default timeout for `request`. */
  requestTimeoutMs?: number;
  /**
   * The socket's bytes are delivered through `feed()` by its owner (a socket made with `onread`)
   * instead of 'data' events.
   */
  externalReads?: boolean;
  /** Storage for each received frame (see FrameDecoderInit.allocateFrame): set when reads are borrowed. */
  allocateFrame?: (frameBytes: number) => Buffer;
  /** This peer's emulated links: outgoing frames are delayed and rate-limited by the link to this remote. */
  links?: LinkTable;
  /**
   * Stop reading while the unsent answers cost this much (`unsentCost`), or more than MAX_QUEUED_WRITES
   * are queued (0 = never): a remote that does not read its answers.
   */
  maxUnsentBytes?: number;
  /** Close the connection when a frame is not complete this long after its first byte (0 = never): a trickle. */
  frameTimeoutMs?: number;
}

interface Pending {
  resolve: (message: Message) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

export interface FramedConnectionEvents {
  message: [Message];
  close: [Error | undefined];
  'protocol-error': [ProtocolError];
}

export class FramedConnection extends EventEmitter<FramedConnectionEvents> implements FailingConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, Pending>();
  private readonly requestTimeoutMs: number;
  private nextRequestId = 1;
  private closed = false;
  /** Set once the remote broke the protocol: input is ignored while the ERROR frame flushes. */
  private failure: ProtocolError | undefined;
  private readonly shaper: LinkShaper | undefined;
  private readonly maxUnsentBytes: number;
  private readonly frameTimeoutMs: number;
  private frameTimer: NodeJS.Timeout | undefined;
  /** Writes handed to the socket whose callback has not run: each is queued memory beyond its bytes. */
  private queuedWritesNow = 0;
  private readonly onWritten = (): void => {
    this.queuedWritesNow--;
  };
  /** Decoded messages waiting for the socket to drain (and the decoder's error after them); reading is paused meanwhile. */
  private backlog: { messages: Message[]; next: number; error: ProtocolError | undefined } | undefined;

  constructor(
    readonly socket: Socket,
    private readonly logger: Logger,
    init: FramedConnectionInit = {},
  ) {
    super();
    this.remoteAddress = normaliseAddress(socket.remoteAddress ?? '');
    this.remotePort = socket.remotePort ?? 0;
    this.decoder = new FrameDecoder({
      ...(init.maxFrameBytes === undefined ? {} : { maxFrameBytes: init.maxFrameBytes }),
      ...(init.allocateFrame ? { allocateFrame: init.allocateFrame } : {}),
    });
    this.requestTimeoutMs = init.requestTimeoutMs ?? 10_000;
    this.shaper = init.links ? new LinkShaper(init.links, this.remoteAddress, this.remotePort, socket) : undefined;
    this.maxUnsentBytes = init.maxUnsentBytes ?? 0;
    this.frameTimeoutMs = init.frameTimeoutMs ?? 0;
    socket.setNoDelay(true);
    if (init.idleTimeoutMs) {
      socket.setTimeout(init.idleTimeoutMs, () => this.close(new RequestTimeoutError('idle timeout')));
    }
    if (!init.externalReads) socket.on('data', (data: Buffer) => this.feed(data));
    socket.on('error', (error) => this.close(error));
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.close(this.failure));
  }

  /** True while the connection is not read because its remote does not read what it is sent. */
  get paused(): boolean {
    return this.backlog !== undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Requests sent and not yet answered. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  /** Writes handed to the socket and not yet flushed. */
  get queuedWrites(): number {
    return this.queuedWritesNow;
  }

  /**
   * What the unsent answers cost in memory: their bytes, and WRITE_OVERHEAD_BYTES for each queued
   * write. A remote that pipelines small requests and never reads is answered with many small frames,
   * and 5 MiB of 100-byte answers was 50,000 queued writes holding 16 MB (a Buffer object, the queue
   * entry and a share of an 8 KiB allocation slab each); counting bytes alone let that through.
   */
  get unsentCost(): number {
    return this.socket.writableLength + this.queuedWritesNow * WRITE_OVERHEAD_BYTES;
  }

  /**
   * Writes an already encoded frame; returns false when the socket buffer is full (wait for `drained`).
   * `onFlushed` runs once the socket no longer needs the frame (as for `writeWithPayload`).
   */
  write(frame: Buffer, onFlushed?: () => void): boolean {
    if (this.closed) {
      onFlushed?.();
      return false;
    }
    if (this.shaper?.shaping) return this.shaper.send([frame], onFlushed);
    this.queuedWritesNow++;
    if (!onFlushed) return this.socket.write(frame, this.onWritten);
    return this.socket.write(frame, () => {
      this.queuedWritesNow--;
      onFlushed();
    });
  }

  /**
   * Writes a frame header and its payload without copying the payload. `onFlushed` runs once the
   * socket no longer needs the payload (handed to the kernel, or the connection failed), so its
   * buffer can be reused; it runs even when the connection is already closed.
   */
  writeWithPayload(header: Buffer, payload: Buffer, onFlushed?: () => void): boolean {
    if (this.closed) {
      onFlushed?.();
      return false;
    }
    if (this.shaper?.shaping) return this.shaper.send([header, payload], onFlushed);
    this.socket.cork();
    this.queuedWritesNow += 2;
    this.socket.write(header, this.onWritten);
    const ok = this.socket.write(payload, () => {
      this.queuedWritesNow--;
      onFlushed?.();
    });
    this.socket.uncork();
    return ok;
  }

  send<T extends JsonMessageType>(type: T, requestId: number, body: BodyOf<T>): boolean {
    return this.write(encodeJson(type, requestId, body));
  }

  sendError(requestId: number, code: string, message: string): void {
    // Request id 0 refuses the whole connection and is followed by end(): it skips the emulated link,
    // which would otherwise still hold it when the socket ends.
    if (requestId === 0 && this.shaper && !this.closed) {
      this.socket.write(encodeJson(MessageType.Error, 0, errorBody(code, message)));
      return;
    }
    this.send(MessageType.Error, requestId, errorBody(code, message));
  }

  /**
   * Resolves once the socket can take more data; rejects when the connection closes first. Its
   * listeners go when it settles: a sender waits here once per full socket buffer, so listeners
   * left behind would pile up for the life of the connection.
   */
  async drained(): Promise<void> {
    if (this.closed) throw new ConnectionClosedError();
    if (this.shaper) {
      await this.shaper.drained();
      if (this.closed) throw new ConnectionClosedError();
    }
    if (!this.socket.writableNeedDrain) return;
    await new Promise<void>((resolve, reject) => {
      const settle = (error?: Error): void => {
        this.socket.off('drain', onDrain);
        this.off('close', onClose);
        if (error) reject(error);
        else resolve();
      };
      const onDrain = (): void => settle();
      const onClose = (): void => settle(new ConnectionClosedError());
      this.socket.on('drain', onDrain);
      this.on('close', onClose);
    });
  }

  /** Allocates a request id; use with `expect` when the request frame is encoded by hand (binary). */
  allocateRequestId(): number {
    const id = this.nextRequestId;
    this.nextRequestId = this.nextRequestId >= 0xfffffff0 ? 1 : this.nextRequestId + 1;
    return id;
  }

  /** Waits for the response to request `requestId`; an ERROR response rejects with RemoteError. */
  expect(requestId: number, timeoutMs = this.requestTimeoutMs): Promise<Message> {
    if (this.closed) return Promise.reject(new ConnectionClosedError());
    return new Promise<Message>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(requestId);
              reject(
                new RequestTimeoutError(`no answer from ${this.remoteAddress}:${this.remotePort} in ${timeoutMs} ms`),
              );
            }, timeoutMs)
          : undefined;
      this.pending.set(requestId, { resolve, reject, timer });
    });
  }

  /** Forgets a pending request (e.g. cancelled); its promise never settles afterwards. */
  forget(requestId: number): void {
    const pending = this.pending.get(requestId);
    if (pending?.timer) clearTimeout(pending.timer);
    this.pending.delete(requestId);
  }

  /** Sends a JSON request and waits for its response. */
  request<T extends JsonMessageType>(type: T, body: BodyOf<T>, timeoutMs?: number): Promise<Message> {
    const requestId = this.allocateRequestId();
    const response = this.expect(requestId, timeoutMs);
    this.send(type, requestId, body);
    return response;
  }

  /** Idempotent: rejects every pending request, removes the socket, emits `close` once. */
  close(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (this.frameTimer) clearTimeout(this.frameTimer);
    // An unfinished frame (a trickle's, often MBs, held long enough to reach the old generation) is
    // freed now rather than at the next full collection.
    const unfinished = this.decoder.drop();
    if (unfinished) freeBufferNow(unfinished);
    this.backlog = undefined;
    const closedError = new ConnectionClosedError(error ? `connection closed: ${error.message}` : 'connection closed');
    for (const [, pending] of this.pending) {
      if (pending.timer) clearTimeout(pending.timer);
      pending.reject(closedError);
    }
    this.pending.clear();
    this.shaper?.close();
    this.socket.destroy();
    this.emit('close', error);
  }

  private get remote(): string {
    return `${this.remoteAddress}:${this.remotePort}`;
  }

  private failProtocol(error: ProtocolError): void {
    this.emit('protocol-error', error);
    if (this.closed || this.failure) return;
    this.failure = error;
    failProtocol(this, this.logger, this.remote, error);
  }

  private onEnd(): void {
    remoteEnded(this, this.logger, this.remote, this.closed || this.failure ? 0 : this.decoder.bufferedBytes);
  }

  /** Hands received bytes to the decoder (called for 'data' events, or by an `onread` owner). */
  feed(data: Buffer): void {
    if (this.closed || this.failure) return;
    this.accept(this.decoder.push(data));
  }

  /**
   * For an `onread` owner: where the next read may go straight into the frame being read (its pooled
   * storage, with `allocateFrame`), so the bytes are not copied out of a read buffer afterwards.
   * Undefined when there is no such frame; report a read into it with `filled`.
   */
  readTarget(): Buffer | undefined {
    if (this.closed || this.failure || this.backlog) return undefined;
    return this.decoder.readTarget();
  }

  /** `bytes` bytes were read into `readTarget()`. */
  filled(bytes: number): void {
    if (this.closed || this.failure) return;
    this.accept(this.decoder.filled(bytes));
  }

  /** Length of the last frame received (after its prefix). */
  get lastFrameBytes(): number {
    return this.decoder.lastFrameBytes;
  }

  private accept({ messages, error }: DecodeResult): void {
    if (this.frameTimeoutMs > 0) this.watchFrame(messages.length > 0);
    // A read already on its way when the socket was paused: its messages queue behind the backlog.
    if (this.backlog) {
      this.backlog.messages.push(...messages);
      this.backlog.error ??= error;
      return;
    }
    this.handle({ messages, next: 0, error });
  }

  /** Dispatches decoded messages until the unsent bytes pass the cap; the rest waits for 'drain'. */
  private handle(work: { messages: Message[]; next: number; error: ProtocolError | undefined }): void {
    while (work.next < work.messages.length) {
      if (this.closed || this.failure) return;
      if (this.maxUnsentBytes > 0 && (this.unsentCost > this.maxUnsentBytes || this.tooManyQueuedWrites())) {
        this.backlog = work;
        this.socket.pause();
        this.socket.once('drain', () => this.resumeBacklog());
        return;
      }
      this.dispatch(work.messages[work.next++]!);
    }
    if (work.error) this.failProtocol(work.error);
  }

  /** Past MAX_QUEUED_WRITES, once a 'drain' is due to resume reading (tiny frames may not fill the socket buffer). */
  private tooManyQueuedWrites(): boolean {
    return this.queuedWritesNow > MAX_QUEUED_WRITES && this.socket.writableNeedDrain;
  }

  private resumeBacklog(): void {
    const work = this.backlog;
    if (!work || this.closed) return;
    this.backlog = undefined;
    this.handle(work);
    if (!this.backlog && !this.closed) this.socket.resume();
  }

  /** Runs the frame timer while a frame is unfinished; a frame that began in this read starts it again. */
  private watchFrame(completedFrames: boolean): void {
    if (this.decoder.bufferedBytes === 0) {
      if (this.frameTimer) clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
      return;
    }
    if (this.frameTimer && !completedFrames) return;
    if (this.frameTimer) clearTimeout(this.frameTimer);
    this.frameTimer = setTimeout(() => {
      this.logger.warn('frame not completed in time; closing connection', { remote: this.remote, frameTimeoutMs: this.frameTimeoutMs });
      this.close(new RequestTimeoutError(`a frame must complete within ${this.frameTimeoutMs} ms of its first byte`));
    }, this.frameTimeoutMs);
    this.frameTimer.unref();
  }

  private dispatch(message: Message): void {
    if (message.requestId !== 0 && RESPONSE_TYPES.has(message.type)) {
      const pending = this.pending.get(message.requestId);
      if (pending) {
        this.pending.delete(message.requestId);
        if (pending.timer) clearTimeout(pending.timer);
        if (message.type === MessageType.Error)
          pending.reject(new RemoteError(message.body.code, message.body.message));
        else pending.resolve(message);
        return;
      }
    }
    this.emit('message', message);
  }
}

/** "::ffff:127.0.0.1" -> "127.0.0.1", so addresses compare and print the same everywhere. */
export function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
