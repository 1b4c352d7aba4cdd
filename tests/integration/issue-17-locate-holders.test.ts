/**
 * A download's LOCATE refresh asks for the holders only: the manifest (about 270 KB of JSON for 1 GiB)
 * comes once, with the first LOCATE, and not again every few hundred milliseconds. The tracker lists
 * the ability in REGISTERED `features`; a peer asks for it only then, so a tracker without it (here,
 * one whose REGISTERED is stripped of `features` on the way) keeps getting version 1 LOCATEs.
 * Downloads run between real PeerNodes and a real tracker on 127.0.0.1, through a proxy that records
 * every LOCATE and PEERS it carries.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import winston from 'winston';
import { computeFileId, decodeFrame, encodeJson, MessageType, PROTOCOL_VERSION, TRACKER_FEATURE_LOCATE_HOLDERS } from '../../src/protocol';
import type { LocateBody, Manifest } from '../../src/protocol';
import { PeerNode } from '../../src/peer/peer-node';
import { setLogLevel } from '../../src/shared/logger';
import { TrackerServer } from '../../src/tracker/tracker-server';
import { RawFrameClient, sha256 } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16_384;
const QUIET = winston.createLogger({ silent: true });

interface Recorded {
  locates: LocateBody[];
  /** Every PEERS answer, parsed. */
  peers: Array<Record<string, unknown>>;
}

/** Splits `pending` into whole frames (u32 length, then the rest); returns them and what is left over. */
function frames(pending: Buffer): { whole: Buffer[]; rest: Buffer } {
  const whole: Buffer[] = [];
  while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
    whole.push(pending.subarray(0, 4 + pending.readUInt32BE(0)));
    pending = pending.subarray(4 + pending.readUInt32BE(0));
  }
  return { whole, rest: pending };
}

/**
 * A TCP proxy to the tracker at `port` that records LOCATE bodies and PEERS answers; with
 * `stripFeatures`, REGISTERED reaches the peer without `features`, as from a tracker that has none.
 */
