/**
 * The hashing thread: chunk verification and the whole-file digest a download computes as its chunks
 * verify, in any order. Always the SHA-256 of the file; in order or a little out of order it never
 * reads the file back; chunk memory from the pool travels to the thread and back without a copy.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkMemory } from '../../src/peer/chunk-memory';
import { FileDigest } from '../../src/peer/file-digest';
import { HASH_THREAD_NAME, HOLD_AHEAD_CHUNKS, HOLD_BYTES } from '../../src/peer/hash-thread';
import { HashWorker } from '../../src/peer/hash-worker';
import { Bitfield } from '../../src/protocol';
import type { Manifest } from '../../src/protocol';

const CHUNK_BYTES = 1024;

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

interface TestFile {
  content: Buffer;
  manifest: Manifest;
  chunk: (index: number) => Buffer;
  expected: string;
}

function testFile(chunks: number): TestFile {
  const content = randomBytes(CHUNK_BYTES * (chunks - 1) + 100);
  const chunk = (index: number): Buffer =>
    content.subarray(index * CHUNK_BYTES, Math.min(content.length, (index + 1) * CHUNK_BYTES));
  const manifest: Manifest = {
    name: 'digest.bin',
    size: content.length,
    chunkSize: CHUNK_BYTES,
    chunks: Array.from({ length: chunks }, (_, index) => sha256(chunk(index))),
  };
  return { content, manifest, chunk, expected: sha256(content) };
}

const SMALL = testFile(10);
/** More chunks than the thread holds ahead: written in reverse, most must be read back. */
const LARGE = testFile(HOLD_AHEAD_CHUNKS * 2 + 5);

let dir: string;
let hasher: HashWorker;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swarmlab-digest-'));
  hasher = new HashWorker();
});

afterAll(async () => {
  await hasher.terminate();
  await rm(dir, { recursive: true, force: true });
});

async function fileWith(file: TestFile, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, file.content);
  return path;
}

/** Verifies and "writes" the chunks in `order` the way the scheduler does; returns the file digest. */
async function digestInOrder(file: TestFile, order: number[], path: string): Promise<string> {
  const digest = new FileDigest(hasher, { manifest: file.manifest, path, have: new Bitfield(file.manifest.chunks.length) });
  for (const index of order) {
    const verdict = await hasher.verify(Buffer.from(file.chunk(index)), file.manifest.chunks[index]!, digest.chunk(index));
    expect(verdict.valid).toBe(true);
    digest.written(index);
  }
  return digest.finish();
}

const inOrder = (chunks: number): number[] => Array.from({ length: chunks }, (_, index) => index);

