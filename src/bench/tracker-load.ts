/**
 * A bounded load generator against a real `swarmlab tracker` process on loopback.
 *
 * 1. Registers `peers` leased peers, each on its own TCP connection that it closes once REGISTERED
 *    (an idle peer between announces), then `peers` peers bound to their connections, which stay open.
 *    The tracker allows 1024 connections per remote address, so the connections are spread over source
 *    addresses 127.0.0.2, 127.0.0.3, ... (any 127/8 address works as a source on Linux loopback).
 * 2. Memory per registered peer, for each kind, is the marginal cost: the tracker's RSS after the first
 *    fifth of the peers and after all of them, each read right after a full GC (the tracker runs with --expose-gc
 *    and a preload that answers SIGUSR2 with its memoryUsage()), divided by the peers in between; and
 *    the live JS heap's share of it. V8's young generation is pinned at its largest size in the
 *    tracker (--min-semi-space-size): it would otherwise grow by up to 32 MiB while the peers
 *    register, a one-off that does not grow with the peers but would dwarf their cost at 10,000.
 *    Only the tracker process is counted; the load peers' sockets live in this process.
 * 3. Publishes `files` small manifests, one per bound peer.
 * 4. Pipelines HAVE, then LOCATE, on a few extra connections with a window of requests in flight, and
 *    counts answers per second. Requests are encoded once with encodeJson and replayed; answers are
 *    only counted (frame headers), not decoded, so the generator stays cheaper than the tracker.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  computeFileId,
  encodeJson,
  FRAME_HEADER_BYTES,
  FRAME_OVERHEAD_BYTES,
  MessageType,
  PROTOCOL_VERSION,
} from '../protocol';
import type { Manifest } from '../protocol';
import { SwarmlabError } from '../shared/errors';
import { FramedConnection } from '../shared/framed-connection';
import { createLogger } from '../shared/logger';
import { cpuUsageSeconds, procCpuSeconds } from './footprint';
import { registerTeardown } from './teardown';
import type { TrackerLoadResult } from './types';
import { BenchErrorCode } from './errors';
import { CliErrorCode } from '../cli/errors';

/** Below the tracker's default of 1024 connections per remote address. */
const PEERS_PER_SOURCE_ADDRESS = 1000;
const REGISTER_CONCURRENCY = 128;
/** Long enough that no idle load peer is expired during the run. */
const TRACKER_HEARTBEAT_MS = 600_000;
const TRACKER_START_TIMEOUT_MS = 10_000;
const PHASE_TIMEOUT_MS = 120_000;
/** The first peers register before memory is first read: they take the one-off costs (the young generation's pages). */
const WARM_UP_PEER_SHARE = 0.2;
/** V8's default largest semi-space on 64-bit, in MiB; the tracker's young generation is pinned at it. */
const SEMI_SPACE_MB = 16;
/** Lets the last registrations' garbage and socket buffers settle before memory is read. */
const SETTLE_MS = 500;
const MEMORY_REPORT_TIMEOUT_MS = 10_000;
/** Marks the preload's memory report among the tracker's JSON log lines on stderr. */
const MEMORY_REPORT_KEY = 'benchTrackerMemory';
/**
 * Loaded into the tracker with --require: on SIGUSR2, two full GCs (the second collects what the first
 * one's finalisers freed), then one line with the process's memory on stderr. At start-up it runs
 * short-lived garbage through the whole young generation once, so that its pages are resident before
 * the first reading and are not charged to the peers registered after it.
 */
const MEMORY_PRELOAD = `
{
  let garbage = [];
  for (let i = 0; i < 3e6; i++) {
    garbage.push({ i, pair: [i, i] });
    if (garbage.length > 20000) garbage = [];
  }
}
process.on('SIGUSR2', () => {
  global.gc();
  global.gc();
  const { rss, heapUsed, external } = process.memoryUsage();
  process.stderr.write(JSON.stringify({ ${MEMORY_REPORT_KEY}: { rss, heapUsed, external } }) + '\\n');
});
`;
const LOAD_FILE_CHUNK_BYTES = 1024;
const LOAD_FILE_CHUNKS = 4;

export interface TrackerLoadInit {
  cliPath: string;
  peers: number;
  files: number;
  /** LOCATE requests in the timed phase (and as many HAVE messages). */
  requests: number;
  connections: number;
  /** Requests in flight per connection. */
  window: number;
}

