/**
 * One connection to the tracker. A tracker holds one per registered peer, mostly idle between
 * heartbeats, so each costs as little as Node allows:
 *
 * - no timer of its own: the server's sweep closes connections idle past the timeout (`lastReadMs`);
 * - no closures: the socket's listeners are module functions shared by every connection, which find
 *   their connection through a symbol on the socket, and report to the server's one `hooks` object;
 * - no decoder of its own while reads hold whole frames (a peer writes each request in one piece, so
 *   nearly all reads do): each read goes through a FrameDecoder made for it, which the connection
 *   keeps only when the read ends inside a frame.
 *
 * Measured at 10,000 registered peers (`swarmlab bench --only tracker`): about 1.3 KB of JS heap per
 * peer, of which Node's own net.Socket is about 0.85 KB and the registry's record 0.17 KB.
 *
 * What a remote sends is judged by the failure policy shared with FramedConnection
 * (shared/connection-failure.ts): a protocol error is answered with one ERROR frame and closes this
 * connection only; a frame cut short by the end of input gets an ERROR first.
 * The answers to one read are corked and leave in one write.
 *
 * What a remote can make the tracker hold is bounded (docs/protocol.md, "Limits"):
 * - output: a remote that sends requests and never reads its answers (a pipeline of LISTs) is not read
 *   any further while its unsent answers pass `maxUnsentBytes`; the messages already decoded wait in a
 *   backlog and are answered on 'drain'. It holds at most the cap plus one answer, and a remote that
 *   never drains reads nothing, so the idle sweep closes it;
 * - input: a frame must complete within `frameTimeoutMs` of its first byte (the server's sweep), and
 *   the bytes held for unfinished frames count against their remote address's budget.
 */
import type { Socket } from 'node:net';
import { encodeJson, encodeJsonHeader, FrameDecoder, MessageType } from '../protocol';
import type { BodyOf, DecodeResult, JsonMessageType, Message, ProtocolError } from '../protocol';
import { errorBody, failProtocol, refuseConnection, remoteEnded } from '../shared/connection-failure';
import type { FailingConnection } from '../shared/connection-failure';
import { normaliseAddress } from '../shared/framed-connection';
import { freeBufferNow } from '../shared/free-memory';
import type { Logger } from '../shared/logger';
import { TrackerErrorCode } from './errors';

/** What every connection of one server reports to; one object shared by all of them. */
export interface TrackerConnectionHooks {
  readonly logger: Logger;
  readonly maxFrameBytes: number;
  /** Unsent answer bytes past which the connection is not read until its socket drains. */
  readonly maxUnsentBytes: number;
  /** Bytes of unfinished frames one remote address may have the tracker hold, over all its connections. */
  readonly maxBufferedBytesPerAddress: number;
  onMessage(connection: TrackerConnection, message: Message): void;
  onClose(connection: TrackerConnection): void;
}

const CONNECTION = Symbol('tracker-connection');

interface SocketWithConnection extends Socket {
  [CONNECTION]?: TrackerConnection;
}

/** One remote address: its string, shared by its connections, and the bytes they hold for unfinished frames. */
export interface AddressBudget {
  readonly address: string;
  bufferedBytes: number;
}

/** Decoded messages not answered yet because the remote is not reading its answers. */
interface Backlog {
  messages: Message[];
  next: number;
  error: ProtocolError | undefined;
}

export class TrackerConnection implements FailingConnection {
  /** The peer registered on this connection, if any: a peer id is bound to its connection. */
  peerId: string | undefined = undefined;
  invalidRequests = 0;
  /** Date.now() of the last read: the server's sweep closes connections idle for too long. */
  lastReadMs: number;
  /** Date.now() when the unfinished frame being read began (0: between frames); the sweep enforces the frame timeout. */
  frameStartedMs = 0;
  private decoder: FrameDecoder | undefined = undefined;
  /** Bytes the decoder holds, as counted in the address's budget. */
  private heldBytes = 0;
  private backlog: Backlog | undefined = undefined;
  /** Set once the connection is refused (or broke the protocol): input is ignored while the ERROR frame flushes. */
  private refused = false;
  private closed = false;

  constructor(
    readonly socket: Socket,
    /** The remote address, shared with the other connections from it. */
    private readonly budget: AddressBudget,
    private readonly hooks: TrackerConnectionHooks,
  ) {
    this.lastReadMs = Date.now();
    (socket as SocketWithConnection)[CONNECTION] = this;
    socket.setNoDelay(true);
    socket.on('data', onSocketData);
    socket.on('error', onSocketError);
    socket.on('end', onSocketEnd);
    socket.on('close', onSocketClose);
  }

  get remoteAddress(): string {
    return this.budget.address;
  }

  /** True while the connection is not read because its remote does not read its answers. */
  get paused(): boolean {
    return this.backlog !== undefined;
  }

  /** The remote address as the socket reports it ("::ffff:" removed), before a connection is made for it. */
  static remoteAddressOf(socket: Socket): string {
    return normaliseAddress(socket.remoteAddress ?? '');
  }

  send<T extends JsonMessageType>(type: T, requestId: number, body: BodyOf<T>): void {
    if (!this.closed) this.socket.write(encodeJson(type, requestId, body));
  }