describe('HashWorker.verify', () => {
  it('runs in an OS thread named for it, so per-thread profiles (top -H, perf, /proc) show it', async () => {
    expect((await hasher.verify(SMALL.chunk(0), SMALL.manifest.chunks[0]!)).valid).toBe(true);
    const names = await Promise.all(
      (await readdir('/proc/self/task')).map(async (tid) => (await readFile(`/proc/self/task/${tid}/comm`, 'utf8')).trim()),
    );
    expect(names).toContain(HASH_THREAD_NAME);
  });

  it('tells a chunk with the expected SHA-256 from one without', async () => {
    const data = SMALL.chunk(3);
    expect((await hasher.verify(Buffer.from(data), SMALL.manifest.chunks[3]!)).valid).toBe(true);
    expect((await hasher.verify(Buffer.from(data), SMALL.manifest.chunks[4]!)).valid).toBe(false);
  });

  it('moves leased memory to the thread and back without a copy; copies anything else', async () => {
    const memory = new ChunkMemory({ pooledFrameBytes: 1 });
    const own = new HashWorker({ memory });
    const frame = memory.allocateFrame(CHUNK_BYTES + 8);
    SMALL.chunk(0).copy(frame, 8);
    const view = frame.subarray(8);
    const lease = memory.lease(view);
    const verifying = own.verify(lease, SMALL.manifest.chunks[0]!);
    // The memory was transferred: the old view is detached, and the lease lends it meanwhile...
    expect(view.length).toBe(0);
    expect(() => lease.data).toThrow(expect.objectContaining({ code: 'ERR_CHUNK_LENT' }));
    expect((await verifying).valid).toBe(true);
    // ...then holds the same bytes again, at the same place in the same (new) memory...
    expect(lease.data.equals(SMALL.chunk(0))).toBe(true);
    expect(lease.data.byteOffset).toBe(8);
    // ...which is the owner's again: released, it is what the memory hands out next.
    const returned = lease.data.buffer;
    lease.release();
    expect(memory.allocateFrame(CHUNK_BYTES + 8).buffer).toBe(returned);

    const unpooled = Buffer.from(SMALL.chunk(1));
    expect((await own.verify(unpooled, SMALL.manifest.chunks[1]!)).valid).toBe(true);
    expect(unpooled.length).toBe(CHUNK_BYTES);
    // A lease of another peer's memory is copied too: this worker cannot take that memory back.
    const foreign = new ChunkMemory({ pooledFrameBytes: 1 });
    const foreignFrame = foreign.allocateFrame(CHUNK_BYTES);
    SMALL.chunk(2).copy(foreignFrame);
    const foreignLease = foreign.lease(foreignFrame);
    expect((await own.verify(foreignLease, SMALL.manifest.chunks[2]!)).valid).toBe(true);
    expect(foreignLease.data.buffer).toBe(foreignFrame.buffer);
    await own.terminate();
  });

  it('writes a chunk that verifies at the target, in the same trip; never one that does not', async () => {
    const path = join(dir, 'written-by-thread.bin');
    const handle = await open(path, 'w+');
    try {
      const good = await hasher.verify(Buffer.from(SMALL.chunk(1)), SMALL.manifest.chunks[1]!, undefined, { fd: handle.fd, position: CHUNK_BYTES });
      expect(good).toEqual({ valid: true });
      const bad = await hasher.verify(Buffer.from(SMALL.chunk(2)), SMALL.manifest.chunks[3]!, undefined, { fd: handle.fd, position: 2 * CHUNK_BYTES });
      expect(bad).toEqual({ valid: false });
      const content = await readFile(path);
      expect(content.length).toBe(2 * CHUNK_BYTES);
      expect(content.subarray(CHUNK_BYTES).equals(SMALL.chunk(1))).toBe(true);
    } finally {
      await handle.close();
    }
  });

  it("reports a failed write's errno code: the chunk verified but is not in the file", async () => {
    const path = join(dir, 'read-only.bin');
    await writeFile(path, '');
    const handle = await open(path, 'r');
    try {
      const verdict = await hasher.verify(Buffer.from(SMALL.chunk(0)), SMALL.manifest.chunks[0]!, undefined, { fd: handle.fd, position: 0 });
      expect(verdict).toEqual({ valid: true, writeError: 'EBADF' });
    } finally {
      await handle.close();
    }
  });

  it('rejects the calls waiting on a thread that stops, and starts a new one for the next call', async () => {
    const own = new HashWorker();
    const waiting = own.verify(Buffer.from(SMALL.chunk(0)), SMALL.manifest.chunks[0]!);
    await own.terminate();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_HASH_THREAD' });
    expect((await own.verify(Buffer.from(SMALL.chunk(0)), SMALL.manifest.chunks[0]!)).valid).toBe(true);
    await own.terminate();
  });
});

