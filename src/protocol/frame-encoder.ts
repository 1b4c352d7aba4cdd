/**
 * Builds every outgoing frame; no message is written by hand anywhere else.
 *
 *   u32 BE  length of the rest of the frame (opcode + request id + body)
 *   u8      opcode (MessageType)
 *   u32 BE  request id (0 for unsolicited messages)
 *   ...     body: UTF-8 JSON for control messages, binary for the data path
 *
 * Each encoder sizes the frame first, then allocates once.
 */
import { CHUNK_HEADER_BYTES, CHUNK_REF_BYTES, FILE_ID_BYTES, FRAME_HEADER_BYTES, FRAME_OVERHEAD_BYTES } from './constants';
import { MalformedFrameError } from './errors';
import { isBinaryType, MessageType } from './messages';
import type { BinaryMessage, BodyOf, JsonMessageType, Message } from './messages';

function assertU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new MalformedFrameError(`${what} ${value} is not a u32`);
}

function writeHeader(frame: Buffer, bodyBytes: number, type: MessageType, requestId: number): void {
  assertU32(requestId, 'request id');
  frame.writeUInt32BE(FRAME_OVERHEAD_BYTES + bodyBytes, 0);
  frame.writeUInt8(type, 4);
  frame.writeUInt32BE(requestId, 5);
}

const FILE_ID_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The last file id encoded, checked, and its bytes: a transfer names the same file in every REQUEST
 * and CHUNK, and checking and decoding its hex each time showed in a profile of a 1 GiB pair.
 */
let lastFileId: string | undefined;
const lastFileIdBytes = Buffer.alloc(FILE_ID_BYTES);

function writeFileId(frame: Buffer, fileId: string, offset: number): void {
  if (fileId !== lastFileId) {
    lastFileId = undefined;
    if (!FILE_ID_PATTERN.test(fileId) || lastFileIdBytes.write(fileId, 0, FILE_ID_BYTES, 'hex') !== FILE_ID_BYTES) {
      throw new MalformedFrameError(`file id must be ${FILE_ID_BYTES * 2} hex characters`);
    }
    lastFileId = fileId;
  }
  lastFileIdBytes.copy(frame, offset);
}

/** A control frame with a JSON body. */
export function encodeJson<T extends JsonMessageType>(type: T, requestId: number, body: BodyOf<T>): Buffer {
  const json = JSON.stringify(body);
  const bodyBytes = Buffer.byteLength(json);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyBytes);
  writeHeader(frame, bodyBytes, type, requestId);
  frame.write(json, FRAME_HEADER_BYTES, 'utf8');
  return frame;
}

/**
 * The header of a control frame whose JSON body was encoded earlier and is reused (the tracker's PEERS
 * answers); the caller writes the body right after it, uncopied.
 */
export function encodeJsonHeader(type: JsonMessageType, requestId: number, bodyBytes: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  writeHeader(header, bodyBytes, type, requestId);
  return header;
}

/**
 * REQUEST, CANCEL, HAVE_CHUNK: <len=u32><type=u8><req=u32><fileId=32 bytes><index=u32>
 * REJECT adds <reason=u8>.
 */
export function encodeChunkRef(
  type: MessageType.Request | MessageType.Cancel | MessageType.HaveChunk | MessageType.Reject,
  requestId: number,
  fileId: string,
  index: number,
  reason?: number,
): Buffer {
  const bodyBytes = CHUNK_REF_BYTES + (type === MessageType.Reject ? 1 : 0);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyBytes);
  writeHeader(frame, bodyBytes, type, requestId);
  writeFileId(frame, fileId, FRAME_HEADER_BYTES);
  assertU32(index, 'chunk index');
  frame.writeUInt32BE(index, FRAME_HEADER_BYTES + FILE_ID_BYTES);
  if (type === MessageType.Reject) frame.writeUInt8(reason ?? 0, FRAME_HEADER_BYTES + CHUNK_REF_BYTES);
  return frame;
}

/**
 * CHUNK: <len=u32><type=0x24><req=u32><fileId=32 bytes><index=u32><data>
 * Returns only the header; the caller writes the data buffer right after it (no copy of the data).
 */
export function encodeChunkHeader(requestId: number, fileId: string, index: number, dataBytes: number): Buffer {
  const header = Buffer.allocUnsafe(CHUNK_HEADER_BYTES);
  fillChunkHeader(header, requestId, fileId, index, dataBytes);
  return header;
}

/**
 * CHUNK, whole: `frame` holds the chunk's data after its first CHUNK_HEADER_BYTES, and the header is
 * written there, so the frame goes out in one write (a seeder reads each chunk straight into its frame).
 */
export function encodeChunkFrameInPlace(frame: Buffer, requestId: number, fileId: string, index: number): Buffer {
  if (frame.length < CHUNK_HEADER_BYTES) throw new MalformedFrameError('a CHUNK frame is shorter than its header');
  fillChunkHeader(frame, requestId, fileId, index, frame.length - CHUNK_HEADER_BYTES);
  return frame;
}

function fillChunkHeader(target: Buffer, requestId: number, fileId: string, index: number, dataBytes: number): void {
  writeHeader(target, CHUNK_REF_BYTES + dataBytes, MessageType.Chunk, requestId);
  writeFileId(target, fileId, FRAME_HEADER_BYTES);
  assertU32(index, 'chunk index');
  target.writeUInt32BE(index, FRAME_HEADER_BYTES + FILE_ID_BYTES);
}

function encodeBinary(message: BinaryMessage): Buffer {
  switch (message.type) {
    case MessageType.Chunk: {
      const { fileId, index, data } = message.body;
      return Buffer.concat([encodeChunkHeader(message.requestId, fileId, index, data.length), data]);
    }
    case MessageType.Reject:
      return encodeChunkRef(message.type, message.requestId, message.body.fileId, message.body.index, message.body.reason);
    case MessageType.Request:
    case MessageType.Cancel:
    case MessageType.HaveChunk:
      return encodeChunkRef(message.type, message.requestId, message.body.fileId, message.body.index);
    default: {
      const unreachable: never = message;
      throw new MalformedFrameError(`cannot encode ${String(unreachable)}`);
    }
  }
}

/** Encodes any message into one buffer (tests and control paths; the data path uses encodeChunkHeader). */
export function encode(message: Message): Buffer {
  if (isBinaryType(message.type)) return encodeBinary(message as BinaryMessage);
  const json = message as Extract<Message, { type: JsonMessageType }>;
  return encodeJson(json.type, json.requestId, json.body as never);
}
