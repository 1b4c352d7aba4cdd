/**
 * A live fuzz test: at least 10,000 random and mutated frames, over many short TCP connections, to a
 * real tracker's port and a real peer's data port (127.0.0.1 only). Every 500 frames a well-formed
 * client must still be served (LIST → FILES at the tracker; `files` and `status` on the peer's
 * control socket); at the end both processes are alive, their resident memory stayed bounded, and a
 * second peer downloads the published file byte for byte.
 *
 * The PRNG is seeded (xorshift32): the seed is printed, and FUZZ_SEED=<n> replays a run.
 */
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { encodeChunkRef, encodeJson, MAX_FRAME_BYTES, MessageType, PROTOCOL_VERSION } from '../../src/protocol';
import { assertBuilt, createSwarm, dumpLogs, RawFrameClient, sha256, sha256File } from '../helpers/local';

jest.setTimeout(180_000);

const CHUNK = 16_384;
const TOTAL_FRAMES = 20_000;
const CHECK_EVERY = 500;
const BUDGET_MS = 90_000;
/** Concurrent fuzz connections per target (the data server allows 64 per address). */
const WORKERS_PER_TARGET = 8;
/** A connection that has not been closed by the remote this long after our FIN is destroyed. */
const CONNECTION_LINGER_MS = 400;
/** Generous bound on resident memory (bytes). */
const RSS_LIMIT = 300 * 1024 * 1024;

/** xorshift32: tiny, seedable, good enough to pick mutations. */
class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return x;
  }
  int(max: number): number {
    return this.next() % max;
  }
  bool(p = 0.5): boolean {
    return this.next() / 0x100000000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  hex(n: number): string {
    return this.bytes(n).toString('hex');
  }
}

/** A frame built by hand so it can carry anything. */
function frame(type: number, requestId: number, body: Buffer | string): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const out = Buffer.alloc(9 + payload.length);
  out.writeUInt32BE(5 + payload.length, 0);
  out.writeUInt8(type & 0xff, 4);
  out.writeUInt32BE(requestId >>> 0, 5);
  payload.copy(out, 9);
  return out;
}

function randomJsonValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 2 ? 5 : 7)) {
    case 0:
      return rng.int(1 << 30) - (1 << 29);
    case 1:
      return rng.pick(['', '..', '../../etc/passwd', 'a'.repeat(rng.int(300)), '\u0000', rng.hex(32), 'x/y', '\u202e']);
    case 2:
      return rng.bool();
    case 3:
      return null;
    case 4:
      return rng.pick([1e308, -0, 0.5, Number.MAX_SAFE_INTEGER, -1, 4294967296]);
    case 5:
      return Array.from({ length: rng.int(5) }, () => randomJsonValue(rng, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i--) out[rng.pick(['fileId', 'name', 'port', 'version', 'manifest', 'indices', 'chunks', 'size', 'chunkSize', 'peerId', '__proto__', 'constructor', rng.hex(3)])] = randomJsonValue(rng, depth + 1);
      return out;
    }
  }
}

interface Targets {
  fileId: string;
  chunks: number;
  manifest: { name: string; size: number; chunkSize: number; chunks: string[] };
}

/** A well-formed frame of any kind (both ports get every kind). */
function validFrame(rng: Rng, t: Targets): Buffer {
  const id = rng.int(1000);
  const fileId = rng.bool(0.7) ? t.fileId : rng.hex(32);
  const index = rng.int(t.chunks + 2);
  switch (rng.int(15)) {
    case 0:
      return encodeJson(MessageType.List, id, {});
    case 1:
      return encodeJson(MessageType.Locate, id, { fileId });
    case 2:
      return encodeJson(MessageType.Register, id, { version: PROTOCOL_VERSION, name: `fuzz${rng.int(100)}`, port: 1 + rng.int(65535) });
    case 3:
      return encodeJson(MessageType.Heartbeat, id, {});
    case 4: {
      const name = `fz-${rng.hex(4)}.bin`;
      return encodeJson(MessageType.Publish, id, { manifest: { name, size: 10, chunkSize: 1024, chunks: [rng.hex(32)] } });
    }
    case 5:
      return encodeJson(MessageType.Have, id, { fileId, indices: [index], ...(rng.bool() ? { manifest: t.manifest } : {}) });
    case 6:
      return encodeJson(MessageType.Withdraw, id, { fileId });
    case 7:
      return encodeJson(MessageType.Unregister, id, {});
    case 8:
      return encodeJson(MessageType.Hello, id, { version: PROTOCOL_VERSION, peerId: rng.hex(8), name: 'fuzz' });
    case 9:
      return encodeJson(MessageType.Interested, id, { fileId });
    case 10:
    case 11:
      return encodeChunkRef(MessageType.Request, id, fileId, index);
    case 12:
      return encodeChunkRef(MessageType.Cancel, id, fileId, index);
    case 13:
      return encodeChunkRef(MessageType.HaveChunk, 0, fileId, index);
    default:
      return encodeChunkRef(MessageType.Reject, id, fileId, index, rng.int(256));
  }
}

