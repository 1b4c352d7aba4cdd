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
 */
import type { Socket } from 'node:net';
import { encodeJson, encodeJsonHeader, FrameDecoder, MessageType } from '../protocol';
import type { BodyOf, DecodeResult, JsonMessageType, Message, ProtocolError } from '../protocol';
import { errorBody, failProtocol, refuseConnection, remoteEnded } from '../shared/connection-failure';
import type { FailingConnection } from '../shared/connection-failure';
import { normaliseAddress } from '../shared/framed-connection';
import type { Logger } from '../shared/logger';

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

export class TrackerConnection implements FailingConnection {
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
    this.send(MessageType.Error, requestId, errorBody(code, message));
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
    remoteEnded(this, this.hooks.logger, this.remoteAddress, this.closed || this.refused ? 0 : (this.decoder?.bufferedBytes ?? 0));
  }

  private decode(data: Buffer): DecodeResult {
    const decoder = this.decoder ?? new FrameDecoder({ maxFrameBytes: this.hooks.maxFrameBytes });
    const result = decoder.push(data);
    this.decoder = decoder.idle ? undefined : decoder;
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

function onSocketError(this: Socket): void {
  connectionOf(this)?.close();
}

function onSocketEnd(this: Socket): void {
  connectionOf(this)?.ended();
}

function onSocketClose(this: Socket): void {
  connectionOf(this)?.close();
}
