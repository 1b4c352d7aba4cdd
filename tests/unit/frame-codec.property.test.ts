/**
 * Properties of the codec (fast-check): encode/decode round trips for every message shape we can
 * generate, no exception ever escapes push() on hostile input, and arbitrary splits of a stream of
 * frames decode to exactly those frames.
 */
import fc from 'fast-check';

import {
  encode,
  FrameDecoder,
  MAX_CHUNKS,
  MAX_FRAME_BYTES,
  MessageType,
  ProtocolError,
  RejectReason,
} from '../../src/protocol';
import type { Manifest, Message } from '../../src/protocol';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const fileId = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('hex'));
const data = fc.uint8Array({ maxLength: 4096 }).map((bytes) => Buffer.from(bytes));
const sha = fileId;
const peerName = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
/** Any code points but separators and control characters; never "." or "..". */
const fileName = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 60 })
  // eslint-disable-next-line no-control-regex
  .filter((name) => !/[\u0000-\u001f\u007f/\\]/.test(name) && name !== '.' && name !== '..');

const manifest: fc.Arbitrary<Manifest> = fc
  .record({
    name: fileName,
    chunkSize: fc.integer({ min: 1024, max: 4 * 1024 * 1024 }),
    chunkCount: fc.integer({ min: 0, max: 8 }),
  })
  .chain(({ name, chunkSize, chunkCount }) =>
    fc.record({
      name: fc.constant(name),
      chunkSize: fc.constant(chunkSize),
      size:
        chunkCount === 0
          ? fc.constant(0)
          : fc.integer({ min: (chunkCount - 1) * chunkSize + 1, max: chunkCount * chunkSize }),
      chunks: fc.array(sha, { minLength: chunkCount, maxLength: chunkCount }),
    }),
  );

const request = fc.record({
  type: fc.constant(MessageType.Request),
  requestId: u32,
  body: fc.record({ fileId, index: u32 }),
});
const cancel = fc.record({
  type: fc.constant(MessageType.Cancel),
  requestId: u32,
  body: fc.record({ fileId, index: u32 }),
});
const haveChunk = fc.record({
  type: fc.constant(MessageType.HaveChunk),
  requestId: u32,
  body: fc.record({ fileId, index: u32 }),
});
const chunk = fc.record({
  type: fc.constant(MessageType.Chunk),
  requestId: u32,
  body: fc.record({ fileId, index: u32, data }),
});
const reject = fc.record({
  type: fc.constant(MessageType.Reject),
  requestId: u32,
  body: fc.record({
    fileId,
    index: u32,
    reason: fc.constantFrom(RejectReason.NotHeld, RejectReason.Busy, RejectReason.Unavailable),
  }),
});
const locate = fc.record({ type: fc.constant(MessageType.Locate), requestId: u32, body: fc.record({ fileId }) });
const withdraw = fc.record({ type: fc.constant(MessageType.Withdraw), requestId: u32, body: fc.record({ fileId }) });
const have = fc.record({
  type: fc.constant(MessageType.Have),
  requestId: u32,
  body: fc.record(
    { fileId, manifest, indices: fc.array(fc.integer({ min: 0, max: MAX_CHUNKS - 1 }), { maxLength: 50 }) },
    { requiredKeys: ['fileId', 'indices'] },
  ),
});
const register = fc.record({
  type: fc.constant(MessageType.Register),
  requestId: u32,
  body: fc.record(
    {
      version: fc.integer({ min: 1, max: 1000 }),
      name: peerName,
      port: fc.integer({ min: 1, max: 65535 }),
      host: fc.string({ unit: 'binary', minLength: 1, maxLength: 255 }),
    },
    { requiredKeys: ['version', 'name', 'port'] },
  ),
});
const error = fc.record({
  type: fc.constant(MessageType.Error),
  requestId: u32,
  body: fc.record({
    code: fc.string({ unit: 'binary', maxLength: 64 }),
    message: fc.string({ unit: 'binary', maxLength: 1024 }),
  }),
});

const binaryMessage = fc.oneof(request, cancel, haveChunk, chunk, reject) as fc.Arbitrary<Message>;
const jsonMessage = fc.oneof(locate, withdraw, have, register, error) as fc.Arbitrary<Message>;
const anyMessage = fc.oneof(binaryMessage, jsonMessage);