/** One fuzz frame: random bytes, or a valid frame mutated in one of several ways. */
function fuzzFrame(rng: Rng, t: Targets): Buffer {
  const kind = rng.int(10);
  if (kind === 0) return rng.bytes(rng.bool(0.9) ? rng.int(64) : rng.int(4096));
  const base = Buffer.from(validFrame(rng, t));
  switch (kind) {
    case 1: {
      // Flip 1–8 bytes anywhere (header included).
      for (let i = 1 + rng.int(8); i > 0; i--) {
        const at = rng.int(base.length);
        base[at] = (base[at]! ^ (1 + rng.int(255))) & 0xff;
      }
      return base;
    }
    case 2:
      // Truncate.
      return base.subarray(0, rng.int(base.length));
    case 3: {
      // A wrong length: small, off by a little, at or just over the limit, or huge.
      const lengths = [0, 1, 4, 5, 6, base.length - 4 + 1 + rng.int(100), Math.max(0, base.length - 4 - 1 - rng.int(8)), MAX_FRAME_BYTES, MAX_FRAME_BYTES + 1, 0x7fffffff, 0xffffffff, rng.next()];
      base.writeUInt32BE(rng.pick(lengths) >>> 0, 0);
      return base;
    }
    case 4:
      // An unknown (or any) opcode.
      base.writeUInt8(rng.bool(0.7) ? rng.pick([0x00, 0x0f, 0x10, 0x1f, 0x28, 0x7f, 0x80, 0xff]) : rng.int(256), 4);
      return base;
    case 5: {
      // A JSON body with random fields under a JSON opcode.
      const type = rng.pick([MessageType.Register, MessageType.Publish, MessageType.List, MessageType.Locate, MessageType.Have, MessageType.Withdraw, MessageType.Heartbeat, MessageType.Unregister, MessageType.Hello, MessageType.Interested, MessageType.Ok, MessageType.Error, MessageType.Files, MessageType.Peers, MessageType.Bitfield]);
      return frame(type, rng.int(1000), JSON.stringify(randomJsonValue(rng)) ?? 'null');
    }
    case 6: {
      // A binary opcode with a body of a wrong size.
      const type = rng.pick([MessageType.Request, MessageType.Chunk, MessageType.Reject, MessageType.Cancel, MessageType.HaveChunk]);
      return frame(type, rng.int(1000), rng.bytes(rng.int(80)));
    }
    case 7:
      // Garbage appended after a valid frame.
      return Buffer.concat([base, rng.bytes(1 + rng.int(32))]);
    case 8: {
      // A body that is not JSON / not UTF-8 under a JSON opcode.
      const type = rng.pick([MessageType.List, MessageType.Locate, MessageType.Register, MessageType.Publish, MessageType.Hello, MessageType.Interested]);
      return frame(type, rng.int(1000), rng.pick([Buffer.from('{"fileId": '), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from('[]'), Buffer.from('"str"'), rng.bytes(rng.int(40))]));
    }
    default:
      // Left intact: valid frames are part of the mix.
      return base;
  }
}

/** Opens a connection, writes `frames`, half-closes, and waits (bounded) for the remote to close. */
function shortConnection(port: number, frames: Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(finish, CONNECTION_LINGER_MS + 2_000);
    socket.on('connect', () => {
      for (const f of frames) socket.write(f);
      socket.end();
      setTimeout(finish, CONNECTION_LINGER_MS);
    });
    socket.on('data', () => undefined);
    socket.on('error', finish);
    socket.on('close', finish);
  });
}

