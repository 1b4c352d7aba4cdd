/**
 * A downloading peer tells the tracker about its new chunks in batches, not one request per chunk:
 * with a hundred peers each receiving several chunks a second, per-chunk HAVEs are hundreds of tracker
 * round trips a second for news the downloaders only read on their next LOCATE. Connected peers still
 * hear of each chunk at once (HAVE_CHUNK), and the tracker knows every chunk when the download ends.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageType } from '../../src/protocol';
import { HAVE_BATCH_MS, PeerNode } from '../../src/peer/peer-node';
import { setLogLevel } from '../../src/shared/logger';
import { TrackerServer } from '../../src/tracker/tracker-server';
import { frameProxy, listenFrameProxy, type FrameProxy } from '../helpers/frame-proxy';

jest.setTimeout(60_000);

const CHUNK = 16_384;
const CHUNKS = 48;
/** 16 chunks a second: the download takes about 3 s, several batch periods. */
const SEEDER_RATE = 16 * CHUNK;

describe('HAVE to the tracker', () => {
  let root: string;
  let tracker: TrackerServer;
  let proxy: FrameProxy;
  let proxyPort: number;
  const nodes: PeerNode[] = [];

  beforeAll(async () => {
    setLogLevel('silent');
    root = await mkdtemp(join(tmpdir(), 'swarmlab-have-batch-'));
    tracker = new TrackerServer({ host: '127.0.0.1', port: 0 });
    await tracker.start();
    proxy = frameProxy(tracker.port, MessageType.Have);
    proxyPort = await listenFrameProxy(proxy);
  });

  afterAll(async () => {
    for (const node of nodes) await node.stop();
    proxy.server.close();
    await tracker?.stop();
    await rm(root, { recursive: true, force: true });
  });

  test('goes at most once per batch period, and the tracker ends up knowing every chunk', async () => {
    const seeder = new PeerNode({
      dir: join(root, 'seeder'),
      name: 'seeder',
      host: '127.0.0.1',
      chunkSize: CHUNK,
      uploadRateBps: SEEDER_RATE,
      tracker: `127.0.0.1:${tracker.port}`,
    });
    nodes.push(seeder);
    await seeder.start();
    await seeder.connect();
    await seeder.generate('batched.bin', CHUNKS * CHUNK, 'batched', false);
    const [published] = (await seeder.upload()).published;

    const downloader = new PeerNode({ dir: join(root, 'downloader'), name: 'downloader', host: '127.0.0.1', chunkSize: CHUNK, tracker: `127.0.0.1:${proxyPort}` });
    nodes.push(downloader);
    await downloader.start();
    await downloader.connect();

    const started = performance.now();
    const outcome = await downloader.download({ fileId: published!.fileId });
    const elapsedMs = performance.now() - started;

    // One HAVE per batch period at most, the first at once, plus the flush at the end; per chunk it
    // would be ~CHUNKS.
    expect(elapsedMs).toBeGreaterThan(2 * HAVE_BATCH_MS);
    expect(proxy.seen()).toBeLessThanOrEqual(Math.ceil(elapsedMs / HAVE_BATCH_MS) + 2);
    // The seeder's burst (64 KiB: four chunks) arrives together, well within a period: a first HAVE
    // held for the period would carry all of them. It carries the first chunk alone, sent as it came.
    const haves = proxy.carried.map((frame) => JSON.parse(frame.subarray(9).toString('utf8')) as { indices: number[] });
    // (A download announces the file itself first, with no chunk.)
    expect(haves.find((have) => have.indices.length > 0)?.indices).toHaveLength(1);
    expect(proxy.seen()).toBeLessThan(CHUNKS / 4);
    const [entry] = (await seeder.files()).files.filter((file) => file.fileId === published!.fileId);
    expect(entry?.seeders).toBe(2);
    const [mine, theirs] = await Promise.all([readFile(join(root, 'downloader', 'batched.bin')), readFile(join(root, 'seeder', 'batched.bin'))]);
    expect(outcome.verified).toBe(true);
    expect(mine.equals(theirs)).toBe(true);
  });
});