/** Cuts `bytes` at the given offsets (taken modulo its length, deduplicated, sorted). */
function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => (bytes.length === 0 ? 0 : cut % (bytes.length + 1))))].sort(
    (a, b) => a - b,
  );
  const pieces: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    pieces.push(bytes.subarray(start, point));
    start = point;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}

function decodeStrict(pieces: Buffer[]): Message[] {
  const decoder = new FrameDecoder();
  const out: Message[] = [];
  for (const piece of pieces) {
    const result = decoder.push(piece);
    if (result.error) throw result.error;
    out.push(...result.messages);
  }
  expect(decoder.bufferedBytes).toBe(0);
  return out;
}

describe('round trip', () => {
  it.each([
    ['binary', binaryMessage],
    ['JSON', jsonMessage],
  ])('decode(encode(m)) equals m for %s messages', (_label, arbitrary) => {
    fc.assert(
      fc.property(arbitrary, (message) => {
        expect(decodeStrict([encode(message)])).toEqual([message]);
      }),
      { numRuns: 300 },
    );
  });

  it('a CHUNK frame is exactly header + data long', () => {
    fc.assert(
      fc.property(chunk, (message) => {
        expect(encode(message as Message).length).toBe(9 + 36 + message.body.data.length);
      }),
      { numRuns: 100 },
    );
  });
});

describe('hostile input', () => {
  /** Pushes every piece; checks the result shape and the buffer bound; stops at the first error. */
  function pushAll(decoder: FrameDecoder, pieces: Buffer[], maxFrameBytes: number): void {
    let failure: ProtocolError | undefined;
    for (const piece of pieces) {
      let result;
      try {
        result = decoder.push(piece);
      } catch (thrown) {
        throw new Error(`push threw: ${String(thrown)}`);
      }
      expect(Array.isArray(result.messages)).toBe(true);
      if (result.error !== undefined) {
        expect(result.error).toBeInstanceOf(ProtocolError);
        expect(result.error.code).toMatch(/^ERR_/);
        if (failure !== undefined) expect(result.error).toBe(failure);
        failure = result.error;
        expect(decoder.bufferedBytes).toBe(0);
      }
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(maxFrameBytes + piece.length);
    }
  }

  const cuts = fc.array(fc.nat(), { maxLength: 12 });

  it('random bytes split anywhere give messages or a ProtocolError, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), cuts, (bytes, at) => {
        pushAll(new FrameDecoder(), splitAt(Buffer.from(bytes), at), MAX_FRAME_BYTES);
      }),
      { numRuns: 300 },
    );
  });

  /** Plausible frames: small lengths, known and unknown opcodes, random bodies. */
  const plausibleFrame = fc
    .record({
      type: fc.oneof(
        fc.constantFrom(...Object.values(MessageType).filter((v): v is number => typeof v === 'number')),
        fc.nat(255),
      ),
      requestId: u32,
      body: fc.oneof(
        fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)),
        fc.json().map((text) => Buffer.from(text)),
      ),
      lengthSkew: fc.oneof(fc.constant(0), fc.integer({ min: -8, max: 8 })),
    })
    .map(({ type, requestId, body, lengthSkew }) => {
      const frame = Buffer.alloc(9 + body.length);
      frame.writeUInt32BE(Math.max(0, 5 + body.length + lengthSkew), 0);
      frame.writeUInt8(type, 4);
      frame.writeUInt32BE(requestId, 5);
      body.copy(frame, 9);
      return frame;
    });

  it('streams of plausible but broken frames never throw out of push and stay within the buffer bound', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            plausibleFrame,
            anyMessage.map((m) => encode(m)),
          ),
          { minLength: 1, maxLength: 6 },
        ),
        cuts,
        fc.integer({ min: 16, max: 256 }),
        (frames, at, maxFrameBytes) => {
          const decoder = new FrameDecoder({ maxFrameBytes });
          pushAll(decoder, splitAt(Buffer.concat(frames), at), maxFrameBytes);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('streams of valid frames', () => {
  it('N frames concatenated and split arbitrarily decode to exactly those N messages', () => {
    fc.assert(
      fc.property(fc.array(anyMessage, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, at) => {
        const stream = Buffer.concat(messages.map((m) => encode(m)));
        expect(decodeStrict(splitAt(stream, at))).toEqual(messages);
      }),
      { numRuns: 200 },
    );
  });
});