describe('FileDigest', () => {
  it('hashes chunks that verify in order from memory, without reading the file', async () => {
    expect(await digestInOrder(SMALL, inOrder(10), join(dir, 'never-written'))).toBe(SMALL.expected);
  });

  it('holds chunks that verify a little ahead of their turn: pairs swapped, still no reading', async () => {
    const swapped = inOrder(10).map((index) => (index % 2 === 0 ? index + 1 : index - 1));
    expect(await digestInOrder(SMALL, swapped, join(dir, 'never-written'))).toBe(SMALL.expected);
  });

  it('gives the digest of the file for every rotation, reading back what it did not hold', async () => {
    for (let start = 1; start < 10; start++) {
      const rotated = [...inOrder(10).slice(start), ...inOrder(10).slice(0, start)];
      expect(await digestInOrder(SMALL, rotated, await fileWith(SMALL, `rotated-${start}`))).toBe(SMALL.expected);
    }
  });

  it('reads back the chunks verified too far ahead of their turn (reverse order)', async () => {
    const reversed = inOrder(LARGE.manifest.chunks.length).reverse();
    expect(await digestInOrder(LARGE, reversed, await fileWith(LARGE, 'reversed'))).toBe(LARGE.expected);
    // Without the file there is nothing to read back: the digest fails instead of guessing.
    await expect(digestInOrder(LARGE, reversed, join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('never feeds a chunk that fails verification to the file digest', async () => {
    const digest = new FileDigest(hasher, { manifest: SMALL.manifest, path: join(dir, 'never-written'), have: new Bitfield(10) });
    const forged = Buffer.from(SMALL.chunk(0));
    forged[0] = forged[0]! ^ 0xff;
    expect((await hasher.verify(forged, SMALL.manifest.chunks[0]!, digest.chunk(0))).valid).toBe(false);
    for (const index of inOrder(10)) {
      await hasher.verify(Buffer.from(SMALL.chunk(index)), SMALL.manifest.chunks[index]!, digest.chunk(index));
      digest.written(index);
    }
    expect(await digest.finish()).toBe(SMALL.expected);
  });

  it('reads back through the descriptor it opened first, after the file was renamed into place', async () => {
    const chunks = LARGE.manifest.chunks.length;
    const partial = await fileWith(LARGE, 'renamed.part');
    const digest = new FileDigest(hasher, { manifest: LARGE.manifest, path: partial, have: new Bitfield(chunks) });
    for (const index of inOrder(chunks).reverse()) {
      await hasher.verify(Buffer.from(LARGE.chunk(index)), LARGE.manifest.chunks[index]!, digest.chunk(index));
      digest.written(index);
      if (index === 1) await rename(partial, join(dir, 'renamed.bin'));
    }
    expect(await digest.finish()).toBe(LARGE.expected);
  });

  it('finishes from the file alone when every chunk was already there (a resumed download)', async () => {
    const path = await fileWith(SMALL, 'resumed');
    expect(await new FileDigest(hasher, { manifest: SMALL.manifest, path, have: Bitfield.full(10) }).finish()).toBe(SMALL.expected);
    await expect(
      new FileDigest(hasher, { manifest: SMALL.manifest, path: join(dir, 'missing'), have: Bitfield.full(10) }).finish(),
    ).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rejects when the file cannot be read back', async () => {
    // A directory opens, but every read of it fails (EISDIR).
    const reversed = inOrder(LARGE.manifest.chunks.length).reverse();
    await expect(digestInOrder(LARGE, reversed, dir)).rejects.toMatchObject({ message: expect.stringContaining('EISDIR') });
  });

  it('fails the digest of a download whose thread stopped, instead of giving a wrong one', async () => {
    const own = new HashWorker();
    const digest = new FileDigest(own, { manifest: SMALL.manifest, path: join(dir, 'never-written'), have: new Bitfield(10) });
    await own.verify(Buffer.from(SMALL.chunk(0)), SMALL.manifest.chunks[0]!, digest.chunk(0));
    await own.terminate();
    for (const index of inOrder(10).slice(1)) {
      await own.verify(Buffer.from(SMALL.chunk(index)), SMALL.manifest.chunks[index]!, digest.chunk(index));
      digest.written(index);
    }
    await expect(digest.finish()).rejects.toMatchObject({ code: 'ERR_HASH_THREAD' });
    await own.terminate();
  });
});

// Issue 18 (load held): each download's held copies and read-back buffer were left to the thread's
// garbage collector, which runs late in a thread that allocates little on its heap; over a soak the
// thread's external memory grew by 10-15 MB per peer. The next digests now reuse them.
describe('the hashing thread reuses the buffers of finished digests', () => {
  /** Pairs swapped (1, 0, 3, 2, ...): every other chunk arrives ahead of its turn and is held. */
  const swapped = (chunks: number): number[] => Array.from({ length: chunks }, (_, index) => (index % 2 === 0 ? Math.min(index + 1, chunks - 1) : index - 1)).filter((v, i, all) => all.indexOf(v) === i);

  it('a second and third download of the same shape allocate no new chunk buffers, finished or abandoned', async () => {
    const own = new HashWorker();
    try {
      const order = swapped(SMALL.manifest.chunks.length);
      expect([...order].sort((a, b) => a - b)).toEqual(inOrder(SMALL.manifest.chunks.length));
      const path = await fileWith(SMALL, 'reuse.bin');
      const digestWith = async (worker: HashWorker, abandon: boolean): Promise<void> => {
        const digest = new FileDigest(worker, { manifest: SMALL.manifest, path, have: new Bitfield(SMALL.manifest.chunks.length) });
        for (const index of abandon ? order.slice(0, 4) : order) {
          await worker.verify(Buffer.from(SMALL.chunk(index)), SMALL.manifest.chunks[index]!, digest.chunk(index));
          digest.written(index);
        }
        if (abandon) await digest.close();
        else expect(await digest.finish()).toBe(SMALL.expected);
      };
      await digestWith(own, false);
      const first = await own.stats();
      expect(first.allocatedBuffers).toBeGreaterThan(0);
      await digestWith(own, true);
      await digestWith(own, false);
      await digestWith(own, false);
      const later = await own.stats();
      expect(later.allocatedBuffers).toBe(first.allocatedBuffers);
      expect(later.idleBytes).toBeLessThanOrEqual(HOLD_BYTES);
    } finally {
      await own.terminate();
    }
  });
});

