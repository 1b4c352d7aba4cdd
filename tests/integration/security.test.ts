/**
 * Security properties against real processes on 127.0.0.1 (issue 5, "Security" and "Bad input"):
 * the control socket is private (0600); half-open connections are closed by idle timeouts; a
 * connection cannot act for another peer id at the tracker; the data server serves only verified
 * chunks (never a path, never a chunk a downloader has not verified yet); file names that would
 * leave a directory are refused by the tracker.
 */
import { stat } from 'node:fs/promises';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { Bitfield, computeFileId, encodeChunkRef, encodeJson, MessageType, PROTOCOL_VERSION, RejectReason } from '../../src/protocol';
import type { Manifest, Message } from '../../src/protocol';
import { assertBuilt, createSwarm, dumpLogs, handFrame as frame, RawFrameClient, sha256, waitFor } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16_384;


/** A small valid manifest whose content (and so file id) is unique to `tag`. */
function manifestOf(name: string, tag: string): Manifest {
  const data = Buffer.from(`content of ${tag}`);
  return { name, size: data.length, chunkSize: 1024, chunks: [sha256(data)] };
}

async function register(port: number, name: string, dataPort: number): Promise<{ client: RawFrameClient; peerId: string }> {
  const client = await RawFrameClient.open(port);
  const answer = await client.exchange(encodeJson(MessageType.Register, 1, { version: PROTOCOL_VERSION, name, port: dataPort }), 1);
  if (answer.type !== MessageType.Registered) throw new Error(`REGISTER ${name} answered ${JSON.stringify(answer)}`);
  return { client, peerId: answer.body.peerId };
}

async function locate(port: number, fileId: string): Promise<Message> {
  const client = await RawFrameClient.open(port);
  try {
    return await client.exchange(encodeJson(MessageType.Locate, 1, { fileId }), 1);
  } finally {
    client.close();
  }
}

/** The holders of `fileId` at the tracker ([] when it is unknown). */
async function holders(port: number, fileId: string): Promise<Array<{ peerId: string; name: string; port: number }>> {
  const answer = await locate(port, fileId);
  return answer.type === MessageType.Peers ? answer.body.peers.map(({ peerId, name, port: p }) => ({ peerId, name, port: p })) : [];
}

/** The answer to `requestId`, or the first ERROR (errors that close a connection carry request id 0). */
async function answerOrError(client: RawFrameClient, frameBytes: Buffer, requestId: number): Promise<Message> {
  client.write(frameBytes);
  return waitFor(() => client.messages.find((message) => message.requestId === requestId || message.type === MessageType.Error), 5_000, 20);
}

