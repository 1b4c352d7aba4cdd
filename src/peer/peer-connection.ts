/**
 * The downloader's connection to one source peer. It says HELLO, asks for a file's bitfield
 * (INTERESTED), requests chunks by index and receives live HAVE_CHUNK announcements. One connection
 * per source address is shared by every download (connection reuse).
 */
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { Bitfield, CHUNK_HEADER_BYTES, encodeChunkRef, MessageType, PEER_FEATURE_ROOM, PEER_FEATURES, PROTOCOL_VERSION, RejectReason } from '../protocol';
import type { Message } from '../protocol';
import { ConnectionClosedError, RequestTimeoutError } from '../shared/errors';
import { FramedConnection } from '../shared/framed-connection';
import type { LinkTable } from '../shared/link-emulator';
import type { Logger } from '../shared/logger';
import type { ChunkLease, ChunkMemory } from './chunk-memory';
import { PeerError, PeerErrorCode } from './errors';

export interface PeerConnectionEvents {
  'have-chunk': [fileId: string, index: number];
  /** ROOM: the source's upload, which refused us with REJECT `busy`, has room now. */
  room: [];
  close: [];
}

/**
 * Why a source did not give a requested chunk: its REJECT reason, or what went wrong on the way
 * (a different chunk came back, no answer in time, the connection closed, an answer of another type).
 */
export type ChunkRejection =
  | 'not-held'
  | 'unavailable'
  | 'busy'
  | 'elsewhere'
  | 'wrong-chunk'
  | 'timed-out'
  | 'closed'
  | 'unexpected-answer';

/** The answer to one REQUEST: the chunk, leased from the peer's ChunkMemory, or why there is none. */
export type ChunkAnswer = { chunk: ChunkLease } | { rejected: ChunkRejection };

export interface PeerConnectionComponents {
  logger: Logger;
  /** Where received chunks live: the peer's one ChunkMemory. */
  memory: ChunkMemory;
  /** This peer's emulated links: what it sends on this connection goes through them. */
  links?: LinkTable;
}

export interface PeerConnectionInit {
  host: string;
  port: number;
  /** What HELLO tells the source about us. */
  hello: { peerId: string; name: string };
  /** Give up connecting after this long. */
  connectTimeoutMs?: number;
  /** Close the connection after this long with nothing sent or received (0 = never). */
  idleTimeoutMs?: number;
  /** How long a source has to answer INTERESTED before the connection is closed as hung. */
  interestedTimeoutMs?: number;
}

export const CONNECT_TIMEOUT_MS = 5_000;
/**
 * An outbound data connection with no traffic for this long is closed: a source that went silent
 * (or a connection no download uses any more) holds no socket. A download that needs it reconnects.
 */
export const OUTBOUND_IDLE_TIMEOUT_MS = 120_000;
export const INTERESTED_TIMEOUT_MS = 10_000;
/** Bytes asked of the kernel per read on a data connection. */
const READ_BUFFER_BYTES = 1024 * 1024;
/**
 * After a chunk, reads between frames ask for CHUNK_HEADER_BYTES only (length prefix, header and chunk
 * ref), so that a CHUNK which follows is known, and its pooled buffer taken, before any of its data is
 * read: all of its data is then read straight into that buffer. Small frames between chunks (a
 * HAVE_CHUNK, a REJECT) are read that way too, up to this many reads in a row; past them the run of
 * small frames is taken as such, and reads go back to READ_BUFFER_BYTES until the next chunk.
 */
const HEADER_READS_AFTER_CHUNK = 16;
/**
 * The one read buffer of every outbound data connection, made on first use. Sharing it is safe: each
 * read is handed to its connection's decoder, which copies what it keeps, before the callback returns,
 * and reads of different sockets never overlap on the one JS thread. A buffer per connection cost
 * 1 MiB per source whether it sent anything or not.
 */
let sharedReadBuffer: Buffer | undefined;

const REJECTIONS: { readonly [R in RejectReason]: ChunkRejection } = {
  [RejectReason.NotHeld]: 'not-held',
  [RejectReason.Busy]: 'busy',
  [RejectReason.Unavailable]: 'unavailable',
  // A super-seeder sends this chunk to someone else: get it from them (docs/protocol.md, REJECT).
  [RejectReason.Elsewhere]: 'elsewhere',
};

export class PeerConnection extends EventEmitter<PeerConnectionEvents> {
  private constructor(
    readonly connection: FramedConnection,
    private readonly memory: ChunkMemory,
    readonly host: string,
    readonly port: number,
    private readonly interestedTimeoutMs: number,
  ) {
    super();
    connection.on('message', (message) => this.onMessage(message));
    connection.on('close', () => this.emit('close'));
  }

