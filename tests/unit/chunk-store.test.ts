/**
 * How a finished download leaves the partial file: a chunk request served while the file moves into
 * place is answered from the finished file and creates no partial file, and the move never replaces
 * a file that already has the name (two downloads of different files with one name finishing
 * together). Real files in a temporary directory.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsPromises from 'node:fs/promises';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { computeFileId } from '../../src/protocol';
import type { Manifest } from '../../src/protocol';
import { ChunkStore, SIDECAR_FLUSH_MS } from '../../src/peer/chunk-store';
import { createLogger, setLogLevel } from '../../src/shared/logger';

const CHUNK = 1024;
const logger = createLogger('test');

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function manifestOf(name: string, data: Buffer): Manifest {
  const chunks: string[] = [];
  for (let offset = 0; offset < data.length; offset += CHUNK) chunks.push(sha256(data.subarray(offset, offset + CHUNK)));
  return { name, size: data.length, chunkSize: CHUNK, chunks };
}

describe('ChunkStore: finishing a download', () => {
  let dir: string;

  beforeAll(() => setLogLevel('silent'));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-store-'));
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });

  test('issue 18 hole 1: a chunk read right after the partial file moved is served from the finished file; no .part is created', async () => {
    const data = Buffer.alloc(2 * CHUNK);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    const manifest = manifestOf('moved.bin', data);
    const fileId = computeFileId(manifest);
    const store = new ChunkStore({ dir, chunkSize: CHUNK }, logger);
    await store.beginDownload(fileId, manifest);
    await store.writeChunk(fileId, 0, data.subarray(0, CHUNK));

    // A REQUEST for chunk 0 arrives just after the partial file left its path (renamed, or linked into
    // DIR and unlinked), before the store has recorded the move.
    let served: Promise<Buffer> | undefined;
    const serveInTheWindow = async (path: unknown): Promise<void> => {
      if (!String(path).endsWith('.part') || served) return;
      served = store.readChunk(fileId, 0);
      served.catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
    };
    const realRename = fsPromises.rename.bind(fsPromises);
    const realUnlink = fsPromises.unlink.bind(fsPromises);
    jest.spyOn(fsPromises, 'rename').mockImplementation(async (from, to) => {
      await realRename(from, to);
      await serveInTheWindow(from);
    });
    jest.spyOn(fsPromises, 'unlink').mockImplementation(async (path) => {
      await realUnlink(path);
      await serveInTheWindow(path);
    });

    await store.writeChunk(fileId, 1, data.subarray(CHUNK));
    expect(served).toBeDefined();
    expect(store.get(fileId)?.complete).toBe(true);
    expect(await served).toEqual(data.subarray(0, CHUNK));
    // The peer still serves the file it advertises...
    expect(await store.readChunk(fileId, 0)).toEqual(data.subarray(0, CHUNK));
    expect(await store.readChunk(fileId, 1)).toEqual(data.subarray(CHUNK));
    // ...and left no partial file behind.
    expect((await readdir(store.downloadsDir)).filter((name) => name.startsWith(fileId))).toEqual([]);
    expect(await readFile(join(dir, 'moved.bin'))).toEqual(data);
    await store.close();
  });

  test('issue 18 hole 2: two different files with one name finishing together both land, neither replaces the other', async () => {
    for (let round = 0; round < 40; round++) {
      const name = `same-${round}.bin`;
      const contents = [Buffer.alloc(CHUNK, 0x41 + round), Buffer.alloc(CHUNK, 0x61 + round)];
      const stores = contents.map(() => new ChunkStore({ dir, chunkSize: CHUNK }, logger));
      const manifests = contents.map((content) => manifestOf(name, content));
      const ids = manifests.map((manifest) => computeFileId(manifest));
      await Promise.all(stores.map((store, i) => store.beginDownload(ids[i]!, manifests[i]!)));
      await Promise.all(stores.map((store, i) => store.writeChunk(ids[i]!, 0, contents[i]!)));

      const landed = await Promise.all([readFile(join(dir, name)), readFile(join(dir, `${name}.1`))]);
      expect(landed.map((bytes) => bytes.toString('hex')).sort()).toEqual(contents.map((bytes) => bytes.toString('hex')).sort());
      expect(stores.map((store, i) => store.get(ids[i]!)?.path).sort()).toEqual([join(dir, name), join(dir, `${name}.1`)]);
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  test("issue 18 hole 2: a user's file that already has the name is kept", async () => {
    await writeFile(join(dir, 'mine.txt'), 'the user wrote this');
    const content = Buffer.alloc(CHUNK, 0x33);
    const manifest = manifestOf('mine.txt', content);
    const store = new ChunkStore({ dir, chunkSize: CHUNK }, logger);
    await store.beginDownload(computeFileId(manifest), manifest);
    await store.writeChunk(computeFileId(manifest), 0, content);
    expect(await readFile(join(dir, 'mine.txt'), 'utf8')).toBe('the user wrote this');
    expect(await readFile(join(dir, 'mine.txt.1'))).toEqual(content);
    await store.close();
  });
});

describe('ChunkStore: a full disk when a download starts', () => {
  let dir: string;
  const data = Buffer.alloc(3 * CHUNK);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 253;
  const manifest = manifestOf('full.bin', data);
  const fileId = computeFileId(manifest);

  beforeAll(() => setLogLevel('silent'));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-store-'));
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes of files whose path ends with `suffix` write half their content, then fail as a full disk does. */
  function diskFullFor(suffix: string): void {
    const realWriteFile = fsPromises.writeFile;
    jest.spyOn(fsPromises, 'writeFile').mockImplementation(async (path, content, options) => {
      if (!String(path).endsWith(suffix)) return realWriteFile(path, content, options);
      await realWriteFile(path, String(content).slice(0, 10), options);
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    });
  }

  test.each(['.manifest.tmp', '.json.tmp'])(
    'issue 18 hole 9: the start fails with ERR_DISK_FULL when %s cannot be written, leaves no file, and a later start completes',
    async (suffix) => {
      const store = new ChunkStore({ dir, chunkSize: CHUNK }, logger);
      diskFullFor(suffix);
      await expect(store.beginDownload(fileId, manifest)).rejects.toMatchObject({ code: 'ERR_DISK_FULL' });
      // Nothing a restart would skip over (a .part no sidecar describes) or never remove (a temp file).
      expect(await readdir(store.downloadsDir)).toEqual([]);
      expect(store.get(fileId)).toBeUndefined();
      jest.restoreAllMocks();

      await store.beginDownload(fileId, manifest);
      for (let index = 0; index < 3; index++) await store.writeChunk(fileId, index, data.subarray(index * CHUNK, (index + 1) * CHUNK));
      expect(sha256(await readFile(join(dir, 'full.bin')))).toBe(sha256(data));
      expect(await readdir(store.downloadsDir)).toEqual([]);
      await store.close();
    },
  );

  test('issue 18 hole 9: a resumed download whose restart hits a full disk keeps its partial file and resumes later', async () => {
    const first = new ChunkStore({ dir, chunkSize: CHUNK }, logger);
    await first.beginDownload(fileId, manifest);
    await first.writeChunk(fileId, 0, data.subarray(0, CHUNK));
    await first.close();

    diskFullFor('.manifest.tmp');
    const full = new ChunkStore({ dir, chunkSize: CHUNK }, logger);
    expect(await full.loadPartials()).toEqual([]);
    await full.close();
    jest.restoreAllMocks();

    const later = new ChunkStore({ dir, chunkSize: CHUNK }, logger);
    const resumed = await later.loadPartials();
    expect(resumed.map(({ file, kept }) => [file.fileId, kept])).toEqual([[fileId, 1]]);
    await later.close();
  });
});

