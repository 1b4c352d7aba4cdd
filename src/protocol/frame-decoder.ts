/**
 * Incremental, pure frame decoder: bytes in, messages out, no I/O.
 *
 * It keeps a partly read frame between calls, handles many frames in one read and one frame over many
 * reads, and checks each announced length against MAX_FRAME_BYTES before buffering its body, so a
 * remote can never make it hold more than one maximum frame plus one read. After the first error the
 * decoder is spent: the transport answers with an ERROR frame and closes that connection only.
 */
import { CHUNK_REF_BYTES, FILE_ID_BYTES, FRAME_OVERHEAD_BYTES, MAX_FRAME_BYTES } from './constants';
import {
  FrameTooLargeError,
  InvalidBodyError,
  MalformedFrameError,
  ProtocolError,
  UnknownMessageTypeError,
} from './errors';
import { isBinaryType, isKnownType, MessageType, RejectReason } from './messages';
import type { BinaryMessageType, JsonMessageType, Message } from './messages';
import { validateBody } from './schemas';

export interface DecodeResult {
  messages: Message[];
  /** Set when the input broke the protocol; every later push returns it again. */
  error?: ProtocolError;
}

export interface FrameDecoderInit {
  /** Largest frame accepted, in bytes after the length prefix. */
  maxFrameBytes?: number;
  /**
   * Storage for each frame (after its length prefix), asked for once the length is known and checked.
   * When set, pushed bytes are borrowed (the caller reuses its read buffer): each frame is copied into
   * the buffer this returns, once, and the messages point into it (a CHUNK's data is a view of it), so
   * a pool of chunk-sized buffers can be recycled. Without it, frames are views of the pushed buffers.
   */
  allocateFrame?: (frameBytes: number) => Buffer;
}

const LENGTH_PREFIX_BYTES = 4;

export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Length of the frame being read (after its prefix), once its prefix has arrived. */
  private frameBytes: number | undefined;
  private failure: ProtocolError | undefined;
  private readonly allocateFrame: ((frameBytes: number) => Buffer) | undefined;
  /** Copying mode: the length prefix being read, the frame being filled, and how much of each arrived. */
  private readonly prefix = Buffer.alloc(LENGTH_PREFIX_BYTES);
  private prefixFilled = 0;
  private frame: Buffer | undefined;
  private frameFilled = 0;

  constructor(init: FrameDecoderInit = {}) {
    this.maxFrameBytes = init.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.allocateFrame = init.allocateFrame;
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.allocateFrame ? this.prefixFilled + this.frameFilled : this.pendingBytes;
  }

  push(data: Buffer): DecodeResult {
    if (this.failure) return { messages: [], error: this.failure };
    if (this.allocateFrame) return this.pushCopying(data, this.allocateFrame);
    const messages: Message[] = [];
    this.pending.push(data);
    this.pendingBytes += data.length;
    try {
      for (;;) {
        if (this.frameBytes === undefined) {
          if (this.pendingBytes < LENGTH_PREFIX_BYTES) break;
          this.frameBytes = this.checkedLength(this.take(LENGTH_PREFIX_BYTES).readUInt32BE(0));
        }
        if (this.pendingBytes < this.frameBytes) break;
        const frame = this.take(this.frameBytes);
        this.frameBytes = undefined;
        messages.push(decodeFrame(frame));
      }
    } catch (error) {
      this.failure = error instanceof ProtocolError ? error : new MalformedFrameError(String(error));
      this.pending = [];
      this.pendingBytes = 0;
      return { messages, error: this.failure };
    }
    return { messages };
  }

  /** Copying mode: every byte is copied once, into the prefix or into the frame's own buffer. */
  private pushCopying(data: Buffer, allocateFrame: (frameBytes: number) => Buffer): DecodeResult {
    const messages: Message[] = [];
    let offset = 0;
    try {
      while (offset < data.length) {
        if (this.frame === undefined) {
          const copied = data.copy(
            this.prefix,
            this.prefixFilled,
            offset,
            offset + LENGTH_PREFIX_BYTES - this.prefixFilled,
          );
          offset += copied;
          this.prefixFilled += copied;
          if (this.prefixFilled < LENGTH_PREFIX_BYTES) break;
          this.prefixFilled = 0;
          this.frame = allocateFrame(this.checkedLength(this.prefix.readUInt32BE(0)));
          this.frameFilled = 0;
        }
        const copied = data.copy(this.frame, this.frameFilled, offset, offset + this.frame.length - this.frameFilled);
        offset += copied;
        this.frameFilled += copied;
        if (this.frameFilled < this.frame.length) break;
        const frame = this.frame;
        this.frame = undefined;
        this.frameFilled = 0;
        messages.push(decodeFrame(frame));
      }
    } catch (error) {
      this.failure = error instanceof ProtocolError ? error : new MalformedFrameError(String(error));
      this.frame = undefined;
      this.prefixFilled = this.frameFilled = 0;
      return { messages, error: this.failure };
    }
    return { messages };
  }

  /** A frame length is checked before anything is allocated or buffered for it. */
  private checkedLength(length: number): number {
    if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
    if (length < FRAME_OVERHEAD_BYTES) throw new MalformedFrameError(`frame length ${length} is below the header size`);
    return length;
  }

  /** Removes `size` bytes from the front of the pending reads; copies only when they span reads. */
  private take(size: number): Buffer {
    const first = this.pending[0];
    if (first !== undefined && first.length >= size) {
      const out = first.subarray(0, size);
      if (first.length === size) this.pending.shift();
      else this.pending[0] = first.subarray(size);
      this.pendingBytes -= size;
      return out;
    }
    const out = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const head = this.pending[0]!;
      const wanted = Math.min(size - filled, head.length);
      head.copy(out, filled, 0, wanted);
      filled += wanted;
      if (wanted === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(wanted);
    }
    this.pendingBytes -= size;
    return out;
  }
}

