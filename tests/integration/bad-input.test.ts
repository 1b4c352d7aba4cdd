/**
 * Hostile and broken input against real processes: raw TCP bytes to the tracker's port and to a
 * peer's data port, broken lines on a peer's control socket, `swarmlab ctl` exit codes, and file
 * names that would leave the peer's directory. Every bad input gets an answer that says what was
 * wrong, and well-formed clients keep being served meanwhile.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import path from 'node:path';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { encodeChunkRef, encodeJson, MessageType, PROTOCOL_VERSION, RejectReason } from '../../src/protocol';
import type { Message } from '../../src/protocol';
import { MAX_QUEUED_REQUESTS } from '../../src/peer/peer-server';
import { assertBuilt, createSwarm, dumpLogs, handFrame as frame, jsonLines, rawExchange, RawFrameClient, RawLineClient, runCli, sha256, waitFor } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16_384;
const UNKNOWN_FILE_ID = 'ab'.repeat(32);


interface BadCase {
  name: string;
  bytes: Buffer[];
  codes: string[];
}

/** A LIST frame cut short inside its header. */
const truncatedFrame = frame(MessageType.List, 1, '{}').subarray(0, 7);

// Regression (fixed in 6dbb677): a client that sends part of a frame and then half-closes (FIN) used
// to be closed silently; it now gets one ERROR (ERR_MALFORMED_FRAME) before the close.
const TRUNCATED_CODES = ['ERR_MALFORMED_FRAME'];
const BAD_CASES: BadCase[] = [
  { name: 'garbage text (an HTTP request)', bytes: [Buffer.from('GET / HTTP/1.1\r\nHost: swarmlab\r\n\r\n')], codes: ['ERR_FRAME_TOO_LARGE', 'ERR_MALFORMED_FRAME'] },
  { name: 'a length below the header size', bytes: [Buffer.from([0, 0, 0, 2, 0xde, 0xad])], codes: ['ERR_MALFORMED_FRAME'] },
  { name: 'an oversized length prefix', bytes: [Buffer.from([0xff, 0xff, 0xff, 0xff, MessageType.List, 0, 0, 0, 1])], codes: ['ERR_FRAME_TOO_LARGE'] },
  { name: 'an unknown opcode', bytes: [frame(0x7f, 1, '{}')], codes: ['ERR_UNKNOWN_MESSAGE_TYPE'] },
  { name: 'a JSON frame whose body is not JSON', bytes: [frame(MessageType.Locate, 1, '{"fileId": ')], codes: ['ERR_INVALID_BODY'] },
  { name: 'a JSON frame whose body breaks its schema', bytes: [frame(MessageType.Locate, 1, '{"fileId":"../../etc/passwd"}')], codes: ['ERR_INVALID_BODY'] },
  { name: 'a binary frame that is too short', bytes: [frame(MessageType.Request, 1, Buffer.alloc(10))], codes: ['ERR_MALFORMED_FRAME'] },
];

function expectProtocolError(exchange: { messages: Message[]; closed: boolean; decodeError?: string }, codes: string[]): void {
  expect(exchange.decodeError).toBeUndefined();
  const errors = exchange.messages.filter((message) => message.type === MessageType.Error);
  expect(errors).toHaveLength(1);
  const error = errors[0]!;
  expect(error.type).toBe(MessageType.Error);
  if (error.type === MessageType.Error) {
    expect(codes).toContain(error.body.code);
    expect(error.body.message.length).toBeGreaterThan(0);
  }
  expect(exchange.closed).toBe(true);
}