function rssBytes(pid: number | undefined): Promise<number> {
  if (pid === undefined) throw new Error('no pid');
  return readFile(`/proc/${pid}/status`, 'utf8').then((text) => {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
    if (!match) throw new Error(`no VmRSS for ${pid}`);
    return Number(match[1]) * 1024;
  });
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

describe('live fuzz of the tracker port and a peer data port', () => {
  let swarm: LocalSwarm;
  let logs: string[];
  let targets: Targets;
  let original: string;
  let dataPort: number;
  let tracker: ChildProcess;
  const seed = process.env['FUZZ_SEED'] ? Number(process.env['FUZZ_SEED']) : (Date.now() ^ (process.pid << 16)) >>> 0;

  beforeAll(async () => {
    assertBuilt();
    console.log(`fuzz seed: ${seed} (replay with FUZZ_SEED=${seed})`);
    ({ swarm, logs } = await createSwarm());
    await swarm.startTracker();
    // Private in LocalSwarm; the test needs its pid for /proc.
    tracker = (swarm as unknown as { tracker: ChildProcess }).tracker;
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('pub', 'generate', { name: 'fuzzed.bin', size: 6 * CHUNK + 123, seed: 'fuzz' });
    const upload = await swarm.control('pub', 'upload');
    const fileId = (upload.published as Array<{ fileId: string }>)[0]!.fileId;
    original = await sha256File(path.join(swarm.peer('pub').dir, 'fuzzed.bin'));
    dataPort = (await swarm.control('pub', 'status')).dataPort as number;
    const locator = await RawFrameClient.open(swarm.trackerPort);
    try {
      const peers = await locator.exchange(encodeJson(MessageType.Locate, 1, { fileId }), 1);
      if (peers.type !== MessageType.Peers || !peers.body.manifest) throw new Error(`LOCATE answered ${peers.type} without a manifest`);
      targets = { fileId, chunks: peers.body.manifest.chunks.length, manifest: peers.body.manifest };
    } finally {
      locator.close();
    }
  });

  afterAll(async () => {
    dumpLogs(logs);
    await swarm?.stop();
  });

  const expectStillServed = async (): Promise<void> => {
    const client = await RawFrameClient.open(swarm.trackerPort);
    try {
      const answer = await client.exchange(encodeJson(MessageType.List, 42, {}), 42);
      expect(answer.type).toBe(MessageType.Files);
      if (answer.type === MessageType.Files) expect(answer.body.files.map((file) => file.fileId)).toContain(targets.fileId);
    } finally {
      client.close();
    }
    const files = (await swarm.control('pub', 'files')).files as Array<{ fileId: string }>;
    expect(files.map((file) => file.fileId)).toContain(targets.fileId);
    const status = await swarm.control('pub', 'status');
    expect(status).toMatchObject({ name: 'pub', connected: true });
    // The data port still serves a chunk to a well-formed client.
    const data = await RawFrameClient.open(dataPort);
    try {
      data.write(encodeJson(MessageType.Hello, 0, { version: PROTOCOL_VERSION, peerId: 'checker', name: 'checker' }));
      const bitfield = await data.exchange(encodeJson(MessageType.Interested, 1, { fileId: targets.fileId }), 1);
      expect(bitfield.type).toBe(MessageType.Bitfield);
      const chunk = await data.exchange(encodeChunkRef(MessageType.Request, 2, targets.fileId, 0), 2);
      expect(chunk.type).toBe(MessageType.Chunk);
      if (chunk.type === MessageType.Chunk) expect(sha256(chunk.body.data)).toBe(targets.manifest.chunks[0]);
    } finally {
      data.close();
    }
  };

  test(`${TOTAL_FRAMES}+ random and mutated frames: both keep serving, memory stays bounded, a download verifies`, async () => {
    const rssBefore = { tracker: await rssBytes(tracker.pid), peer: await rssBytes(swarm.peer('pub').process.pid) };
    const deadline = Date.now() + BUDGET_MS;
    const ports = [swarm.trackerPort, dataPort];
    let sent = 0;
    let connections = 0;
    let checks = 0;

    // Connection n is generated from its own PRNG (seed + n) and goes to ports[n % 2], so a run
    // replays the same connections whatever order they interleave in.
    const worker = async (roundTarget: number): Promise<void> => {
      while (sent < roundTarget && Date.now() < deadline) {
        const n = connections++;
        const rng = new Rng((seed + n * 0x9e3779b1) >>> 0);
        const frames = Array.from({ length: 1 + rng.int(rng.bool(0.8) ? 4 : 24) }, () => fuzzFrame(rng, targets));
        sent += frames.length;
        // Sometimes all in one write, so that frames meet inside one TCP segment.
        await shortConnection(ports[n % 2]!, rng.bool(0.2) ? [Buffer.concat(frames)] : frames);
      }
    };

    // Rounds of CHECK_EVERY frames, each followed by a check that well-formed clients are served.
    for (let roundTarget = CHECK_EVERY; sent < TOTAL_FRAMES && Date.now() < deadline; roundTarget += CHECK_EVERY) {
      await Promise.all(Array.from({ length: 2 * WORKERS_PER_TARGET }, () => worker(roundTarget)));
      try {
        expect(alive(tracker)).toBe(true);
        expect(alive(swarm.peer('pub').process)).toBe(true);
        await expectStillServed();
      } catch (error) {
        throw new Error(`after ${sent} frames over ${connections} connections (seed ${seed}): ${String(error)}`);
      }
      checks++;
    }
    console.log(`fuzz: ${sent} frames over ${connections} connections, ${checks} service checks (seed ${seed})`);
    expect(sent).toBeGreaterThanOrEqual(TOTAL_FRAMES);
    expect(checks).toBeGreaterThanOrEqual(TOTAL_FRAMES / CHECK_EVERY);

    expect(alive(tracker)).toBe(true);
    expect(alive(swarm.peer('pub').process)).toBe(true);
    await expectStillServed();
    const rssAfter = { tracker: await rssBytes(tracker.pid), peer: await rssBytes(swarm.peer('pub').process.pid) };
    console.log(`fuzz: VmRSS before ${JSON.stringify(rssBefore)} after ${JSON.stringify(rssAfter)}`);
    expect(rssAfter.tracker).toBeLessThan(RSS_LIMIT);
    expect(rssAfter.peer).toBeLessThan(RSS_LIMIT);

    // A real download by a second peer still verifies.
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('dl', 'connect');
    const result = await swarm.control('dl', 'download', { fileId: targets.fileId });
    expect(result).toMatchObject({ verified: true, sha256: original });
    expect(await sha256File(path.join(swarm.peer('dl').dir, 'fuzzed.bin'))).toBe(original);
  });
});