/** Decodes one complete frame (without its length prefix). */
export function decodeFrame(frame: Buffer): Message {
  const type = frame.readUInt8(0);
  const requestId = frame.readUInt32BE(1);
  const body = frame.subarray(FRAME_OVERHEAD_BYTES);
  if (!isKnownType(type)) throw new UnknownMessageTypeError(type);
  if (isBinaryType(type)) return decodeBinary(type, requestId, body);
  return decodeJson(type as JsonMessageType, requestId, body);
}

function decodeJson(type: JsonMessageType, requestId: number, body: Buffer): Message {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidBodyError(`${MessageType[type]} body is not valid JSON`);
  }
  const problem = validateBody(type, parsed);
  if (problem !== undefined) throw new InvalidBodyError(`${MessageType[type]} body: ${problem}`);
  return { type, requestId, body: parsed } as Message;
}

function decodeBinary(type: BinaryMessageType, requestId: number, body: Buffer): Message {
  if (body.length < CHUNK_REF_BYTES) throw new MalformedFrameError(`${MessageType[type]} body is too short`);
  const fileId = body.toString('hex', 0, FILE_ID_BYTES);
  const index = body.readUInt32BE(FILE_ID_BYTES);
  const rest = body.subarray(CHUNK_REF_BYTES);
  switch (type) {
    case MessageType.Chunk:
      return { type, requestId, body: { fileId, index, data: rest } };
    case MessageType.Reject: {
      if (rest.length !== 1) throw new MalformedFrameError('REJECT carries exactly one reason byte');
      const reason = rest.readUInt8(0);
      if (RejectReason[reason] === undefined) throw new MalformedFrameError(`unknown reject reason ${reason}`);
      return { type, requestId, body: { fileId, index, reason: reason as RejectReason } };
    }
    case MessageType.Request:
    case MessageType.Cancel:
    case MessageType.HaveChunk:
      if (rest.length !== 0) throw new MalformedFrameError(`${MessageType[type]} has trailing bytes`);
      return { type, requestId, body: { fileId, index } };
    default: {
      const unreachable: never = type;
      throw new UnknownMessageTypeError(unreachable);
    }
  }
}