describe('bad input', () => {
  let swarm: LocalSwarm;
  let logs: string[];
  let fileId: string;
  let chunk0: Buffer;

  beforeAll(async () => {
    assertBuilt();
    ({ swarm, logs } = await createSwarm());
    await swarm.startTracker();
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('pub', 'generate', { name: 'served.bin', size: 4 * CHUNK, seed: 'served' });
    const upload = await swarm.control('pub', 'upload');
    fileId = (upload.published as Array<{ fileId: string }>)[0]!.fileId;
    chunk0 = (await readFile(path.join(swarm.peer('pub').dir, 'served.bin'))).subarray(0, CHUNK);
  });

  afterAll(async () => {
    dumpLogs(logs);
    await swarm?.stop();
  });

  describe("the tracker's port", () => {
    let good: RawFrameClient;
    let nextId = 100;

    beforeAll(async () => {
      good = await RawFrameClient.open(swarm.trackerPort);
    });
    afterAll(() => good?.close());

    const expectGoodClientServed = async (): Promise<void> => {
      const requestId = nextId++;
      const answer = await good.exchange(encodeJson(MessageType.List, requestId, {}), requestId);
      expect(answer.type).toBe(MessageType.Files);
      if (answer.type === MessageType.Files) expect(answer.body.files.map((file) => file.name)).toEqual(['served.bin']);
      expect(good.closed).toBe(false);
      // A peer's own tracker link is fine too.
      expect((await swarm.control('pub', 'files')).files).toHaveLength(1);
    };

    test.each(BAD_CASES)('$name gets an ERROR frame and the connection is closed', async ({ bytes, codes }) => {
      const exchange = await rawExchange(swarm.trackerPort, bytes);
      expectProtocolError(exchange, codes);
      await expectGoodClientServed();
    });

    test('a truncated frame, then end of input: the connection is closed and others are still served', async () => {
      const exchange = await rawExchange(swarm.trackerPort, [truncatedFrame], { end: true });
      expect(exchange.closed).toBe(true);
      await expectGoodClientServed();
    });

    test('a truncated frame, then end of input, gets an ERROR frame before the close', async () => {
      expectProtocolError(await rawExchange(swarm.trackerPort, [truncatedFrame], { end: true }), TRUNCATED_CODES);
    });

    test('a valid message the tracker does not take gets an ERROR and the connection stays open', async () => {
      const client = await RawFrameClient.open(swarm.trackerPort);
      try {
        const answer = await client.exchange(encodeChunkRef(MessageType.Request, 9, UNKNOWN_FILE_ID, 0), 9);
        expect(answer).toMatchObject({ type: MessageType.Error, body: { code: 'ERR_UNEXPECTED_MESSAGE' } });
        const list = await client.exchange(encodeJson(MessageType.List, 10, {}), 10);
        expect(list.type).toBe(MessageType.Files);
      } finally {
        client.close();
      }
    });

    test('past 16 refused requests the tracker closes the connection; other clients are still served', async () => {
      const pest = await RawFrameClient.open(swarm.trackerPort);
      try {
        // HEARTBEAT before REGISTER is refused (ERR_NOT_REGISTERED) without breaking the framing.
        for (let id = 1; id <= 17; id++) pest.write(encodeJson(MessageType.Heartbeat, id, {}));
        await waitFor(() => pest.closed, 5_000, 20);
        const errors = pest.messages.filter((message) => message.type === MessageType.Error);
        expect(errors.length).toBeGreaterThanOrEqual(16);
        expect(errors[0]).toMatchObject({ body: { code: 'ERR_NOT_REGISTERED' } });
      } finally {
        pest.close();
      }
      await expectGoodClientServed();
    });

    test('a manifest whose name would leave a directory is refused by the tracker', async () => {
      const client = await RawFrameClient.open(swarm.trackerPort);
      try {
        const registered = await client.exchange(encodeJson(MessageType.Register, 1, { version: PROTOCOL_VERSION, name: 'evil', port: 9 }), 1);
        expect(registered.type).toBe(MessageType.Registered);
        const manifest = { name: '../../escape.txt', size: 4, chunkSize: 1024, chunks: [sha256(Buffer.from('evil'))] };
        const answer = await client.exchange(frame(MessageType.Publish, 2, JSON.stringify({ manifest })), 0).catch(() => undefined);
        const error = answer ?? client.messages.find((message) => message.type === MessageType.Error);
        expect(error).toMatchObject({ type: MessageType.Error, body: { code: 'ERR_INVALID_BODY' } });
      } finally {
        client.close();
      }
      expect((await swarm.control('pub', 'files')).files).toEqual([expect.objectContaining({ name: 'served.bin' })]);
    });
  });

  describe("a peer's data port", () => {
    let good: RawFrameClient;
    let dataPort: number;
    let nextId = 100;

    beforeAll(async () => {
      dataPort = (await swarm.control('pub', 'status')).dataPort as number;
      good = await RawFrameClient.open(dataPort);
      good.write(encodeJson(MessageType.Hello, 0, { version: PROTOCOL_VERSION, peerId: 'raw', name: 'raw-client' }));
      const bitfield = await good.exchange(encodeJson(MessageType.Interested, 1, { fileId }), 1);
      expect(bitfield).toMatchObject({ type: MessageType.Bitfield, body: { fileId } });
    });
    afterAll(() => good?.close());

    const expectGoodClientServed = async (): Promise<void> => {
      const requestId = nextId++;
      const answer = await good.exchange(encodeChunkRef(MessageType.Request, requestId, fileId, 0), requestId);
      expect(answer.type).toBe(MessageType.Chunk);
      if (answer.type === MessageType.Chunk) expect(answer.body.data.equals(chunk0)).toBe(true);
      expect(good.closed).toBe(false);
      expect((await swarm.control('pub', 'files')).files).toHaveLength(1);
    };

    test.each(BAD_CASES)('$name gets an ERROR frame and the connection is closed', async ({ bytes, codes }) => {
      const exchange = await rawExchange(dataPort, bytes);
      expectProtocolError(exchange, codes);
      await expectGoodClientServed();
    });

    test('a truncated frame, then end of input: the connection is closed and others are still served', async () => {
      const exchange = await rawExchange(dataPort, [truncatedFrame], { end: true });
      expect(exchange.closed).toBe(true);
      await expectGoodClientServed();
    });

    test('a truncated frame, then end of input, gets an ERROR frame before the close', async () => {
      expectProtocolError(await rawExchange(dataPort, [truncatedFrame], { end: true }), TRUNCATED_CODES);
    });

    test('past 64 connections from one address the next gets ERR_TOO_MANY_CONNECTIONS; closing them frees the slots', async () => {
      const flood: RawFrameClient[] = [];
      try {
        // The well-formed client holds one slot already.
        for (let i = 0; i < 63; i++) flood.push(await RawFrameClient.open(dataPort));
        const refused = await rawExchange(dataPort, []);
        expectProtocolError(refused, ['ERR_TOO_MANY_CONNECTIONS']);
        await expectGoodClientServed();
      } finally {
        for (const client of flood) client.close();
      }
      // Once they are gone, a new connection is served.
      const fresh = await waitFor(async () => {
        const client = await RawFrameClient.open(dataPort);
        const answer = await client.exchange(encodeJson(MessageType.Interested, 1, { fileId }), 1, 2_000).catch(() => undefined);
        client.close();
        return answer?.type === MessageType.Bitfield ? answer : undefined;
      }, 10_000, 100);
      expect(fresh.type).toBe(MessageType.Bitfield);
    });

    test('REQUEST for a file the peer does not hold gets REJECT (not held)', async () => {
      const answer = await good.exchange(encodeChunkRef(MessageType.Request, 7, UNKNOWN_FILE_ID, 0), 7);
      expect(answer).toMatchObject({ type: MessageType.Reject, body: { fileId: UNKNOWN_FILE_ID, index: 0, reason: RejectReason.NotHeld } });
      // A chunk index past the end of a held file, too.
      const past = await good.exchange(encodeChunkRef(MessageType.Request, 8, fileId, 4), 8);
      expect(past).toMatchObject({ type: MessageType.Reject, body: { fileId, index: 4, reason: RejectReason.NotHeld } });
      await expectGoodClientServed();
    });

    describe('a seeder whose upload is rate-limited (4 KiB/s)', () => {
      let claimsId: string;
      let claimsPort: number;
      const clients: RawFrameClient[] = [];
      const open = async (): Promise<RawFrameClient> => {
        const client = await RawFrameClient.open(claimsPort);
        clients.push(client);
        return client;
      };

      beforeAll(async () => {
        // A seeder of its own: 16 chunks, so the 64 KiB burst of a 4 KiB/s upload leaves most unsent.
        await swarm.startPeer('claims', { chunkSize: CHUNK });
        await swarm.control('claims', 'connect');
        await swarm.control('claims', 'generate', { name: 'claims.bin', size: 16 * CHUNK, seed: 'claims' });
        claimsId = ((await swarm.control('claims', 'upload')).published as Array<{ fileId: string }>)[0]!.fileId;
        await swarm.control('claims', 'rate', { upload: 4096 });
        claimsPort = (await swarm.control('claims', 'status')).dataPort as number;
      });

      afterEach(() => {
        for (const client of clients.splice(0)) client.close();
      });

      afterAll(async () => {
        await swarm.stopPeer('claims');
        await waitFor(async () => ((await swarm.control('pub', 'files')).files as unknown[]).length === 1 || undefined, 10_000, 100);
      });

      // Issue 18 hole 7: an index past the end used to reach the super-seeding policy, which recorded a
      // claim for it (an unbounded map keyed by remote input); a second connection asking for the same
      // index was then told REJECT elsewhere. It is now refused against the manifest first.
      test('an index past the end is refused before it can be claimed', async () => {
        const first = await open();
        const second = await open();
        // Keep the upload busy: eight chunks after a 64 KiB burst take seconds.
        for (let index = 0; index < 8; index++) first.write(encodeChunkRef(MessageType.Request, 10 + index, claimsId, index));
        await waitFor(() => first.messages.some((message) => message.type === MessageType.Chunk), 5_000, 20);
        first.write(encodeChunkRef(MessageType.Request, 20, claimsId, 1000));
        const secondPast = await second.exchange(encodeChunkRef(MessageType.Request, 21, claimsId, 1000), 21);
        expect(secondPast).toMatchObject({ type: MessageType.Reject, body: { index: 1000, reason: RejectReason.NotHeld } });
        const firstPast = await waitFor(() => first.messages.find((message) => message.requestId === 20), 5_000, 20);
        expect(firstPast).toMatchObject({ type: MessageType.Reject, body: { index: 1000, reason: RejectReason.NotHeld } });
      });

      test(`past ${MAX_QUEUED_REQUESTS} queued requests the next ones get REJECT busy, and the connection stays open`, async () => {
        const client = await open();
        const sent = MAX_QUEUED_REQUESTS + 64;
        for (let id = 1; id <= sent; id++) client.write(encodeChunkRef(MessageType.Request, id, claimsId, id % 16));
        const busy = await waitFor(() => {
          const rejects = client.messages.filter((message) => message.type === MessageType.Reject);
          return rejects.length > 0 ? rejects : undefined;
        }, 5_000, 20);
        await new Promise((resolve) => setTimeout(resolve, 200));
        const rejected = client.messages.filter((message) => message.type === MessageType.Reject);
        expect(rejected.length).toBeGreaterThanOrEqual(busy.length);
        for (const reject of rejected) expect(reject).toMatchObject({ body: { reason: RejectReason.Busy } });
        // The queue holds MAX_QUEUED_REQUESTS; only what the serving loop took off it (the burst and the
        // read-ahead) made room for more.
        expect(rejected.length).toBeGreaterThan(0);
        expect(rejected.length).toBeLessThanOrEqual(sent - MAX_QUEUED_REQUESTS);
        expect(Math.min(...rejected.map((message) => message.requestId))).toBeGreaterThan(MAX_QUEUED_REQUESTS);
        expect(client.closed).toBe(false);
      });
    });

    test('past 16 invalid requests the connection is closed; other connections are still served', async () => {
      const pest = await RawFrameClient.open(dataPort);
      try {
        for (let id = 1; id <= 17; id++) pest.write(encodeJson(MessageType.Interested, id, { fileId: UNKNOWN_FILE_ID }));
        await waitFor(() => pest.closed, 5_000, 20);
        expect(pest.messages.filter((message) => message.type === MessageType.Error).length).toBeGreaterThanOrEqual(16);
      } finally {
        pest.close();
      }
      await expectGoodClientServed();
    });

    test('INTERESTED in a file the peer does not hold gets an ERROR and the connection stays open', async () => {
      const answer = await good.exchange(encodeJson(MessageType.Interested, 20, { fileId: UNKNOWN_FILE_ID }), 20);
      expect(answer).toMatchObject({ type: MessageType.Error, body: { code: 'ERR_NOT_HELD' } });
      await expectGoodClientServed();
    });
  });

  describe("a peer's control socket", () => {
    let client: RawLineClient;

    beforeAll(async () => {
      client = await RawLineClient.open(swarm.peer('pub').socket);
    });
    afterAll(() => client?.close());

    test.each([
      { name: 'a line that is not JSON', line: 'this is not json', id: 0 },
      { name: 'a JSON value that is not a request', line: '[1, 2, 3]', id: 0 },
      { name: 'an unknown cmd', line: '{"id": 2, "cmd": "explode"}', id: 2 },
      { name: 'generate without a size', line: '{"id": 3, "cmd": "generate", "args": {"name": "x"}}', id: 3 },
      { name: 'download without a name or id', line: '{"id": 4, "cmd": "download", "args": {}}', id: 4 },
      { name: 'rate with a negative rate', line: '{"id": 5, "cmd": "rate", "args": {"upload": -5}}', id: 5 },
      { name: 'an unexpected argument', line: '{"id": 6, "cmd": "status", "args": {"verbose": true}}', id: 6 },
    ])('$name gets ok:false and the connection still answers status', async ({ line, id }) => {
      const response = await client.send(line);
      expect(response).toMatchObject({ id, ok: false, error: { code: 'ERR_BAD_REQUEST', message: expect.any(String) } });
      const status = await client.send('{"id": 99, "cmd": "status"}');
      expect(status).toMatchObject({ id: 99, ok: true, result: { name: 'pub' } });
      expect(client.closed).toBe(false);
    });

    // Regression (broken by a124e6c, fixed in 645586f): the corked ERR_LINE_TOO_LONG line was discarded
    // by socket.destroy() right after it, so the client saw a bare close.
    test('a line over 64 KiB gets ERR_LINE_TOO_LONG and that connection is closed; a new one is served', async () => {
      const hog = await RawLineClient.open(swarm.peer('pub').socket);
      try {
        const response = await hog.send(`{"id": 1, "cmd": "status", "args": {"pad": "${'x'.repeat(70 * 1024)}"}}`);
        expect(response).toMatchObject({ ok: false, error: { code: 'ERR_LINE_TOO_LONG' } });
        await waitFor(() => hog.closed, 5_000, 20);
      } finally {
        hog.close();
      }
      // Without a newline at all, too.
      const endless = await RawLineClient.open(swarm.peer('pub').socket);
      try {
        endless.socket.write('x'.repeat(70 * 1024));
        await waitFor(() => endless.closed, 5_000, 20);
        expect(endless.lines).toEqual([expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'ERR_LINE_TOO_LONG' }) })]);
      } finally {
        endless.close();
      }
      expect(await swarm.control('pub', 'status')).toMatchObject({ name: 'pub' });
    });

    test('a command that fails gets ok:false with its code, and the connection goes on', async () => {
      const response = await client.send('{"id": 7, "cmd": "download", "args": {"name": "nosuch"}}');
      expect(response).toMatchObject({ id: 7, ok: false, error: { code: 'ERR_NOT_FOUND' } });
      const status = await client.send('{"id": 8, "cmd": "status"}');
      expect(status).toMatchObject({ id: 8, ok: true });
    });
  });

  describe('connect to something that is not a tracker', () => {
    async function withServer(onSocket: (socket: Socket) => void, body: (port: number) => Promise<void>): Promise<void> {
      const sockets = new Set<Socket>();
      const server: Server = createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
        onSocket(socket);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        await body((server.address() as AddressInfo).port);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    }

    beforeAll(async () => {
      await swarm.startPeer('wanderer', { chunkSize: CHUNK });
    });

    const expectStillUsable = async (): Promise<void> => {
      expect(await swarm.control('wanderer', 'status')).toMatchObject({ connected: false });
      expect(await swarm.control('wanderer', 'connect', { tracker: swarm.trackerAddress })).toMatchObject({ tracker: swarm.trackerAddress });
      await swarm.control('wanderer', 'disconnect');
    };

    test('a peer\'s data port: connect fails with a clear error', async () => {
      const dataPort = (await swarm.control('pub', 'status')).dataPort as number;
      const response = await swarm.call('wanderer', 'connect', { tracker: `127.0.0.1:${dataPort}` });
      expect(response).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^ERR_/) } });
      await expectStillUsable();
    });

    test('a server that answers garbage: connect fails with a clear error', async () => {
      await withServer(
        (socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'),
        async (port) => {
          const response = await swarm.call('wanderer', 'connect', { tracker: `127.0.0.1:${port}` });
          expect(response).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^ERR_/) } });
        },
      );
      await expectStillUsable();
    });

    // Regression: TrackerClient.connect used to leave the connection of a failed REGISTER open.
    test('a server that accepts and never answers: connect fails after the request timeout and hangs up', async () => {
      let open = 0;
      await withServer(
        (socket) => {
          open++;
          // Reading (resume) is what lets this side see the peer's FIN and so the close.
          socket.resume();
          socket.on('close', () => open--);
        },
        async (port) => {
          const response = await swarm.call('wanderer', 'connect', { tracker: `127.0.0.1:${port}` });
          expect(response).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^ERR_/) } });
          // The failed attempt does not leave its connection open.
          await waitFor(() => open === 0, 5_000, 50).catch(() => undefined);
          expect(open).toBe(0);
        },
      );
      await expectStillUsable();
    });

    test('a port where nothing listens: ERR_TRACKER_UNREACHABLE', async () => {
      const response = await swarm.call('wanderer', 'connect', { tracker: '127.0.0.1:1' });
      expect(response).toMatchObject({ ok: false, error: { code: 'ERR_TRACKER_UNREACHABLE' } });
      await expectStillUsable();
    });
  });

  describe('swarmlab ctl', () => {
    test('files exits 0 and prints the response as JSON', async () => {
      const run = await runCli(['ctl', '--socket', swarm.peer('pub').socket, '--json', 'files']);
      expect(run.code).toBe(0);
      const [response] = jsonLines(run.stdout);
      expect(response).toMatchObject({ ok: true, result: { files: [expect.objectContaining({ name: 'served.bin' })] } });
    });

    test('download of an unknown file exits non-zero with ok:false', async () => {
      const run = await runCli(['ctl', '--socket', swarm.peer('pub').socket, '--json', 'download', 'nosuch']);
      expect(run.code).not.toBe(0);
      const lines = jsonLines(run.stdout);
      expect(lines[lines.length - 1]).toMatchObject({ ok: false, error: { code: 'ERR_NOT_FOUND' } });
    });

    test('an unknown command and a missing socket exit non-zero with one clear line', async () => {
      const unknown = await runCli(['ctl', '--socket', swarm.peer('pub').socket, 'explode']);
      expect(unknown.code).not.toBe(0);
      expect(unknown.stderr).toMatch(/unknown command "explode"/);
      expect(unknown.stderr).not.toMatch(/^\s+at /m);
      const missing = await runCli(['ctl', '--socket', path.join(swarm.dir, 'nobody.sock'), 'status']);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/cannot reach/);
      expect(missing.stderr).not.toMatch(/^\s+at /m);
    });
  });

  describe('file names that would leave the directory', () => {
    test.each(['../escape.txt', '../../escape.txt', '..', '.', 'sub/inner.txt', '..\\escape.txt', 'nul\u0000byte'])('generate refuses %j', async (name) => {
      const response = await swarm.call('pub', 'generate', { name, size: 10 });
      expect(response.ok).toBe(false);
      if (!response.ok) expect(['ERR_BAD_NAME', 'ERR_BAD_REQUEST']).toContain(response.error.code);
      expect(existsSync(path.join(swarm.dir, 'escape.txt'))).toBe(false);
      expect(existsSync(path.join(path.dirname(swarm.dir), 'escape.txt'))).toBe(false);
    });

    test('download of a name with ../ finds nothing and writes nothing', async () => {
      const response = await swarm.call('pub', 'download', { name: '../served.bin' });
      expect(response).toMatchObject({ ok: false, error: { code: 'ERR_NOT_FOUND' } });
      expect(existsSync(path.join(swarm.dir, 'served.bin'))).toBe(false);
    });
  });
});