describe('ChunkStore: a chunk written off the event loop (beginWrite / finishWrite)', () => {
  let dir: string;

  beforeAll(() => setLogLevel('silent'));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-store-'));
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });

  function twoChunks(): { data: Buffer; manifest: Manifest; fileId: string } {
    const data = Buffer.alloc(2 * CHUNK);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 253;
    const manifest = manifestOf('outside.bin', data);
    return { data, manifest, fileId: computeFileId(manifest) };
  }

  test('a chunk written through the target is recorded as writeChunk records it, and the last completes the file', async () => {
    const { data, manifest, fileId } = twoChunks();
    const store = new ChunkStore({ dir, chunkSize: CHUNK }, logger);
    await store.beginDownload(fileId, manifest);
    const announced: number[] = [];
    store.on('chunk', (_, index) => announced.push(index));
    for (const index of [1, 0]) {
      const target = await store.beginWrite(fileId, index);
      expect(target?.position).toBe(index * CHUNK);
      const handle = await fsPromises.open(store.get(fileId)!.path, 'r+');
      await handle.write(data, index * CHUNK, CHUNK, target!.position);
      await handle.close();
      expect(await store.finishWrite(fileId, index, { written: true })).toBe(true);
    }
    expect(announced).toEqual([1, 0]);
    expect(store.get(fileId)?.complete).toBe(true);
    expect((await readFile(join(dir, 'outside.bin'))).equals(data)).toBe(true);
    // Held now: no target for it, and a late duplicate records nothing.
    expect(await store.beginWrite(fileId, 0)).toBeUndefined();
    await store.close();
  });

  test('a write that failed throws as writeChunk does (a full disk), and one not written is not recorded', async () => {
    const { manifest, fileId } = twoChunks();
    const store = new ChunkStore({ dir, chunkSize: CHUNK }, logger);
    await store.beginDownload(fileId, manifest);
    await store.beginWrite(fileId, 0);
    await expect(store.finishWrite(fileId, 0, { written: false, writeError: 'ENOSPC' })).rejects.toMatchObject({ code: 'ERR_DISK_FULL' });
    await store.beginWrite(fileId, 0);
    await expect(store.finishWrite(fileId, 0, { written: false, writeError: 'EIO' })).rejects.toMatchObject({ code: 'ERR_WRITE_FAILED' });
    await store.beginWrite(fileId, 1);
    expect(await store.finishWrite(fileId, 1, { written: false })).toBe(false);
    expect(store.get(fileId)?.bitfield.count).toBe(0);
    await store.close();
  });

  test('the descriptor handed out stays open until the write is settled: closing the store waits for it', async () => {
    const { manifest, fileId } = twoChunks();
    const store = new ChunkStore({ dir, chunkSize: CHUNK }, logger);
    await store.beginDownload(fileId, manifest);
    const target = await store.beginWrite(fileId, 0);
    let closed = false;
    const closing = store.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(false);
    // Still the partial file's descriptor: a write through it lands in the file.
    const { bytesWritten } = await new Promise<{ bytesWritten: number }>((resolve, reject) =>
      fs.write(target!.fd, Buffer.alloc(CHUNK, 1), 0, CHUNK, 0, (error, bytesWritten) => (error ? reject(error) : resolve({ bytesWritten }))),
    );
    expect(bytesWritten).toBe(CHUNK);
    await store.finishWrite(fileId, 0, { written: false });
    await closing;
    expect(closed).toBe(true);
  });
});

