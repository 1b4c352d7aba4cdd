/**
 * A download's first LOCATE is asked again when the tracker's answer does not come in time: when a
 * crowd of downloads starts at once a busy tracker answers late, and without the manifest the download
 * could not begin at all. The downloader reaches the real tracker through a proxy that swallows the
 * first LOCATE frame it carries, as a lost or very late answer would look to the downloader.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageType } from '../../src/protocol';
import { PeerNode } from '../../src/peer/peer-node';
import { setLogLevel } from '../../src/shared/logger';
import { TrackerServer } from '../../src/tracker/tracker-server';
import { frameProxy, listenFrameProxy, type FrameProxy } from '../helpers/frame-proxy';

jest.setTimeout(60_000);

const CHUNK = 16_384;

describe('a download whose first LOCATE times out', () => {
  let root: string;
  let tracker: TrackerServer;
  let proxy: FrameProxy;
  let proxyPort: number;
  const nodes: PeerNode[] = [];

  beforeAll(async () => {
    setLogLevel('silent');
    root = await mkdtemp(join(tmpdir(), 'swarmlab-locate-retry-'));
    tracker = new TrackerServer({ host: '127.0.0.1', port: 0 });
    await tracker.start();
    proxy = frameProxy(tracker.port, MessageType.Locate, 1);
    proxyPort = await listenFrameProxy(proxy);
  });

  afterAll(async () => {
    for (const node of nodes) await node.stop();
    proxy.server.close();
    await tracker?.stop();
    await rm(root, { recursive: true, force: true });
  });

  test('asks again and finishes with the publisher’s bytes', async () => {
    const seeder = new PeerNode({ dir: join(root, 'seeder'), name: 'seeder', host: '127.0.0.1', chunkSize: CHUNK, tracker: `127.0.0.1:${tracker.port}` });
    nodes.push(seeder);
    await seeder.start();
    await seeder.connect();
    await seeder.generate('late.bin', 32 * CHUNK, 'late', false);
    const [published] = (await seeder.upload()).published;

    const downloader = new PeerNode({ dir: join(root, 'downloader'), name: 'downloader', host: '127.0.0.1', chunkSize: CHUNK, tracker: `127.0.0.1:${proxyPort}` });
    nodes.push(downloader);
    await downloader.start();
    await downloader.connect();

    const outcome = await downloader.download({ fileId: published!.fileId });
    expect(proxy.seen()).toBeGreaterThanOrEqual(2);
    expect(outcome.verified).toBe(true);
    const [mine, theirs] = await Promise.all([readFile(join(root, 'downloader', 'late.bin')), readFile(join(root, 'seeder', 'late.bin'))]);
    expect(mine.equals(theirs)).toBe(true);
  });
});
