/**
 * The downloader's connection to one source peer. It says HELLO, asks for a file's bitfield
 * (INTERESTED), requests chunks by index and receives live HAVE_CHUNK announcements. One connection
 * per source address is shared by every download (connection reuse).
 */
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { Bitfield, encodeChunkRef, MessageType, PROTOCOL_VERSION, RejectReason } from '../protocol';
import type { Message } from '../protocol';
import { FramedConnection } from '../shared/framed-connection';
import type { Logger } from '../shared/logger';
import { BufferPool } from './buffer-pool';
import { PeerError } from './errors';

export interface PeerConnectionEvents {
  'have-chunk': [fileId: string, index: number];
  close: [];
}

export interface ChunkResult {
  data: Buffer;
}

export const CONNECT_TIMEOUT_MS = 5_000;
/** Bytes asked of the kernel per read on a data connection. */
const READ_BUFFER_BYTES = 1024 * 1024;
/** Frames at least this large (CHUNKs) are received into pooled buffers; smaller ones are just allocated. */
const POOLED_FRAME_BYTES = 64 * 1024;
/**
 * Received chunks, shared by every connection of this process: a CHUNK frame is copied once from the
 * socket's read buffer into one of these, and its data goes back with `releaseChunk` once written.
 */
const chunkBuffers = new BufferPool();

/** The pool received chunks live in (the hashing thread borrows their memory; see hash-worker). */
export function receivedChunkPool(): BufferPool {
  return chunkBuffers;
}

export class PeerConnection extends EventEmitter<PeerConnectionEvents> {
  private constructor(
    readonly connection: FramedConnection,
    readonly host: string,
    readonly port: number,
  ) {
    super();
    connection.on('message', (message) => this.onMessage(message));
    connection.on('close', () => this.emit('close'));
  }

  static async open(host: string, port: number, hello: { peerId: string; name: string }, logger: Logger): Promise<PeerConnection> {
    // Large reads: a data connection receives whole chunks, and a read syscall costs more than a copy.
    // The read buffer is reused, so the decoder copies each frame out of it, once, into the frame's
    // own buffer (a pooled one for chunks): no allocation per read, no second copy.
    const reader: { framed?: FramedConnection } = {};
    const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    const socket = connect({
      host,
      port,
      onread: {
        buffer: readBuffer,
        callback: (bytes: number) => {
          reader.framed?.feed(readBuffer.subarray(0, bytes));
          return true;
        },
      },
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new PeerError('ERR_CONNECT_TIMEOUT', `no connection to ${host}:${port} in ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new PeerError('ERR_CONNECT_FAILED', `cannot connect to ${host}:${port}: ${error.message}`));
      });
    });
    const connection = new FramedConnection(socket, logger, { idleTimeoutMs: 0, externalReads: true, allocateFrame });
    reader.framed = connection;
    connection.send(MessageType.Hello, 0, { version: PROTOCOL_VERSION, peerId: hello.peerId, name: hello.name });
    return new PeerConnection(connection, host, port);
  }

  get closed(): boolean {
    return this.connection.isClosed;
  }

  /** Asks for the source's bitfield of `fileId` and subscribes to its HAVE_CHUNK announcements. */
  async interested(fileId: string, chunks: number): Promise<Bitfield> {
    const response = await this.connection.request(MessageType.Interested, { fileId });
    if (response.type !== MessageType.Bitfield) throw new PeerError('ERR_PROTOCOL', 'expected BITFIELD');
    return Bitfield.fromBase64(chunks, response.body.bitfield);
  }

  /**
   * Requests one chunk; resolves with its bytes (not yet verified: the caller verifies). Returns the
   * request id through `onRequestId` so the caller can cancel it.
   */
  async requestChunk(fileId: string, index: number, timeoutMs: number, onRequestId?: (requestId: number) => void): Promise<Buffer> {
    const requestId = this.connection.allocateRequestId();
    onRequestId?.(requestId);
    const response = this.connection.expect(requestId, timeoutMs);
    this.connection.write(encodeChunkRef(MessageType.Request, requestId, fileId, index));
    const message = await response;
    if (message.type === MessageType.Chunk) {
      if (message.body.fileId !== fileId || message.body.index !== index) {
        throw new PeerError('ERR_WRONG_CHUNK', `asked for chunk ${index}, got chunk ${message.body.index}`);
      }
      return message.body.data;
    }
    if (message.type === MessageType.Reject) {
      throw new PeerError(rejectCode(message.body.reason), `chunk ${index} refused: ${RejectReason[message.body.reason]}`);
    }
    throw new PeerError('ERR_PROTOCOL', `unexpected answer ${MessageType[message.type]}`);
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

  /** Hands a chunk's buffer back for reuse once nothing reads it any more (it is written, or refused). */
  releaseChunk(data: Buffer): void {
    chunkBuffers.release(data);
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
  }
}

function rejectCode(reason: RejectReason): string {
  if (reason === RejectReason.Busy) return 'ERR_BUSY';
  // A super-seeder sends this chunk to someone else: get it from them (docs/protocol.md, REJECT).
  if (reason === RejectReason.Elsewhere) return 'ERR_ELSEWHERE';
  return 'ERR_NOT_HELD';
}

function allocateFrame(frameBytes: number): Buffer {
  return frameBytes >= POOLED_FRAME_BYTES ? chunkBuffers.acquire(frameBytes) : Buffer.allocUnsafe(frameBytes);
}