describe('ChunkStore: the download sidecar cadence', () => {
  const CHUNKS = 400;
  let dir: string;
  const data = Buffer.alloc(CHUNKS * CHUNK);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13) % 251;
  const manifest = manifestOf('slow.bin', data);
  const fileId = computeFileId(manifest);
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  beforeAll(() => setLogLevel('silent'));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-store-'));
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });

  test('issue 17: a slow download rewrites its sidecar at most once per SIDECAR_FLUSH_MS, and still during the download', async () => {
    const realRename = fsPromises.rename;
    const sidecarWrites: number[] = [];
    jest.spyOn(fsPromises, 'rename').mockImplementation(async (from, to) => {
      if (String(to).endsWith(`${fileId}.json`)) sidecarWrites.push(Date.now());
      return realRename(from, to);
    });
    const store = new ChunkStore({ dir, chunkSize: CHUNK }, logger);
    await store.beginDownload(fileId, manifest);
    // A chunk every 20 ms for 2.5 s: the pace of a 64 KiB-chunk download at 3 MiB/s.
    const startedMs = Date.now();
    let index = 0;
    while (Date.now() - startedMs < 2_500) {
      await store.writeChunk(fileId, index, data.subarray(index * CHUNK, (index + 1) * CHUNK));
      index++;
      await sleep(20);
    }
    const elapsedMs = Date.now() - startedMs;
    expect(sidecarWrites.length).toBeGreaterThanOrEqual(2);
    expect(sidecarWrites.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / SIDECAR_FLUSH_MS) + 1);
    await store.close();
  });

  test('issue 17: a crash loses at most the chunks verified in the last SIDECAR_FLUSH_MS', async () => {
    const store = new ChunkStore({ dir, chunkSize: CHUNK }, logger);
    await store.beginDownload(fileId, manifest);
    for (let index = 0; index < 5; index++) await store.writeChunk(fileId, index, data.subarray(index * CHUNK, (index + 1) * CHUNK));
    await sleep(SIDECAR_FLUSH_MS + 300);
    // No close(): the process died here. A new store reads what the first left on disk.
    const restarted = new ChunkStore({ dir, chunkSize: CHUNK }, logger);
    const resumed = await restarted.loadPartials();
    expect(resumed.map(({ file, kept }) => [file.fileId, kept])).toEqual([[fileId, 5]]);
    await restarted.close();
    await store.close();
  });
});
