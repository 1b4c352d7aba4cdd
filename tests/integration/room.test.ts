/**
 * ROOM (docs/protocol.md): a source whose rate-limited upload refused a downloader with REJECT busy
 * tells it when the upload has room again, if and only if that downloader listed `room` in HELLO.
 * Observed from outside, with raw clients on a real seeder's data port: one fills the upload queue,
 * one speaks ROOM, one is a downloader from before ROOM.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeChunkRef, encodeJson, FrameDecoder, MessageType, PEER_FEATURE_ROOM, PROTOCOL_VERSION, RejectReason } from '../../src/protocol';
import type { Message } from '../../src/protocol';
import { PeerNode } from '../../src/peer/peer-node';
import { setLogLevel } from '../../src/shared/logger';
import { TrackerServer } from '../../src/tracker/tracker-server';
import { waitFor } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16_384;
const CHUNKS = 64;
/** 4 chunks a second: the seeder's queue bound (4 s) holds 16 chunks. */
const UPLOAD_BPS = 4 * CHUNK;

/** A downloader written by hand: it records every frame the source sends it, in order. */
class RawDownloader {
  readonly received: Message[] = [];
  private readonly decoder = new FrameDecoder();
  private nextRequestId = 100;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (data: Buffer) => {
      for (const message of this.decoder.push(data).messages) this.received.push(message);
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number, fileId: string, features?: string[]): Promise<RawDownloader> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const downloader = new RawDownloader(socket);
    socket.write(encodeJson(MessageType.Hello, 1, { version: PROTOCOL_VERSION, peerId: '', name: 'raw', ...(features ? { features } : {}) }));
    socket.write(encodeJson(MessageType.Interested, 2, { fileId }));
    await waitFor(() => downloader.first(MessageType.Bitfield), 5_000, 10);
    return downloader;
  }

  request(fileId: string, indices: number[]): void {
    for (const index of indices) this.socket.write(encodeChunkRef(MessageType.Request, this.nextRequestId++, fileId, index));
  }

  first<T extends MessageType>(type: T): Extract<Message, { type: T }> | undefined {
    return this.received.find((message): message is Extract<Message, { type: T }> => message.type === type);
  }

  count(type: MessageType): number {
    return this.received.filter((message) => message.type === type).length;
  }

  /** Where the first frame of `type` came among all received (-1: none). */
  position(type: MessageType): number {
    return this.received.findIndex((message) => message.type === type);
  }

  /**
   * Keeps `outstanding` requests at the source whatever it answers: a new one for each chunk that
   * comes, and each refused one again shortly after, cycling over the file's chunks.
   */
  greedy(fileId: string, chunks: number, outstanding: number): void {
    let next = 0;
    const ask = (): void => {
      this.request(fileId, [next]);
      next = (next + 1) % chunks;
    };
    this.socket.on('data', () => {
      while (this.handled < this.received.length) {
        const message = this.received[this.handled++]!;
        if (message.type === MessageType.Chunk) ask();
        else if (message.type === MessageType.Reject) setTimeout(ask, 20);
      }
    });
    for (let i = 0; i < outstanding; i++) ask();
  }

  private handled = 0;

  close(): void {
    this.socket.destroy();
  }
}