describe('security', () => {
  let swarm: LocalSwarm;
  let logs: string[];

  beforeAll(async () => {
    assertBuilt();
    ({ swarm, logs } = await createSwarm());
    await swarm.startTracker();
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
  });

  afterAll(async () => {
    dumpLogs(logs);
    await swarm?.stop();
  });

  test('(a) the control socket is a Unix socket with mode 0600', async () => {
    const info = await stat(swarm.peer('pub').socket);
    expect(info.isSocket()).toBe(true);
    expect((info.mode & 0o777).toString(8)).toBe('600');
  });

  describe('(b) half-open connections: a frame header and then nothing', () => {
    let slow: LocalSwarm;
    let slowLogs: string[];

    beforeAll(async () => {
      ({ swarm: slow, logs: slowLogs } = await createSwarm());
      // Idle timeout at the tracker: 3 heartbeats = 1.5 s.
      await slow.startTracker(0, ['--heartbeat-ms', '500']);
      await slow.startPeer('idle', { chunkSize: CHUNK, extraArgs: ['--idle-timeout-ms', '1000'] });
    });

    afterAll(async () => {
      dumpLogs(slowLogs);
      await slow?.stop();
    });

    /** Writes only the 4-byte length and the opcode of a LIST frame, then waits for the close. */
    const expectHeaderOnlyClosed = async (port: number): Promise<void> => {
      const client = await RawFrameClient.open(port);
      try {
        client.write(frame(MessageType.List, 1, '{}').subarray(0, 5));
        // Bounded wait, not a timing assertion: a few times the idle timeout.
        await waitFor(() => client.closed, 10_000, 50);
        expect(client.closed).toBe(true);
      } finally {
        client.close();
      }
    };

    test('the tracker (--heartbeat-ms 500) closes it', async () => {
      await expectHeaderOnlyClosed(slow.trackerPort);
      // The tracker still serves others.
      const client = await RawFrameClient.open(slow.trackerPort);
      try {
        expect((await client.exchange(encodeJson(MessageType.List, 2, {}), 2)).type).toBe(MessageType.Files);
      } finally {
        client.close();
      }
    });

    test("a peer's data port (--idle-timeout-ms 1000) closes it", async () => {
      const dataPort = (await slow.control('idle', 'status')).dataPort as number;
      await expectHeaderOnlyClosed(dataPort);
      // A connection that sent nothing at all, too.
      const silent = await RawFrameClient.open(dataPort);
      try {
        await waitFor(() => silent.closed, 10_000, 50);
      } finally {
        silent.close();
      }
      expect(await slow.control('idle', 'status')).toMatchObject({ name: 'idle' });
    });
  });

  describe('(c) a connection cannot act for another peer id', () => {
    test('PUBLISH and HAVE on A only affect A; WITHDRAW and UNREGISTER on A leave B alone', async () => {
      const a = await register(swarm.trackerPort, 'alice', 40001);
      const b = await register(swarm.trackerPort, 'bob', 40002);
      try {
        expect(a.peerId).not.toBe(b.peerId);

        const published = manifestOf('a-published.txt', `a1-${Date.now()}`);
        const answer = await a.client.exchange(encodeJson(MessageType.Publish, 2, { manifest: published }), 2);
        expect(answer).toMatchObject({ type: MessageType.Published, body: { fileId: computeFileId(published) } });
        expect(await holders(swarm.trackerPort, computeFileId(published))).toEqual([{ peerId: a.peerId, name: 'alice', port: 40001 }]);

        const had = manifestOf('a-had.txt', `a2-${Date.now()}`);
        const ok = await a.client.exchange(encodeJson(MessageType.Have, 3, { fileId: computeFileId(had), indices: [0], manifest: had }), 3);
        expect(ok.type).toBe(MessageType.Ok);
        expect(await holders(swarm.trackerPort, computeFileId(had))).toEqual([{ peerId: a.peerId, name: 'alice', port: 40001 }]);

        // B publishes its own file; A withdrawing it does not remove B.
        const bobs = manifestOf('b-published.txt', `b1-${Date.now()}`);
        expect((await b.client.exchange(encodeJson(MessageType.Publish, 2, { manifest: bobs }), 2)).type).toBe(MessageType.Published);
        await a.client.exchange(encodeJson(MessageType.Withdraw, 4, { fileId: computeFileId(bobs) }), 4);
        expect(await holders(swarm.trackerPort, computeFileId(bobs))).toEqual([{ peerId: b.peerId, name: 'bob', port: 40002 }]);

        // UNREGISTER on A: A's files go, B's stay.
        expect((await a.client.exchange(encodeJson(MessageType.Unregister, 5, {}), 5)).type).toBe(MessageType.Ok);
        expect(await holders(swarm.trackerPort, computeFileId(published))).toEqual([]);
        expect(await holders(swarm.trackerPort, computeFileId(bobs))).toEqual([{ peerId: b.peerId, name: 'bob', port: 40002 }]);
        expect((await b.client.exchange(encodeJson(MessageType.Heartbeat, 3, {}), 3)).type).toBe(MessageType.Ok);
        expect(b.client.closed).toBe(false);
      } finally {
        a.client.close();
        b.client.close();
      }
    });

    test('a connection that never registered gets ERR_NOT_REGISTERED for PUBLISH, HAVE, WITHDRAW and HEARTBEAT', async () => {
      const manifest = manifestOf('stranger.txt', `s-${Date.now()}`);
      const fileId = computeFileId(manifest);
      const stranger = await RawFrameClient.open(swarm.trackerPort);
      try {
        const frames: Array<[string, Buffer]> = [
          ['PUBLISH', encodeJson(MessageType.Publish, 1, { manifest })],
          ['HAVE', encodeJson(MessageType.Have, 2, { fileId, indices: [0], manifest })],
          ['WITHDRAW', encodeJson(MessageType.Withdraw, 3, { fileId })],
          ['HEARTBEAT', encodeJson(MessageType.Heartbeat, 4, {})],
        ];
        for (const [index, [name, bytes]] of frames.entries()) {
          const answer = await stranger.exchange(bytes, index + 1);
          expect({ name, answer }).toMatchObject({ name, answer: { type: MessageType.Error, body: { code: 'ERR_NOT_REGISTERED' } } });
        }
      } finally {
        stranger.close();
      }
      expect(await holders(swarm.trackerPort, fileId)).toEqual([]);
    });

    test("REGISTER cannot claim another peer's id", async () => {
      const b = await register(swarm.trackerPort, 'bob2', 40003);
      const mallory = await RawFrameClient.open(swarm.trackerPort);
      try {
        const body = JSON.stringify({ version: PROTOCOL_VERSION, name: 'mallory', port: 40004, peerId: b.peerId });
        const answer = await answerOrError(mallory, frame(MessageType.Register, 1, body), 1);
        // Either refused outright, or given a fresh id of its own.
        if (answer.type === MessageType.Registered) expect(answer.body.peerId).not.toBe(b.peerId);
        else expect(answer).toMatchObject({ type: MessageType.Error, body: { code: 'ERR_INVALID_BODY' } });
        expect((await b.client.exchange(encodeJson(MessageType.Heartbeat, 2, {}), 2)).type).toBe(MessageType.Ok);
      } finally {
        mallory.close();
        b.client.close();
      }
    });
  });

  describe('(d) the data server serves only verified chunks, never a path', () => {
    test('REQUEST for a random file id gets REJECT (not held)', async () => {
      const dataPort = (await swarm.control('pub', 'status')).dataPort as number;
      const client = await RawFrameClient.open(dataPort);
      try {
        client.write(encodeJson(MessageType.Hello, 0, { version: PROTOCOL_VERSION, peerId: 'raw', name: 'raw' }));
        const randomId = sha256(Buffer.from(`random ${Date.now()} ${Math.random()}`));
        const answer = await client.exchange(encodeChunkRef(MessageType.Request, 7, randomId, 0), 7);
        expect(answer).toMatchObject({ type: MessageType.Reject, body: { fileId: randomId, index: 0, reason: RejectReason.NotHeld } });
      } finally {
        client.close();
      }
    });

    test('a downloader serves the chunks it has verified, and REJECTs those it has not', async () => {
      const CHUNKS = 32;
      // 16 KiB/s from the only source: about one chunk a second, so the download is slow.
      await swarm.startPeer('slowsrc', { chunkSize: CHUNK, uploadRate: CHUNK });
      await swarm.control('slowsrc', 'connect');
      await swarm.control('slowsrc', 'generate', { name: 'slow.bin', size: CHUNKS * CHUNK, seed: 'slow' });
      const upload = await swarm.control('slowsrc', 'upload');
      const fileId = (upload.published as Array<{ fileId: string }>)[0]!.fileId;
      const located = await locate(swarm.trackerPort, fileId);
      if (located.type !== MessageType.Peers || !located.body.manifest) throw new Error(`LOCATE answered ${JSON.stringify(located)}`);
      const manifest = located.body.manifest;
      expect(manifest.chunks).toHaveLength(CHUNKS);

      await swarm.startPeer('leech', { chunkSize: CHUNK });
      await swarm.control('leech', 'connect');
      // Not awaited: it is still running while we probe; afterAll stops the peer.
      const download = swarm.call('leech', 'download', { fileId }).catch(() => undefined);
      const leechPort = (await swarm.control('leech', 'status')).dataPort as number;

      const probe = await RawFrameClient.open(leechPort);
      try {
        probe.write(encodeJson(MessageType.Hello, 0, { version: PROTOCOL_VERSION, peerId: 'probe', name: 'probe' }));
        // Ask until the leech has some chunks but not all (an ERROR while it has none yet is fine).
        let requestId = 100;
        const bitfield = await waitFor(async () => {
          const id = requestId++;
          const answer = await probe.exchange(encodeJson(MessageType.Interested, id, { fileId }), id);
          if (answer.type !== MessageType.Bitfield) return undefined;
          const bits = Bitfield.fromBase64(CHUNKS, answer.body.bitfield);
          return bits.count > 0 && !bits.complete ? bits : undefined;
        }, 30_000, 200);
        expect(probe.closed).toBe(false);

        const held = bitfield.indices()[0]!;
        const missing = [...Array(CHUNKS).keys()].filter((index) => !bitfield.has(index));
        // The last missing one: the furthest from being fetched next.
        const notHeld = missing[missing.length - 1]!;

        const chunk = await probe.exchange(encodeChunkRef(MessageType.Request, 1, fileId, held), 1);
        expect(chunk).toMatchObject({ type: MessageType.Chunk, body: { fileId, index: held } });
        if (chunk.type === MessageType.Chunk) expect(sha256(chunk.body.data)).toBe(manifest.chunks[held]);

        const reject = await probe.exchange(encodeChunkRef(MessageType.Request, 2, fileId, notHeld), 2);
        if (reject.type === MessageType.Chunk) {
          // Only acceptable if the leech verified it meanwhile and said so (HAVE_CHUNK) before serving it.
          const position = probe.messages.indexOf(reject);
          const announced = probe.messages.slice(0, position).some((message) => message.type === MessageType.HaveChunk && message.body.index === notHeld);
          expect(announced).toBe(true);
          expect(sha256(reject.body.data)).toBe(manifest.chunks[notHeld]);
        } else {
          expect(reject).toMatchObject({ type: MessageType.Reject, body: { fileId, index: notHeld, reason: RejectReason.NotHeld } });
        }
      } finally {
        probe.close();
        await swarm.stopPeer('leech');
        await download;
      }
    });
  });

  describe('(e) file names that would leave a directory are refused by the tracker', () => {
    const BAD_NAMES: Array<[string, string]> = [
      ['..', '..'],
      ['.', '.'],
      ['../escape.txt', '../escape.txt'],
      ['../../etc/passwd', '../../etc/passwd'],
      ['/etc/passwd (absolute)', '/etc/passwd'],
      ['sub/inner.txt', 'sub/inner.txt'],
      ['..\\escape.txt', '..\\escape.txt'],
      ['NUL byte', 'nul\u0000byte.txt'],
      ['newline', 'line\nbreak.txt'],
      ['carriage return', 'cr\rx.txt'],
      ['escape (ESC)', 'esc\u001b[31mred.txt'],
      ['\\x01', 'ctl\u0001.txt'],
      ['DEL', 'del\u007f.txt'],
      ['256 bytes', 'x'.repeat(256)],
      ['empty', ''],
    ];

    test.each(BAD_NAMES)('PUBLISH of a name with %s gets ERR_INVALID_BODY', async (_label, name) => {
      const { client } = await register(swarm.trackerPort, 'namer', 40010);
      try {
        const manifest = manifestOf(name, `e-${Date.now()}-${Math.random()}`);
        const answer = await answerOrError(client, frame(MessageType.Publish, 2, JSON.stringify({ manifest })), 2);
        expect(answer).toMatchObject({ type: MessageType.Error, body: { code: 'ERR_INVALID_BODY' } });
        // And not listed.
        expect(await holders(swarm.trackerPort, computeFileId(manifest))).toEqual([]);
      } finally {
        client.close();
      }
    });

    test.each(BAD_NAMES.slice(0, 8))('HAVE carrying a manifest named %s gets ERR_INVALID_BODY', async (_label, name) => {
      const { client } = await register(swarm.trackerPort, 'namer', 40011);
      try {
        const manifest = manifestOf(name, `h-${Date.now()}-${Math.random()}`);
        const body = JSON.stringify({ fileId: computeFileId(manifest), indices: [0], manifest });
        const answer = await answerOrError(client, frame(MessageType.Have, 2, body), 2);
        expect(answer).toMatchObject({ type: MessageType.Error, body: { code: 'ERR_INVALID_BODY' } });
      } finally {
        client.close();
      }
    });

    // Regression: the C1 controls U+0080–U+009F (an 8-bit CSI can inject terminal escapes when a name
    // is printed) used to pass the name check and the peer's sanitiser.
    test('a name with a C1 control character (U+009B, 8-bit CSI) is refused too', async () => {
      const { client } = await register(swarm.trackerPort, 'namer', 40012);
      try {
        const manifest = manifestOf('csi\u009b31mred.txt', `c1-${Date.now()}`);
        const answer = await answerOrError(client, frame(MessageType.Publish, 2, JSON.stringify({ manifest })), 2);
        expect(answer).toMatchObject({ type: MessageType.Error, body: { code: 'ERR_INVALID_BODY' } });
      } finally {
        client.close();
      }
    });
  });
});
