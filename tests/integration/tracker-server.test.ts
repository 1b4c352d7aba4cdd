/**
 * The tracker over real sockets on 127.0.0.1: its cached LOCATE answers follow every HAVE, WITHDRAW,
 * departure and expiry; pipelined requests are all answered, in order, whether they arrive in one read
 * or a byte at a time; the idle sweep closes silent connections and expires their peers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import winston from 'winston';
import { computeFileId, encodeJson, MessageType, PROTOCOL_VERSION } from '../../src/protocol';
import type { Manifest, Message, PeersBody } from '../../src/protocol';
import { TrackerServer } from '../../src/tracker/tracker-server';
import { RawFrameClient, sha256, waitFor } from '../helpers/local';

// Generous for a loaded machine; every wait inside is bounded on its own.
jest.setTimeout(60_000);

/** Short, so that expiry (3 heartbeats) happens within the test; the bounded wait for it is many times this. */
const HEARTBEAT_MS = 500;
const QUIET = winston.createLogger({ silent: true });

const manifest: Manifest = {
  name: 'cached.bin',
  size: 3 * 1024,
  chunkSize: 1024,
  chunks: ['a', 'b', 'c'].map((seed) => sha256(Buffer.from(seed))),
};
const fileId = computeFileId(manifest);

let nextRequestId = 1;

async function registered(port: number, name: string, dataPort: number): Promise<RawFrameClient> {
  const client = await RawFrameClient.open(port);
  const requestId = nextRequestId++;
  const answer = await client.exchange(
    encodeJson(MessageType.Register, requestId, { version: PROTOCOL_VERSION, name, port: dataPort }),
    requestId,
  );
  expect(answer.type).toBe(MessageType.Registered);
  return client;
}

async function ask(client: RawFrameClient, frame: (requestId: number) => Buffer): Promise<Message> {
  const requestId = nextRequestId++;
  return client.exchange(frame(requestId), requestId);
}

/** The holders LOCATE lists, as `name:bitfield`, or the ERROR code. */
async function holders(client: RawFrameClient): Promise<string[] | string> {
  const answer = await ask(client, (id) => encodeJson(MessageType.Locate, id, { fileId }));
  if (answer.type === MessageType.Error) return answer.body.code;
  expect(answer.type).toBe(MessageType.Peers);
  return (answer.body as PeersBody).peers.map((peer) => `${peer.name}:${peer.bitfield}`).sort();
}

/** A tracker on 127.0.0.1 for the tests of one describe, and registered clients closed after them. */
function trackerFixture(heartbeatMs: number): {
  open: (name: string, dataPort: number) => Promise<RawFrameClient>;
  openUnregistered: () => Promise<RawFrameClient>;
} {
  let tracker: TrackerServer;
  const clients: RawFrameClient[] = [];
  beforeAll(async () => {
    tracker = new TrackerServer({ host: '127.0.0.1', port: 0, heartbeatMs }, { logger: QUIET });
    await tracker.start();
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await tracker?.stop();
  });
  return {
    open: async (name, dataPort) => {
      const client = await registered(tracker.port, name, dataPort);
      clients.push(client);
      return client;
    },
    openUnregistered: async () => {
      const client = await RawFrameClient.open(tracker.port);
      clients.push(client);
      return client;
    },
  };
}

describe('tracker server: cached answers', () => {
  // No peer expires during this test.
  const { open } = trackerFixture(60_000);

  test('LOCATE follows every HAVE, WITHDRAW and departure (never a stale holder)', async () => {
    const seeder = await open('seeder', 4001);
    const leecher = await open('leecher', 4002);
    const observer = await open('observer', 4003);
    expect(await holders(observer)).toBe('ERR_UNKNOWN_FILE');
    expect((await ask(seeder, (id) => encodeJson(MessageType.Publish, id, { manifest }))).type).toBe(
      MessageType.Published,
    );
    expect(await holders(observer)).toEqual(['seeder:4A==']);
    // The same answer twice comes from the cache; the HAVE must drop it.
    expect(await holders(observer)).toEqual(['seeder:4A==']);
    expect((await ask(leecher, (id) => encodeJson(MessageType.Have, id, { fileId, indices: [1] }))).type).toBe(
      MessageType.Ok,
    );
    expect(await holders(observer)).toEqual(['leecher:QA==', 'seeder:4A==']);
    // A peer is not listed in its own answer.
    expect(await holders(leecher)).toEqual(['seeder:4A==']);
    await ask(leecher, (id) => encodeJson(MessageType.Have, id, { fileId, indices: [0, 2] }));
    expect(await holders(observer)).toEqual(['leecher:4A==', 'seeder:4A==']);
    await ask(seeder, (id) => encodeJson(MessageType.Withdraw, id, { fileId }));
    expect(await holders(observer)).toEqual(['leecher:4A==']);
    leecher.close();
    await waitFor(async () => (await holders(observer)) === 'ERR_UNKNOWN_FILE', 5_000, 20);
  });
});

