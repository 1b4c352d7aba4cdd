/**
 * One connection to the tracker. A tracker holds one per registered peer, mostly idle between
 * heartbeats, so each costs as little as Node allows:
 *
 * - no timer of its own: the server's sweep closes connections idle past the timeout (`lastReadMs`);
 * - no closures: the socket's listeners are module functions shared by every connection, which find
 *   their connection through a symbol on the socket, and report to the server's one `hooks` object;
 * - no decoder while reads hold whole frames (a peer writes each request in one piece, so nearly all
 *   reads do): a FrameDecoder is made, and kept, only once a read ends inside a frame.
 *
 * Measured at 10,000 registered peers (`swarmlab bench --only tracker`): about 1.3 KB of JS heap per
 * peer, of which Node's own net.Socket is about 0.85 KB and the registry's record 0.17 KB.
 *
 * What a remote sends is judged as in FramedConnection: a protocol error is answered with one ERROR
 * frame and closes this connection only; a frame cut short by the end of input gets an ERROR first.
 * The answers to one read are corked and leave in one write.
 */
import type { Socket } from 'node:net';
import {
  decodeFrame,
  encodeJson,
  encodeJsonHeader,
  FRAME_OVERHEAD_BYTES,
  FrameDecoder,
  MalformedFrameError,
  MessageType,
  ProtocolError,
} from '../protocol';
import type { BodyOf, DecodeResult, JsonMessageType, Message } from '../protocol';
import { normaliseAddress } from '../shared/framed-connection';
import type { Logger } from '../shared/logger';

const LENGTH_PREFIX_BYTES = 4;
/** How long a connection that broke the protocol has to flush its ERROR frame before it is destroyed. */
const FAILURE_FLUSH_MS = 1000;
const MAX_ERROR_MESSAGE_CHARS = 1024;

/** What every connection of one server reports to; one object shared by all of them. */
export interface TrackerConnectionHooks {
  readonly logger: Logger;
  readonly maxFrameBytes: number;
  onMessage(connection: TrackerConnection, message: Message): void;
  onClose(connection: TrackerConnection): void;
}

const CONNECTION = Symbol('tracker-connection');

interface SocketWithConnection extends Socket {
  [CONNECTION]?: TrackerConnection;
}

export class TrackerConnection {
  /** The peer registered on this connection, if any: a peer id is bound to its connection. */
  peerId: string | undefined = undefined;
  invalidRequests = 0;
  /** Date.now() of the last read: the server's sweep closes connections idle for too long. */
  lastReadMs: number;
  private decoder: FrameDecoder | undefined = undefined;
  /** Set once the connection is refused (or broke the protocol): input is ignored while the ERROR frame flushes. */
  private refused = false;
  private closed = false;

  constructor(
    readonly socket: Socket,
    /** The remote address, shared with the other connections from it. */
    readonly remoteAddress: string,
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
    this.send(MessageType.Error, requestId, { code, message: message.slice(0, MAX_ERROR_MESSAGE_CHARS) });
  }

  /** Idempotent: destroys the socket and tells the server once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
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
    this.socket.cork();
    try {
      for (const message of messages) {
        if (this.closed || this.refused) return;
        this.hooks.onMessage(this, message);
      }
      if (error) this.fail(error);
    } finally {
      this.socket.uncork();
    }
  }

  /** @internal The remote finished sending: a frame cut short is answered with an ERROR before we close. */
  ended(): void {
    const buffered = this.decoder?.bufferedBytes ?? 0;
    if (!this.closed && !this.refused && buffered > 0 && !this.socket.writableEnded) {
      this.hooks.logger.warn('connection ended inside a frame', {
        remote: this.remoteAddress,
        bufferedBytes: buffered,
      });
      this.sendError(0, 'ERR_MALFORMED_FRAME', `the connection ended ${buffered} bytes into a frame`);
    }
    if (!this.socket.writableEnded) this.socket.end();
  }

  private decode(data: Buffer): DecodeResult {
    if (this.decoder === undefined) {
      const decoded = decodeWholeFrames(data, this.hooks.maxFrameBytes);
      if (decoded) return decoded;
      this.decoder = new FrameDecoder({ maxFrameBytes: this.hooks.maxFrameBytes });
    }
    return this.decoder.push(data);
  }

  /** Answers with one ERROR frame and hangs up; input is ignored meanwhile. */
  refuse(code: string, message: string): void {
    if (this.closed || this.refused) return;
    this.refused = true;
    this.sendError(0, code, message);
    this.socket.end();
    // Destroyed even when the remote never closes its side.
    setTimeout(() => this.close(), FAILURE_FLUSH_MS).unref();
  }

  private fail(error: ProtocolError): void {
    this.hooks.logger.warn('protocol error; closing connection', {
      remote: this.remoteAddress,
      code: error.code,
      reason: error.message,
    });
    this.refuse(error.code, error.message);
  }
}

/**
 * The messages in `data` when it holds only whole frames, each within the limits; undefined otherwise
 * (a frame cut between reads, or a bad length: the FrameDecoder buffers the one and reports the other).
 * As with the decoder, the messages before a frame that does not decode are returned with its error.
 */
function decodeWholeFrames(data: Buffer, maxFrameBytes: number): DecodeResult | undefined {
  let offset = 0;
  while (offset < data.length) {
    if (data.length - offset < LENGTH_PREFIX_BYTES) return undefined;
    const length = data.readUInt32BE(offset);
    if (length > maxFrameBytes || length < FRAME_OVERHEAD_BYTES) return undefined;
    offset += LENGTH_PREFIX_BYTES + length;
  }
  if (offset !== data.length) return undefined;
  const messages: Message[] = [];
  try {
    for (offset = 0; offset < data.length;) {
      const length = data.readUInt32BE(offset);
      messages.push(decodeFrame(data.subarray(offset + LENGTH_PREFIX_BYTES, offset + LENGTH_PREFIX_BYTES + length)));
      offset += LENGTH_PREFIX_BYTES + length;
    }
  } catch (error) {
    return { messages, error: error instanceof ProtocolError ? error : new MalformedFrameError(String(error)) };
  }
  return { messages };
}

function connectionOf(socket: Socket): TrackerConnection | undefined {
  return (socket as SocketWithConnection)[CONNECTION];
}

function onSocketData(this: Socket, data: Buffer): void {
  connectionOf(this)?.read(data);
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