export async function runTrackerLoad(init: TrackerLoadInit): Promise<TrackerLoadResult> {
  const tracker = await startTracker(init.cliPath);
  const unregister = registerTeardown(() => tracker.stop());
  const logger = createLogger('bench');
  const peers: FramedConnection[] = [];
  const pipelines: FrameCounterSocket[] = [];
  try {
    let registerMs = 0;
    /** Registers peers first..end-1; a leased one hangs up once REGISTERED, a bound one stays in `peers`. */
    const register = async (first: number, end: number, leased: boolean): Promise<void> => {
      const startMs = performance.now();
      await forEachBounded(end - first, REGISTER_CONCURRENCY, async (n) => {
        const i = first + n;
        const socket = await openSocket(tracker.port, sourceAddress(i));
        const connection = new FramedConnection(socket, logger);
        const answer = await connection.request(MessageType.Register, {
          version: PROTOCOL_VERSION,
          name: `load-${leased ? 'leased' : 'bound'}-${i}`,
          port: 1 + (i % 65_535),
          ...(leased ? { lease: true } : {}),
        });
        if (answer.type !== MessageType.Registered)
          throw new SwarmlabError(BenchErrorCode.Register, `load peer ${i} was refused`);
        if (leased) connection.close();
        else peers.push(connection);
      });
      registerMs += performance.now() - startMs;
    };
    /** The tracker's memory growth per peer registered past the warm-up share. */
    const perPeer = async (leased: boolean): Promise<{ bytes: number; heapBytes: number }> => {
      const warmUpPeers = Math.max(1, Math.floor(init.peers * WARM_UP_PEER_SHARE));
      await register(0, warmUpPeers, leased);
      await sleep(SETTLE_MS);
      const before = await tracker.memory();
      await register(warmUpPeers, init.peers, leased);
      await sleep(SETTLE_MS);
      const after = await tracker.memory();
      const measuredPeers = init.peers - warmUpPeers;
      const heapBytes = (after.heapUsed - before.heapUsed) / measuredPeers;
      // RSS is the cost, but malloc returning the pages of the closed connections can make its growth
      // smaller than the live heap's (even negative) for leased peers; the heap is resident, so it is a floor.
      return { bytes: Math.max((after.rss - before.rss) / measuredPeers, heapBytes), heapBytes };
    };
    const leased = await perPeer(true);
    const bound = await perPeer(false);

    const fileIds = await publishFiles(peers, init.files);
    for (let i = 0; i < init.connections; i++) {
      pipelines.push(await FrameCounterSocket.open(tracker.port, `bench-load-${i}`));
    }
    const haveFrames = fileIds.map((fileId, i) =>
      encodeJson(MessageType.Have, i + 1, { fileId, indices: [i % LOAD_FILE_CHUNKS] }),
    );
    const locateFrames = fileIds.map((fileId, i) => encodeJson(MessageType.Locate, i + 1, { fileId }));
    const haves = await runPipelined(pipelines, haveFrames, init.requests, init.window);
    const trackerCpuBefore = await procCpuSeconds(tracker.process.pid);
    const generatorCpuBefore = process.cpuUsage();
    const locates = await runPipelined(pipelines, locateFrames, init.requests, init.window);
    const generatorCpu = process.cpuUsage(generatorCpuBefore);
    const trackerCpuAfter = await procCpuSeconds(tracker.process.pid);
    return {
      peers: init.peers,
      files: init.files,
      lookupsPerS: locates.answered / locates.seconds,
      havesPerS: haves.answered / haves.seconds,
      bytesPerPeer: leased.bytes,
      heapBytesPerPeer: leased.heapBytes,
      bytesPerConnectedPeer: bound.bytes,
      heapBytesPerConnectedPeer: bound.heapBytes,
      registerS: registerMs / 1000,
      errors: haves.errors + locates.errors,
      trackerCpuCores:
        trackerCpuBefore === null || trackerCpuAfter === null
          ? null
          : (trackerCpuAfter - trackerCpuBefore) / locates.seconds,
      generatorCpuCores: cpuUsageSeconds(generatorCpu) / locates.seconds,
    };
  } finally {
    unregister();
    await tracker.stop();
    for (const pipeline of pipelines) pipeline.socket.destroy();
    for (const peer of peers) peer.close();
  }
}

