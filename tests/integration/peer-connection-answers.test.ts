/**
 * PeerConnection.requestChunk over a real loopback socket, against a source written by hand: every
 * answer comes back as one typed value ({ chunk } leased from the peer's memory, or { rejected }), and
 * chunk memory nobody waits for goes back to that memory.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import winston from 'winston';
import { encodeChunkHeader, encodeChunkRef, MessageType, RejectReason } from '../../src/protocol';
import type { Message } from '../../src/protocol';
import { ChunkMemory } from '../../src/peer/chunk-memory';
import { PeerConnection } from '../../src/peer/peer-connection';
import { FramedConnection } from '../../src/shared/framed-connection';

const QUIET = winston.createLogger({ silent: true });
const FILE_ID = 'ab'.repeat(32);
const CHUNK_BYTES = 128 * 1024;
const DATA = Buffer.alloc(CHUNK_BYTES, 7);

/** What the source does with a REQUEST for chunk `index`. */
function answer(source: FramedConnection, requestId: number, index: number): void {
  const reasons: Record<number, RejectReason> = { 1: RejectReason.NotHeld, 2: RejectReason.Busy, 3: RejectReason.Unavailable, 4: RejectReason.Elsewhere };
  const reason = reasons[index];
  if (reason !== undefined) source.write(encodeChunkRef(MessageType.Reject, requestId, FILE_ID, index, reason));
  else if (index === 5) source.writeWithPayload(encodeChunkHeader(requestId, FILE_ID, 6, DATA.length), DATA);
  else if (index === 7) source.send(MessageType.Ok, requestId, {});
  else if (index === 8) return; // never answered
  else source.writeWithPayload(encodeChunkHeader(requestId, FILE_ID, index, DATA.length), DATA);
}

let server: Server;
const sockets = new Set<Socket>();
let memory: ChunkMemory;
let peer: PeerConnection;
let source: FramedConnection | undefined;

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    source = new FramedConnection(socket, QUIET);
    const own = source;
    own.on('message', (message: Message) => {
      if (message.type === MessageType.Request) answer(own, message.requestId, message.body.index);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  memory = new ChunkMemory();
  peer = await PeerConnection.open(
    { logger: QUIET, memory },
    { host: '127.0.0.1', port: (server.address() as AddressInfo).port, hello: { peerId: 'p-test', name: 'test' } },
  );
});

afterAll(async () => {
  peer.close();
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('PeerConnection.requestChunk', () => {
  it('resolves with the chunk as a lease of the peer memory, which takes it back on release', async () => {
    const answered = await peer.requestChunk(FILE_ID, 0, 5_000);
    if (!('chunk' in answered)) throw new Error(`expected a chunk, got ${answered.rejected}`);
    expect(answered.chunk.data.equals(DATA)).toBe(true);
    expect(answered.chunk.owner).toBe(memory);
    const idle = memory.idleCount;
    answered.chunk.release();
    expect(memory.idleCount).toBe(idle + 1);
  });

  it.each([
    [1, 'not-held'],
    [2, 'busy'],
    [3, 'unavailable'],
    [4, 'elsewhere'],
    [5, 'wrong-chunk'],
    [7, 'unexpected-answer'],
  ])('answers chunk %i with { rejected: %s }', async (index, rejected) => {
    expect(await peer.requestChunk(FILE_ID, index, 5_000)).toEqual({ rejected });
  });

  it('answers a request nobody answers with { rejected: timed-out }', async () => {
    expect(await peer.requestChunk(FILE_ID, 8, 100)).toEqual({ rejected: 'timed-out' });
  });

  it('takes back the memory of a chunk that arrives after its request was cancelled', async () => {
    const discard = jest.spyOn(memory, 'discard');
    const idle = memory.idleCount;
    expect(idle).toBeGreaterThan(0);
    let requestId = 0;
    void peer.requestChunk(FILE_ID, 9, 5_000, (id) => (requestId = id));
    peer.cancel(FILE_ID, 9, requestId);
    // The source ignores CANCEL and answers anyway: the frame takes an idle buffer, and gives it back unleased.
    for (let tries = 0; tries < 200 && discard.mock.calls.length === 0; tries++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(discard).toHaveBeenCalledTimes(1);
    expect(discard.mock.calls[0]![0].length).toBe(CHUNK_BYTES);
    expect(memory.idleCount).toBe(idle);
    discard.mockRestore();
  });

  it('answers { rejected: closed } when the connection closes while waiting', async () => {
    const waiting = peer.requestChunk(FILE_ID, 8, 5_000);
    source?.close();
    expect(await waiting).toEqual({ rejected: 'closed' });
  });
});
