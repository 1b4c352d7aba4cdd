/**
 * With `haveBatchMs`, a downloading peer pushes HAVE_CHUNK to the peers interested in its file in
 * batches: the first new chunk after a quiet period at once, the chunks that arrive within it together
 * when it ends, one write per connection (off by default: peer-server.ts says why). Observed from outside: a raw client on the downloader's data
 * port (INTERESTED, then it only listens) times every HAVE_CHUNK it receives.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bitfield, encodeJson, FrameDecoder, MessageType, PROTOCOL_VERSION } from '../../src/protocol';
import { PeerNode } from '../../src/peer/peer-node';
import { HAVE_CHUNK_BATCH_MS } from '../../src/peer/peer-server';
import { setLogLevel } from '../../src/shared/logger';
import { TrackerServer } from '../../src/tracker/tracker-server';
import { waitFor } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16_384;

/** Listens on a peer's data port as an interested downloader would, and times each HAVE_CHUNK. */
class HaveListener {
  readonly haves: Array<{ index: number; atMs: number }> = [];
  bitfield: Bitfield | undefined;
  private readonly decoder = new FrameDecoder();

  private constructor(private readonly socket: Socket, chunks: number) {
    socket.on('data', (data: Buffer) => {
      const atMs = performance.now();
      for (const message of this.decoder.push(data).messages) {
        if (message.type === MessageType.HaveChunk) this.haves.push({ index: message.body.index, atMs });
        else if (message.type === MessageType.Bitfield) this.bitfield = Bitfield.fromBase64(chunks, message.body.bitfield);
      }
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number, fileId: string, chunks: number): Promise<HaveListener> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const listener = new HaveListener(socket, chunks);
    socket.write(encodeJson(MessageType.Hello, 1, { version: PROTOCOL_VERSION, peerId: '', name: 'listener' }));
    socket.write(encodeJson(MessageType.Interested, 2, { fileId }));
    await waitFor(() => listener.bitfield, 5_000, 10);
    return listener;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Arrival times grouped into bursts: frames that came within `withinMs` of the burst's first. */
function bursts(times: number[], withinMs: number): number[] {
  const starts: number[] = [];
  for (const atMs of times) if (starts.length === 0 || atMs - starts[starts.length - 1]! > withinMs) starts.push(atMs);
  return starts;
}

describe('HAVE_CHUNK pushes', () => {
  let root: string;
  let tracker: TrackerServer;
  const nodes: PeerNode[] = [];
  const listeners: HaveListener[] = [];

  beforeAll(async () => {
    setLogLevel('silent');
    root = await mkdtemp(join(tmpdir(), 'swarmlab-have-chunk-batch-'));
    tracker = new TrackerServer({ host: '127.0.0.1', port: 0 });
    await tracker.start();
  });

  afterAll(async () => {
    for (const listener of listeners) listener.close();
    for (const node of nodes) await node.stop();
    await tracker?.stop();
    await rm(root, { recursive: true, force: true });
  });

  /** A seeder at `uploadRateBps` with a file of `chunks` chunks, and a downloader batching over `haveBatchMs` (not started). */
  async function swarm(name: string, chunks: number, uploadRateBps: number, haveBatchMs = HAVE_CHUNK_BATCH_MS): Promise<{ fileId: string; downloader: PeerNode }> {
    const seeder = new PeerNode({ dir: join(root, `${name}-seeder`), name: `${name}-seeder`, host: '127.0.0.1', chunkSize: CHUNK, uploadRateBps, tracker: `127.0.0.1:${tracker.port}` });
    nodes.push(seeder);
    await seeder.start();
    await seeder.connect();
    await seeder.generate(`${name}.bin`, chunks * CHUNK, name, false);
    const [published] = (await seeder.upload()).published;
    const downloader = new PeerNode({ dir: join(root, `${name}-downloader`), name: `${name}-downloader`, host: '127.0.0.1', chunkSize: CHUNK, haveBatchMs, tracker: `127.0.0.1:${tracker.port}` });
    nodes.push(downloader);
    await downloader.start();
    await downloader.connect();
    return { fileId: published!.fileId, downloader };
  }

  test('chunks that arrive close together are pushed together, at most once per batch period, and every one is pushed', async () => {
    // 16 chunks a second: several chunks per batch period.
    const chunks = 64;
    const { fileId, downloader } = await swarm('busy', chunks, 16 * CHUNK);
    const joining: Array<Promise<HaveListener>> = [];
    const outcome = await downloader.download(
      { fileId },
      { onChunk: () => void (joining.length === 0 && joining.push(HaveListener.open(downloader.dataPort, fileId, chunks))) },
    );
    const listener = await joining[0]!;
    listeners.push(listener);
    await waitFor(() => listener.bitfield!.count + listener.haves.length >= chunks || undefined, 5_000, 20);
    expect(outcome.verified).toBe(true);

    // Every chunk the BITFIELD did not show was pushed, once.
    const pushed = listener.haves.map((have) => have.index).sort((a, b) => a - b);
    const expected = Array.from({ length: chunks }, (_, index) => index).filter((index) => !listener.bitfield!.has(index));
    expect(pushed).toEqual(expected);
    expect(pushed.length).toBeGreaterThan(chunks / 2);

    // In batches: per chunk, the pushes would arrive every ~60 ms, one burst per chunk.
    const times = listener.haves.map((have) => have.atMs);
    const spanMs = times[times.length - 1]! - times[0]!;
    const seen = bursts(times, 20);
    expect(seen.length).toBeLessThanOrEqual(Math.floor(spanMs / (HAVE_CHUNK_BATCH_MS * 0.8)) + 2);
    expect(pushed.length / seen.length).toBeGreaterThanOrEqual(2);
  });

  test('by default every chunk is pushed as it arrives, one burst per chunk', async () => {
    const chunks = 32;
    const { fileId, downloader } = await swarm('unbatched', chunks, 16 * CHUNK, 0);
    const joining: Array<Promise<HaveListener>> = [];
    await downloader.download({ fileId }, { onChunk: () => void (joining.length === 0 && joining.push(HaveListener.open(downloader.dataPort, fileId, chunks))) });
    const listener = await joining[0]!;
    listeners.push(listener);
    await waitFor(() => listener.bitfield!.count + listener.haves.length >= chunks || undefined, 5_000, 20);
    const seen = bursts(listener.haves.map((have) => have.atMs), 20);
    expect(listener.haves.length / seen.length).toBeLessThan(2);
  });

  test('a chunk after a quiet spell is pushed at once, not a batch period later', async () => {
    // A chunk a second (after the seeder's first burst): most chunks arrive a quiet spell after the last push.
    const chunks = 10;
    const { fileId, downloader } = await swarm('quiet', chunks, CHUNK);
    const arrived = new Map<number, number>();
    const joining: Array<Promise<HaveListener>> = [];
    await downloader.download(
      { fileId },
      {
        onChunk: (event) => {
          arrived.set(event.index, performance.now());
          if (joining.length === 0) joining.push(HaveListener.open(downloader.dataPort, fileId, chunks));
        },
      },
    );
    const listener = await joining[0]!;
    listeners.push(listener);
    await waitFor(() => listener.bitfield!.count + listener.haves.length >= chunks || undefined, 5_000, 20);
    // The chunks that arrived longer than a batch period after the previous push: each was pushed in
    // the same turn of the event loop as its event (the listener, in this process, reads it within
    // milliseconds), where a batch would hold it up to HAVE_CHUNK_BATCH_MS.
    const lagsMs: number[] = [];
    // (Not the first: chunks pushed to nobody before the listener joined count as pushes too.)
    listener.haves.forEach((have, position) => {
      if (position === 0) return;
      const arrivedMs = arrived.get(have.index)!;
      if (arrivedMs - listener.haves[position - 1]!.atMs > HAVE_CHUNK_BATCH_MS + 50) lagsMs.push(have.atMs - arrivedMs);
    });
    expect(lagsMs.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...lagsMs)).toBeLessThan(HAVE_CHUNK_BATCH_MS / 2);
  });
});
