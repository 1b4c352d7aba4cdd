/**
 * The decoder's copying mode (FrameDecoderInit.allocateFrame), used by data connections that read into
 * one reused buffer: every frame must survive its read buffer being overwritten, whatever the split.
 */
import { encode, FrameDecoder, MAX_FRAME_BYTES, MessageType, RejectReason } from '../../src/protocol';
import type { Message } from '../../src/protocol';

const FILE_ID = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
const CHUNK_DATA = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256));

const MESSAGES: Message[] = [
  { type: MessageType.Hello, requestId: 0, body: { version: 1, peerId: 'p-3f2a', name: 'peer-1' } },
  { type: MessageType.Chunk, requestId: 5, body: { fileId: FILE_ID, index: 3, data: CHUNK_DATA } },
  { type: MessageType.HaveChunk, requestId: 0, body: { fileId: FILE_ID, index: 42 } },
  { type: MessageType.Reject, requestId: 6, body: { fileId: FILE_ID, index: 4, reason: RejectReason.Busy } },
  { type: MessageType.Chunk, requestId: 7, body: { fileId: FILE_ID, index: 9, data: CHUNK_DATA.subarray(0, 17) } },
];
const STREAM = Buffer.concat(MESSAGES.map((message) => encode(message)));

/** Feeds `stream` in pieces of `pieceBytes` through one reused read buffer, scribbled over after each push. */
function decodeBorrowed(stream: Buffer, pieceBytes: number, allocations: number[] = []): Message[] {
  const decoder = new FrameDecoder({
    allocateFrame: (frameBytes) => {
      allocations.push(frameBytes);
      return Buffer.alloc(frameBytes);
    },
  });
  const readBuffer = Buffer.alloc(pieceBytes);
  const messages: Message[] = [];
  for (let offset = 0; offset < stream.length; offset += pieceBytes) {
    const bytes = stream.copy(readBuffer, 0, offset, offset + pieceBytes);
    const result = decoder.push(readBuffer.subarray(0, bytes));
    expect(result.error).toBeUndefined();
    messages.push(...result.messages);
    readBuffer.fill(0xee);
  }
  expect(decoder.bufferedBytes).toBe(0);
  return messages;
}

describe('FrameDecoder with allocateFrame (borrowed reads)', () => {
  it('decodes a stream read in pieces of every size from 1 byte to all of it', () => {
    for (let pieceBytes = 1; pieceBytes <= STREAM.length; pieceBytes++) {
      expect(decodeBorrowed(STREAM, pieceBytes)).toEqual(MESSAGES);
    }
  });

  it('asks for one buffer per frame, sized to the frame after its length prefix', () => {
    const allocations: number[] = [];
    decodeBorrowed(STREAM, 64, allocations);
    expect(allocations).toEqual(MESSAGES.map((message) => encode(message).length - 4));
  });

  it("gives a CHUNK's data as a view of the frame's own buffer (no second copy)", () => {
    const frames: Buffer[] = [];
    const decoder = new FrameDecoder({
      allocateFrame: (frameBytes) => frames[frames.push(Buffer.alloc(frameBytes)) - 1]!,
    });
    const [message] = decoder.push(encode(MESSAGES[1]!)).messages;
    if (message?.type !== MessageType.Chunk) throw new Error('expected a CHUNK');
    expect(message.body.data.buffer).toBe(frames[0]!.buffer);
    expect(message.body.data).toEqual(CHUNK_DATA);
  });

  it('refuses an oversized length before asking for any buffer', () => {
    const allocate = jest.fn((frameBytes: number) => Buffer.alloc(frameBytes));
    const decoder = new FrameDecoder({ allocateFrame: allocate });
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    expect(decoder.push(prefix).error?.code).toBe('ERR_FRAME_TOO_LARGE');
    expect(allocate).not.toHaveBeenCalled();
    expect(decoder.push(encode(MESSAGES[0]!)).error?.code).toBe('ERR_FRAME_TOO_LARGE');
  });

  it('refuses a length below the header size', () => {
    const decoder = new FrameDecoder({ allocateFrame: (frameBytes) => Buffer.alloc(frameBytes) });
    expect(decoder.push(Buffer.from([0, 0, 0, 4, 1, 0, 0, 0])).error?.code).toBe('ERR_MALFORMED_FRAME');
  });

  it('counts the bytes of a frame cut short', () => {
    const decoder = new FrameDecoder({ allocateFrame: (frameBytes) => Buffer.alloc(frameBytes) });
    const bytes = encode(MESSAGES[1]!);
    expect(decoder.push(bytes.subarray(0, 2)).messages).toEqual([]);
    expect(decoder.bufferedBytes).toBe(2);
    expect(decoder.push(bytes.subarray(2, 100)).messages).toEqual([]);
    expect(decoder.bufferedBytes).toBe(96);
    expect(decoder.push(bytes.subarray(100)).messages).toHaveLength(1);
    expect(decoder.bufferedBytes).toBe(0);
  });
});

/**
 * Reads `stream` as a data connection does (peer-connection.ts): whenever the decoder has a frame to
 * fill (`readTarget`), up to `pieceBytes` go straight into it (`filled`); otherwise up to `pieceBytes`
 * go through a reused read buffer (`push`), scribbled over afterwards. Returns the messages and how
 * many bytes took each way.
 */