  /** Sends a control frame whose JSON body is already encoded (and may be shared: it is not copied). */
  sendEncoded(type: JsonMessageType, requestId: number, body: Buffer): void {
    if (this.closed) return;
    this.socket.write(encodeJsonHeader(type, requestId, body.length));
    this.socket.write(body);
  }

  sendError(requestId: number, code: string, message: string): void {
    this.send(MessageType.Error, requestId, errorBody(code, message));
  }

  /** Idempotent: destroys the socket and tells the server once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.budget.bufferedBytes -= this.heldBytes;
    this.heldBytes = 0;
    // An unfinished frame (a trickle's, up to MBs, old enough to sit in the old generation) is freed
    // now rather than at the next full collection, which in a tracker can be minutes away.
    const unfinished = this.decoder?.drop();
    if (unfinished) freeBufferNow(unfinished);
    this.decoder = undefined;
    this.backlog = undefined;
    this.socket.off('drain', onSocketDrain);
    // Closed in the middle of a read: what was answered so far (ERROR frames) still goes out first.
    while (this.socket.writableCorked > 0) this.socket.uncork();
    this.socket.destroy();
    this.hooks.onClose(this);
  }

  /** @internal A read from the socket: decode, hand each message to the server, answer in one write. */
  read(data: Buffer): void {
    this.lastReadMs = Date.now();
    if (this.closed || this.refused) return;
    const { messages, error } = this.decode(data);
    if (this.closed) return;
    // A read already on its way when the socket was paused: its messages queue behind the backlog.
    if (this.backlog) {
      this.backlog.messages.push(...messages);
      this.backlog.error ??= error;
      return;
    }
    this.answer({ messages, next: 0, error });
  }

  /**
   * Answers decoded messages in one corked write, until the unsent answers pass the cap: the rest
   * waits, and the socket is not read, until it drains.
   */
  private answer(work: Backlog): void {
    this.socket.cork();
    try {
      while (work.next < work.messages.length) {
        if (this.closed || this.refused) return;
        if (this.socket.writableLength > this.hooks.maxUnsentBytes) {
          if (!this.backlog) {
            this.backlog = work;
            this.socket.pause();
            this.socket.once('drain', onSocketDrain);
          }
          return;
        }
        this.hooks.onMessage(this, work.messages[work.next++]!);
      }
      if (work.error) this.fail(work.error);
    } finally {
      this.socket.uncork();
    }
  }

  /** @internal The remote read its answers: answer what waited, then read again. */
  drained(): void {
    const work = this.backlog;
    if (!work || this.closed) return;
    this.backlog = undefined;
    this.answer(work);
    if (!this.backlog && !this.closed) this.socket.resume();
  }

  /** @internal The remote finished sending: a frame cut short is answered with an ERROR before we close. */
  ended(): void {
    remoteEnded(this, this.hooks.logger, this.remoteAddress, this.closed || this.refused ? 0 : (this.decoder?.bufferedBytes ?? 0));
  }

  private decode(data: Buffer): DecodeResult {
    const decoder = this.decoder ?? new FrameDecoder({ maxFrameBytes: this.hooks.maxFrameBytes });
    const result = decoder.push(data);
    this.decoder = decoder.idle ? undefined : decoder;
    const held = this.decoder?.bufferedBytes ?? 0;
    // A frame begins: a frame was left unfinished where none was, or one finished and the next began.
    if (held === 0) this.frameStartedMs = 0;
    else if (this.frameStartedMs === 0 || result.messages.length > 0) this.frameStartedMs = this.lastReadMs;
    this.budget.bufferedBytes += held - this.heldBytes;
    this.heldBytes = held;
    if (this.budget.bufferedBytes > this.hooks.maxBufferedBytesPerAddress) {
      this.hooks.logger.warn('too many bytes buffered for one address; closing connection', {
        remote: this.remoteAddress,
        bufferedBytes: this.budget.bufferedBytes,
      });
      this.refuse(TrackerErrorCode.TooManyBufferedBytes, `at most ${this.hooks.maxBufferedBytesPerAddress} bytes of unfinished frames per address`);
      this.close();
    }
    return result;
  }

  /** Answers with one ERROR frame and hangs up; input is ignored meanwhile. */
  refuse(code: string, message: string): void {
    if (this.closed || this.refused) return;
    this.refused = true;
    refuseConnection(this, code, message);
  }

  private fail(error: ProtocolError): void {
    if (this.closed || this.refused) return;
    this.refused = true;
    failProtocol(this, this.hooks.logger, this.remoteAddress, error);
  }
}

function connectionOf(socket: Socket): TrackerConnection | undefined {
  return (socket as SocketWithConnection)[CONNECTION];
}

function onSocketData(this: Socket, data: Buffer): void {
  connectionOf(this)?.read(data);
}

function onSocketDrain(this: Socket): void {
  connectionOf(this)?.drained();
}

function onSocketError(this: Socket): void {
  connectionOf(this)?.close();
}

function onSocketEnd(this: Socket): void {
  connectionOf(this)?.ended();
}

function onSocketClose(this: Socket): void {
  connectionOf(this)?.close();
}