describe('tracker server: expiry', () => {
  const { open, openUnregistered } = trackerFixture(HEARTBEAT_MS);

  test('a silent peer expires by the idle sweep, and LOCATE stops listing it', async () => {
    const silent = await open('silent', 4004);
    await ask(silent, (id) => encodeJson(MessageType.Publish, id, { manifest }));
    // Warms the cached answer. (On a stalled machine the peer may already have expired: then the
    // answer is ERR_UNKNOWN_FILE, and the check below still holds.)
    const early = await holders(await openUnregistered());
    expect([['silent:4A=='], 'ERR_UNKNOWN_FILE']).toContainEqual(early);
    // Bounded wait, not a timing assertion: many times the 3-heartbeat timeout.
    await waitFor(() => silent.closed, 10_000, 20);
    // A fresh connection: the sweep closes silent unregistered ones too.
    expect(await holders(await openUnregistered())).toBe('ERR_UNKNOWN_FILE');
  });
});

describe('tracker server: pipelining', () => {
  // The default heartbeat: no keep-alive frames may cut into the byte-by-byte stream.
  const { open } = trackerFixture(5_000);

  test('pipelined requests are all answered in order, in one read or a byte at a time', async () => {
    const client = await open('pipeliner', 4006);
    await ask(client, (id) => encodeJson(MessageType.Publish, id, { manifest }));
    const first = nextRequestId;
    const frames = Array.from({ length: 50 }, (_, i) =>
      i % 2 === 0
        ? encodeJson(MessageType.Locate, first + i, { fileId })
        : encodeJson(MessageType.Have, first + i, { fileId, indices: [i % 3] }),
    );
    nextRequestId += frames.length;
    const batch = Buffer.concat(frames);
    const answers = (): number[] =>
      client.messages.filter((message) => message.requestId >= first).map((message) => message.requestId);
    client.write(batch);
    await waitFor(() => answers().length === frames.length || undefined, 5_000, 20);
    // A few frames a byte at a time: every read but the last of each frame ends inside it.
    const firstByByte = nextRequestId;
    const byByte = frames
      .slice(0, 6)
      .map((_, i) =>
        i % 2 === 0
          ? encodeJson(MessageType.Locate, firstByByte + i, { fileId })
          : encodeJson(MessageType.Have, firstByByte + i, { fileId, indices: [i % 3] }),
      );
    nextRequestId += byByte.length;
    for (const byte of Buffer.concat(byByte)) {
      client.write(Buffer.from([byte]));
      // Lets the bytes go out one per write (no coalescing into one read).
      await sleep(0);
    }
    await waitFor(() => answers().length === frames.length + byByte.length || undefined, 10_000, 20);
    expect(answers()).toEqual([...frames.map((_, i) => first + i), ...byByte.map((_, i) => firstByByte + i)]);
    expect(client.messages.some((message) => message.type === MessageType.Error)).toBe(false);
    const peers = client.messages.filter((message) => message.type === MessageType.Peers);
    // Every other request was a LOCATE.
    expect(peers).toHaveLength(frames.length / 2 + byByte.length / 2);
    // The pipeliner holds the file, so it is left out of its own answers.
    for (const message of peers) expect((message.body as PeersBody).peers).toEqual([]);
  });
});

/** Registers with a lease on `client`; returns what REGISTERED gave. */
async function registerLeased(client: RawFrameClient, name: string, dataPort: number): Promise<{ peerId: string; key: string }> {
  const answer = await ask(client, (id) =>
    encodeJson(MessageType.Register, id, { version: PROTOCOL_VERSION, name, port: dataPort, lease: true }),
  );
  expect(answer.type).toBe(MessageType.Registered);
  const body = answer.body as { peerId: string; key?: string };
  expect(body.key).toMatch(/^[0-9a-f]{32}$/);
  return { peerId: body.peerId, key: body.key! };
}

/** REGISTER `resume` on `client`: the peer id it answers with, or the ERROR code. */
async function resume(client: RawFrameClient, lease: { peerId: string; key: string }): Promise<string> {
  const answer = await ask(client, (id) =>
    encodeJson(MessageType.Register, id, { version: PROTOCOL_VERSION, name: 'ignored', port: 1, resume: lease }),
  );
  if (answer.type === MessageType.Error) return answer.body.code;
  expect(answer.type).toBe(MessageType.Registered);
  return (answer.body as { peerId: string }).peerId;
}