function sourceAddress(peerIndex: number): string {
  const host = 2 + Math.floor(peerIndex / PEERS_PER_SOURCE_ADDRESS);
  if (host > 254)
    throw new SwarmlabError(BenchErrorCode.TooManyPeers, `at most ${253 * PEERS_PER_SOURCE_ADDRESS} load peers`);
  return `127.0.0.${host}`;
}

function openSocket(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Runs `task(0..count-1)` with at most `concurrency` running at once. */
async function forEachBounded(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

function loadManifest(index: number): Manifest {
  const chunks = Array.from({ length: LOAD_FILE_CHUNKS }, (_, c) =>
    createHash('sha256').update(`load-file-${index}:${c}`).digest('hex'),
  );
  return {
    name: `load-file-${index}.bin`,
    size: LOAD_FILE_CHUNKS * LOAD_FILE_CHUNK_BYTES,
    chunkSize: LOAD_FILE_CHUNK_BYTES,
    chunks,
  };
}

/** Peer i publishes file i (the first `files` peers). */
async function publishFiles(peers: FramedConnection[], files: number): Promise<string[]> {
  if (files > peers.length) throw new SwarmlabError(BenchErrorCode.Config, 'more files than peers to publish them');
  const manifests = Array.from({ length: files }, (_, i) => loadManifest(i));
  await forEachBounded(files, REGISTER_CONCURRENCY, async (i) => {
    await peers[i]!.request(MessageType.Publish, { manifest: manifests[i]! });
  });
  return manifests.map(computeFileId);
}

interface PipelineResult {
  answered: number;
  errors: number;
  seconds: number;
}

/** Sends `total` requests spread over the sockets (cycling through `frames`), `window` in flight per socket. */
async function runPipelined(
  sockets: FrameCounterSocket[],
  frames: Buffer[],
  total: number,
  window: number,
): Promise<PipelineResult> {
  const perSocket = Math.ceil(total / sockets.length);
  const startMs = performance.now();
  const results = await Promise.all(
    sockets.map((socket, i) => socket.pipeline(frames, i * perSocket, perSocket, window)),
  );
  const seconds = (performance.now() - startMs) / 1000;
  return {
    answered: results.reduce((sum, r) => sum + r.answered, 0),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    seconds,
  };
}

/**
 * Counts whole frames in a byte stream from their length prefixes, and which of them are ERROR, without
 * decoding any body.
 */
export class FrameCounter {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerBytes = 0;
  private bodyBytesLeft = 0;

  push(data: Buffer): { frames: number; errors: number } {
    let frames = 0;
    let errors = 0;
    for (let offset = 0; offset < data.length;) {
      if (this.bodyBytesLeft > 0) {
        const take = Math.min(this.bodyBytesLeft, data.length - offset);
        this.bodyBytesLeft -= take;
        offset += take;
        if (this.bodyBytesLeft === 0) frames++;
        continue;
      }
      const take = Math.min(FRAME_HEADER_BYTES - this.headerBytes, data.length - offset);
      data.copy(this.header, this.headerBytes, offset, offset + take);
      this.headerBytes += take;
      offset += take;
      if (this.headerBytes < FRAME_HEADER_BYTES) break;
      this.headerBytes = 0;
      if (this.header[4] === MessageType.Error) errors++;
      this.bodyBytesLeft = this.header.readUInt32BE(0) - FRAME_OVERHEAD_BYTES;
      if (this.bodyBytesLeft <= 0) {
        this.bodyBytesLeft = 0;
        frames++;
      }
    }
    return { frames, errors };
  }
}

/** A registered load peer on a raw socket, replaying pre-encoded requests. */
class FrameCounterSocket {
  private constructor(readonly socket: Socket) {}

  static async open(port: number, name: string): Promise<FrameCounterSocket> {
    const socket = await openSocket(port);
    socket.setNoDelay(true);
    const client = new FrameCounterSocket(socket);
    const { errors } = await client.pipeline(
      [encodeJson(MessageType.Register, 1, { version: PROTOCOL_VERSION, name, port: 1 })],
      0,
      1,
      1,
    );
    if (errors > 0) throw new SwarmlabError(BenchErrorCode.Register, `the tracker refused ${name}`);
    return client;
  }

  /** Sends `count` frames starting at frames[first % length], keeping `window` unanswered; resolves when all are answered. */
  pipeline(
    frames: Buffer[],
    first: number,
    count: number,
    window: number,
  ): Promise<{ answered: number; errors: number }> {
    const counter = new FrameCounter();
    const socket = this.socket;
    let sent = 0;
    let answered = 0;
    let errors = 0;
    const sendUpTo = (limit: number): void => {
      const batch: Buffer[] = [];
      while (sent < Math.min(limit, count)) batch.push(frames[(first + sent++) % frames.length]!);
      if (batch.length > 0) socket.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch));
    };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          finish(
            new SwarmlabError(
              BenchErrorCode.Timeout,
              `tracker answered ${answered}/${count} in ${PHASE_TIMEOUT_MS} ms`,
            ),
          ),
        PHASE_TIMEOUT_MS,
      );
      const onData = (data: Buffer): void => {
        const counted = counter.push(data);
        answered += counted.frames;
        errors += counted.errors;
        if (answered >= count) finish();
        else sendUpTo(answered + window);
      };
      const onClose = (): void =>
        finish(new SwarmlabError(BenchErrorCode.Closed, 'the tracker closed a load connection'));
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onClose);
        if (error) reject(error);
        else resolve({ answered, errors });
      };
      socket.on('data', onData);
      socket.once('close', onClose);
      sendUpTo(window);
    });
  }
}

