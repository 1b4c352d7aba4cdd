/**
 * Issue 18: what a remote can make a peer hold is bounded, over real sockets on 127.0.0.1.
 * - Data server: a client that pipelines INTERESTED and never reads is no longer read once its unsent
 *   answers pass the cap, and gets every answer once it reads; a frame must complete in time.
 * - Outbound connections: closed when idle, closed when INTERESTED goes unanswered, and they share
 *   one read buffer instead of holding 1 MiB each.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import winston from 'winston';
import { computeFileId, encodeJson, FrameDecoder, MessageType } from '../../src/protocol';
import type { Manifest } from '../../src/protocol';
import { ChunkMemory } from '../../src/peer/chunk-memory';
import { ChunkStore } from '../../src/peer/chunk-store';
import { PeerConnection } from '../../src/peer/peer-connection';
import { PeerServer } from '../../src/peer/peer-server';
import type { PeerServerInit } from '../../src/peer/peer-server';
import { TokenBucket } from '../../src/shared/token-bucket';
import { RawFrameClient, sha256, waitFor } from '../helpers/local';

jest.setTimeout(60_000);

const QUIET = winston.createLogger({ silent: true });
/** 65,536 chunks: each BITFIELD answer is about 11 KB of base64. */
const CHUNKS = 65_536;
const manifest: Manifest = {
  name: 'wide.bin',
  size: CHUNKS * 1024,
  chunkSize: 1024,
  chunks: Array.from({ length: CHUNKS }, (_, i) => sha256(Buffer.from(String(i)))),
};
const fileId = computeFileId(manifest);

let dir: string;
let store: ChunkStore;
const servers: PeerServer[] = [];
const sockets: Socket[] = [];
const connections: PeerConnection[] = [];
const rawServers: Server[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swarmlab-issue18-'));
  store = new ChunkStore({ dir }, QUIET);
  await store.beginDownload(fileId, manifest);
});

afterEach(async () => {
  for (const connection of connections.splice(0)) connection.close();
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) await server.stop();
  for (const server of rawServers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function startServer(init: Partial<PeerServerInit> = {}): Promise<PeerServer> {
  const server = new PeerServer(store, QUIET, { host: '127.0.0.1', port: 0, uploadLimiter: new TokenBucket({ rateBytesPerS: null }), ...init });
  await server.start();
  servers.push(server);
  return server;
}

/** A TCP server that accepts and never says anything. */
async function silentServer(): Promise<{ port: number; accepted: Socket[] }> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => {
    accepted.push(socket);
    sockets.push(socket);
    socket.on('error', () => undefined);
  });
  rawServers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, accepted };
}

function openTo(port: number, init: { idleTimeoutMs?: number; interestedTimeoutMs?: number } = {}): Promise<PeerConnection> {
  return PeerConnection.open(
    { logger: QUIET, memory: new ChunkMemory() },
    { host: '127.0.0.1', port, hello: { peerId: 'p-test', name: 'test' }, ...init },
  ).then((connection) => {
    connections.push(connection);
    return connection;
  });
}

describe('data server output backpressure (hole 5)', () => {
  it('stops reading a client that pipelines INTERESTED and never reads, and answers it all once it reads', async () => {
    const maxUnsentBytes = 256 * 1024;
    const server = await startServer({ maxUnsentBytes });
    const answerBytes = 9 + JSON.stringify({ fileId, bitfield: store.get(fileId)!.bitfield.toBase64() }).length;
    const requests = 3_000;
    const hog = connect({ host: '127.0.0.1', port: server.port });
    sockets.push(hog);
    hog.pause();
    await new Promise((resolve) => hog.once('connect', resolve));
    hog.write(Buffer.concat(Array.from({ length: requests }, (_, i) => encodeJson(MessageType.Interested, i + 1, { fileId }))));

    await waitFor(() => server.pausedConnections === 1 || undefined, 10_000, 20);
    await sleep(300);
    expect(server.unsentBytes).toBeLessThanOrEqual(maxUnsentBytes + answerBytes);
    // Another client is still answered.
    const other = await RawFrameClient.open(server.port);
    sockets.push(other.socket);
    const answer = await other.exchange(encodeJson(MessageType.Interested, 7, { fileId }), 7);
    expect(answer.type).toBe(MessageType.Bitfield);

    const decoder = new FrameDecoder();
    let answered = 0;
    hog.on('data', (data: Buffer) => (answered += decoder.push(data).messages.length));
    hog.resume();
    await waitFor(() => answered === requests || undefined, 30_000, 20);
    expect(server.pausedConnections).toBe(0);
  });
});

describe('data server frame timeout (hole 6)', () => {
  it('closes a connection whose frame is not complete within the frame timeout', async () => {
    const server = await startServer({ frameTimeoutMs: 1_000 });
    const trickler = await RawFrameClient.open(server.port);
    sockets.push(trickler.socket);
    const header = Buffer.alloc(9);
    header.writeUInt32BE(1_000, 0);
    header.writeUInt8(MessageType.Interested, 4);
    trickler.socket.write(header);
    const startedMs = Date.now();
    while (!trickler.closed && Date.now() - startedMs < 5_000) {
      trickler.socket.write(Buffer.from(' '));
      await sleep(200);
    }
    expect(trickler.closed).toBe(true);
    expect(Date.now() - startedMs).toBeLessThan(3_000);
  });
});

describe('outbound data connections (hole 8)', () => {
  it('closes an outbound connection that stays idle', async () => {
    const { port } = await silentServer();
    const connection = await openTo(port, { idleTimeoutMs: 500 });
    await waitFor(() => connection.closed || undefined, 3_000, 20);
  });

  it('closes the connection when INTERESTED goes unanswered', async () => {
    const { port } = await silentServer();
    const connection = await openTo(port, { interestedTimeoutMs: 300 });
    const startedMs = Date.now();
    await expect(connection.interested(fileId, CHUNKS)).rejects.toMatchObject({ name: 'RequestTimeoutError' });
    expect(Date.now() - startedMs).toBeLessThan(3_000);
    expect(connection.closed).toBe(true);
  });

  it('holds no read buffer per connection', async () => {
    const { port, accepted } = await silentServer();
    await openTo(port);
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 40; i++) await openTo(port);
    await waitFor(() => accepted.length === 41 || undefined, 5_000, 20);
    // 1 MiB each would be 40 MiB.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
  });
});
