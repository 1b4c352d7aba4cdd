/**
 * Issue 5: faults with real processes. A source killed or frozen mid-download, the tracker killed and
 * restarted on the same port, the downloader itself killed and restarted (resume), a peer serving
 * corrupted bytes, and a download directory that cannot be written. Every download that can finish
 * must finish with the right bytes; the rest must fail with a clear error code.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import type { ControlResponse } from '../../src/control/control-client';
import { Bitfield, computeFileId, encodeChunkHeader, encodeChunkRef, encodeJson, FrameDecoder, MessageType, PROTOCOL_VERSION, RejectReason } from '../../src/protocol';
import type { Manifest } from '../../src/protocol';
import { assertBuilt, collector, createSwarm, dumpLogs, RawFrameClient, sha256, sha256File, waitFor } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16_384;

interface Started {
  seen: ReturnType<typeof collector>;
  result: Promise<Record<string, unknown>>;
}

/** Starts a download without awaiting it; waits until `minChunks` chunk events have arrived. */
async function startDownload(swarm: LocalSwarm, peer: string, name: string, minChunks: number): Promise<Started> {
  const seen = collector();
  const result = swarm.control(peer, 'download', { name }, seen.onLine);
  result.catch(() => undefined);
  await waitFor(() => seen.events('chunk').length >= minChunks, 20_000, 20);
  return { seen, result };
}

/** Starts `names` as rate-limited publishers of the same generated file; returns the sha256 of its bytes on disk. */
async function publishSame(swarm: LocalSwarm, names: string[], file: string, size: number, uploadRate: number): Promise<string> {
  let sha = '';
  for (const name of names) {
    await swarm.startPeer(name, { chunkSize: CHUNK, uploadRate });
    await swarm.control(name, 'connect');
    const reported = (await swarm.control(name, 'generate', { name: file, size, seed: `faults-${file}` })).sha256 as string;
    // The bytes on the publisher's disk, not what the peer says it wrote.
    sha = await sha256File(path.join(swarm.peer(name).dir, file));
    expect(reported).toBe(sha);
    await swarm.control(name, 'upload');
  }
  return sha;
}

/**
 * Publishes `file` from p1 (rate-limited), starts `dl` downloading it, lets `minChunks` arrive and the
 * sidecar (flushed every 250 ms) record them, then kills `dl`. Returns the file's sha256 and dl's
 * downloads directory, where the partial file and its state stay.
 */
async function downloadThenKill(swarm: LocalSwarm, file: string, chunks: number, minChunks: number): Promise<{ sha: string; downloads: string }> {
  const sha = await publishSame(swarm, ['p1'], file, chunks * CHUNK, 128 * 1024);
  await swarm.startPeer('dl', { chunkSize: CHUNK });
  await swarm.control('dl', 'connect');
  await startDownload(swarm, 'dl', file, minChunks);
  await sleep(600);
  await swarm.stopPeer('dl', 'SIGKILL');
  return { sha, downloads: path.join(swarm.dir, 'dl', '.swarmlab', 'downloads') };
}

/** The tracker child's pid (LocalSwarm keeps it private; every child's pid is in its process handle). */
async function trackerProcessPid(swarm: LocalSwarm): Promise<number> {
  const child = (swarm as unknown as { tracker?: { pid?: number } }).tracker;
  if (!child?.pid) throw new Error('no tracker process');
  return child.pid;
}