describe('tracker server: leased peers (no connection of their own)', () => {
  // No connection-bound peer expires during the first test.
  const { open, openUnregistered } = trackerFixture(60_000);

  test('a leased peer outlives its connection, comes back with its key, and only with it', async () => {
    const first = await openUnregistered();
    const lease = await registerLeased(first, 'leased', 4010);
    await ask(first, (id) => encodeJson(MessageType.Publish, id, { manifest }));
    first.close();
    await waitFor(() => first.closed, 5_000, 20);
    const observer = await open('observer-l', 4011);
    // Hung up, still listed: the lease, not the connection, keeps it.
    await sleep(100);
    expect(await holders(observer)).toEqual(['leased:4A==']);

    expect(await resume(await openUnregistered(), { peerId: lease.peerId, key: 'f'.repeat(32) })).toBe('ERR_UNKNOWN_PEER');
    expect(await resume(await openUnregistered(), { peerId: 'a'.repeat(16), key: lease.key })).toBe('ERR_UNKNOWN_PEER');
    const second = await openUnregistered();
    expect(await resume(second, lease)).toBe(lease.peerId);
    // Speaks for the same peer: its WITHDRAW removes the replica the first connection published.
    await ask(second, (id) => encodeJson(MessageType.Withdraw, id, { fileId }));
    expect(await holders(observer)).toBe('ERR_UNKNOWN_FILE');
    await ask(second, (id) => encodeJson(MessageType.Have, id, { fileId, indices: [2], manifest }));
    expect(await holders(observer)).toEqual(['leased:IA==']);
    // UNREGISTER ends a lease at once.
    expect((await ask(second, (id) => encodeJson(MessageType.Unregister, id, {}))).type).toBe(MessageType.Ok);
    expect(await holders(observer)).toBe('ERR_UNKNOWN_FILE');
    expect(await resume(await openUnregistered(), lease)).toBe('ERR_UNKNOWN_PEER');
  });

  test('a connection-bound peer cannot be resumed, and a bound connection cannot resume another', async () => {
    const bound = await open('bound', 4012);
    const other = await registerLeased(await openUnregistered(), 'other', 4013);
    expect(await resume(bound, other)).toBe('ERR_ALREADY_REGISTERED');
  });
});

describe('tracker server: lease expiry', () => {
  const { openUnregistered } = trackerFixture(HEARTBEAT_MS);

  test('a leased peer that renews on fresh connections stays; one that falls silent expires', async () => {
    const renewing = await registerLeased(await openUnregistered(), 'renewing', 4014);
    const silentClient = await openUnregistered();
    const silent = await registerLeased(silentClient, 'silent-l', 4015);
    await ask(silentClient, (id) => encodeJson(MessageType.Publish, id, { manifest }));
    silentClient.close();
    // Bounded wait, not a timing assertion: the silent lease goes within a few heartbeats, while the
    // other renews every half heartbeat, each time on a new connection that it then closes.
    const deadline = Date.now() + 15_000;
    let silentGone = false;
    while (!silentGone && Date.now() < deadline) {
      const client = await openUnregistered();
      expect(await resume(client, renewing)).toBe(renewing.peerId);
      silentGone = (await holders(client)) === 'ERR_UNKNOWN_FILE';
      client.close();
      await sleep(HEARTBEAT_MS / 2);
    }
    expect(silentGone).toBe(true);
    expect(await resume(await openUnregistered(), silent)).toBe('ERR_UNKNOWN_PEER');
    // Still registered, by its renewals alone.
    expect(await resume(await openUnregistered(), renewing)).toBe(renewing.peerId);
  });
});

// Issue 18 claim: the tracker's per-address connection cap. Refused before anything is buffered for
// the connection; the connections already open keep being served, and a closed one frees its slot.
describe('connections per address', () => {
  const CAP = 8;
  let tracker: TrackerServer;
  const clients: RawFrameClient[] = [];

  beforeAll(async () => {
    tracker = new TrackerServer({ host: '127.0.0.1', port: 0, maxConnectionsPerAddress: CAP }, { logger: QUIET });
    await tracker.start();
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await tracker?.stop();
  });

  const list = async (client: RawFrameClient): Promise<Message> => ask(client, (id) => encodeJson(MessageType.List, id, {}));

  test(`past ${CAP} connections from one address the next gets ERR_TOO_MANY_CONNECTIONS and is closed; closing one frees a slot`, async () => {
    for (let i = 0; i < CAP; i++) clients.push(await RawFrameClient.open(tracker.port));
    // Every one of them is counted (each has been answered once).
    for (const client of clients) expect((await list(client)).type).toBe(MessageType.Files);

    const refused = await RawFrameClient.open(tracker.port);
    await waitFor(() => refused.closed, 5_000, 20);
    expect(refused.messages).toMatchObject([{ type: MessageType.Error, body: { code: 'ERR_TOO_MANY_CONNECTIONS' } }]);
    expect((await list(clients[0]!)).type).toBe(MessageType.Files);

    clients.shift()!.close();
    const admitted = await waitFor(async () => {
      const client = await RawFrameClient.open(tracker.port);
      const requestId = nextRequestId++;
      const answer = await client.exchange(encodeJson(MessageType.List, requestId, {}), requestId, 1_000).catch(() => undefined);
      if (answer?.type === MessageType.Files) return client;
      client.close();
      return undefined;
    }, 5_000, 50);
    clients.push(admitted);
  });
});
