/**
 * Have suppression with real processes: a downloader does not tell a peer about a chunk that peer is
 * known to hold. The other peer here is the test itself, speaking the wire protocol by hand: it
 * registers with the tracker as holding the first half of the file (and refuses every request as busy,
 * so the downloader gets everything from the real seeder), connects to the downloader's data port and
 * says it is interested. Of the chunks the downloader then announces, none is from that first half.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import winston from 'winston';
import { Bitfield, encodeChunkRef, encodeJson, MessageType, PROTOCOL_VERSION, RejectReason } from '../../src/protocol';
import type { Manifest, Message } from '../../src/protocol';
import { FramedConnection } from '../../src/shared/framed-connection';
import { assertBuilt, collector, createSwarm, dumpLogs, RawFrameClient, waitFor } from '../helpers/local';
import type { LoggedSwarm } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16_384;
const CHUNKS = 64;
const CLAIMED = CHUNKS / 2;
const QUIET = winston.createLogger({ silent: true });

describe('have suppression', () => {
  let logged: LoggedSwarm;
  let fakeServer: Server | undefined;
  const clients: Array<{ close(): void }> = [];

  beforeAll(async () => {
    assertBuilt();
    logged = await createSwarm();
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    fakeServer?.close();
    dumpLogs(logged.logs);
    await logged.swarm.stop();
  });

  test('a downloader announces no chunk to a peer that holds it', async () => {
    const { swarm } = logged;
    await swarm.startTracker();
    // Rate-limited, so the download lasts while the fake peer joins it.
    await swarm.startPeer('seed', { chunkSize: CHUNK, uploadRate: 256 * 1024 });
    await swarm.startPeer('leech', { chunkSize: CHUNK });
    await swarm.control('seed', 'connect');
    await swarm.control('leech', 'connect');
    await swarm.control('seed', 'generate', { name: 'suppress.bin', size: CHUNKS * CHUNK });
    const published = (await swarm.control('seed', 'upload')).published as Array<{ fileId: string }>;
    const fileId = published[0]!.fileId;

    // The fake peer's data port: BITFIELD of the first half on INTERESTED, REJECT busy to every REQUEST.
    const claimed = new Bitfield(CHUNKS);
    for (let index = 0; index < CLAIMED; index++) claimed.set(index);
    fakeServer = createServer((socket) => {
      const connection = new FramedConnection(socket, QUIET);
      clients.push(connection);
      connection.on('message', (message: Message) => {
        if (message.type === MessageType.Interested)
          connection.send(MessageType.Bitfield, message.requestId, { fileId, bitfield: claimed.toBase64() });
        else if (message.type === MessageType.Request)
          connection.write(encodeChunkRef(MessageType.Reject, message.requestId, fileId, message.body.index, RejectReason.Busy));
      });
    });
    await new Promise<void>((resolve) => fakeServer!.listen(0, '127.0.0.1', resolve));
    const fakePort = (fakeServer.address() as AddressInfo).port;

    // Registered with the tracker as holding the first half, so LOCATE lists it with that bitfield.
    const tracker = await RawFrameClient.open(swarm.trackerPort);
    clients.push(tracker);
    const registered = await tracker.exchange(
      encodeJson(MessageType.Register, 1, { version: PROTOCOL_VERSION, name: 'fake', port: fakePort, host: '127.0.0.1' }),
      1,
    );
    expect(registered.type).toBe(MessageType.Registered);
    const fakePeerId = (registered.body as { peerId: string }).peerId;
    const located = await tracker.exchange(encodeJson(MessageType.Locate, 2, { fileId }), 2);
    const manifest = (located.body as { manifest: Manifest }).manifest;
    const have = await tracker.exchange(
      encodeJson(MessageType.Have, 3, { fileId, indices: claimed.indices(), manifest }),
      3,
    );
    expect(have.type).toBe(MessageType.Ok);

    const seen = collector();
    const download = swarm.control('leech', 'download', { name: 'suppress.bin' }, seen.onLine);
    download.catch(() => undefined);
    await waitFor(() => seen.events('chunk').length >= 2 || undefined, 20_000, 20);

    // Joins the download as another downloader would, under the id the tracker gave it.
    const dataPort = Number((await swarm.control('leech', 'status')).dataPort);
    const toLeech = await RawFrameClient.open(dataPort);
    clients.push(toLeech);
    toLeech.write(encodeJson(MessageType.Hello, 1, { version: PROTOCOL_VERSION, peerId: fakePeerId, name: 'fake' }));
    const bitfield = await toLeech.exchange(encodeJson(MessageType.Interested, 2, { fileId }), 2);
    expect(bitfield.type).toBe(MessageType.Bitfield);

    const done = await download;
    expect(done.verified).toBe(true);
    expect(done.chunksBySource).toEqual({ seed: CHUNKS });
    const announced = toLeech.messages
      .filter((message) => message.type === MessageType.HaveChunk)
      .map((message) => (message.body as { index: number }).index);
    // Chunks of the second half arrived after the fake peer joined, and were announced to it...
    expect(announced.some((index) => index >= CLAIMED)).toBe(true);
    // ...while none of the first half was: the downloader knew the fake peer held them.
    expect(announced.filter((index) => index < CLAIMED)).toEqual([]);
  });
});