  static async open(components: PeerConnectionComponents, init: PeerConnectionInit): Promise<PeerConnection> {
    const { logger, memory, links } = components;
    const { host, port } = init;
    const connectTimeoutMs = init.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    // A chunk is read from the kernel straight into its pooled buffer (the frame's `readTarget`):
    // copying each chunk out of a read buffer was a tenth of a pair leecher's event loop. Between
    // frames, reads go to the shared read buffer, whose frames the decoder copies out once: after a
    // chunk only a CHUNK header's worth (the next frame is most likely a chunk too, whose data should
    // not land here), otherwise up to READ_BUFFER_BYTES, so a run of small frames costs few reads.
    const reader: { framed?: FramedConnection } = {};
    const readBuffer = (sharedReadBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES));
    const headerRead = readBuffer.subarray(0, CHUNK_HEADER_BYTES);
    let direct = false;
    let headerReadsLeft = 0;
    const nextReadBuffer = (): Buffer => {
      const target = reader.framed?.readTarget();
      direct = target !== undefined && target.length > 0;
      if (direct) return target!;
      return headerReadsLeft > 0 ? headerRead : readBuffer;
    };
    const socket = connect({
      host,
      port,
      onread: {
        buffer: nextReadBuffer,
        callback: (bytes: number, buffer: Uint8Array) => {
          const framed = reader.framed;
          if (!framed) return true;
          if (direct) framed.filled(bytes);
          else framed.feed((buffer as Buffer).subarray(0, bytes));
          if (framed.lastFrameBytes >= memory.pooledFrameBytes) headerReadsLeft = HEADER_READS_AFTER_CHUNK;
          else if (buffer === headerRead && headerReadsLeft > 0) headerReadsLeft--;
          return true;
        },
      },
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new PeerError(PeerErrorCode.ConnectTimeout, `no connection to ${host}:${port} in ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new PeerError(PeerErrorCode.ConnectFailed, `cannot connect to ${host}:${port}: ${error.message}`));
      });
    });
    const connection = new FramedConnection(socket, logger, {
      idleTimeoutMs: init.idleTimeoutMs ?? OUTBOUND_IDLE_TIMEOUT_MS,
      externalReads: true,
      allocateFrame: memory.allocateFrame,
      ...(links ? { links } : {}),
    });
    reader.framed = connection;
    connection.send(MessageType.Hello, 0, { version: PROTOCOL_VERSION, peerId: init.hello.peerId, name: init.hello.name, features: [...PEER_FEATURES] });
    return new PeerConnection(connection, memory, host, port, init.interestedTimeoutMs ?? INTERESTED_TIMEOUT_MS);
  }

  private roomPromised = false;

  /**
   * The source said (in BITFIELD) that it sends ROOM when its upload has room after REJECT `busy`: a
   * refused download waits for that. False until a BITFIELD says so, and for sources older than ROOM.
   */
  get sendsRoom(): boolean {
    return this.roomPromised;
  }

  get closed(): boolean {
    return this.connection.isClosed;
  }

  /**
   * Asks for the source's bitfield of `fileId` and subscribes to its HAVE_CHUNK announcements. A source
   * that does not answer in time is taken as hung: the connection is closed, so no download keeps it.
   */
  async interested(fileId: string, chunks: number): Promise<Bitfield> {
    let response: Message;
    try {
      response = await this.connection.request(MessageType.Interested, { fileId }, this.interestedTimeoutMs);
    } catch (error) {
      if (error instanceof RequestTimeoutError) this.close();
      throw error;
    }
    if (response.type !== MessageType.Bitfield) throw new PeerError(PeerErrorCode.Protocol, 'expected BITFIELD');
    if (response.body.features?.includes(PEER_FEATURE_ROOM) === true) this.roomPromised = true;
    return Bitfield.fromBase64(chunks, response.body.bitfield);
  }

  /**
   * Requests one chunk; resolves with it (not yet verified: the caller verifies, then releases the
   * lease) or with why there is none. Returns the request id through `onRequestId` so the caller can
   * cancel it. Rejects only on the unexpected (an ERROR frame in answer).
   */
  async requestChunk(fileId: string, index: number, timeoutMs: number, onRequestId?: (requestId: number) => void): Promise<ChunkAnswer> {
    const requestId = this.connection.allocateRequestId();
    onRequestId?.(requestId);
    const response = this.connection.expect(requestId, timeoutMs);
    this.connection.write(encodeChunkRef(MessageType.Request, requestId, fileId, index));
    let message: Message;
    try {
      message = await response;
    } catch (error) {
      if (error instanceof RequestTimeoutError) return { rejected: 'timed-out' };
      if (error instanceof ConnectionClosedError) return { rejected: 'closed' };
      throw error;
    }
    switch (message.type) {
      case MessageType.Chunk:
        if (message.body.fileId !== fileId || message.body.index !== index) {
          this.memory.discard(message.body.data);
          return { rejected: 'wrong-chunk' };
        }
        return { chunk: this.memory.lease(message.body.data) };
      case MessageType.Reject:
        return { rejected: REJECTIONS[message.body.reason] };
      default:
        return { rejected: 'unexpected-answer' };
    }
  }

  /** One PING → PONG round trip on this connection, in ms (through the same link as chunks). */
  async ping(timeoutMs?: number): Promise<number> {
    const startMs = performance.now();
    const response = await this.connection.request(MessageType.Ping, {}, timeoutMs);
    if (response.type !== MessageType.Pong) throw new PeerError(PeerErrorCode.Protocol, 'expected PONG');
    return performance.now() - startMs;
  }

  /** Runs `fn` with the socket corked, so the frames it writes leave in one write. */
  batch(fn: () => void): void {
    const socket = this.connection.socket;
    socket.cork();
    try {
      fn();
    } finally {
      socket.uncork();
    }
  }

  cancel(fileId: string, index: number, requestId: number): void {
    this.connection.forget(requestId);
    this.connection.write(encodeChunkRef(MessageType.Cancel, requestId, fileId, index));
  }

  close(): void {
    this.connection.close();
  }

  private onMessage(message: Message): void {
    if (message.type === MessageType.HaveChunk) this.emit('have-chunk', message.body.fileId, message.body.index);
    else if (message.type === MessageType.Room) this.emit('room');
    // A CHUNK no request waits for (cancelled, or timed out): its memory goes straight back.
    else if (message.type === MessageType.Chunk) this.memory.discard(message.body.data);
  }
}
