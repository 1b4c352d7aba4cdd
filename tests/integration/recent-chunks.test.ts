/**
 * A downloading peer serves the chunks it received last from memory, not from its partial file: the
 * other downloaders ask for a chunk soon after its new holder announces it, and each of those was a
 * disk read through libuv's thread pool. Shown from outside: once the downloader holds a chunk, the
 * test overwrites that chunk in the downloader's partial file, then asks the downloader for it over
 * its data port: the answer is the chunk as received, not what is now on disk. A request accepted
 * while its chunk was in memory is served from memory even when it waited in the queue longer than
 * the chunk stayed among the recent ones.
 */
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeChunkRef, encodeJson, MessageType, PROTOCOL_VERSION } from '../../src/protocol';
import { STATE_DIR_NAME } from '../../src/peer/chunk-store';
import { RECENT_CHUNK_BYTES } from '../../src/peer/recent-chunks';
import { PeerNode } from '../../src/peer/peer-node';
import { setLogLevel } from '../../src/shared/logger';
import { TrackerServer } from '../../src/tracker/tracker-server';
import { RawFrameClient, waitFor } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16_384;
const CHUNKS = 64;

describe('recent chunks', () => {
  let root: string;
  let tracker: TrackerServer;
  const nodes: PeerNode[] = [];
  const clients: RawFrameClient[] = [];

  beforeAll(async () => {
    setLogLevel('silent');
    root = await mkdtemp(join(tmpdir(), 'swarmlab-recent-chunks-'));
    tracker = new TrackerServer({ host: '127.0.0.1', port: 0 });
    await tracker.start();
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    for (const node of nodes) await node.stop();
    await tracker?.stop();
    await rm(root, { recursive: true, force: true });
  });

  test('a chunk a download just received is served as received, without reading the partial file', async () => {
    // 8 chunks a second: the download is still partial while the test asks.
    const seeder = new PeerNode({ dir: join(root, 'seeder'), name: 'seeder', host: '127.0.0.1', chunkSize: CHUNK, uploadRateBps: 8 * CHUNK, tracker: `127.0.0.1:${tracker.port}` });
    nodes.push(seeder);
    await seeder.start();
    await seeder.connect();
    await seeder.generate('recent.bin', CHUNKS * CHUNK, 'recent', false);
    const fileId = (await seeder.upload()).published[0]!.fileId;
    const original = await readFile(join(root, 'seeder', 'recent.bin'));
    const downloader = new PeerNode({ dir: join(root, 'downloader'), name: 'downloader', host: '127.0.0.1', chunkSize: CHUNK, tracker: `127.0.0.1:${tracker.port}` });
    nodes.push(downloader);
    await downloader.start();
    await downloader.connect();

    const abort = new AbortController();
    let held: (index: number) => void;
    const firstHeld = new Promise<number>((resolve) => (held = resolve));
    const download = downloader.download({ fileId }, { signal: abort.signal, onChunk: (event) => held(event.index) });
    download.catch(() => undefined);
    const index = await firstHeld;

    // The chunk's bytes on disk are no longer the chunk's.
    const part = await open(join(root, 'downloader', STATE_DIR_NAME, 'downloads', `${fileId}.part`), 'r+');
    await part.write(Buffer.alloc(CHUNK, 0xee), 0, CHUNK, index * CHUNK);
    await part.close();

    const client = await RawFrameClient.open(downloader.dataPort);
    clients.push(client);
    client.write(encodeJson(MessageType.Hello, 1, { version: PROTOCOL_VERSION, peerId: '', name: 'asker' }));
    expect((await client.exchange(encodeJson(MessageType.Interested, 2, { fileId }), 2)).type).toBe(MessageType.Bitfield);
    const answer = await client.exchange(encodeChunkRef(MessageType.Request, 3, fileId, index), 3);
    abort.abort();
    expect(answer.type).toBe(MessageType.Chunk);
    const data = (answer.body as { data: Buffer }).data;
    expect(data.equals(original.subarray(index * CHUNK, (index + 1) * CHUNK))).toBe(true);
  });

  test('a request accepted while its chunk was in memory is served from memory after a long wait in the queue', async () => {
    // The downloader gets 64 chunks a second and sends one every 2 s (after a first burst): the request
    // waits in its queue behind eight others while megabytes of newer chunks push the chunk out of memory.
    const seeder = new PeerNode({ dir: join(root, 'seeder-2'), name: 'seeder-2', host: '127.0.0.1', chunkSize: CHUNK, uploadRateBps: 64 * CHUNK, tracker: `127.0.0.1:${tracker.port}` });
    nodes.push(seeder);
    await seeder.start();
    await seeder.connect();
    const chunks = 1200;
    await seeder.generate('queued.bin', chunks * CHUNK, 'queued', false);
    const fileId = (await seeder.upload()).published[0]!.fileId;
    const original = await readFile(join(root, 'seeder-2', 'queued.bin'));
    const downloader = new PeerNode({ dir: join(root, 'downloader-2'), name: 'downloader-2', host: '127.0.0.1', chunkSize: CHUNK, uploadRateBps: CHUNK / 2, tracker: `127.0.0.1:${tracker.port}` });
    nodes.push(downloader);
    await downloader.start();
    await downloader.connect();

    const abort = new AbortController();
    const held: number[] = [];
    const download = downloader.download({ fileId }, { signal: abort.signal, onChunk: (event) => held.push(event.index) });
    download.catch(() => undefined);
    await waitFor(() => held.length >= 9 || undefined, 20_000, 10);
    const [target, ...ahead] = held.slice(0, 9) as [number, ...number[]];

    const client = await RawFrameClient.open(downloader.dataPort);
    clients.push(client);
    client.write(encodeJson(MessageType.Hello, 1, { version: PROTOCOL_VERSION, peerId: '', name: 'asker' }));
    expect((await client.exchange(encodeJson(MessageType.Interested, 2, { fileId }), 2)).type).toBe(MessageType.Bitfield);
    ahead.forEach((index, position) => client.write(encodeChunkRef(MessageType.Request, 10 + position, fileId, index)));
    client.write(encodeChunkRef(MessageType.Request, 3, fileId, target));
    // Accepted (read-ahead has not reached it), then its bytes on disk are no longer the chunk's.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const part = await open(join(root, 'downloader-2', STATE_DIR_NAME, 'downloads', `${fileId}.part`), 'r+');
    await part.write(Buffer.alloc(CHUNK, 0xee), 0, CHUNK, target * CHUNK);
    await part.close();

    const answer = await client.exchange(Buffer.alloc(0), 3, 40_000);
    const receivedMeanwhile = held.length - 9;
    abort.abort();
    // More than RECENT_CHUNK_BYTES arrived after it: the store no longer had it when it was served.
    expect(receivedMeanwhile * CHUNK).toBeGreaterThan(RECENT_CHUNK_BYTES);
    expect(answer.type).toBe(MessageType.Chunk);
    const data = (answer.body as { data: Buffer }).data;
    expect(data.equals(original.subarray(target * CHUNK, (target + 1) * CHUNK))).toBe(true);
  });
});
