/**
 * Golden frames for the codec. Each fixture in tests/fixtures/frames/*.hex was written once by the
 * encoder (regenerate with UPDATE_FRAME_FIXTURES=1 only after a deliberate wire change) and is checked
 * in both directions, whole, split at every byte boundary, and one byte at a time.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  encode,
  CHUNK_HEADER_BYTES,
  encodeChunkFrameInPlace,
  encodeChunkHeader,
  FrameDecoder,
  FRAME_HEADER_BYTES,
  MAX_FRAME_BYTES,
  MessageType,
  ProtocolError,
  RejectReason,
} from '../../src/protocol';
import type { DecodeResult, Message } from '../../src/protocol';

const FIXTURE_DIR = join(__dirname, '..', 'fixtures', 'frames');
const FILE_ID = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
const CHUNK_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Bytes 0..255 and back: every byte value, so nothing may be text-decoded on the way. */
const CHUNK_DATA = Buffer.from([
  ...Array.from({ length: 256 }, (_, i) => i),
  ...Array.from({ length: 44 }, (_, i) => 255 - i),
]);

/** Opcodes absent from MessageType (recomputed from the enum, so adding a message type never breaks this). */
const KNOWN_OPCODES = new Set(Object.values(MessageType).filter((v): v is number => typeof v === 'number'));
const UNKNOWN_OPCODES = [0x00, 0x1f, 0x28, 0x7f, 0x80, 0xff].filter((opcode) => !KNOWN_OPCODES.has(opcode));

const GOLDEN: Record<string, Message> = {
  register: { type: MessageType.Register, requestId: 1, body: { version: 1, name: 'peer-1', port: 7001 } },
  registered: {
    type: MessageType.Registered,
    requestId: 1,
    body: { peerId: 'p-3f2a', heartbeatMs: 5000, host: '172.18.0.3' },
  },
  heartbeat: { type: MessageType.Heartbeat, requestId: 0, body: {} },
  locate: { type: MessageType.Locate, requestId: 7, body: { fileId: FILE_ID } },
  have: {
    type: MessageType.Have,
    requestId: 8,
    body: {
      fileId: FILE_ID,
      manifest: { name: 'notes.txt', size: 2048, chunkSize: 1024, chunks: [CHUNK_HASH, CHUNK_HASH] },
      indices: [0, 1],
    },
  },
  withdraw: { type: MessageType.Withdraw, requestId: 10, body: { fileId: FILE_ID } },
  error: { type: MessageType.Error, requestId: 9, body: { code: 'ERR_NOT_FOUND', message: 'no such file' } },
  hello: { type: MessageType.Hello, requestId: 0, body: { version: 1, peerId: 'p-3f2a', name: 'peer-1' } },
  request: { type: MessageType.Request, requestId: 0x01020304, body: { fileId: FILE_ID, index: 3 } },
  chunk: { type: MessageType.Chunk, requestId: 0x01020304, body: { fileId: FILE_ID, index: 3, data: CHUNK_DATA } },
  reject: {
    type: MessageType.Reject,
    requestId: 0xfffffffe,
    body: { fileId: FILE_ID, index: 65535, reason: RejectReason.Busy },
  },
  cancel: { type: MessageType.Cancel, requestId: 12, body: { fileId: FILE_ID, index: 0 } },
  'have-chunk': { type: MessageType.HaveChunk, requestId: 0, body: { fileId: FILE_ID, index: 42 } },
  ping: { type: MessageType.Ping, requestId: 21, body: {} },
  pong: { type: MessageType.Pong, requestId: 21, body: {} },
  room: { type: MessageType.Room, requestId: 0, body: {} },
};

function fixturePath(name: string): string {
  return join(FIXTURE_DIR, `${name}.hex`);
}

function readFixture(name: string): Buffer {
  const hex = readFileSync(fixturePath(name), 'utf8').replace(/\s+/g, '');
  expect(hex).toMatch(/^([0-9a-f]{2})+$/);
  return Buffer.from(hex, 'hex');
}

if (process.env['UPDATE_FRAME_FIXTURES'] === '1') {
  for (const [name, message] of Object.entries(GOLDEN)) {
    writeFileSync(fixturePath(name), `${encode(message).toString('hex')}\n`);
  }
}

