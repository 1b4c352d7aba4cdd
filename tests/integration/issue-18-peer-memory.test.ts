/**
 * Issue 18 (load held): what a long-lived peer holds is bounded by what is live. Real sockets on
 * 127.0.0.1.
 * - A client that pipelines INTERESTED and never reads: its small answers queue up to the unsent cap
 *   counted in memory (bytes plus a per-write overhead), not in bytes alone, which let 50,000 queued
 *   100-byte answers hold 16 MB.
 * - Finished downloads: each left an 'abort' listener on the peer's lifetime signal, which kept the
 *   whole download (scheduler, sources, manifest) reachable for the life of the peer.
 * - Super-seeding state (a seeder whose upload is rate-limited): claims used to keep every requesting
 *   connection reachable after it closed, and a withdrawn file's claims and sent-once record forever.
 */
import { getEventListeners } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import winston from 'winston';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { encodeChunkRef, encodeJson, MessageType } from '../../src/protocol';
import { ChunkStore } from '../../src/peer/chunk-store';
import { PeerNode } from '../../src/peer/peer-node';
import { MAX_UNSENT_BYTES, PeerServer } from '../../src/peer/peer-server';
import { WRITE_OVERHEAD_BYTES } from '../../src/shared/framed-connection';
import { setLogLevel } from '../../src/shared/logger';
import { TokenBucket } from '../../src/shared/token-bucket';
import { TrackerServer } from '../../src/tracker/tracker-server';
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
  // 128 KiB/s after a small burst: requests stay queued for a few seconds, so the upload is busy and
  // claims are taken, while the 24 chunks claimed at once stay under the upload queue bound
  // (MAX_UPLOAD_QUEUE_MS of sending), past which requests would be refused as busy instead.
  server = new PeerServer(store, QUIET, { host: '127.0.0.1', port: 0, uploadLimiter: new TokenBucket({ rateBytesPerS: 128 * 1024, burstBytes: CHUNK }) });
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

describe('a client that pipelines small requests and never reads', () => {
  it('queues answers up to the unsent cap counted with their per-write cost', async () => {
    const open = new PeerServer(store, QUIET, { host: '127.0.0.1', port: 0, uploadLimiter: new TokenBucket({ rateBytesPerS: null }) });
    await open.start();
    const hog: Socket = connect({ host: '127.0.0.1', port: open.port });
    try {
      hog.on('error', () => undefined);
      hog.pause();
      await new Promise((resolve) => hog.once('connect', resolve));
      const interested = encodeJson(MessageType.Interested, 1, { fileId });
      // Three times the cap in requests, each answered with a BITFIELD of about 130 bytes (the kernel
      // takes a few MB of answers before anything queues in the process).
      const requests = Math.ceil((MAX_UNSENT_BYTES * 3) / interested.length);
      hog.write(Buffer.concat(Array.from({ length: requests }, () => interested)));
      await waitFor(() => open.pausedConnections === 1 || undefined, 90_000, 20);
      const answerBytes = 9 + JSON.stringify({ fileId, bitfield: store.get(fileId)!.bitfield.toBase64() }).length;
      // Counted in bytes alone the queue would hold MAX_UNSENT_BYTES / answerBytes writes (about 40,000).
      expect(open.unsentBytes + open.queuedWrites * WRITE_OVERHEAD_BYTES).toBeLessThanOrEqual(MAX_UNSENT_BYTES + answerBytes + WRITE_OVERHEAD_BYTES);
      expect(open.queuedWrites).toBeLessThan(MAX_UNSENT_BYTES / (answerBytes + WRITE_OVERHEAD_BYTES) + 2);
      expect(open.queuedWrites).toBeGreaterThan(1_000);
    } finally {
      hog.destroy();
      await open.stop();
    }
  }, 120_000);
});

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

describe('finished downloads', () => {
  it('leave nothing on the peer: no listener on its lifetime signal keeps them reachable', async () => {
    setLogLevel('silent');
    const tracker = new TrackerServer({ host: '127.0.0.1', port: 0 });
    await tracker.start();
    const at = `127.0.0.1:${tracker.port}`;
    const publisher = new PeerNode({ dir: join(dir, 'pub'), name: 'pub', host: '127.0.0.1', chunkSize: CHUNK, tracker: at });
    const leecher = new PeerNode({ dir: join(dir, 'leech'), name: 'leech', host: '127.0.0.1', chunkSize: CHUNK, tracker: at });
    try {
      for (const node of [publisher, leecher]) {
        await node.start();
        await node.connect();
      }
      const lifetime = (leecher as unknown as { lifetime: AbortController }).lifetime.signal;
      const DOWNLOADS = 5;
      for (let n = 0; n < DOWNLOADS; n++) {
        await publisher.generate(`f${n}.bin`, 4 * CHUNK + n, `seed-${n}`, false);
        await publisher.upload();
        const outcome = await leecher.download({ name: `f${n}.bin` });
        expect(outcome.bytes).toBe(4 * CHUNK + n);
      }
      // One listener per finished download before.
      expect(getEventListeners(lifetime, 'abort')).toHaveLength(0);
    } finally {
      await leecher.stop();
      await publisher.stop();
      await tracker.stop();
    }
  });
});