describe('faults (issue 5)', () => {
  let swarm: LocalSwarm;
  let logs: string[];
  const frozen: number[] = [];

  beforeAll(() => assertBuilt());

  beforeEach(async () => {
    ({ swarm, logs } = await createSwarm());
    await swarm.startTracker();
  });

  afterEach(async () => {
    for (const pid of frozen.splice(0)) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    dumpLogs(logs);
    await swarm.stop();
  });

  test('a source killed with SIGKILL mid-download: the download completes from the other one', async () => {
    const chunks = 64;
    const sha = await publishSame(swarm, ['p1', 'p2'], 'kill.bin', chunks * CHUNK, 128 * 1024);
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('dl', 'connect');

    const { seen, result } = await startDownload(swarm, 'dl', 'kill.bin', 6);
    await swarm.stopPeer('p1', 'SIGKILL');
    const done = await result;

    expect(done.verified).toBe(true);
    expect(done.sha256).toBe(sha);
    expect(await sha256File(done.path as string)).toBe(sha);
    const bySource = done.chunksBySource as Record<string, number>;
    expect((bySource.p1 ?? 0) + (bySource.p2 ?? 0)).toBe(chunks);
    expect(bySource.p2).toBeGreaterThan(0);
    expect(new Set(seen.events('chunk').map((event) => event.index)).size).toBe(chunks);
  });

  test('a source frozen with SIGSTOP mid-download: the download completes (request timeout, then elsewhere)', async () => {
    const chunks = 32;
    const sha = await publishSame(swarm, ['p1', 'p2'], 'frozen.bin', chunks * CHUNK, 96 * 1024);
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('dl', 'connect');

    const { result } = await startDownload(swarm, 'dl', 'frozen.bin', 4);
    const pid = swarm.peer('p1').process.pid!;
    frozen.push(pid);
    process.kill(pid, 'SIGSTOP');
    const done = await result;

    expect(done.verified).toBe(true);
    expect(done.sha256).toBe(sha);
    expect(await sha256File(done.path as string)).toBe(sha);
    const bySource = done.chunksBySource as Record<string, number>;
    expect((bySource.p1 ?? 0) + (bySource.p2 ?? 0)).toBe(chunks);
    // The downloader still answers while a source is frozen.
    expect((await swarm.control('dl', 'status')).files).toEqual([expect.objectContaining({ name: 'frozen.bin', complete: true })]);
  });

  test('the tracker killed and restarted on the same port mid-download: the download completes and the catalogue comes back', async () => {
    const chunks = 64;
    const sha = await publishSame(swarm, ['p1', 'p2'], 'tracker.bin', chunks * CHUNK, 128 * 1024);
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('dl', 'connect');
    const port = swarm.trackerPort;

    const { result } = await startDownload(swarm, 'dl', 'tracker.bin', 4);
    await swarm.stopTracker('SIGKILL');
    await sleep(500);
    await swarm.startTracker(port);
    expect(swarm.trackerPort).toBe(port);
    const done = await result;
    expect(done.verified).toBe(true);
    expect(done.sha256).toBe(sha);
    expect(await sha256File(done.path as string)).toBe(sha);

    // Every peer re-registers by itself and re-announces: the file is back, held by all three.
    const row = await waitFor(async () => {
      const files = (await swarm.control('dl', 'files')).files as Array<{ name: string; holders: number; seeders: number }>;
      return files.find((file) => file.name === 'tracker.bin' && file.holders === 3 && file.seeders === 3);
    }, 20_000, 250);
    expect(row).toMatchObject({ name: 'tracker.bin', holders: 3, seeders: 3 });
    expect((await swarm.control('p1', 'status')).connected).toBe(true);
  });

  test('the tracker killed for good mid-download: the download completes from the sources it knows', async () => {
    const chunks = 48;
    const sha = await publishSame(swarm, ['p1', 'p2'], 'orphan.bin', chunks * CHUNK, 128 * 1024);
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('dl', 'connect');

    const { result } = await startDownload(swarm, 'dl', 'orphan.bin', 4);
    await swarm.stopTracker('SIGKILL');
    const done = await result;
    expect(done.verified).toBe(true);
    expect(done.sha256).toBe(sha);
    expect(await sha256File(done.path as string)).toBe(sha);
    // The peer knows the tracker is gone and says so.
    expect(await swarm.call('dl', 'files')).toMatchObject({ ok: false, error: { code: 'ERR_TRACKER_UNAVAILABLE' } });
  });

  test('a publisher frozen past its heartbeats expires from the catalogue, and comes back after SIGCONT', async () => {
    await swarm.stopTracker();
    await swarm.startTracker(0, ['--heartbeat-ms', '500']);
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.startPeer('viewer', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('viewer', 'connect');
    await swarm.control('pub', 'generate', { name: 'sleepy.bin', size: 2 * CHUNK });
    await swarm.control('pub', 'upload');
    const names = async (): Promise<string[]> => ((await swarm.control('viewer', 'files')).files as Array<{ name: string }>).map((file) => file.name);
    expect(await names()).toEqual(['sleepy.bin']);

    const pid = swarm.peer('pub').process.pid!;
    frozen.push(pid);
    process.kill(pid, 'SIGSTOP');
    await waitFor(async () => (await names()).length === 0, 20_000, 250);

    process.kill(pid, 'SIGCONT');
    await waitFor(async () => (await names()).includes('sleepy.bin'), 20_000, 250);
    expect((await swarm.control('pub', 'status')).connected).toBe(true);
  });

  test('the tracker frozen mid-download: the download completes, and after SIGCONT the catalogue is whole', async () => {
    await swarm.stopTracker();
    await swarm.startTracker(0, ['--heartbeat-ms', '500']);
    const chunks = 48;
    const sha = await publishSame(swarm, ['p1', 'p2'], 'icy.bin', chunks * CHUNK, 128 * 1024);
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('dl', 'connect');

    const { result } = await startDownload(swarm, 'dl', 'icy.bin', 4);
    const trackerPid = await trackerProcessPid(swarm);
    frozen.push(trackerPid);
    process.kill(trackerPid, 'SIGSTOP');
    const done = await result;
    expect(done.verified).toBe(true);
    expect(done.sha256).toBe(sha);
    expect(await sha256File(done.path as string)).toBe(sha);

    process.kill(trackerPid, 'SIGCONT');
    const row = await waitFor(async () => {
      const files = (await swarm.control('dl', 'files')).files as Array<{ name: string; holders: number; seeders: number }>;
      return files.find((file) => file.name === 'icy.bin' && file.holders === 3 && file.seeders === 3);
    }, 30_000, 250);
    expect(row).toBeDefined();
  });

  test('a publisher that disconnects from the tracker mid-download still serves the chunks it was asked for', async () => {
    const chunks = 48;
    const sha = await publishSame(swarm, ['p1', 'p2'], 'leaving.bin', chunks * CHUNK, 128 * 1024);
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('dl', 'connect');

    const { result } = await startDownload(swarm, 'dl', 'leaving.bin', 4);
    await swarm.control('p1', 'disconnect');
    const done = await result;
    expect(done.verified).toBe(true);
    expect(done.sha256).toBe(sha);
    expect(await sha256File(done.path as string)).toBe(sha);
  });

  test.each(['deleted', 'truncated'])('a publisher whose file was %s after publishing: the download completes from the other source', async (change) => {
    const chunks = 32;
    const sha = await publishSame(swarm, ['good', 'gone'], 'vanish.bin', chunks * CHUNK, 128 * 1024);
    const copy = path.join(swarm.peer('gone').dir, 'vanish.bin');
    if (change === 'deleted') await rm(copy);
    else await truncate(copy, 5 * CHUNK);
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('dl', 'connect');

    const seen = collector();
    const done = await swarm.control('dl', 'download', { name: 'vanish.bin' }, seen.onLine);
    expect(done.verified).toBe(true);
    expect(done.sha256).toBe(sha);
    expect(await sha256File(done.path as string)).toBe(sha);
    const fromGone = seen.events('chunk').filter((event) => event.from === 'gone').map((event) => event.index as number);
    // A truncated copy still holds its first 5 chunks; a deleted one holds nothing.
    expect(fromGone.filter((index) => index >= (change === 'deleted' ? 0 : 5))).toEqual([]);
    expect((await swarm.control('gone', 'status')).name).toBe('gone');
  });

  test('the downloading peer killed mid-download and restarted with the same dir resumes (keptChunks > 0)', async () => {
    const chunks = 64;
    const sha = await publishSame(swarm, ['p1'], 'resume.bin', chunks * CHUNK, 128 * 1024);
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('dl', 'connect');

    const { seen } = await startDownload(swarm, 'dl', 'resume.bin', 12);
    // Let the sidecar (flushed every 250 ms) record what arrived.
    await sleep(600);
    await swarm.stopPeer('dl', 'SIGKILL');
    const before = seen.events('chunk').length;
    expect(before).toBeLessThan(chunks);

    await swarm.startPeer('dl', { chunkSize: CHUNK });
    const status = await swarm.control('dl', 'status');
    expect(status.files).toEqual([expect.objectContaining({ name: 'resume.bin', complete: false, have: expect.any(Number) })]);
    await swarm.control('dl', 'connect');
    const done = await swarm.control('dl', 'download', { name: 'resume.bin' });

    expect(done.keptChunks as number).toBeGreaterThan(0);
    expect(done.keptChunks as number).toBeLessThan(chunks);
    expect(done.verified).toBe(true);
    expect(done.sha256).toBe(sha);
    expect(await sha256File(done.path as string)).toBe(sha);
    const fetched = Object.values(done.chunksBySource as Record<string, number>).reduce((sum, n) => sum + n, 0);
    expect(fetched + (done.keptChunks as number)).toBe(chunks);
  });

  test('kept chunks survive a second kill before the resumed download asks for anything', async () => {
    await downloadThenKill(swarm, 'twice.bin', 64, 12);
    const have = async (): Promise<number> => {
      const files = (await swarm.control('dl', 'status')).files as Array<{ name: string; have: number }>;
      return files.find((file) => file.name === 'twice.bin')?.have ?? 0;
    };
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    const kept = await have();
    expect(kept).toBeGreaterThan(0);
    // Killed again at once: what the restart re-verified must already be on disk.
    await swarm.stopPeer('dl', 'SIGKILL');
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    expect(await have()).toBe(kept);
  });

  test('a download resumes from a sidecar of the older format (manifest inside), and leaves no state behind', async () => {
    const { sha, downloads } = await downloadThenKill(swarm, 'legacy.bin', 64, 12);
    const sidecarName = (await readdir(downloads)).find((name) => name.endsWith('.json'))!;
    const fileId = sidecarName.slice(0, -'.json'.length);
    const sidecar = JSON.parse(await readFile(path.join(downloads, sidecarName), 'utf8')) as Record<string, unknown>;
    // The sidecar rewritten during a download holds the bitfield only; the manifest is written once.
    expect(Object.keys(sidecar)).toEqual(['bitfield']);
    const manifest = JSON.parse(await readFile(path.join(downloads, `${fileId}.manifest`), 'utf8')) as unknown;
    await writeFile(path.join(downloads, sidecarName), JSON.stringify({ manifest, bitfield: sidecar.bitfield }));
    await rm(path.join(downloads, `${fileId}.manifest`));

    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('dl', 'connect');
    const done = await swarm.control('dl', 'download', { name: 'legacy.bin' });
    expect(done.keptChunks as number).toBeGreaterThan(0);
    expect(done.verified).toBe(true);
    expect(await sha256File(done.path as string)).toBe(sha);
    expect(await readdir(downloads)).toEqual([]);
  });

  test.each(['a garbled sidecar', 'a garbled manifest file', 'a partial file whose bytes were damaged'])(
    'the downloading peer killed and restarted with %s: the new download re-verifies and finishes right',
    async (damage) => {
      const chunks = 48;
      const { sha, downloads } = await downloadThenKill(swarm, 'damaged.bin', chunks, 10);
      const entries = await readdir(downloads);
      const sidecar = entries.find((name) => name.endsWith('.json'));
      const part = entries.find((name) => name.endsWith('.part'));
      expect(sidecar && part).toBeTruthy();
      if (damage === 'a garbled sidecar') {
        await writeFile(path.join(downloads, sidecar!), '{"manifest": {"name": "../../evil", "size": -1}, "bitfield": "////"}');
      } else if (damage === 'a garbled manifest file') {
        await writeFile(path.join(downloads, sidecar!.replace(/\.json$/, '.manifest')), '{"name": "../../evil", "size": -1}');
      } else {
        // Every byte of the partial file overwritten: nothing the sidecar claims still verifies.
        const handle = await open(path.join(downloads, part!), 'r+');
        try {
          await handle.write(Buffer.alloc(chunks * CHUNK, 0x42), 0, chunks * CHUNK, 0);
        } finally {
          await handle.close();
        }
      }

      await swarm.startPeer('dl', { chunkSize: CHUNK });
      await swarm.control('dl', 'connect');
      const done = await swarm.control('dl', 'download', { name: 'damaged.bin' });
      expect(done.keptChunks).toBe(0);
      expect(done.verified).toBe(true);
      expect(done.sha256).toBe(sha);
      expect(await sha256File(done.path as string)).toBe(sha);
      expect(done.chunksBySource).toEqual({ p1: chunks });
      // Nothing escaped the directory.
      expect(existsSync(path.join(swarm.dir, 'evil'))).toBe(false);
    },
  );

  describe('a lying peer', () => {
    const chunks = 32;
    const firstBad = 8;
    const lastBad = 23;

    /** Overwrites chunks firstBad..lastBad of the liar's copy in place (same size). */
    async function corrupt(file: string): Promise<void> {
      const handle = await open(file, 'r+');
      try {
        const garbage = Buffer.alloc((lastBad - firstBad + 1) * CHUNK, 0x5a);
        await handle.write(garbage, 0, garbage.length, firstBad * CHUNK);
      } finally {
        await handle.close();
      }
    }

    async function run(keepMtime: boolean): Promise<void> {
      const sha = await publishSame(swarm, ['honest'], 'lie.bin', chunks * CHUNK, 96 * 1024);
      await swarm.startPeer('liar', { chunkSize: CHUNK });
      await swarm.control('liar', 'connect');
      await swarm.control('liar', 'generate', { name: 'lie.bin', size: chunks * CHUNK, seed: 'faults-lie.bin' });
      const copy = path.join(swarm.peer('liar').dir, 'lie.bin');
      // A whole-second mtime survives a round trip through utimes exactly.
      const mtime = Math.floor(Date.now() / 1000) - 60;
      if (keepMtime) await utimes(copy, mtime, mtime);
      await swarm.control('liar', 'upload');
      await corrupt(copy);
      if (keepMtime) {
        await utimes(copy, mtime, mtime);
        expect((await stat(copy)).mtimeMs).toBe(mtime * 1000);
      }
      expect((await stat(copy)).size).toBe(chunks * CHUNK);

      await swarm.startPeer('dl', { chunkSize: CHUNK });
      await swarm.control('dl', 'connect');
      const seen = collector();
      const done = await swarm.control('dl', 'download', { name: 'lie.bin' }, seen.onLine);

      expect(done.verified).toBe(true);
      expect(done.sha256).toBe(sha);
      expect(await sha256File(done.path as string)).toBe(sha);
      const fromLiar = seen.events('chunk').filter((event) => event.from === 'liar').map((event) => event.index as number);
      expect(fromLiar.filter((index) => index >= firstBad && index <= lastBad)).toEqual([]);
      const bySource = done.chunksBySource as Record<string, number>;
      expect(bySource.liar ?? 0).toBe(fromLiar.length);
      expect(bySource.liar ?? 0).toBeLessThanOrEqual(chunks - (lastBad - firstBad + 1));
      expect((bySource.honest ?? 0) + (bySource.liar ?? 0)).toBe(chunks);
    }

    test('its copy changed on disk after publishing (new mtime): the downloader still gets the right bytes', async () => {
      await run(false);
    });

    test('its copy changed with the mtime put back (the source cannot tell): the downloader verifies and refuses the bad chunks', async () => {
      await run(true);
    });
  });

  // Issue 18 claim: a peer whose published copy changes withdraws it from the tracker, whatever the
  // change: rewritten in place, replaced by rename (an editor's save: the peer's open handle still
  // reads the old bytes), or truncated (the chunks left still verify).
  describe('a published copy that changes', () => {
    const chunks = 8;

    test.each([
      ['rewritten in place', async (file: string) => {
        const handle = await open(file, 'r+');
        await handle.write(Buffer.alloc(CHUNK, 0x5a), 0, CHUNK, 0);
        await handle.close();
      }],
      ['replaced by rename', async (file: string) => {
        await writeFile(`${file}.swp`, Buffer.alloc(chunks * CHUNK, 0x5a));
        await rename(`${file}.swp`, file);
      }],
      ['truncated', async (file: string) => {
        await truncate(file, (chunks / 2) * CHUNK);
      }],
    ])('%s: the next REQUEST is refused and the tracker drops the peer as a holder', async (_, change) => {
      await publishSame(swarm, ['pub', 'other'], 'changes.bin', chunks * CHUNK, 1024 * 1024);
      const fileId = ((await swarm.control('pub', 'files')).files as Array<{ fileId: string; holders: number }>)[0]!.fileId;
      expect((await swarm.control('pub', 'files')).files).toMatchObject([{ holders: 2 }]);
      // The peer has read the file before (its handle is open), as a serving peer would have.
      const client = await RawFrameClient.open((await swarm.control('pub', 'status')).dataPort as number);
      try {
        expect(await client.exchange(encodeChunkRef(MessageType.Request, 1, fileId, 0), 1)).toMatchObject({ type: MessageType.Chunk });
        await change(path.join(swarm.peer('pub').dir, 'changes.bin'));
        // Past the peer's stat cache (it checks size and mtime at most every 500 ms).
        await sleep(600);
        expect(await client.exchange(encodeChunkRef(MessageType.Request, 2, fileId, 0), 2)).toMatchObject({ type: MessageType.Reject, body: { reason: RejectReason.NotHeld } });
      } finally {
        client.close();
      }
      await waitFor(async () => ((await swarm.control('other', 'files')).files as Array<{ holders: number }>)[0]?.holders === 1 || undefined, 10_000, 100);
      expect((await swarm.control('pub', 'status')).files).toEqual([]);
    });
  });

  describe('an unwritable download directory', () => {
    async function expectCannotWrite(): Promise<void> {
      await swarm.startPeer('pub', { chunkSize: CHUNK });
      await swarm.control('pub', 'connect');
      await swarm.control('pub', 'generate', { name: 'nowhere.bin', size: 4 * CHUNK });
      await swarm.control('pub', 'upload');
      await swarm.control('dl', 'connect');

      const response: ControlResponse = await swarm.call('dl', 'download', { name: 'nowhere.bin' });
      expect(response.ok).toBe(false);
      if (!response.ok) {
        expect(response.error.code).toBe('ERR_CANNOT_WRITE');
        expect(response.error.message).toMatch(/cannot/);
      }
      // The peer is still alive and answering.
      expect(await swarm.control('dl', 'status')).toMatchObject({ name: 'dl', connected: true });
      expect((await swarm.control('dl', 'files')).files).toHaveLength(1);
    }

    test('a directory path under a regular file: ERR_CANNOT_WRITE and the peer still answers', async () => {
      const blocker = path.join(swarm.dir, 'blocker');
      await writeFile(blocker, 'a regular file where a directory should be');
      await swarm.startPeer('dl', { chunkSize: CHUNK, extraArgs: ['--dir', path.join(blocker, 'dl')] });
      expect((await swarm.control('dl', 'status')).dir).toBe(path.join(blocker, 'dl'));
      await expectCannotWrite();
    });

    // Regression (fixed in 645586f): the final rename into a removed DIR used to surface a raw fs code
    // ("ENOENT") instead of an ERR_* code.
    test('the download directory removed mid-download: a clear error, and the peer still answers', async () => {
      const sha = await publishSame(swarm, ['pub'], 'removed.bin', 32 * CHUNK, 128 * 1024);
      await swarm.startPeer('dl', { chunkSize: CHUNK });
      await swarm.control('dl', 'connect');
      const { result } = await startDownload(swarm, 'dl', 'removed.bin', 3);
      await rm(swarm.peer('dl').dir, { recursive: true, force: true });
      const outcome = await result.then(
        (done) => ({ ok: true as const, done }),
        (error: { code?: string; message: string }) => ({ ok: false as const, code: error.code, message: error.message }),
      );
      if (outcome.ok) {
        // Finishing anyway is fine only with the right bytes where it says they are.
        expect(outcome.done.sha256).toBe(sha);
        expect(await sha256File(outcome.done.path as string)).toBe(sha);
      } else {
        expect(outcome.code).toMatch(/^ERR_[A-Z_]+$/);
        expect(outcome.message).toMatch(/removed\.bin|cannot|write|rename/i);
      }
      expect(await swarm.control('dl', 'status')).toMatchObject({ name: 'dl' });
    });

    // chmod does not stop root, and the tests may run as root.
    const asRoot = process.getuid?.() === 0;
    (asRoot ? test.skip : test)('a directory made read-only (chmod 0500): ERR_CANNOT_WRITE and the peer still answers', async () => {
      const dir = path.join(swarm.dir, 'readonly');
      await mkdir(dir, { recursive: true });
      await swarm.startPeer('dl', { chunkSize: CHUNK, extraArgs: ['--dir', dir] });
      await chmod(dir, 0o500);
      try {
        await expectCannotWrite();
      } finally {
        await chmod(dir, 0o700);
      }
    });
  });

  describe('a misbehaving source speaking the protocol itself', () => {
    /** `slow`: answers every REQUEST with the right bytes, 30 s later (past any download here). */
    type Mode = 'garbage' | 'wrong-index' | 'silent' | 'oversized' | 'busy' | 'slow';

    interface Fake {
      requests: () => number;
      /** When each REQUEST arrived (Date.now()). */
      requestTimes: number[];
      /** When each garbage chunk was sent. */
      garbageTimes: number[];
      /** The CANCELs received: when, and for which request. */
      cancels: Array<{ atMs: number; requestId: number }>;
      close: () => Promise<void>;
    }

    /**
     * A fake source: registers at the tracker as "fake", publishes the real manifest, claims every
     * chunk, and answers REQUESTs according to `mode`.
     */
    async function startFake(trackerPort: number, manifest: Manifest, file: Buffer, mode: Mode): Promise<Fake> {
      let requests = 0;
      const requestTimes: number[] = [];
      const garbageTimes: number[] = [];
      const cancels: Fake['cancels'] = [];
      const timers = new Set<NodeJS.Timeout>();
      const sockets = new Set<Socket>();
      const server: Server = createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => sockets.delete(socket));
        const decoder = new FrameDecoder();
        socket.on('data', (data: Buffer) => {
          for (const message of decoder.push(data).messages) {
            if (message.type === MessageType.Interested) {
              socket.write(encodeJson(MessageType.Bitfield, message.requestId, { fileId: message.body.fileId, bitfield: Bitfield.full(manifest.chunks.length).toBase64() }));
            } else if (message.type === MessageType.Cancel) {
              cancels.push({ atMs: Date.now(), requestId: message.requestId });
            } else if (message.type === MessageType.Request) {
              requests++;
              requestTimes.push(Date.now());
              const { fileId, index } = message.body;
              const length = Math.min(manifest.chunkSize, manifest.size - index * manifest.chunkSize);
              if (mode === 'garbage') {
                garbageTimes.push(Date.now());
                socket.write(Buffer.concat([encodeChunkHeader(message.requestId, fileId, index, length), Buffer.alloc(length, 0x66)]));
              } else if (mode === 'slow') {
                const data = file.subarray(index * manifest.chunkSize, index * manifest.chunkSize + length);
                const timer = setTimeout(() => socket.write(Buffer.concat([encodeChunkHeader(message.requestId, fileId, index, length), data])), 30_000);
                timers.add(timer);
              } else if (mode === 'wrong-index') {
                const other = (index + 1) % manifest.chunks.length;
                const data = file.subarray(other * manifest.chunkSize, other * manifest.chunkSize + manifest.chunkSize);
                socket.write(Buffer.concat([encodeChunkHeader(message.requestId, fileId, other, data.length), data]));
              } else if (mode === 'oversized') {
                const header = encodeChunkHeader(message.requestId, fileId, index, 0);
                header.writeUInt32BE(0xfffffff0, 0);
                socket.write(header);
              } else if (mode === 'busy') {
                socket.write(encodeChunkRef(MessageType.Reject, message.requestId, fileId, index, RejectReason.Busy));
              }
              // silent: never answers.
            }
          }
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;

      const tracker = await RawFrameClient.open(trackerPort);
      const registered = await tracker.exchange(encodeJson(MessageType.Register, 1, { version: PROTOCOL_VERSION, name: 'fake', port }), 1);
      expect(registered.type).toBe(MessageType.Registered);
      const published = await tracker.exchange(encodeJson(MessageType.Publish, 2, { manifest }), 2);
      expect(published).toMatchObject({ type: MessageType.Published, body: { fileId: computeFileId(manifest) } });
      let nextId = 3;
      const heartbeat = setInterval(() => tracker.write(encodeJson(MessageType.Heartbeat, nextId++, {})), 2_000);

      return {
        requests: () => requests,
        requestTimes,
        garbageTimes,
        cancels,
        close: async () => {
          for (const timer of timers) clearTimeout(timer);
          clearInterval(heartbeat);
          tracker.close();
          for (const socket of sockets) socket.destroy();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    }

    test.each<Mode>(['garbage', 'wrong-index', 'silent', 'oversized', 'busy'])(
      'a source that answers REQUEST with %s: the download completes from the honest one, nothing counted from the fake',
      async (mode) => {
        const chunks = 24;
        const sha = await publishSame(swarm, ['honest'], 'fake.bin', chunks * CHUNK, 128 * 1024);
        const file = await readFile(path.join(swarm.peer('honest').dir, 'fake.bin'));
        const manifest: Manifest = {
          name: 'fake.bin',
          size: file.length,
          chunkSize: CHUNK,
          chunks: Array.from({ length: chunks }, (_, index) => sha256(file.subarray(index * CHUNK, (index + 1) * CHUNK))),
        };
        const fake = await startFake(swarm.trackerPort, manifest, file, mode);
        try {
          await swarm.startPeer('dl', { chunkSize: CHUNK });
          await swarm.control('dl', 'connect');
          expect(await swarm.control('dl', 'files')).toMatchObject({ files: [expect.objectContaining({ name: 'fake.bin', holders: 2 })] });

          const done = await swarm.control('dl', 'download', { name: 'fake.bin' });
          expect(done.verified).toBe(true);
          expect(done.sha256).toBe(sha);
          expect(await sha256File(done.path as string)).toBe(sha);
          expect(done.chunksBySource).toEqual({ honest: chunks });
          // The fake was really asked.
          expect(fake.requests()).toBeGreaterThan(0);
          expect((await swarm.control('dl', 'status')).name).toBe('dl');
        } finally {
          await fake.close();
        }
      },
    );

    /** The manifest of `name` as the honest publisher holds it, and its bytes. */
    async function honestManifest(name: string): Promise<{ manifest: Manifest; file: Buffer }> {
      const file = await readFile(path.join(swarm.peer('honest').dir, name));
      const chunks = Math.ceil(file.length / CHUNK);
      const manifest: Manifest = {
        name,
        size: file.length,
        chunkSize: CHUNK,
        chunks: Array.from({ length: chunks }, (_, index) => sha256(file.subarray(index * CHUNK, (index + 1) * CHUNK))),
      };
      return { manifest, file };
    }

    // Issue 18 claim: three strikes drop a lying source. The fake answers every REQUEST with garbage and
    // the honest source is slow, so a downloader that kept the liar would keep asking it for seconds.
    test('three bad chunks drop the source: no REQUEST reaches it once the third bad chunk is in', async () => {
      const chunks = 32;
      const sha = await publishSame(swarm, ['honest'], 'strikes.bin', chunks * CHUNK, 128 * 1024);
      const { manifest, file } = await honestManifest('strikes.bin');
      const fake = await startFake(swarm.trackerPort, manifest, file, 'garbage');
      try {
        await swarm.startPeer('dl', { chunkSize: CHUNK });
        await swarm.control('dl', 'connect');
        const done = await swarm.control('dl', 'download', { name: 'strikes.bin' });
        expect(await sha256File(done.path as string)).toBe(sha);
        expect(done.chunksBySource).toEqual({ honest: chunks });
        expect(fake.garbageTimes.length).toBeGreaterThanOrEqual(3);
        // Requests already on the wire when the third bad chunk left may still arrive; nothing later.
        const thirdBadMs = fake.garbageTimes[2]!;
        expect(fake.requestTimes.filter((atMs) => atMs > thirdBadMs + 300)).toEqual([]);
      } finally {
        await fake.close();
      }
    });

    // A source whose upload stays full is asked again after longer and longer pauses (busy-backoff.ts),
    // not ten times a second for as long as the download lasts.
    test('a source that answers every REQUEST busy is asked less and less often', async () => {
      const chunks = 48;
      // 96 KiB/s: about 7 s for the 768 KiB past the 64 KiB burst.
      const sha = await publishSame(swarm, ['honest'], 'backoff.bin', chunks * CHUNK, 96 * 1024);
      const { manifest, file } = await honestManifest('backoff.bin');
      const fake = await startFake(swarm.trackerPort, manifest, file, 'busy');
      try {
        await swarm.startPeer('dl', { chunkSize: CHUNK });
        await swarm.control('dl', 'connect');
        const startedAtMs = Date.now();
        const done = await swarm.control('dl', 'download', { name: 'backoff.bin' });
        const tookMs = Date.now() - startedAtMs;
        expect(await sha256File(done.path as string)).toBe(sha);
        expect(done.chunksBySource).toEqual({ honest: chunks });
        // Requests within 50 ms of each other are one round (the requests that were in flight).
        const rounds = fake.requestTimes.filter((atMs, i) => i === 0 || atMs - fake.requestTimes[i - 1]! > 50);
        const gaps = rounds.slice(1).map((atMs, i) => atMs - rounds[i]!);
        expect(tookMs).toBeGreaterThan(4_000);
        expect(rounds.length).toBeGreaterThanOrEqual(3);
        // A fixed 100 ms pause would be 40 rounds or more in 4 s; doubling pauses up to 1.6 s are a dozen.
        expect(rounds.length).toBeLessThan(tookMs / 300);
        expect(Math.max(...gaps)).toBeGreaterThanOrEqual(700);
      } finally {
        await fake.close();
      }
    });

    // Issue 18 claim: endgame sends CANCEL to the losers. The fake never answers in time; in the endgame
    // the honest source is asked for the fake's chunks too, and each copy that arrives cancels the
    // fake's request at once, not only when the download ends.
    test('endgame: a chunk that arrives from one source cancels its duplicate request at the other at once', async () => {
      const chunks = 16;
      // 48 KiB/s: a chunk every third of a second after the 64 KiB burst.
      const sha = await publishSame(swarm, ['honest'], 'endgame.bin', chunks * CHUNK, 48 * 1024);
      const { manifest, file } = await honestManifest('endgame.bin');
      const fake = await startFake(swarm.trackerPort, manifest, file, 'slow');
      try {
        await swarm.startPeer('dl', { chunkSize: CHUNK });
        await swarm.control('dl', 'connect');
        const done = await swarm.control('dl', 'download', { name: 'endgame.bin' });
        const doneAtMs = Date.now();
        expect(await sha256File(done.path as string)).toBe(sha);
        expect(done.chunksBySource).toEqual({ honest: chunks });
        expect(fake.requests()).toBeGreaterThan(0);
        // At least one CANCEL came a chunk's time before the end (a CANCEL sent only when the download
        // finished would arrive with it).
        expect(fake.cancels.filter((cancel) => cancel.atMs < doneAtMs - 150).length).toBeGreaterThanOrEqual(1);
      } finally {
        await fake.close();
      }
    });
  });

  describe('lab faults on served chunks (the faults command)', () => {
    test.each([
      ['every chunk corrupted', { corruptRate: 1 }],
      ['half the chunks dropped', { dropRate: 0.5 }],
      ['every chunk delayed', { delayMs: 150 }],
    ])('a source with %s: the download completes with the right bytes', async (_, faults) => {
      const chunks = 24;
      const sha = await publishSame(swarm, ['faulty', 'good'], 'lab.bin', chunks * CHUNK, 128 * 1024);
      expect(await swarm.control('faulty', 'faults', faults)).toMatchObject(faults);
      await swarm.startPeer('dl', { chunkSize: CHUNK });
      await swarm.control('dl', 'connect');

      const seen = collector();
      const done = await swarm.control('dl', 'download', { name: 'lab.bin' }, seen.onLine);
      expect(done.verified).toBe(true);
      expect(done.sha256).toBe(sha);
      expect(await sha256File(done.path as string)).toBe(sha);
      if ('corruptRate' in faults) {
        expect(seen.events('chunk').filter((event) => event.from === 'faulty')).toEqual([]);
        expect(done.chunksBySource).toEqual({ good: chunks });
      }
    });

    test('faults are validated and can be switched off again', async () => {
      await swarm.startPeer('faulty', { chunkSize: CHUNK });
      for (const args of [{ corruptRate: 2 }, { dropRate: -1 }, { delayMs: 'soon' }, { jitter: 1 }]) {
        expect(await swarm.call('faulty', 'faults', args)).toMatchObject({ ok: false, error: { code: 'ERR_BAD_REQUEST' } });
      }
      await swarm.control('faulty', 'faults', { corruptRate: 1 });
      expect(await swarm.control('faulty', 'faults', { corruptRate: 0, dropRate: 0, delayMs: 0 })).toEqual({ delayMs: 0, dropRate: 0, corruptRate: 0 });
    });
  });
});
