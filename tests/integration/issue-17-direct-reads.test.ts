/**
 * A data connection reads each chunk from the kernel straight into its pooled buffer: the bytes of a
 * CHUNK are not copied out of a read buffer on the way (that copy was a tenth of a pair leecher's
 * event loop). Over a real loopback socket, against a source written by hand that sends many chunks
 * back to back with HAVE_CHUNK frames between them, every chunk arrives intact, the small frames are
 * decoded, and the bytes copied in JavaScript while receiving are a small fraction of the data.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import winston from 'winston';
import { encodeChunkHeader, encodeChunkRef, MessageType } from '../../src/protocol';
import type { Message } from '../../src/protocol';
import { ChunkMemory } from '../../src/peer/chunk-memory';
import { PeerConnection } from '../../src/peer/peer-connection';
import { FramedConnection } from '../../src/shared/framed-connection';
import { waitFor } from '../helpers/local';

jest.setTimeout(30_000);

const QUIET = winston.createLogger({ silent: true });
const FILE_ID = 'cd'.repeat(32);
const CHUNK_BYTES = 256 * 1024;
const CHUNKS = 48;
/** Chunk `index`'s bytes: different for every chunk, so a chunk landing in the wrong buffer shows. */
const chunkData = (index: number): Buffer => {
  const data = Buffer.allocUnsafe(CHUNK_BYTES);
  for (let i = 0; i < CHUNK_BYTES; i += 4) data.writeUInt32BE((index * 2_654_435_761 + i) >>> 0, i);
  return data;
};

let server: Server;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    const source = new FramedConnection(socket, QUIET);
    const asked: Array<{ requestId: number; index: number }> = [];
    source.on('message', (message: Message) => {
      if (message.type !== MessageType.Request) return;
      asked.push({ requestId: message.requestId, index: message.body.index });
      if (asked.length < CHUNKS) return;
      // Everything at once, with a HAVE_CHUNK after every third chunk: the socket holds many frames
      // per read, small ones among them.
      for (const { requestId, index } of asked) {
        source.writeWithPayload(encodeChunkHeader(requestId, FILE_ID, index, CHUNK_BYTES), chunkData(index));
        if (index % 3 === 2) source.write(encodeChunkRef(MessageType.HaveChunk, 0, FILE_ID, 1000 + index));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('chunks are read straight into their pooled buffers, intact, with the small frames between them', async () => {
  const memory = new ChunkMemory();
  const peer = await PeerConnection.open(
    { logger: QUIET, memory },
    { host: '127.0.0.1', port: (server.address() as AddressInfo).port, hello: { peerId: 'p-direct', name: 'direct' } },
  );
  const haves: number[] = [];
  peer.on('have-chunk', (_fileId, index) => haves.push(index));
  // Every Buffer copy made in JavaScript meanwhile (the decoder copies with Buffer#copy), in bytes.
  const copy = jest.spyOn(Buffer.prototype, 'copy');
  try {
    const answers = await Promise.all(Array.from({ length: CHUNKS }, (_, index) => peer.requestChunk(FILE_ID, index, 20_000)));
    const copiedBytes = copy.mock.results.reduce((sum, result) => sum + (result.type === 'return' ? Number(result.value) : 0), 0);
    copy.mockRestore();
    answers.forEach((answer, index) => {
      if (!('chunk' in answer)) throw new Error(`chunk ${index}: ${answer.rejected}`);
      expect(answer.chunk.data.equals(chunkData(index))).toBe(true);
      expect(memory.canLend(answer.chunk)).toBe(true);
      answer.chunk.release();
    });
    const expectedHaves = Array.from({ length: CHUNKS }, (_, index) => index).filter((index) => index % 3 === 2).map((index) => 1000 + index);
    await waitFor(() => haves.length >= expectedHaves.length || undefined, 5_000, 10).catch(() => undefined);
    expect(haves).toEqual(expectedHaves);
    // Copying every chunk out of the read buffer would be CHUNKS * CHUNK_BYTES (12 MiB); reading into
    // the chunk's own buffer leaves at most a read's worth per chunk that arrived before its header was known.
    expect(copiedBytes).toBeLessThan((CHUNKS * CHUNK_BYTES) / 10);
  } finally {
    copy.mockRestore();
    peer.close();
  }
});
