/**
 * The whole-file digest a download computes as its chunks are written, in any order: always the
 * SHA-256 of the file, and with chunks in order it never reads the file back.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InOrderFileDigest } from '../../src/peer/file-digest';
import { Bitfield } from '../../src/protocol';
import type { Manifest } from '../../src/protocol';

const CHUNK_BYTES = 1024;
const CONTENT = randomBytes(CHUNK_BYTES * 9 + 100);
const CHUNKS = Math.ceil(CONTENT.length / CHUNK_BYTES);
const MANIFEST: Manifest = {
  name: 'digest.bin',
  size: CONTENT.length,
  chunkSize: CHUNK_BYTES,
  chunks: Array.from({ length: CHUNKS }, () => '0'.repeat(64)),
};
const EXPECTED = createHash('sha256').update(CONTENT).digest('hex');

let dir: string;
let path: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swarmlab-digest-'));
  path = join(dir, 'digest.part');
  await writeFile(path, CONTENT);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function chunk(index: number): Buffer {
  return CONTENT.subarray(index * CHUNK_BYTES, Math.min(CONTENT.length, (index + 1) * CHUNK_BYTES));
}

/** Writes the chunks in `order` the way the scheduler does: the bitfield first, then `written`. */
async function digestInOrder(
  order: number[],
  filePath = path,
): Promise<{ sha256: string; hashedBeforeFinish: number }> {
  const have = new Bitfield(CHUNKS);
  const digest = new InOrderFileDigest({ manifest: MANIFEST, path: filePath, have });
  for (const index of order) {
    have.set(index);
    digest.written(index, Buffer.from(chunk(index)));
    // Let a read-back loop run between chunks, as it would between network reads.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const hashedBeforeFinish = digest.hashedChunks;
  return { sha256: await digest.finish(), hashedBeforeFinish };
}

describe('InOrderFileDigest', () => {
  const inOrder = Array.from({ length: CHUNKS }, (_, i) => i);

  it('hashes chunks written in order from memory, without reading the file', async () => {
    const result = await digestInOrder(inOrder, join(dir, 'never-read'));
    expect(result).toEqual({ sha256: EXPECTED, hashedBeforeFinish: CHUNKS });
  });

  it('gives the same digest for chunks written in reverse, reading them back', async () => {
    expect((await digestInOrder([...inOrder].reverse())).sha256).toBe(EXPECTED);
  });

  it('gives the same digest for every rotation and for pairs swapped', async () => {
    for (let start = 1; start < CHUNKS; start++) {
      const rotated = [...inOrder.slice(start), ...inOrder.slice(0, start)];
      expect((await digestInOrder(rotated)).sha256).toBe(EXPECTED);
    }
    const swapped = inOrder.map((index) => (index % 2 === 0 ? Math.min(index + 1, CHUNKS - 1) : index - 1));
    expect(new Set(swapped).size).toBe(CHUNKS);
    expect((await digestInOrder(swapped)).sha256).toBe(EXPECTED);
  });

  it('reads back through the descriptor it opened first, after the file was renamed into place', async () => {
    const partial = join(dir, 'renamed.part');
    await writeFile(partial, CONTENT);
    const have = new Bitfield(CHUNKS);
    const digest = new InOrderFileDigest({ manifest: MANIFEST, path: partial, have });
    for (let index = CHUNKS - 1; index >= 1; index--) {
      have.set(index);
      digest.written(index, Buffer.from(chunk(index)));
    }
    have.set(0);
    await rename(partial, join(dir, 'renamed.bin'));
    digest.written(0, Buffer.from(chunk(0)));
    expect(await digest.finish()).toBe(EXPECTED);
  });

  it('finishes from the file alone when every chunk was already there (a resumed download)', async () => {
    const have = Bitfield.full(CHUNKS);
    expect(await new InOrderFileDigest({ manifest: MANIFEST, path, have }).finish()).toBe(EXPECTED);
  });

  it('stops reading back after a failed read and rejects at the end (no retry loop)', async () => {
    const have = new Bitfield(CHUNKS);
    // A directory opens, but every read of it fails (EISDIR).
    const digest = new InOrderFileDigest({ manifest: MANIFEST, path: dir, have });
    for (let index = CHUNKS - 1; index >= 0; index--) {
      have.set(index);
      digest.written(index, Buffer.from(chunk(index)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await expect(digest.finish()).rejects.toThrow();
  });

  it('rejects when the file cannot be read back', async () => {
    const have = Bitfield.full(CHUNKS);
    await expect(
      new InOrderFileDigest({ manifest: MANIFEST, path: join(dir, 'missing'), have }).finish(),
    ).rejects.toThrow();
  });
});