/** Pushes every piece and collects all messages; fails the test on any protocol error. */
function decodeAll(pieces: Buffer[], decoder = new FrameDecoder()): Message[] {
  const messages: Message[] = [];
  for (const piece of pieces) {
    const result = decoder.push(piece);
    expect(result.error).toBeUndefined();
    messages.push(...result.messages);
  }
  return messages;
}

function frame(type: number, requestId: number, body: Buffer): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_BYTES + body.length);
  out.writeUInt32BE(5 + body.length, 0);
  out.writeUInt8(type, 4);
  out.writeUInt32BE(requestId, 5);
  body.copy(out, FRAME_HEADER_BYTES);
  return out;
}

function expectError(result: DecodeResult, code: string): ProtocolError {
  expect(result.error).toBeInstanceOf(ProtocolError);
  expect(result.error?.code).toBe(code);
  return result.error!;
}

describe('golden frames', () => {
  const names = Object.keys(GOLDEN);

  it.each(names)('%s.hex exists', (name) => {
    expect(existsSync(fixturePath(name))).toBe(true);
  });

  it.each(names)('encode(%s) equals the fixture', (name) => {
    expect(encode(GOLDEN[name]!).toString('hex')).toBe(readFixture(name).toString('hex'));
  });

  it.each(names)('decoding %s.hex gives the message', (name) => {
    expect(decodeAll([readFixture(name)])).toEqual([GOLDEN[name]]);
  });

  it.each(names)('%s.hex split at every byte boundary decodes the same', (name) => {
    const bytes = readFixture(name);
    for (let cut = 1; cut < bytes.length; cut++) {
      const decoder = new FrameDecoder();
      const first = decoder.push(bytes.subarray(0, cut));
      expect(first).toEqual({ messages: [] });
      const second = decoder.push(bytes.subarray(cut));
      expect(second.error).toBeUndefined();
      expect(second.messages).toEqual([GOLDEN[name]]);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it.each(names)('%s.hex pushed one byte at a time decodes the same', (name) => {
    const bytes = readFixture(name);
    const decoder = new FrameDecoder();
    const pieces = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
    for (const [i, piece] of pieces.entries()) {
      const result = decoder.push(piece);
      expect(result.error).toBeUndefined();
      expect(result.messages).toHaveLength(i === pieces.length - 1 ? 1 : 0);
      if (i === pieces.length - 1) expect(result.messages[0]).toEqual(GOLDEN[name]);
    }
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('the REQUEST fixture has the documented layout', () => {
    // <len=u32 41><type=0x23><req=u32><fileId=32 bytes><index=u32>
    const expected = Buffer.concat([
      Buffer.from('00000029' + '23' + '01020304', 'hex'),
      Buffer.from(FILE_ID, 'hex'),
      Buffer.from('00000003', 'hex'),
    ]);
    expect(readFixture('request')).toEqual(expected);
  });

  it('the REJECT fixture ends with its reason byte', () => {
    const bytes = readFixture('reject');
    expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
    expect(bytes[4]).toBe(0x25);
    expect(bytes.readUInt32BE(5)).toBe(0xfffffffe);
    expect(bytes[bytes.length - 1]).toBe(RejectReason.Busy);
  });

  it('the REGISTER fixture carries its body as UTF-8 JSON', () => {
    const bytes = readFixture('register');
    expect(bytes[4]).toBe(MessageType.Register);
    expect(JSON.parse(bytes.subarray(FRAME_HEADER_BYTES).toString('utf8'))).toEqual(GOLDEN['register']!.body);
  });
});

describe('stream handling', () => {
  const all = Object.values(GOLDEN);
  const stream = Buffer.concat(all.map((message) => encode(message)));

  it('decodes many frames from one push', () => {
    const decoder = new FrameDecoder();
    expect(decodeAll([stream], decoder)).toEqual(all);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('decodes many frames pushed one byte at a time', () => {
    const pieces = Array.from(stream, (_, i) => stream.subarray(i, i + 1));
    expect(decodeAll(pieces)).toEqual(all);
  });

  it('keeps a partial frame buffered between pushes', () => {
    const decoder = new FrameDecoder();
    const chunk = encode(GOLDEN['chunk']!);
    expect(decodeAll([chunk.subarray(0, 100)], decoder)).toEqual([]);
    expect(decoder.bufferedBytes).toBeGreaterThan(0);
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(100);
    expect(decodeAll([chunk.subarray(100)], decoder)).toEqual([GOLDEN['chunk']]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('returns the complete frames ahead of a trailing partial one', () => {
    const decoder = new FrameDecoder();
    const request = encode(GOLDEN['request']!);
    const cancel = encode(GOLDEN['cancel']!);
    expect(decodeAll([Buffer.concat([request, cancel.subarray(0, 10)])], decoder)).toEqual([GOLDEN['request']]);
    expect(decodeAll([cancel.subarray(10)], decoder)).toEqual([GOLDEN['cancel']]);
  });
});

describe('CHUNK data', () => {
  it('is preserved byte-exactly, including every byte value', () => {
    const [message] = decodeAll([encode(GOLDEN['chunk']!)]);
    expect(message?.type).toBe(MessageType.Chunk);
    const data = (message as Extract<Message, { type: MessageType.Chunk }>).body.data;
    expect(Buffer.isBuffer(data)).toBe(true);
    expect(data.equals(CHUNK_DATA)).toBe(true);
  });

  it('may be empty', () => {
    const message: Message = {
      type: MessageType.Chunk,
      requestId: 5,
      body: { fileId: FILE_ID, index: 1, data: Buffer.alloc(0) },
    };
    expect(decodeAll([encode(message)])).toEqual([message]);
  });

  it('encodeChunkHeader followed by the data equals encode of the full message', () => {
    const { requestId, body } = GOLDEN['chunk'] as Extract<Message, { type: MessageType.Chunk }>;
    const header = encodeChunkHeader(requestId, body.fileId, body.index, body.data.length);
    expect(header.length).toBe(FRAME_HEADER_BYTES + 36);
    expect(Buffer.concat([header, body.data])).toEqual(encode(GOLDEN['chunk']!));
  });

  it('encodeChunkFrameInPlace writes the header in front of data already in the frame: the golden frame', () => {
    const { requestId, body } = GOLDEN['chunk'] as Extract<Message, { type: MessageType.Chunk }>;
    const frame = Buffer.alloc(CHUNK_HEADER_BYTES + body.data.length, 0xee);
    body.data.copy(frame, CHUNK_HEADER_BYTES);
    expect(encodeChunkFrameInPlace(frame, requestId, body.fileId, body.index)).toEqual(encode(GOLDEN['chunk']!));
    expect(() => encodeChunkFrameInPlace(Buffer.alloc(CHUNK_HEADER_BYTES - 1), 1, body.fileId, 0)).toThrow(
      expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }),
    );
  });

  it('a one-megabyte chunk survives arbitrary splits', () => {
    const data = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
    const message: Message = { type: MessageType.Chunk, requestId: 77, body: { fileId: FILE_ID, index: 9, data } };
    const bytes = encode(message);
    const pieces = [bytes.subarray(0, 3), bytes.subarray(3, 50), bytes.subarray(50, 65_537), bytes.subarray(65_537)];
    const [decoded] = decodeAll(pieces);
    expect((decoded as typeof message).body.data.equals(data)).toBe(true);
  });
});

describe('protocol errors', () => {
  it('rejects an oversized length from the 4-byte prefix alone, before any body arrives', () => {
    const decoder = new FrameDecoder();
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    const result = decoder.push(prefix);
    expect(result.messages).toEqual([]);
    expectError(result, 'ERR_FRAME_TOO_LARGE');
    expect(result.error?.name).toBe('FrameTooLargeError');
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('rejects a u32-max length', () => {
    const decoder = new FrameDecoder();
    expectError(decoder.push(Buffer.from('ffffffff', 'hex')), 'ERR_FRAME_TOO_LARGE');
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(4);
  });

  it('accepts a frame of exactly MAX_FRAME_BYTES as far as the length check goes', () => {
    const decoder = new FrameDecoder();
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(MAX_FRAME_BYTES, 0);
    expect(decoder.push(prefix)).toEqual({ messages: [] });
  });

  it('honours a smaller maxFrameBytes', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 64 });
    expectError(decoder.push(encode(GOLDEN['chunk']!)), 'ERR_FRAME_TOO_LARGE');
    expect(decoder.bufferedBytes).toBe(0);
  });

  it.each([0, 1, 4])('rejects a length of %d (below the 5-byte header) as malformed', (length) => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(length, 0);
    const result = new FrameDecoder().push(prefix);
    expectError(result, 'ERR_MALFORMED_FRAME');
    expect(result.error?.name).toBe('MalformedFrameError');
  });

  it.each(UNKNOWN_OPCODES)('rejects unknown opcode %i', (opcode) => {
    const result = new FrameDecoder().push(frame(opcode, 1, Buffer.from('{}')));
    const error = expectError(result, 'ERR_UNKNOWN_MESSAGE_TYPE');
    expect(error.name).toBe('UnknownMessageTypeError');
  });

  it.each([
    ['not JSON', '{"fileId":'],
    ['not UTF-8 JSON', '\u00ff\u00fe'],
    ['empty', ''],
  ])('rejects a body that is %s', (_label, text) => {
    const result = new FrameDecoder().push(frame(MessageType.Locate, 1, Buffer.from(text, 'latin1')));
    const error = expectError(result, 'ERR_INVALID_BODY');
    expect(error.name).toBe('InvalidBodyError');
  });

  it.each([
    ['LOCATE without fileId', MessageType.Locate, {}],
    ['LOCATE with an uppercase fileId', MessageType.Locate, { fileId: FILE_ID.toUpperCase() }],
    ['LOCATE with an extra field', MessageType.Locate, { fileId: FILE_ID, extra: 1 }],
    ['REGISTER with port 0', MessageType.Register, { version: 1, name: 'p', port: 0 }],
    ['REGISTER with a bad name', MessageType.Register, { version: 1, name: 'a b', port: 1 }],
    ['HEARTBEAT with a field', MessageType.Heartbeat, { x: 1 }],
    ['ERROR without a code', MessageType.Error, { message: 'x' }],
    ['HAVE with a negative index', MessageType.Have, { fileId: FILE_ID, indices: [-1] }],
    ['a JSON array', MessageType.Locate, [FILE_ID]],
    ['JSON null', MessageType.Ok, null],
  ])('rejects a schema-invalid body: %s', (_label, type, body) => {
    const result = new FrameDecoder().push(frame(type, 1, Buffer.from(JSON.stringify(body))));
    expectError(result, 'ERR_INVALID_BODY');
  });

  it.each([
    ['REQUEST too short', MessageType.Request, Buffer.alloc(35)],
    ['REQUEST with trailing bytes', MessageType.Request, Buffer.alloc(37)],
    ['REJECT without a reason', MessageType.Reject, Buffer.alloc(36)],
    ['REJECT with an unknown reason', MessageType.Reject, Buffer.concat([Buffer.alloc(36), Buffer.from([9])])],
    ['CHUNK shorter than its ref', MessageType.Chunk, Buffer.alloc(10)],
  ])('rejects a malformed binary body: %s', (_label, type, body) => {
    expectError(new FrameDecoder().push(frame(type, 1, body)), 'ERR_MALFORMED_FRAME');
  });

  it('keeps the messages decoded before the bad frame, then returns the same error on every later push', () => {
    const decoder = new FrameDecoder();
    const good = encode(GOLDEN['request']!);
    const bad = frame(0xee, 1, Buffer.alloc(0));
    const first = decoder.push(Buffer.concat([good, bad, good]));
    expect(first.messages).toEqual([GOLDEN['request']]);
    const error = expectError(first, 'ERR_UNKNOWN_MESSAGE_TYPE');
    expect(decoder.bufferedBytes).toBe(0);
    for (let i = 0; i < 3; i++) {
      const later = decoder.push(good);
      expect(later.messages).toEqual([]);
      expect(later.error).toBe(error);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });
});

describe('encoder input checks', () => {
  it.each([
    ['63 characters', FILE_ID.slice(1)],
    ['a non-hex character', `${FILE_ID.slice(0, 62)}zz`],
    ['an empty string', ''],
  ])('refuses a file id of %s', (_label, fileId) => {
    const message: Message = { type: MessageType.Request, requestId: 1, body: { fileId, index: 0 } };
    expect(() => encode(message)).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }));
    expect(() => encodeChunkHeader(1, fileId, 0, 0)).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }));
  });

  // Regression (fixed in f935684): writeFileId only checked that 32 bytes were written, so extra characters were silently dropped
  // and uppercase ids encoded to an id that decodes differently (lowercase).
  it.each([
    ['66 characters', `${FILE_ID}00`],
    ['uppercase hex', FILE_ID.toUpperCase()],
  ])('refuses a file id of %s (bug: silently truncated or case-changed)', (_label, fileId) => {
    const message: Message = { type: MessageType.Request, requestId: 1, body: { fileId, index: 0 } };
    expect(() => encode(message)).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_FRAME' }));
  });
});