describe('ROOM', () => {
  let root: string;
  let tracker: TrackerServer;
  let seeder: PeerNode;
  let fileId: string;
  const downloaders: RawDownloader[] = [];
  const nodes: PeerNode[] = [];

  beforeAll(async () => {
    setLogLevel('silent');
    root = await mkdtemp(join(tmpdir(), 'swarmlab-room-'));
    tracker = new TrackerServer({ host: '127.0.0.1', port: 0 });
    await tracker.start();
    ({ source: seeder, fileId } = await startSource('room', UPLOAD_BPS, CHUNKS));
  });

  /** A seeder `<name>-seeder` of its own, uploading at `uploadRateBps`, publishing `<name>.bin` of `chunks` chunks. */
  async function startSource(name: string, uploadRateBps: number, chunks: number): Promise<{ source: PeerNode; fileId: string }> {
    const source = new PeerNode({ dir: join(root, `${name}-seeder`), name: `${name}-seeder`, host: '127.0.0.1', chunkSize: CHUNK, uploadRateBps, tracker: `127.0.0.1:${tracker.port}` });
    nodes.push(source);
    await source.start();
    await source.connect();
    await source.generate(`${name}.bin`, chunks * CHUNK, name, false);
    return { source, fileId: (await source.upload()).published[0]!.fileId };
  }

  afterAll(async () => {
    for (const downloader of downloaders) downloader.close();
    for (const node of nodes) await node.stop();
    await tracker?.stop();
    await rm(root, { recursive: true, force: true });
  });

  test('a refused downloader that asked for ROOM gets it when the queue has room; one from before ROOM never does', async () => {
    // Twenty requests, five seconds of upload: the queue is full for everyone else.
    const filler = await RawDownloader.open(seeder.dataPort, fileId);
    downloaders.push(filler);
    filler.request(fileId, Array.from({ length: 20 }, (_, index) => index));
    await waitFor(() => filler.count(MessageType.Chunk) >= 1 || undefined, 10_000, 10);

    const waiter = await RawDownloader.open(seeder.dataPort, fileId, [PEER_FEATURE_ROOM]);
    const old = await RawDownloader.open(seeder.dataPort, fileId);
    downloaders.push(waiter, old);
    // The source says it speaks ROOM only to the one that asked for it.
    expect(waiter.first(MessageType.Bitfield)?.body.features).toEqual([PEER_FEATURE_ROOM]);
    expect(old.first(MessageType.Bitfield)?.body.features).toBeUndefined();

    waiter.request(fileId, [40]);
    old.request(fileId, [41]);
    await waitFor(() => (waiter.first(MessageType.Reject) && old.first(MessageType.Reject)) || undefined, 10_000, 10);
    expect(waiter.first(MessageType.Reject)?.body.reason).toBe(RejectReason.Busy);
    expect(old.first(MessageType.Reject)?.body.reason).toBe(RejectReason.Busy);

    // As the filler's chunks leave, the waiter is told; asked again then, the source serves it.
    await waitFor(() => waiter.first(MessageType.Room), 20_000, 10);
    expect(waiter.position(MessageType.Room)).toBeGreaterThan(waiter.position(MessageType.Reject));
    expect(filler.count(MessageType.Chunk)).toBeLessThan(20);
    waiter.request(fileId, [40]);
    await waitFor(() => waiter.first(MessageType.Chunk), 20_000, 10);
    expect(waiter.first(MessageType.Chunk)?.body.index).toBe(40);

    // Once the filler has everything, the upload had room for a long while: still no ROOM for the
    // downloader from before ROOM (it would take an unknown frame for a broken source), nor for the
    // filler, never refused.
    await waitFor(() => filler.count(MessageType.Chunk) >= 20 || undefined, 20_000, 10);
    expect(old.count(MessageType.Room)).toBe(0);
    expect(filler.count(MessageType.Room)).toBe(0);
    expect(waiter.count(MessageType.Room)).toBe(1);
  });

  test('a ROOM left unanswered frees its slot for the next waiter, with the upload idle', async () => {
    // A queue's worth of requests (16 chunks, 4 s of upload, and some read ahead), then more waiters
    // than it holds, none of which answers its ROOM. Each chunk that leaves wakes one waiter; once the queue is empty nothing
    // leaves any more, and only the end of the woken ones' holds can wake the others.
    const { source, fileId: holdFileId } = await startSource('hold', UPLOAD_BPS, CHUNKS);
    const filler = await RawDownloader.open(source.dataPort, holdFileId);
    downloaders.push(filler);
    const waiters: RawDownloader[] = [];
    for (let i = 0; i < 48; i++) waiters.push(await RawDownloader.open(source.dataPort, holdFileId, [PEER_FEATURE_ROOM]));
    downloaders.push(...waiters);
    filler.request(holdFileId, Array.from({ length: 20 }, (_, index) => index));
    await waitFor(() => filler.count(MessageType.Chunk) >= 1 || undefined, 10_000, 10);
    waiters.forEach((waiter, i) => waiter.request(holdFileId, [20 + (i % 40)]));
    await waitFor(() => waiters.every((waiter) => waiter.first(MessageType.Reject) ?? waiter.first(MessageType.Chunk)) || undefined, 10_000, 10);
    // A chunk may have left meanwhile, and its slot gone to one of them. Refused: three times what the
    // queue holds (16), more than the chunks leaving and the last serving loop's end can wake.
    const refused = waiters.filter((waiter) => waiter.first(MessageType.Reject)?.body.reason === RejectReason.Busy);
    expect(refused.length).toBeGreaterThan(40);
    await waitFor(() => filler.count(MessageType.Chunk) >= 20 || undefined, 20_000, 10);
    await waitFor(() => refused.every((waiter) => waiter.first(MessageType.Room)) || undefined, 10_000, 10);
  });

  test('a download refused busy gets its turn while another client keeps the queue full', async () => {
    // The greedy client keeps exactly the queue bound's worth of requests at the source, asking again
    // the moment a chunk comes or a refusal does. A download asking on a timer finds the queue full
    // nearly every time; one that waits for ROOM is woken as a slot frees, and the slot is held for it.
    // 8 chunks a second: the queue bound holds 32 chunks, the file's size.
    const chunks = 32;
    const { source, fileId: turnFileId } = await startSource('turn', 8 * CHUNK, chunks);
    const greedy = await RawDownloader.open(source.dataPort, turnFileId);
    downloaders.push(greedy);
    greedy.greedy(turnFileId, chunks, chunks);
    await waitFor(() => greedy.count(MessageType.Chunk) >= 2 || undefined, 10_000, 10);

    const downloader = new PeerNode({ dir: join(root, 'turn-downloader'), name: 'turn-downloader', host: '127.0.0.1', chunkSize: CHUNK, tracker: `127.0.0.1:${tracker.port}` });
    nodes.push(downloader);
    await downloader.start();
    await downloader.connect();
    const greedyBefore = greedy.count(MessageType.Chunk);
    const done = await downloader.download({ fileId: turnFileId });
    expect(done.verified).toBe(true);
    expect(done.chunksBySource['turn-seeder']).toBe(chunks);
    // Both were served meanwhile: the download took turns with the greedy client, not its leftovers.
    expect(greedy.count(MessageType.Chunk) - greedyBefore).toBeGreaterThan(chunks / 4);
  });
});
