/**
 * Issue 18 (load held): a long-lived seeder's super-seeding state is bounded by what is live. Its
 * claims used to keep every requesting connection reachable after it closed, and a withdrawn file's
 * claims and sent-once record forever. Real sockets on 127.0.0.1, a seeder whose upload is
 * rate-limited (so super-seeding applies), many connections that claim chunks and leave.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import winston from 'winston';
import { encodeChunkRef, MessageType } from '../../src/protocol';
import { ChunkStore } from '../../src/peer/chunk-store';
import { PeerServer } from '../../src/peer/peer-server';
import { TokenBucket } from '../../src/shared/token-bucket';
import { RawFrameClient, waitFor } from '../helpers/local';

jest.setTimeout(60_000);

const QUIET = winston.createLogger({ silent: true });
const CHUNK = 16 * 1024;
const CHUNKS = 32;

let dir: string;
let store: ChunkStore;
let server: PeerServer;
let fileId: string;
const clients: RawFrameClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swarmlab-seeding-memory-'));
  await writeFile(join(dir, 'seeded.bin'), Buffer.alloc(CHUNKS * CHUNK, 7));
  store = new ChunkStore({ dir, chunkSize: CHUNK }, QUIET);
  fileId = (await store.scanPublishable())[0]!.fileId;
  // 4 KiB/s after a small burst: requests stay queued, so the upload is busy and claims are taken.
  server = new PeerServer(store, QUIET, { host: '127.0.0.1', port: 0, uploadLimiter: new TokenBucket({ rateBytesPerS: 4096, burstBytes: CHUNK }) });
  await server.start();
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  await server.stop();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function claimAll(from: number, to: number): Promise<RawFrameClient> {
  const client = await RawFrameClient.open(server.port);
  clients.push(client);
  for (let index = from; index < to; index++) client.write(encodeChunkRef(MessageType.Request, index + 1, fileId, index));
  return client;
}

describe('super-seeding state of a long-lived seeder', () => {
  it('drops the claims of a connection once it closes', async () => {
    // Each connection claims a chunk range of its own, the way downloaders spread over a file.
    const open = [await claimAll(0, 8), await claimAll(8, 16), await claimAll(16, 24)];
    await waitFor(() => server.superSeedState.claims >= 20 || undefined, 10_000, 20);
    for (const client of open) client.close();
    await waitFor(() => server.connectionCount === 0 || undefined, 10_000, 20);
    expect(server.superSeedState.claims).toBe(0);
  });

  it('holds no more claims than the open connections made, however many came and went', async () => {
    const survivor = await claimAll(0, 4);
    for (let round = 0; round < 20; round++) {
      const passing = await claimAll(4 + (round % 7) * 4, 8 + (round % 7) * 4);
      await waitFor(() => server.superSeedState.claims > 4 || undefined, 10_000, 20);
      passing.close();
      await waitFor(() => server.connectionCount === 1 || undefined, 10_000, 20);
    }
    expect(server.superSeedState.claims).toBeLessThanOrEqual(4);
    survivor.close();
    await waitFor(() => server.connectionCount === 0 || undefined, 10_000, 20);
    expect(server.superSeedState).toEqual({ claims: 0, files: expect.any(Number) as number });
  });

  it('forgets a withdrawn file while connections that claimed its chunks stay open', async () => {
    await claimAll(0, 8);
    await waitFor(() => server.superSeedState.claims >= 4 || undefined, 10_000, 20);
    expect(server.superSeedState.files).toBe(1);
    store.withdraw(fileId, 'test: the file changed');
    expect(server.superSeedState).toEqual({ claims: 0, files: 0 });
  });
});
