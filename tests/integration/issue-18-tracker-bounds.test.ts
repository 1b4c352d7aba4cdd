/**
 * Issue 18: what a hostile client or a busy swarm can make the tracker hold or hand out is bounded,
 * over real sockets on 127.0.0.1:
 * - LOCATE lists at most `numwant` holders (default DEFAULT_NUMWANT), holders of the rarest chunks
 *   first; LIST answers in pages, and the peer's `list()` fetches every page;
 * - a client that pipelines LISTs and never reads is no longer read once its unsent answers pass the
 *   cap, gets every answer once it reads, and the tracker keeps answering others meanwhile;
 * - a frame must complete within the frame timeout, and one address's unfinished frames share a budget;
 * - REGISTER's advertised host is used only when the tracker is told to trust it.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import winston from 'winston';
import { computeFileId, DEFAULT_NUMWANT, encodeJson, FrameDecoder, MAX_LIST_PAGE, MessageType, PROTOCOL_VERSION } from '../../src/protocol';
import type { FilesBody, Manifest, Message, PeersBody } from '../../src/protocol';
import { TrackerClient } from '../../src/peer/tracker-client';
import { TrackerServer } from '../../src/tracker/tracker-server';
import type { TrackerServerInit } from '../../src/tracker/tracker-server';
import { RawFrameClient, sha256, waitFor } from '../helpers/local';

jest.setTimeout(60_000);

const QUIET = winston.createLogger({ silent: true });

function manifestOf(name: string, chunks = 2): Manifest {
  return {
    name,
    size: chunks * 1024,
    chunkSize: 1024,
    chunks: Array.from({ length: chunks }, (_, i) => sha256(Buffer.from(`${name}-${i}`))),
  };
}

let nextRequestId = 1;
const trackers: TrackerServer[] = [];
const clients: RawFrameClient[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.destroy();
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const tracker of trackers.splice(0)) await tracker.stop();
});

async function startTracker(init: TrackerServerInit = {}): Promise<TrackerServer> {
  const tracker = new TrackerServer({ host: '127.0.0.1', port: 0, heartbeatMs: 5_000, ...init }, { logger: QUIET });
  await tracker.start();
  trackers.push(tracker);
  return tracker;
}

async function open(port: number): Promise<RawFrameClient> {
  const client = await RawFrameClient.open(port);
  clients.push(client);
  return client;
}

async function ask(client: RawFrameClient, frame: (requestId: number) => Buffer): Promise<Message> {
  const requestId = nextRequestId++;
  return client.exchange(frame(requestId), requestId);
}

async function register(port: number, name: string, host?: string): Promise<{ client: RawFrameClient; answer: Message }> {
  const client = await open(port);
  const answer = await ask(client, (id) =>
    encodeJson(MessageType.Register, id, { version: PROTOCOL_VERSION, name, port: 4000, ...(host ? { host } : {}) }),
  );
  return { client, answer };
}

async function locate(client: RawFrameClient, fileId: string, numwant?: number): Promise<PeersBody> {
  const answer = await ask(client, (id) => encodeJson(MessageType.Locate, id, numwant ? { fileId, numwant } : { fileId }));
  expect(answer.type).toBe(MessageType.Peers);
  return answer.body as PeersBody;
}

async function list(client: RawFrameClient, body: { offset?: number; limit?: number } = {}): Promise<FilesBody> {
  const answer = await ask(client, (id) => encodeJson(MessageType.List, id, body));
  expect(answer.type).toBe(MessageType.Files);
  return answer.body as FilesBody;
}

/** One registered peer publishing `count` distinct files. */
async function publishMany(port: number, count: number): Promise<void> {
  const { client } = await register(port, 'publisher');
  const first = nextRequestId;
  for (let i = 0; i < count; i++) {
    client.socket.write(encodeJson(MessageType.Publish, nextRequestId++, { manifest: manifestOf(`junk-${String(i).padStart(5, '0')}.bin`) }));
  }
  await waitFor(() => client.messages.some((m) => m.requestId === first + count - 1) || undefined, 20_000, 20);
}

