/**
 * Incremental, pure frame decoder: bytes in, messages out, no I/O. Every framed transport of swarmlab
 * reads through it.
 *
 * One state machine: a length prefix, then a body of that length. A frame that lies whole inside one
 * read is decoded straight from it; only a frame cut between reads is stored, and the length is
 * checked against MAX_FRAME_BYTES before anything is stored for it. Stored bodies grow with what
 * actually arrived (unless `allocateFrame` is set), so a remote that announces a large frame and sends
 * little costs little. After the first error the decoder is spent: the transport answers with an
 * ERROR frame and closes that connection only.
 *
 * With `allocateFrame`, a reader may also skip the copy: `readTarget()` is the unfilled rest of the
 * frame being read, which the reader reads the socket straight into, and `filled(bytes)` says how
 * much arrived there. A chunk then goes from the kernel into its own buffer with no copy in between.
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
/** First storage for a frame cut between reads (without allocateFrame); it doubles as bytes arrive. */
const MIN_STORED_FRAME_BYTES = 16 * 1024;

export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private readonly allocateFrame: ((frameBytes: number) => Buffer) | undefined;
  /** A length prefix cut between reads, and how much of it arrived. Made on first need. */
  private prefix: Buffer | undefined;
  private prefixFilled = 0;
  /** Length of the frame being read (after its prefix); 0 while a prefix is being read. */
  private frameBytes = 0;
  /** Storage of the frame being read when it is cut between reads, and how much of it arrived. */
  private frame: Buffer | undefined;
  private frameFilled = 0;
  private failure: ProtocolError | undefined;
  private lastFrameBytesNow = 0;

  constructor(init: FrameDecoderInit = {}) {
    this.maxFrameBytes = init.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.allocateFrame = init.allocateFrame;
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.prefixFilled + this.frameFilled;
  }

  /** Length (after its prefix) of the last frame decoded: a reader guesses the next frame's from it. */
  get lastFrameBytes(): number {
    return this.lastFrameBytesNow;
  }

  /**
   * Where the next bytes of the frame being read can be read straight into: the unfilled rest of its
   * storage from `allocateFrame` (asked for now if none yet). Undefined between frames (the length
   * prefix is not known yet), after a failure, or without `allocateFrame`. Report what was read into
   * it with `filled`; nothing else may be pushed meanwhile.
   */
  readTarget(): Buffer | undefined {
    if (!this.allocateFrame || this.failure || this.frameBytes === 0) return undefined;
    this.frame ??= this.allocateFrame(this.frameBytes);
    return this.frame.subarray(this.frameFilled, this.frameBytes);
  }

  /** `bytes` bytes were read into `readTarget()`: decodes the frame once it is complete. */
  filled(bytes: number): DecodeResult {
    if (this.failure) return { messages: [], error: this.failure };
    if (this.frame === undefined || bytes < 0 || this.frameFilled + bytes > this.frameBytes) {
      throw new RangeError(`filled(${bytes}) does not fit the frame being read`);
    }
    this.frameFilled += bytes;
    if (this.frameFilled < this.frameBytes) return { messages: [] };
    try {
      return { messages: [this.completeStored()] };
    } catch (error) {
      return { messages: [], error: this.fail(error) };
    }
  }

  /** Between frames: nothing held, no frame started, no failure (the decoder can be dropped). */
  get idle(): boolean {
    return this.frameBytes === 0 && this.prefixFilled === 0 && this.failure === undefined;
  }

  /**
   * Gives up the frame being read, if any: its storage is returned when the decoder allocated it
   * itself (not through `allocateFrame`), so the caller can free it at once. Call it only when the
   * decoder is done with, e.g. its connection closed; a later push starts afresh.
   */
  drop(): Buffer | undefined {
    const storage = this.allocateFrame ? undefined : this.frame;
    this.frame = undefined;
    this.frameBytes = this.frameFilled = this.prefixFilled = 0;
    return storage;
  }

  push(data: Buffer): DecodeResult {
    if (this.failure) return { messages: [], error: this.failure };
    const messages: Message[] = [];
    try {
      let offset = 0;
      while (offset < data.length) {
        if (this.frameBytes === 0) {
          offset = this.readPrefix(data, offset);
          continue;
        }
        if (this.frame === undefined && data.length - offset >= this.frameBytes) {
          const end = offset + this.frameBytes;
          const frame = this.allocateFrame ? copied(this.allocateFrame(this.frameBytes), data, offset, end) : data.subarray(offset, end);
          offset = end;
          this.lastFrameBytesNow = this.frameBytes;
          this.frameBytes = 0;
          messages.push(decodeFrame(frame));
          continue;
        }
        offset = this.store(data, offset);
        if (this.frameFilled < this.frameBytes) break;
        messages.push(this.completeStored());
      }
    } catch (error) {
      return { messages, error: this.fail(error) };
    }
    return { messages };
  }

  /** Decodes the stored frame, now complete, and starts on the next. */
  private completeStored(): Message {
    const frame = this.frame!.subarray(0, this.frameBytes);
    this.lastFrameBytesNow = this.frameBytes;
    this.frame = undefined;
    this.frameBytes = this.frameFilled = 0;
    return decodeFrame(frame);
  }

  private fail(error: unknown): ProtocolError {
    this.failure = error instanceof ProtocolError ? error : new MalformedFrameError(String(error));
    this.frame = undefined;
    this.frameBytes = this.frameFilled = this.prefixFilled = 0;
    return this.failure;
  }

  /** Reads a length prefix (whole from `data`, or completing one cut between reads); returns the new offset. */
  private readPrefix(data: Buffer, offset: number): number {
    if (this.prefixFilled === 0 && data.length - offset >= LENGTH_PREFIX_BYTES) {
      this.frameBytes = this.checkedLength(data.readUInt32BE(offset));
      return offset + LENGTH_PREFIX_BYTES;
    }
    const prefix = (this.prefix ??= Buffer.alloc(LENGTH_PREFIX_BYTES));
    const copiedBytes = data.copy(prefix, this.prefixFilled, offset, offset + LENGTH_PREFIX_BYTES - this.prefixFilled);
    this.prefixFilled += copiedBytes;
    if (this.prefixFilled === LENGTH_PREFIX_BYTES) {
      this.prefixFilled = 0;
      this.frameBytes = this.checkedLength(prefix.readUInt32BE(0));
    }
    return offset + copiedBytes;
  }

  /** Copies what `data` holds of the frame being read into its storage; returns the new offset. */
  private store(data: Buffer, offset: number): number {
    const wanted = Math.min(data.length - offset, this.frameBytes - this.frameFilled);
    const needed = this.frameFilled + wanted;
    if (this.frame === undefined || this.frame.length < needed) this.frame = this.grown(needed);
    data.copy(this.frame, this.frameFilled, offset, offset + wanted);
    this.frameFilled = needed;
    return offset + wanted;
  }

  /** Storage for at least `needed` bytes of the frame being read, holding what arrived so far. */
  private grown(needed: number): Buffer {
    if (this.allocateFrame) return this.allocateFrame(this.frameBytes);
    const capacity = Math.min(this.frameBytes, Math.max(needed, 2 * (this.frame?.length ?? 0), MIN_STORED_FRAME_BYTES));
    const grown = Buffer.allocUnsafe(capacity);
    this.frame?.copy(grown, 0, 0, this.frameFilled);
    return grown;
  }

  /** A frame length is checked before anything is allocated or buffered for it. */
  private checkedLength(length: number): number {
    if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
    if (length < FRAME_OVERHEAD_BYTES) throw new MalformedFrameError(`frame length ${length} is below the header size`);
    return length;
  }
}

function copied(target: Buffer, source: Buffer, start: number, end: number): Buffer {
  source.copy(target, 0, start, end);
  return target;
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
