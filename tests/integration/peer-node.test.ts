/**
 * A PeerNode's lifecycle around its downloads, in-process (tracker and peers on 127.0.0.1): stop()
 * ends the running downloads (they neither refresh nor write afterwards), and a 'chunk' listener
 * that throws fails its download instead of escaping as an unhandled rejection.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerNode } from '../../src/peer/peer-node';
import { setLogLevel } from '../../src/shared/logger';
import { TrackerServer } from '../../src/tracker/tracker-server';

jest.setTimeout(30_000);

const CHUNK = 16_384;

describe('PeerNode and its downloads', () => {
  let root: string;
  let tracker: TrackerServer;
  let publisher: PeerNode;
  const nodes: PeerNode[] = [];

  beforeAll(async () => {
    setLogLevel('silent');
    root = await mkdtemp(join(tmpdir(), 'swarmlab-node-'));
    tracker = new TrackerServer({ host: '127.0.0.1', port: 0 });
    await tracker.start();
    // 64 chunks at 64 KiB/s after a 64 KiB burst: a download that takes seconds.
    publisher = new PeerNode({ dir: join(root, 'pub'), name: 'pub', host: '127.0.0.1', chunkSize: CHUNK, uploadRateBps: 64 * 1024, tracker: `127.0.0.1:${tracker.port}` });
    await publisher.start();
    await publisher.connect();
    await publisher.generate('slow.bin', 64 * CHUNK, 'slow', false);
    await publisher.upload();
  });

  afterAll(async () => {
    for (const node of nodes) await node.stop();
    await publisher?.stop();
    await tracker?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const downloader = async (name: string): Promise<PeerNode> => {
    const node = new PeerNode({ dir: join(root, name), name, host: '127.0.0.1', chunkSize: CHUNK, tracker: `127.0.0.1:${tracker.port}` });
    nodes.push(node);
    await node.start();
    await node.connect();
    return node;
  };

  test('issue 18 hole 9: stop() ends a running download; nothing is written after it', async () => {
    const node = await downloader('stopped');
    let chunks = 0;
    const download = node.download({ name: 'slow.bin' }, { onChunk: () => chunks++ });
    const outcome = download.then(
      () => ({ code: 'finished' }),
      (error: { code?: string }) => ({ code: error.code }),
    );
    const deadline = Date.now() + 10_000;
    while (chunks < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(chunks).toBeGreaterThanOrEqual(4);

    await node.stop();
    const settled = await Promise.race([outcome, new Promise((resolve) => setTimeout(() => resolve({ code: 'still running' }), 1_000))]);
    expect(settled).toEqual({ code: 'ERR_ABORTED' });
    // The partial file and its sidecar stay as the stop left them.
    const downloads = join(root, 'stopped', '.swarmlab', 'downloads');
    const snapshot = async (): Promise<string[]> => {
      const names = (await readdir(downloads)).sort();
      return Promise.all(names.map(async (name) => `${name} ${(await stat(join(downloads, name))).mtimeMs} ${(await stat(join(downloads, name))).size}`));
    };
    const before = await snapshot();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await snapshot()).toEqual(before);
  });

  test("issue 18 hole 9: a 'chunk' listener that throws fails the download instead of escaping", async () => {
    const node = await downloader('throwing');
    const thrown = new Error('a listener that throws');
    const outcome = node.download({ name: 'slow.bin' }, { onChunk: () => { throw thrown; } }).then(
      () => 'finished',
      (error: unknown) => error,
    );
    const settled = await Promise.race([outcome, new Promise((resolve) => setTimeout(() => resolve('still running'), 10_000))]);
    expect(settled).toBe(thrown);
  });
});