describe('LOCATE answers are capped (hole 4)', () => {
  it('lists at most numwant holders, the holders of the rarest chunk always among them', async () => {
    const tracker = await startTracker();
    const manifest = manifestOf('shared.bin');
    const fileId = computeFileId(manifest);
    const holderCount = DEFAULT_NUMWANT + 10;
    for (let i = 0; i < holderCount; i++) {
      const { client } = await register(tracker.port, `holder-${i}`);
      // Every holder has chunk 0; only the last one has chunk 1, the rarest.
      const indices = i === holderCount - 1 ? [1] : [0];
      const answer = await ask(client, (id) => encodeJson(MessageType.Have, id, { fileId, indices, manifest }));
      expect(answer.type).toBe(MessageType.Ok);
    }
    const asker = await open(tracker.port);
    expect((await locate(asker, fileId)).peers).toHaveLength(DEFAULT_NUMWANT);
    expect((await locate(asker, fileId, 1_000)).peers).toHaveLength(holderCount);
    for (let round = 0; round < 20; round++) {
      const { peers } = await locate(asker, fileId, 4);
      expect(peers).toHaveLength(4);
      expect(peers.map((p) => p.name)).toContain(`holder-${holderCount - 1}`);
    }
  });
});

describe('LIST answers in pages (hole 4)', () => {
  it('pages the catalogue with offset, limit and next; the peer fetches every page', async () => {
    const tracker = await startTracker();
    const total = MAX_LIST_PAGE + 5;
    await publishMany(tracker.port, total);
    const reader = await open(tracker.port);
    const first = await list(reader);
    expect(first.files).toHaveLength(MAX_LIST_PAGE);
    expect(first.next).toBe(MAX_LIST_PAGE);
    const last = await list(reader, { offset: first.next! });
    expect(last.files).toHaveLength(5);
    expect(last.next).toBeUndefined();
    const small = await list(reader, { offset: 3, limit: 10 });
    expect(small.files.map((f) => f.name)).toEqual(first.files.slice(3, 13).map((f) => f.name));
    expect(small.next).toBe(13);

    const link = new TrackerClient({ name: 'lister', dataPort: () => 4001 }, QUIET);
    try {
      await link.connect({ host: '127.0.0.1', port: tracker.port });
      const names = (await link.list()).map((f) => f.name);
      expect(names).toHaveLength(total);
      expect(new Set(names).size).toBe(total);
    } finally {
      link.close();
    }
  });
});

describe('output backpressure (hole 5)', () => {
  it('stops reading a client that pipelines LISTs and never reads, and answers it all once it reads', async () => {
    const maxUnsentBytes = 256 * 1024;
    const tracker = await startTracker({ maxUnsentBytes });
    await publishMany(tracker.port, 400);
    const reader = await open(tracker.port);
    const answerBytes = encodeJson(MessageType.Files, 1, await list(reader)).length;
    expect(answerBytes).toBeGreaterThan(50_000);

    // A client that writes 400 LISTs (about 20 MB of answers) and reads nothing.
    const requests = 400;
    const hog = connect({ host: '127.0.0.1', port: tracker.port });
    sockets.push(hog);
    hog.pause();
    await new Promise((resolve) => hog.once('connect', resolve));
    hog.write(Buffer.concat(Array.from({ length: requests }, (_, i) => encodeJson(MessageType.List, i + 1, {}))));

    await waitFor(() => tracker.pausedConnections === 1 || undefined, 10_000, 20);
    await sleep(300);
    // What the tracker holds for it: the cap plus the one answer that crossed it.
    expect(tracker.unsentBytes).toBeLessThanOrEqual(maxUnsentBytes + answerBytes);
    expect(tracker.pausedConnections).toBe(1);
    // Everyone else is still answered.
    expect((await list(reader, { limit: 1 })).files).toHaveLength(1);

    // Once it reads, every request is answered, in order.
    const decoder = new FrameDecoder();
    const ids: number[] = [];
    hog.on('data', (data: Buffer) => ids.push(...decoder.push(data).messages.map((m) => m.requestId)));
    hog.resume();
    await waitFor(() => ids.length === requests || undefined, 30_000, 20);
    expect(ids).toEqual(Array.from({ length: requests }, (_, i) => i + 1));
    expect(tracker.pausedConnections).toBe(0);
  });
});

