/**
 * Issue 2: the swarm end to end, with real `swarmlab tracker` and `swarmlab peer --daemon` processes on
 * 127.0.0.1 driven over their control sockets: publish and list, a download drawing from two sources
 * at once, a late joiner fed by a peer that itself downloaded, disconnect/reconnect, and the bytes
 * that land on disk.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { assertBuilt, collector, createSwarm, dumpLogs, sha256, sha256File, waitFor } from '../helpers/local';
import type { FileSummary } from '../../src/protocol';

jest.setTimeout(60_000);

const CHUNK = 16_384;

/** A row of `files`: the tracker's FILES entry, as the control socket passes it on. */
type FileRow = FileSummary;

/**
 * `generate` on a peer, checked against the bytes it wrote: every later comparison with the returned
 * sha256 is then one with the publisher's file on disk, not with what a peer reports about itself.
 */
async function generate(swarm: LocalSwarm, peer: string, args: { name: string; size: number; seed?: string; text?: boolean }): Promise<Record<string, unknown>> {
  const generated = await swarm.control(peer, 'generate', args);
  expect(await sha256File(path.join(swarm.peer(peer).dir, args.name))).toBe(generated.sha256);
  return generated;
}

async function listFiles(swarm: LocalSwarm, peer: string): Promise<FileRow[]> {
  return (await swarm.control(peer, 'files')).files as FileRow[];
}