interface TrackerMemory {
  rss: number;
  heapUsed: number;
  external: number;
}

interface StartedTracker {
  process: ChildProcess;
  port: number;
  /** The tracker's memory right after a full GC. */
  memory(): Promise<TrackerMemory>;
  /** Kills the tracker and removes its preload. */
  stop(): Promise<void>;
}

async function startTracker(cliPath: string): Promise<StartedTracker> {
  const preloadDir = await mkdtemp(join(tmpdir(), 'swarmlab-bench-tracker-'));
  const preload = join(preloadDir, 'memory-report.cjs');
  await writeFile(preload, MEMORY_PRELOAD);
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      `--min-semi-space-size=${SEMI_SPACE_MB}`,
      `--max-semi-space-size=${SEMI_SPACE_MB}`,
      '--require',
      preload,
      cliPath,
      'tracker',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--heartbeat-ms',
      String(TRACKER_HEARTBEAT_MS),
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info' },
    },
  );
  const stop = async (): Promise<void> => {
    child.kill('SIGKILL');
    await rm(preloadDir, { recursive: true, force: true });
  };
  // Every stderr line goes to the current listener; reading them all keeps a full pipe from blocking the tracker.
  let onLine: ((line: string) => void) | undefined;
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine?.(line);
  });
  const nextLine = <T>(what: string, timeoutMs: number, match: (line: string) => T | undefined): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const finish = (error: Error | undefined, value?: T): void => {
        clearTimeout(timer);
        child.off('exit', onExit);
        onLine = undefined;
        if (error) reject(error);
        else resolve(value as T);
      };
      const timer = setTimeout(
        () => finish(new SwarmlabError(BenchErrorCode.Timeout, `no ${what} from the tracker in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onExit = (code: number | null): void =>
        finish(new SwarmlabError(CliErrorCode.StartFailed, `the tracker exited with code ${code}`));
      child.once('exit', onExit);
      onLine = (line) => {
        const value = match(line);
        if (value !== undefined) finish(undefined, value);
      };
    });
  try {
    const port = await nextLine('start', TRACKER_START_TIMEOUT_MS, (line) =>
      line.includes('"tracker listening"') ? Number((JSON.parse(line) as { port: unknown }).port) : undefined,
    );
    const memory = async (): Promise<TrackerMemory> => {
      const report = nextLine('memory report', MEMORY_REPORT_TIMEOUT_MS, (line) =>
        line.includes(MEMORY_REPORT_KEY)
          ? (JSON.parse(line) as Record<typeof MEMORY_REPORT_KEY, TrackerMemory>)[MEMORY_REPORT_KEY]
          : undefined,
      );
      child.kill('SIGUSR2');
      return report;
    };
    return { process: child, port, memory, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