describe('slow trickles (hole 6)', () => {
  it('closes a connection whose frame is not complete within the frame timeout', async () => {
    const tracker = await startTracker({ frameTimeoutMs: 1_000 });
    const trickler = await open(tracker.port);
    const header = Buffer.alloc(9);
    header.writeUInt32BE(1_000, 0);
    header.writeUInt8(MessageType.List, 4);
    trickler.socket.write(header);
    const startedMs = Date.now();
    // One byte every 200 ms: never idle, never done.
    while (!trickler.closed && Date.now() - startedMs < 5_000) {
      trickler.socket.write(Buffer.from(' '));
      await sleep(200);
    }
    expect(trickler.closed).toBe(true);
    expect(Date.now() - startedMs).toBeLessThan(3_000);
    expect(trickler.messages.map((m) => (m.type === MessageType.Error ? m.body.code : m.type))).toContain('ERR_FRAME_TIMEOUT');
  });

  // Load held (10-minute soak): each trickler closed after the frame timeout left its unfinished frame
  // (about 1 MiB) for a full collection; the tracker's ArrayBuffers climbed 4 -> 22 MB before one ran.
  it('frees the memory of an unfinished frame when it closes the connection', async () => {
    const drop = FrameDecoder.prototype.drop;
    const dropped: Array<{ storage: Buffer | undefined; bytes: number }> = [];
    const spy = jest.spyOn(FrameDecoder.prototype, 'drop').mockImplementation(function (this: FrameDecoder) {
      const storage = drop.call(this);
      dropped.push({ storage, bytes: storage?.length ?? 0 });
      return storage;
    });
    try {
      const tracker = await startTracker({ frameTimeoutMs: 1_000 });
      const trickler = await open(tracker.port);
      const partial = Buffer.alloc(9 + 600_000, 0x20);
      partial.writeUInt32BE(4_000_000, 0);
      partial.writeUInt8(MessageType.Publish, 4);
      trickler.socket.write(partial);
      await waitFor(() => trickler.closed || undefined, 5_000, 20);
      const held = dropped.filter((d) => d.bytes > 0);
      expect(held).toHaveLength(1);
      expect(held[0]!.bytes).toBeGreaterThanOrEqual(600_000);
      // Freed: the memory is gone from every view of it.
      expect(held[0]!.storage!.buffer.byteLength).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });

  it('bounds the bytes of unfinished frames one address holds over its connections', async () => {
    const tracker = await startTracker({ maxBufferedBytesPerAddress: 100_000 });
    const partial = Buffer.alloc(9 + 40_000, 0x20);
    partial.writeUInt32BE(1_000_000, 0);
    partial.writeUInt8(MessageType.List, 4);
    const holders: RawFrameClient[] = [];
    for (let i = 0; i < 3; i++) {
      const client = await open(tracker.port);
      client.socket.write(partial);
      holders.push(client);
      await sleep(100);
    }
    // 40 KB, 80 KB, then 120 KB: the third goes past the budget and is closed.
    await waitFor(() => holders[2]!.closed || undefined, 5_000, 20);
    expect(holders[0]!.closed).toBe(false);
    expect(holders[1]!.closed).toBe(false);
    expect(holders[2]!.messages.map((m) => (m.type === MessageType.Error ? m.body.code : m.type))).toContain(
      'ERR_TOO_MANY_BUFFERED_BYTES',
    );
    // Its bytes left the budget with it: 80 KB are held, so 15 KB more still fit.
    const next = await open(tracker.port);
    next.socket.write(partial.subarray(0, 9 + 15_000));
    await sleep(300);
    expect(next.closed).toBe(false);
  });
});

describe('advertised hosts (hole 8)', () => {
  it('records the address it sees, not the one a peer advertises', async () => {
    const tracker = await startTracker();
    const { client, answer } = await register(tracker.port, 'liar', '203.0.113.9');
    expect(answer.type).toBe(MessageType.Registered);
    expect((answer.body as { host: string }).host).toBe('127.0.0.1');
    const manifest = manifestOf('target.bin');
    await ask(client, (id) => encodeJson(MessageType.Publish, id, { manifest }));
    const { peers } = await locate(await open(tracker.port), computeFileId(manifest));
    expect(peers.map((p) => p.host)).toEqual(['127.0.0.1']);
  });

  it('takes the advertised host when told to trust it', async () => {
    const tracker = await startTracker({ trustAdvertisedHost: true });
    const { answer } = await register(tracker.port, 'behind-nat', '203.0.113.9');
    expect((answer.body as { host: string }).host).toBe('203.0.113.9');
  });
});