describe('swarm (issue 2)', () => {
  let swarm: LocalSwarm;
  let logs: string[];

  beforeAll(() => assertBuilt());

  beforeEach(async () => {
    ({ swarm, logs } = await createSwarm());
    await swarm.startTracker();
  });

  afterEach(async () => {
    dumpLogs(logs);
    await swarm.stop();
  });

  test('publish, then files lists name, size, chunks and holders', async () => {
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.startPeer('viewer', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('viewer', 'connect');
    const size = 5 * CHUNK + 123;
    await generate(swarm, 'pub', { name: 'alpha.txt', size, seed: 'alpha', text: true });

    const upload = await swarm.control('pub', 'upload');
    expect(upload.published).toEqual([expect.objectContaining({ name: 'alpha.txt', size, chunks: 6 })]);

    const files = await listFiles(swarm, 'viewer');
    expect(files).toEqual([
      expect.objectContaining({ name: 'alpha.txt', size, chunkSize: CHUNK, chunks: 6, holders: 1, seeders: 1, fileId: (upload.published as FileRow[])[0]!.fileId }),
    ]);
  });

  test('a download draws from two publishers of the same file at once', async () => {
    const chunks = 48;
    const size = chunks * CHUNK;
    // Rate-limited uploads so that neither publisher can serve everything before the other is asked.
    await swarm.startPeer('p1', { chunkSize: CHUNK, uploadRate: 256 * 1024 });
    await swarm.startPeer('p2', { chunkSize: CHUNK, uploadRate: 256 * 1024 });
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    for (const name of ['p1', 'p2', 'dl']) await swarm.control(name, 'connect');
    const g1 = await generate(swarm, 'p1', { name: 'shared.bin', size, seed: 'two-sources' });
    const g2 = await generate(swarm, 'p2', { name: 'shared.bin', size, seed: 'two-sources' });
    expect(g1.sha256).toBe(g2.sha256);
    await swarm.control('p1', 'upload');
    await swarm.control('p2', 'upload');
    const [row] = await listFiles(swarm, 'dl');
    expect(row).toMatchObject({ name: 'shared.bin', chunks, holders: 2, seeders: 2 });

    const seen = collector();
    const askedAt = Date.now();
    const result = await swarm.control('dl', 'download', { name: 'shared.bin' }, seen.onLine);
    const answeredAt = Date.now();

    expect(result.sha256).toBe(g1.sha256);
    expect(await sha256File(result.path as string)).toBe(g1.sha256);
    expect(result.verified).toBe(true);
    expect(result.bytes).toBe(size);
    const bySource = result.chunksBySource as Record<string, number>;
    expect(Object.keys(bySource).sort()).toEqual(['p1', 'p2']);
    expect(bySource.p1).toBeGreaterThan(0);
    expect(bySource.p2).toBeGreaterThan(0);
    expect(bySource.p1! + bySource.p2!).toBe(chunks);

    // One chunk event per verified chunk, each naming its source and its address.
    const p1Port = (await swarm.control('p1', 'status')).dataPort as number;
    const p2Port = (await swarm.control('p2', 'status')).dataPort as number;
    const chunkEvents = seen.events('chunk');
    expect(chunkEvents).toHaveLength(chunks);
    for (const event of chunkEvents) {
      expect(event).toMatchObject({ file: 'shared.bin', fileId: row!.fileId, chunks, to: 'dl', bytes: CHUNK });
      expect(['p1', 'p2']).toContain(event.from);
      expect(event.fromAddr).toBe(`127.0.0.1:${event.from === 'p1' ? p1Port : p2Port}`);
      expect(typeof event.index).toBe('number');
      expect(typeof event.ms).toBe('number');
      // When the downloader verified it, by its clock: within the download, not when someone read it.
      expect(event.at).toBeGreaterThanOrEqual(askedAt);
      expect(event.at).toBeLessThanOrEqual(answeredAt);
    }
    expect(new Set(chunkEvents.map((event) => event.index)).size).toBe(chunks);
    const progressEvents = seen.events('progress');
    expect(progressEvents.length).toBeGreaterThan(0);
    for (const event of progressEvents) {
      expect(event.at).toBeGreaterThanOrEqual(askedAt);
      expect(event.at).toBeLessThanOrEqual(answeredAt);
    }

    // The file is in dl's directory with the right bytes.
    expect(result.path).toBe(path.join(swarm.peer('dl').dir, 'shared.bin'));
    expect(await sha256File(result.path as string)).toBe(g1.sha256);
  });

  test('a late joiner downloads from a peer that itself downloaded, after the publisher left', async () => {
    const size = 40 * CHUNK + 1000;
    await swarm.startPeer('origin', { chunkSize: CHUNK });
    await swarm.startPeer('first', { chunkSize: CHUNK });
    for (const name of ['origin', 'first']) await swarm.control(name, 'connect');
    const generated = await generate(swarm, 'origin', { name: 'relay.bin', size, seed: 'relay' });
    await swarm.control('origin', 'upload');
    const first = await swarm.control('first', 'download', { name: 'relay.bin' });
    expect(first.sha256).toBe(generated.sha256);
    expect(await sha256File(first.path as string)).toBe(generated.sha256);

    await swarm.stopPeer('origin');
    await swarm.startPeer('late', { chunkSize: CHUNK });
    await swarm.control('late', 'connect');
    const [row] = await listFiles(swarm, 'late');
    expect(row).toMatchObject({ name: 'relay.bin', holders: 1, seeders: 1 });

    const late = await swarm.control('late', 'download', { name: 'relay.bin' });
    expect(late.verified).toBe(true);
    expect(late.sha256).toBe(generated.sha256);
    expect(late.chunksBySource).toEqual({ first: 41 });
    expect(await sha256File(late.path as string)).toBe(generated.sha256);
  });

  test('disconnect removes the peer\'s files from the tracker; reconnect and upload bring them back', async () => {
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.startPeer('viewer', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('viewer', 'connect');
    await generate(swarm, 'pub', { name: 'comeback.txt', size: 3 * CHUNK, seed: 'cb', text: true });
    await swarm.control('pub', 'upload');
    expect((await listFiles(swarm, 'viewer')).map((file) => file.name)).toEqual(['comeback.txt']);

    await swarm.control('pub', 'disconnect');
    expect(await listFiles(swarm, 'viewer')).toEqual([]);
    expect((await swarm.control('pub', 'status')).connected).toBe(false);

    await swarm.control('pub', 'connect');
    await swarm.control('pub', 'upload');
    expect(await listFiles(swarm, 'viewer')).toEqual([expect.objectContaining({ name: 'comeback.txt', chunks: 3, holders: 1, seeders: 1 })]);
  });

  test('the downloaded file lands in the peer\'s directory with the same bytes', async () => {
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('dl', 'connect');
    // Not a multiple of the chunk size: the last chunk is short.
    await generate(swarm, 'pub', { name: 'notes.txt', size: 7 * CHUNK + 77, seed: 'notes', text: true });
    await swarm.control('pub', 'upload');

    const result = await swarm.control('dl', 'download', { name: 'notes.txt' });
    const original = await readFile(path.join(swarm.peer('pub').dir, 'notes.txt'));
    const copy = await readFile(path.join(swarm.peer('dl').dir, 'notes.txt'));
    expect(result.path).toBe(path.join(swarm.peer('dl').dir, 'notes.txt'));
    expect(copy.length).toBe(original.length);
    expect(copy.equals(original)).toBe(true);
    expect(sha256(copy)).toBe(result.sha256);

    // The downloader holds it as a complete file and can serve it.
    const status = await swarm.control('dl', 'status');
    expect(status.files).toEqual([expect.objectContaining({ name: 'notes.txt', complete: true, have: 8, chunks: 8 })]);
  });

  test('two downloaders at once also serve each other the chunks they already have', async () => {
    const chunks = 48;
    // A slow publisher: the downloaders get much of the file from each other.
    await swarm.startPeer('seed', { chunkSize: CHUNK, uploadRate: 128 * 1024 });
    await swarm.startPeer('a', { chunkSize: CHUNK });
    await swarm.startPeer('b', { chunkSize: CHUNK });
    for (const name of ['seed', 'a', 'b']) await swarm.control(name, 'connect');
    const generated = await generate(swarm, 'seed', { name: 'swarm.bin', size: chunks * CHUNK, seed: 'swarming' });
    await swarm.control('seed', 'upload');

    const [a, b] = await Promise.all([swarm.control('a', 'download', { name: 'swarm.bin' }), swarm.control('b', 'download', { name: 'swarm.bin' })]);
    for (const result of [a, b]) {
      expect(result.verified).toBe(true);
      expect(result.sha256).toBe(generated.sha256);
      expect(await sha256File(result.path as string)).toBe(generated.sha256);
    }
    const fromA = (b.chunksBySource as Record<string, number>).a ?? 0;
    const fromB = (a.chunksBySource as Record<string, number>).b ?? 0;
    expect(fromA + fromB).toBeGreaterThan(0);
    // Both are now seeders.
    const [row] = await listFiles(swarm, 'a');
    expect(row).toMatchObject({ name: 'swarm.bin', holders: 3, seeders: 3 });
  });

  test('a download does not overwrite a local file with the same name; it lands next to it', async () => {
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('dl', 'connect');
    const theirs = await generate(swarm, 'pub', { name: 'same.txt', size: 2 * CHUNK, seed: 'theirs', text: true });
    await swarm.control('pub', 'upload');
    const mine = await generate(swarm, 'dl', { name: 'same.txt', size: 100, seed: 'mine', text: true });

    const result = await swarm.control('dl', 'download', { name: 'same.txt' });
    expect(result.verified).toBe(true);
    expect(result.sha256).toBe(theirs.sha256);
    expect(result.path).toBe(path.join(swarm.peer('dl').dir, 'same.txt.1'));
    expect(await sha256File(result.path as string)).toBe(theirs.sha256);
    expect(await sha256File(path.join(swarm.peer('dl').dir, 'same.txt'))).toBe(mine.sha256);
  });

  test('two different files with the same name: download by name is ambiguous, by file id works', async () => {
    await swarm.startPeer('one', { chunkSize: CHUNK });
    await swarm.startPeer('two', { chunkSize: CHUNK });
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    for (const name of ['one', 'two', 'dl']) await swarm.control(name, 'connect');
    await generate(swarm, 'one', { name: 'dup.bin', size: CHUNK, seed: 'one' });
    const second = await generate(swarm, 'two', { name: 'dup.bin', size: CHUNK + 1, seed: 'two' });
    await swarm.control('one', 'upload');
    const upload = await swarm.control('two', 'upload');
    expect(await listFiles(swarm, 'dl')).toHaveLength(2);

    const ambiguous = await swarm.call('dl', 'download', { name: 'dup.bin' });
    expect(ambiguous).toMatchObject({ ok: false, error: { code: 'ERR_AMBIGUOUS' } });

    const fileId = (upload.published as FileRow[])[0]!.fileId;
    const result = await swarm.control('dl', 'download', { fileId });
    expect(result).toMatchObject({ fileId, verified: true, sha256: second.sha256, bytes: CHUNK + 1 });
    expect(await sha256File(result.path as string)).toBe(second.sha256);
  });

  test('downloading a file the peer already holds answers at once, verified, with nothing fetched', async () => {
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('dl', 'connect');
    const generated = await generate(swarm, 'pub', { name: 'twice.bin', size: 3 * CHUNK });
    await swarm.control('pub', 'upload');
    await swarm.control('dl', 'download', { name: 'twice.bin' });

    const again = await swarm.control('dl', 'download', { name: 'twice.bin' });
    expect(again).toMatchObject({ verified: true, sha256: generated.sha256, chunksBySource: {}, keptChunks: 3 });
    expect(await sha256File(again.path as string)).toBe(generated.sha256);
    expect(again.path).toBe(path.join(swarm.peer('dl').dir, 'twice.bin'));
  });

  test('a publisher that dies drops out of the catalogue', async () => {
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.startPeer('viewer', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('viewer', 'connect');
    await generate(swarm, 'pub', { name: 'gone.bin', size: CHUNK });
    await swarm.control('pub', 'upload');
    expect(await listFiles(swarm, 'viewer')).toHaveLength(1);

    await swarm.stopPeer('pub', 'SIGKILL');
    // The tracker sees the connection close (no need to wait for missed heartbeats).
    await waitFor(async () => (await listFiles(swarm, 'viewer')).length === 0, 20_000, 200);
    const response = await swarm.call('viewer', 'download', { name: 'gone.bin' });
    expect(response).toMatchObject({ ok: false, error: { code: 'ERR_NOT_FOUND' } });
  });

  test('commands that need a tracker say so before connect; a bad tracker address is refused', async () => {
    await swarm.startPeer('lonely', { chunkSize: CHUNK });
    for (const cmd of ['files', 'upload', 'disconnect'] as const) {
      expect(await swarm.call('lonely', cmd)).toMatchObject({ ok: false, error: { code: 'ERR_NOT_CONNECTED' } });
    }
    expect(await swarm.call('lonely', 'download', { name: 'x' })).toMatchObject({ ok: false, error: { code: 'ERR_NOT_CONNECTED' } });
    expect(await swarm.call('lonely', 'connect', { tracker: 'not an address:99999' })).toMatchObject({ ok: false, error: { code: 'ERR_BAD_ADDRESS' } });
    expect(await swarm.call('lonely', 'connect', { tracker: swarm.trackerAddress })).toMatchObject({ ok: true });
  });

  // Regression (fixed in 79321d4): two concurrent downloads of one file used to both start; the second
  // failed with ERR_CANNOT_WRITE (ENOENT renaming the shared sidecar's .tmp) or could hang until the
  // stall timeout. A second download of the same file now joins the first.
  test('two download commands for the same file at once both finish, verified', async () => {
    const chunks = 32;
    await swarm.startPeer('pub', { chunkSize: CHUNK, uploadRate: 128 * 1024 });
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('dl', 'connect');
    const generated = await generate(swarm, 'pub', { name: 'joined.bin', size: chunks * CHUNK, seed: 'joined' });
    await swarm.control('pub', 'upload');

    // Give up well before the 120 s stall timeout so that a hang shows as a clear failure.
    const within = <T>(promise: Promise<T>, what: string): Promise<T> =>
      Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not finish in 40 s`)), 40_000).unref())]);
    const [first, second] = await Promise.all([
      within(swarm.control('dl', 'download', { name: 'joined.bin' }), 'the first download'),
      within(swarm.control('dl', 'download', { name: 'joined.bin' }), 'the second download'),
    ]);
    for (const result of [first, second]) {
      expect(result.verified).toBe(true);
      expect(result.sha256).toBe(generated.sha256);
      expect(await sha256File(result.path as string)).toBe(generated.sha256);
      expect(result.path).toBe(path.join(swarm.peer('dl').dir, 'joined.bin'));
    }
    // One copy on disk, not two.
    const status = await swarm.control('dl', 'status');
    expect(status.files).toEqual([expect.objectContaining({ name: 'joined.bin', complete: true })]);
  });

  // Regression (fixed in 79321d4): a 0-byte download used to finish with verified:false and its path
  // left in DIR/.swarmlab/downloads/<fileId>.part.
  test('an empty file can be published and downloaded', async () => {
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('dl', 'connect');
    const generated = await generate(swarm, 'pub', { name: 'empty.txt', size: 0 });
    await swarm.control('pub', 'upload');
    expect(await listFiles(swarm, 'dl')).toEqual([expect.objectContaining({ name: 'empty.txt', size: 0, chunks: 0 })]);

    const result = await swarm.control('dl', 'download', { name: 'empty.txt' });
    expect(result).toMatchObject({ bytes: 0, sha256: generated.sha256, verified: true, path: path.join(swarm.peer('dl').dir, 'empty.txt') });
    expect(await sha256File(path.join(swarm.peer('dl').dir, 'empty.txt'))).toBe(generated.sha256);
  });

  // Regression: a rewritten file used to stay listed beside its new version (ERR_AMBIGUOUS on `d`).
  test('a published file rewritten and uploaded again: the network lists only the new version', async () => {
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('dl', 'connect');
    await generate(swarm, 'pub', { name: 'draft.txt', size: 3 * CHUNK, seed: 'v1', text: true });
    await swarm.control('pub', 'upload');
    const v2 = await generate(swarm, 'pub', { name: 'draft.txt', size: 3 * CHUNK + 10, seed: 'v2', text: true });
    await swarm.control('pub', 'upload');

    const files = await listFiles(swarm, 'dl');
    expect(files).toEqual([expect.objectContaining({ name: 'draft.txt', size: 3 * CHUNK + 10 })]);
    const result = await swarm.control('dl', 'download', { name: 'draft.txt' });
    expect(result).toMatchObject({ verified: true, sha256: v2.sha256 });
    expect(await sha256File(result.path as string)).toBe(v2.sha256);
  });

  test('a 24 MiB file at the default chunk size from two unlimited publishers', async () => {
    const size = 24 * 1024 * 1024 + 12345;
    await swarm.startPeer('p1');
    await swarm.startPeer('p2');
    await swarm.startPeer('dl');
    for (const name of ['p1', 'p2', 'dl']) await swarm.control(name, 'connect');
    const generated = await generate(swarm, 'p1', { name: 'big.bin', size, seed: 'big' });
    await generate(swarm, 'p2', { name: 'big.bin', size, seed: 'big' });
    await swarm.control('p1', 'upload');
    await swarm.control('p2', 'upload');
    const [row] = await listFiles(swarm, 'dl');
    expect(row).toMatchObject({ chunkSize: 256 * 1024, chunks: Math.ceil(size / (256 * 1024)) });

    const result = await swarm.control('dl', 'download', { name: 'big.bin' });
    expect(result).toMatchObject({ verified: true, sha256: generated.sha256, bytes: size });
    expect(await sha256File(result.path as string)).toBe(generated.sha256);
  });

  test('five downloaders at once from one slow seed all finish, verified', async () => {
    const chunks = 32;
    await swarm.startPeer('seed', { chunkSize: CHUNK, uploadRate: 256 * 1024 });
    await swarm.control('seed', 'connect');
    const generated = await generate(swarm, 'seed', { name: 'crowd.bin', size: chunks * CHUNK, seed: 'crowd' });
    await swarm.control('seed', 'upload');
    const names = ['d1', 'd2', 'd3', 'd4', 'd5'];
    for (const name of names) {
      await swarm.startPeer(name, { chunkSize: CHUNK });
      await swarm.control(name, 'connect');
    }
    const results = await Promise.all(names.map((name) => swarm.control(name, 'download', { name: 'crowd.bin' })));
    for (const result of results) {
      expect(result).toMatchObject({ verified: true, sha256: generated.sha256 });
      expect(await sha256File(result.path as string)).toBe(generated.sha256);
    }
    // The seed did not have to send every copy itself.
    const fromSeed = results.reduce((sum, result) => sum + ((result.chunksBySource as Record<string, number>).seed ?? 0), 0);
    expect(fromSeed).toBeLessThan(names.length * chunks);
    const [row] = await listFiles(swarm, 'seed');
    expect(row).toMatchObject({ holders: 6, seeders: 6 });
  });

  test('during a download: status lists it, and the tracker counts the downloader as a holder, not a seeder', async () => {
    const chunks = 48;
    await swarm.startPeer('seed', { chunkSize: CHUNK, uploadRate: 96 * 1024 });
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('seed', 'connect');
    await swarm.control('dl', 'connect');
    await generate(swarm, 'seed', { name: 'midway.bin', size: chunks * CHUNK, seed: 'midway' });
    const fileId = ((await swarm.control('seed', 'upload')).published as FileRow[])[0]!.fileId;

    const seen = collector();
    const result = swarm.control('dl', 'download', { name: 'midway.bin' }, seen.onLine);
    result.catch(() => undefined);
    await waitFor(() => seen.events('chunk').length >= 4, 20_000, 20);

    const status = await swarm.control('dl', 'status');
    expect(status.downloads).toEqual([fileId]);
    expect(status.files).toEqual([expect.objectContaining({ fileId, complete: false, chunks })]);
    const row = await waitFor(async () => (await listFiles(swarm, 'seed')).find((file) => file.holders === 2), 10_000, 100);
    expect(row).toMatchObject({ holders: 2, seeders: 1 });

    expect(await result).toMatchObject({ verified: true });
    expect((await swarm.control('dl', 'status')).downloads).toEqual([]);
    expect(await waitFor(async () => (await listFiles(swarm, 'seed')).find((file) => file.seeders === 2), 10_000, 100)).toMatchObject({ holders: 2 });
  });

  test('the downloader disconnects from the tracker mid-download: it still finishes, and reconnecting announces it', async () => {
    const chunks = 48;
    await swarm.startPeer('seed', { chunkSize: CHUNK, uploadRate: 128 * 1024 });
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('seed', 'connect');
    await swarm.control('dl', 'connect');
    const generated = await generate(swarm, 'seed', { name: 'offline.bin', size: chunks * CHUNK, seed: 'offline' });
    await swarm.control('seed', 'upload');

    const seen = collector();
    const result = swarm.control('dl', 'download', { name: 'offline.bin' }, seen.onLine);
    result.catch(() => undefined);
    await waitFor(() => seen.events('chunk').length >= 4, 20_000, 20);
    await swarm.control('dl', 'disconnect');
    const done = await result;
    expect(done).toMatchObject({ verified: true, sha256: generated.sha256 });
    expect(await sha256File(done.path as string)).toBe(generated.sha256);
    expect((await listFiles(swarm, 'seed'))[0]).toMatchObject({ holders: 1, seeders: 1 });

    await swarm.control('dl', 'connect');
    const row = await waitFor(async () => (await listFiles(swarm, 'seed')).find((file) => file.seeders === 2), 10_000, 100);
    expect(row).toMatchObject({ name: 'offline.bin', holders: 2 });
  });
});