function recordingProxy(port: number, stripFeatures: boolean): { server: Server; recorded: Recorded } {
  const recorded: Recorded = { locates: [], peers: [] };
  const sockets: Socket[] = [];
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.push(client, upstream);
    let fromClient: Buffer = Buffer.alloc(0);
    let fromTracker: Buffer = Buffer.alloc(0);
    client.on('data', (data: Buffer) => {
      const { whole, rest } = frames(Buffer.concat([fromClient, data]));
      fromClient = rest;
      for (const frame of whole) {
        const message = decodeFrame(frame.subarray(4));
        if (message.type === MessageType.Locate) recorded.locates.push(message.body);
        upstream.write(frame);
      }
    });
    upstream.on('data', (data: Buffer) => {
      const { whole, rest } = frames(Buffer.concat([fromTracker, data]));
      fromTracker = rest;
      for (const frame of whole) {
        const message = decodeFrame(frame.subarray(4));
        if (message.type === MessageType.Peers) recorded.peers.push({ ...message.body });
        if (message.type === MessageType.Registered && stripFeatures) {
          const body = { ...message.body };
          delete body.features;
          client.write(encodeJson(MessageType.Registered, message.requestId, body));
        } else client.write(frame);
      }
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  server.on('close', () => sockets.forEach((socket) => socket.destroy()));
  return { server, recorded };
}

describe('LOCATE {manifest: false} at the tracker', () => {
  let tracker: TrackerServer;
  const clients: RawFrameClient[] = [];
  const manifest: Manifest = {
    name: 'holders.bin',
    size: 3 * 1024,
    chunkSize: 1024,
    chunks: ['a', 'b', 'c'].map((seed) => sha256(Buffer.from(seed))),
  };
  const fileId = computeFileId(manifest);

  beforeAll(async () => {
    tracker = new TrackerServer({ host: '127.0.0.1', port: 0 }, { logger: QUIET });
    await tracker.start();
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await tracker?.stop();
  });

  async function registered(name: string, port: number): Promise<{ client: RawFrameClient; registeredBody: Record<string, unknown> }> {
    const client = await RawFrameClient.open(tracker.port);
    clients.push(client);
    const answer = await client.exchange(encodeJson(MessageType.Register, 1, { version: PROTOCOL_VERSION, name, port }), 1);
    if (answer.type !== MessageType.Registered) throw new Error(`REGISTER answered ${answer.type}`);
    return { client, registeredBody: { ...answer.body } };
  }

  test('REGISTERED lists the feature; the answer has the holders and no manifest; a plain LOCATE is unchanged', async () => {
    const seeder = await registered('seeder', 9001);
    expect(seeder.registeredBody['features']).toContain(TRACKER_FEATURE_LOCATE_HOLDERS);
    const published = await seeder.client.exchange(encodeJson(MessageType.Publish, 2, { manifest }), 2);
    expect(published.type).toBe(MessageType.Published);
    const asker = await registered('asker', 9002);

    const full = await asker.client.exchange(encodeJson(MessageType.Locate, 3, { fileId }), 3);
    const holders = await asker.client.exchange(encodeJson(MessageType.Locate, 4, { fileId, manifest: false }), 4);
    const explicit = await asker.client.exchange(encodeJson(MessageType.Locate, 5, { fileId, manifest: true }), 5);
    if (full.type !== MessageType.Peers || holders.type !== MessageType.Peers || explicit.type !== MessageType.Peers) {
      throw new Error('LOCATE not answered with PEERS');
    }
    expect(full.body.manifest).toEqual(manifest);
    expect(explicit.body).toEqual(full.body);
    expect(Object.keys(holders.body).sort()).toEqual(['fileId', 'peers']);
    expect(holders.body.fileId).toBe(fileId);
    expect(holders.body.peers).toEqual(full.body.peers);
    expect(holders.body.peers.map((peer) => peer.name)).toEqual(['seeder']);
    // The registry's bytes: a version 1 answer is exactly JSON.stringify({fileId, manifest, peers}).
    const bytes = tracker.registry.locateAnswer(fileId).toString();
    expect(bytes).toBe(JSON.stringify({ fileId, manifest, peers: full.body.peers }));
    expect(tracker.registry.locateAnswer(fileId, undefined, undefined, false).toString()).toBe(
      JSON.stringify({ fileId, peers: full.body.peers }),
    );
  });
});

describe('a download refreshes its holders without the manifest', () => {
  let root: string;
  let tracker: TrackerServer;
  const servers: Server[] = [];
  const nodes: PeerNode[] = [];

  beforeAll(async () => {
    setLogLevel('silent');
    root = await mkdtemp(join(tmpdir(), 'swarmlab-locate-holders-'));
    tracker = new TrackerServer({ host: '127.0.0.1', port: 0 }, { logger: QUIET });
    await tracker.start();
  });

  afterAll(async () => {
    for (const node of nodes) await node.stop();
    for (const server of servers) server.close();
    await tracker?.stop();
    await rm(root, { recursive: true, force: true });
  });

  async function downloadThroughProxy(name: string, stripFeatures: boolean): Promise<Recorded> {
    const seeder = new PeerNode({ dir: join(root, `${name}-seeder`), name: `${name}-seeder`, host: '127.0.0.1', chunkSize: CHUNK, tracker: `127.0.0.1:${tracker.port}` });
    nodes.push(seeder);
    await seeder.start();
    await seeder.connect();
    await seeder.generate(`${name}.bin`, 64 * CHUNK, name, false);
    const [published] = (await seeder.upload()).published;

    const proxy = recordingProxy(tracker.port, stripFeatures);
    servers.push(proxy.server);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const address = proxy.server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
    const downloader = new PeerNode({ dir: join(root, `${name}-downloader`), name: `${name}-downloader`, host: '127.0.0.1', chunkSize: CHUNK, tracker: `127.0.0.1:${address.port}` });
    nodes.push(downloader);
    await downloader.start();
    await downloader.connect();

    const outcome = await downloader.download({ fileId: published!.fileId });
    expect(outcome.verified).toBe(true);
    const [mine, theirs] = await Promise.all([
      readFile(join(root, `${name}-downloader`, `${name}.bin`)),
      readFile(join(root, `${name}-seeder`, `${name}.bin`)),
    ]);
    expect(mine.equals(theirs)).toBe(true);
    expect(outcome.sha256).toBe(sha256(theirs));
    return proxy.recorded;
  }

  test('from a tracker that lists the feature: one LOCATE with the manifest, the refreshes without', async () => {
    const { locates, peers } = await downloadThroughProxy('new', false);
    // The first LOCATE fetches the manifest; the scheduler's refresh runs once at its start at least.
    expect(locates.length).toBeGreaterThanOrEqual(2);
    expect(locates[0]).not.toHaveProperty('manifest');
    for (const locate of locates.slice(1)) expect(locate).toEqual({ fileId: locates[0]!.fileId, manifest: false });
    expect(peers[0]).toHaveProperty('manifest');
    for (const answer of peers.slice(1)) expect(answer).not.toHaveProperty('manifest');
  });

  test('from a tracker that does not: every LOCATE is version 1 and every answer has the manifest', async () => {
    const { locates, peers } = await downloadThroughProxy('old', true);
    expect(locates.length).toBeGreaterThanOrEqual(2);
    for (const locate of locates) expect(locate).not.toHaveProperty('manifest');
    for (const answer of peers) expect(answer).toHaveProperty('manifest');
  });
});