function decodeDirect(stream: Buffer, pieceBytes: number): { messages: Message[]; pushedBytes: number; directBytes: number } {
  const decoder = new FrameDecoder({ allocateFrame: (frameBytes) => Buffer.alloc(frameBytes, 0xdd) });
  const readBuffer = Buffer.alloc(pieceBytes);
  const messages: Message[] = [];
  let pushedBytes = 0;
  let directBytes = 0;
  for (let offset = 0; offset < stream.length; ) {
    const target = decoder.readTarget();
    const result =
      target === undefined
        ? decoder.push(readBuffer.subarray(0, stream.copy(readBuffer, 0, offset, offset + pieceBytes)))
        : decoder.filled(stream.copy(target, 0, offset, offset + Math.min(pieceBytes, target.length)));
    const bytes = target === undefined ? Math.min(pieceBytes, stream.length - offset) : Math.min(pieceBytes, target.length, stream.length - offset);
    if (target === undefined) pushedBytes += bytes;
    else directBytes += bytes;
    offset += bytes;
    expect(result.error).toBeUndefined();
    messages.push(...result.messages);
    readBuffer.fill(0xee);
  }
  expect(decoder.bufferedBytes).toBe(0);
  return { messages, pushedBytes, directBytes };
}

describe('FrameDecoder read targets (reading straight into the frame)', () => {
  it('decodes a stream read in pieces of every size, mixing reads into the frame and through the read buffer', () => {
    for (let pieceBytes = 1; pieceBytes <= STREAM.length; pieceBytes++) {
      const { messages, directBytes } = decodeDirect(STREAM, pieceBytes);
      expect(messages).toEqual(MESSAGES);
      // Whatever the split, the bytes of the first CHUNK past the first read of it come straight in.
      if (pieceBytes < 300) expect(directBytes).toBeGreaterThan(0);
    }
  });

  it("once a frame's length is known, all the rest of it can go straight into its own buffer", () => {
    const frames: Buffer[] = [];
    const decoder = new FrameDecoder({ allocateFrame: (frameBytes) => frames[frames.push(Buffer.alloc(frameBytes)) - 1]! });
    const bytes = encode(MESSAGES[1]!);
    expect(decoder.readTarget()).toBeUndefined();
    expect(decoder.push(bytes.subarray(0, 4)).messages).toEqual([]);
    const target = decoder.readTarget()!;
    expect(target.length).toBe(bytes.length - 4);
    expect(target.buffer).toBe(frames[0]!.buffer);
    bytes.copy(target, 0, 4);
    const [message] = decoder.filled(target.length).messages;
    if (message?.type !== MessageType.Chunk) throw new Error('expected a CHUNK');
    expect(message.body.data).toEqual(CHUNK_DATA);
    expect(message.body.data.buffer).toBe(frames[0]!.buffer);
    expect(frames).toHaveLength(1);
    expect({ last: decoder.lastFrameBytes, target: decoder.readTarget(), idle: decoder.idle }).toEqual({ last: bytes.length - 4, target: undefined, idle: true });
  });

  it('a frame completed by a read into it is checked like any other', () => {
    const decoder = new FrameDecoder({ allocateFrame: (frameBytes) => Buffer.alloc(frameBytes) });
    const bytes = encode(MESSAGES[1]!);
    bytes.writeUInt8(0x7f, 4); // unknown type
    decoder.push(bytes.subarray(0, 10));
    const target = decoder.readTarget()!;
    bytes.copy(target, 0, 10);
    expect(decoder.filled(target.length).error?.code).toBe('ERR_UNKNOWN_MESSAGE_TYPE');
    expect(decoder.readTarget()).toBeUndefined();
    expect(decoder.push(encode(MESSAGES[0]!)).error?.code).toBe('ERR_UNKNOWN_MESSAGE_TYPE');
  });

  it('refuses a fill larger than the frame', () => {
    const decoder = new FrameDecoder({ allocateFrame: (frameBytes) => Buffer.alloc(frameBytes) });
    decoder.push(encode(MESSAGES[1]!).subarray(0, 4));
    const target = decoder.readTarget()!;
    expect(() => decoder.filled(target.length + 1)).toThrow(RangeError);
  });

  it('offers no target without allocateFrame (pushed bytes are kept as views)', () => {
    const decoder = new FrameDecoder();
    decoder.push(encode(MESSAGES[1]!).subarray(0, 4));
    expect(decoder.readTarget()).toBeUndefined();
  });
});

describe('FrameDecoder.drop', () => {
  const frame = encode({ type: MessageType.Hello, requestId: 0, body: { version: 1, peerId: 'p-3f2a', name: 'x'.repeat(100_000) } });

  it('hands back the storage of an unfinished frame it allocated, and starts afresh', () => {
    const decoder = new FrameDecoder();
    decoder.push(frame.subarray(0, 60_000));
    decoder.push(frame.subarray(60_000, 70_000));
    expect(decoder.bufferedBytes).toBe(70_000 - 4);
    const storage = decoder.drop();
    expect(storage?.subarray(0, 10).equals(frame.subarray(4, 14))).toBe(true);
    expect({ buffered: decoder.bufferedBytes, idle: decoder.idle }).toEqual({ buffered: 0, idle: true });
    expect(decoder.drop()).toBeUndefined();
    const again = decoder.push(STREAM);
    expect({ error: again.error, types: again.messages.map((message) => message.type) }).toEqual({ error: undefined, types: MESSAGES.map((message) => message.type) });
  });

  it('keeps storage that came from allocateFrame to itself (its owner recycles it)', () => {
    const decoder = new FrameDecoder({ allocateFrame: (bytes) => Buffer.alloc(bytes) });
    decoder.push(frame.subarray(0, 50_000));
    expect(decoder.bufferedBytes).toBeGreaterThan(0);
    expect(decoder.drop()).toBeUndefined();
    expect(decoder.bufferedBytes).toBe(0);
  });
});
