/**
 * Issue 17: the limits that keep a large swarm from turning into a full mesh of queues, in-process
 * (tracker and peers on 127.0.0.1).
 * - A download keeps at most `maxSources` sources connected, however many holders LOCATE shows, and
 *   none once it has finished; at the cap it asks the tracker only every LOCATE_AT_CAP_MS, and its
 *   rotations never let go the only holder of a chunk it lacks (the seeder, early on); a source that
 *   answers REJECT busy makes room for another holder at once. A slot no holder of a needed chunk
 *   takes goes to a peer of the swarm that holds nothing yet, so that its first chunks come as pushes.
 * - A rate-limited data server that several connections ask accepts requests only up to
 *   MAX_UPLOAD_QUEUE_MS of sending; past that a request gets REJECT `busy` at once, instead of a
 *   chunk that would reach the downloader after its request timed out.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeChunkRef, encodeJson, MessageType, PROTOCOL_VERSION, RejectReason } from '../../src/protocol';
import { DEFAULT_REFRESH_MS, LOCATE_AT_CAP_MS } from '../../src/peer/download-scheduler';
import type { ChokerPolicy } from '../../src/peer/choker';
import { PeerNode } from '../../src/peer/peer-node';
import { MAX_UPLOAD_QUEUE_MS } from '../../src/peer/peer-server';
import { setLogLevel } from '../../src/shared/logger';
import { TrackerServer } from '../../src/tracker/tracker-server';
import { RawFrameClient, waitFor } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16_384;
const CHUNKS = 64;
const RATE = 64 * 1024;

describe('issue 17: swarm limits', () => {
  let root: string;
  let tracker: TrackerServer;
  const nodes: PeerNode[] = [];
  const clients: RawFrameClient[] = [];

  beforeAll(async () => {
    setLogLevel('silent');
    root = await mkdtemp(join(tmpdir(), 'swarmlab-limits-'));
    tracker = new TrackerServer({ host: '127.0.0.1', port: 0, metrics: true });
    await tracker.start();
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    for (const node of nodes) await node.stop();
    await tracker?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const locates = async (): Promise<number> => {
    const counted = await tracker.metrics!.requests.get();
    return counted.values.find((value) => value.labels.type === 'Locate')?.value ?? 0;
  };

  const startNode = async (name: string, init: { uploadRateBps?: number; maxSources?: number; uploader?: ChokerPolicy } = {}): Promise<PeerNode> => {
    const node = new PeerNode({ dir: join(root, name), name, host: '127.0.0.1', chunkSize: CHUNK, tracker: `127.0.0.1:${tracker.port}`, ...init });
    nodes.push(node);
    await node.start();
    await node.connect();
    return node;
  };

  test('a download never holds more than maxSources source connections', async () => {
    // Eight holders of the same file, each at 64 KiB/s: the download lasts seconds and every holder
    // is worth asking, so only the cap keeps the downloader from connecting to all of them.
    for (let i = 0; i < 8; i++) {
      const holder = await startNode(`holder-${i}`, { uploadRateBps: RATE });
      await holder.generate('many.bin', CHUNKS * CHUNK, 'many', false);
      await holder.upload();
    }
    const downloader = await startNode('capped', { maxSources: 3 });
    const locatesBefore = await locates();
    const startedMs = Date.now();
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, downloader.sourceConnections)), 2);
    try {
      const done = await downloader.download({ name: 'many.bin' });
      expect(done.verified).toBe(true);
    } finally {
      clearInterval(sampler);
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(3);
    // A finished download lets its sources go: they would keep pushing HAVE_CHUNKs nobody reads.
    expect(downloader.sourceConnections).toBe(0);
    // The first LOCATE finds more holders than the cap; later ones only every LOCATE_AT_CAP_MS, not
    // every refresh (DEFAULT_REFRESH_MS, 500 ms).
    const elapsedMs = Date.now() - startedMs;
    expect(elapsedMs).toBeGreaterThan(4 * DEFAULT_REFRESH_MS);
    expect((await locates()) - locatesBefore).toBeLessThanOrEqual(1 + Math.ceil(elapsedMs / LOCATE_AT_CAP_MS));
  });

  test('a rate-limited server refuses requests past MAX_UPLOAD_QUEUE_MS of sending with REJECT busy', async () => {
    const seeder = await startNode('queued-seeder', { uploadRateBps: RATE });
    await seeder.generate('queued.bin', CHUNKS * CHUNK, 'queued', false);
    const fileId = (await seeder.upload()).published[0]!.fileId;
    const port = seeder.dataPort;

    // Four downloaders pipeline ten requests each, for different chunks (no super-seeding refusal).
    const PER_CLIENT = 10;
    for (let c = 0; c < 4; c++) {
      const client = await RawFrameClient.open(port);
      clients.push(client);
      client.write(encodeJson(MessageType.Hello, 0, { version: PROTOCOL_VERSION, peerId: '', name: `raw-${c}` }));
      const bitfield = await client.exchange(encodeJson(MessageType.Interested, 1, { fileId }), 1);
      expect(bitfield.type).toBe(MessageType.Bitfield);
    }
    clients.forEach((client, c) => {
      for (let r = 0; r < PER_CLIENT; r++) client.write(encodeChunkRef(MessageType.Request, 100 + r, fileId, c * PER_CLIENT + r));
    });
    const answers = (client: RawFrameClient): Array<{ type: MessageType; reason?: number }> =>
      client.messages
        .filter((message) => message.requestId >= 100)
        .map((message) => ({ type: message.type, ...(message.type === MessageType.Reject ? { reason: message.body.reason } : {}) }));
    await waitFor(() => clients.every((client) => answers(client).length === PER_CLIENT) || undefined, 30_000, 50);

    const all = clients.flatMap(answers);
    const sent = all.filter((answer) => answer.type === MessageType.Chunk).length;
    const busy = all.filter((answer) => answer.type === MessageType.Reject && answer.reason === RejectReason.Busy).length;
    // What fits in the queue's time at the upload rate, plus what the upload's burst (a second of its
    // rate) sends at once while the requests arrive.
    const fits = Math.floor((MAX_UPLOAD_QUEUE_MS / 1000) * (RATE / CHUNK)) + RATE / CHUNK;
    expect(sent + busy).toBe(4 * PER_CLIENT);
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThanOrEqual(fits);
    expect(busy).toBeGreaterThanOrEqual(4 * PER_CLIENT - fits);
  });

  test('a download at its source cap keeps the only holder of chunks it lacks through every rotation', async () => {
    // A rate-limited seeder and three downloaders allowed one source each: the seeder gives each of
    // them fewer chunks than any other source would, so it is what rotation lets go first, while the
    // downloaders hold chunks the others lack (candidates to rotate to). Until it has sent every chunk
    // once, the seeder is the only holder of some chunk each downloader needs: letting it go (every
    // downloader at the same rotation) idled the one upload the whole swarm waited for.
    const SEED_CHUNKS = 60; // 15 s of the seeder's upload: past the second rotation (the first finds nobody settled)
    const seeder = await startNode('sole-seeder', { uploadRateBps: RATE });
    await seeder.generate('sole.bin', SEED_CHUNKS * CHUNK, 'sole', false);
    await seeder.upload();
    const downloaders = await Promise.all(['sole-a', 'sole-b', 'sole-c'].map((name) => startNode(name, { maxSources: 1 })));
    let fewestWhileSole = Infinity;
    let sawAll = false;
    const sampler = setInterval(() => {
      void seeder.status().then((status) => {
        const count = seeder.servedConnections;
        if (count === downloaders.length) sawAll = true;
        // Until every chunk has left the seeder once, it is the only holder of some chunk each downloader lacks.
        if (sawAll && Number(status['uploadedBytes']) < SEED_CHUNKS * CHUNK) fewestWhileSole = Math.min(fewestWhileSole, count);
      });
    }, 20);
    try {
      const results = await Promise.all(downloaders.map((node) => node.download({ name: 'sole.bin' })));
      expect(results.every((result) => result.verified)).toBe(true);
    } finally {
      clearInterval(sampler);
    }
    expect(sawAll).toBe(true);
    expect(fewestWhileSole).toBe(downloaders.length);
  });

  test('a download at its source cap leaves a source that answers busy for a holder it has just found', async () => {
    // `busy` serves nobody (every REQUEST gets REJECT busy, like a saturated upload); `idle` serves all.
    // The downloader may keep one source. It meets `busy` first, then the tracker shows it `idle`:
    // the next busy answer makes room for `idle` at once, not at a rotation (ROTATE_MS, and twice
    // that for a source connected just after the download began), which here is LOCATEs later.
    const busy = await startNode('busy-holder', { uploader: () => [] });
    await busy.generate('swap.bin', CHUNKS * CHUNK, 'swap', false);
    await busy.upload();
    const downloader = await startNode('swapper', { maxSources: 1 });
    const download = downloader.download({ name: 'swap.bin' });
    await waitFor(() => busy.servedConnections === 1 || undefined, 20_000, 10);
    const idle = await startNode('idle-holder');
    await idle.generate('swap.bin', CHUNKS * CHUNK, 'swap', false);
    await idle.upload();
    const locatesAtPublish = await locates();
    await waitFor(() => busy.servedConnections === 0 || undefined, 30_000, 10);
    const locatesToSwap = (await locates()) - locatesAtPublish;
    const done = await download;
    expect(done.verified).toBe(true);
    expect(done.chunksBySource['idle-holder']).toBe(CHUNKS);
    // One LOCATE shows `idle` (two if one was on its way when it published); a rotation comes later.
    expect(locatesToSwap).toBeLessThanOrEqual(2);
  });

  test('while every holder it swaps to is busy as well, a download swaps less and less often', async () => {
    // Six holders that serve nobody, as at a swarm's start, when a few first holders have everyone
    // asking them. A swap to one of them finds it as busy as the last: the pause before the next swap
    // doubles each time (BUSY_SWAP_MS, BUSY_SWAP_MAX_MS) instead of closing a connection and opening
    // another twice a second for as long as upload is short.
    const holders = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const holder = await startNode(`all-busy-${i}`, { uploader: () => [] });
        await holder.generate('all-busy.bin', CHUNKS * CHUNK, 'all-busy', false);
        await holder.upload();
        return holder;
      }),
    );
    const downloader = await startNode('all-busy-swapper', { maxSources: 1 });
    let connections = 0;
    const connected = holders.map(() => false);
    const sampler = setInterval(() => {
      holders.forEach((holder, i) => {
        const now = holder.servedConnections > 0;
        if (now && !connected[i]) connections++;
        connected[i] = now;
      });
    }, 5);
    const download = downloader.download({ name: 'all-busy.bin' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 8_000));
    } finally {
      clearInterval(sampler);
    }
    // The first holder, then swaps after about 0.5, 1.5, 3.5 and 7.5 s: four or five connections. A swap
    // every half second (each holder let go rests ROTATE_MS before it is a candidate again) made nine.
    expect(connections).toBeGreaterThanOrEqual(3);
    expect(connections).toBeLessThanOrEqual(6);
    // A holder with upload to spare still gets its turn, and the download completes from it.
    const idle = await startNode('all-busy-idle');
    await idle.generate('all-busy.bin', CHUNKS * CHUNK, 'all-busy', false);
    await idle.upload();
    const done = await download;
    expect(done.verified).toBe(true);
    expect(done.chunksBySource['all-busy-idle']).toBe(CHUNKS);
  });

  test('with a source slot free, a download connects to peers of the swarm that hold nothing yet', async () => {
    // The only holder serves nobody, so neither downloader gets a chunk and neither holds anything the
    // other could be asked for. Each still takes the other as a source while it has slots to spare, so
    // that the other's first chunk reaches it as a HAVE_CHUNK push the moment it arrives, not after a
    // HAVE to the tracker, a LOCATE and a connection (the start of a big swarm is a chain of those).
    const holder = await startNode('mute-holder', { uploader: () => [] });
    await holder.generate('listen.bin', CHUNKS * CHUNK, 'listen', false);
    await holder.upload();
    const [a, b] = await Promise.all(['listen-a', 'listen-b'].map((name) => startNode(name)));
    const stop = new AbortController();
    const downloads = [a!, b!].map((node) => node.download({ name: 'listen.bin' }, { signal: stop.signal }).catch((error: unknown) => error));
    try {
      await waitFor(() => (a!.servedConnections === 1 && b!.servedConnections === 1) || undefined, 20_000, 10);
      expect(holder.servedConnections).toBe(2);
    } finally {
      stop.abort();
      await Promise.all(downloads);
    }
  });
});
