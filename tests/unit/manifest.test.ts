/**
 * Manifests: file ids, validation, chunk lengths, and building a manifest from a real file.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  assertValidManifest,
  canonicalManifest,
  chunkLength,
  computeFileId,
  expectedChunkCount,
  InvalidBodyError,
  MAX_CHUNK_BYTES,
} from '../../src/protocol';
import type { Manifest } from '../../src/protocol';
import { buildManifest, sha256Hex } from '../../src/shared/files';

const H0 = '0'.repeat(64);
const H1 = '1'.repeat(64);
const H2 = 'a'.repeat(64);

function manifest(overrides: Partial<Manifest> = {}): Manifest {
  return { name: 'data.bin', size: 2500, chunkSize: 1024, chunks: [H0, H1, H2], ...overrides };
}

function withoutMtime(m: Manifest): Manifest {
  return { name: m.name, size: m.size, chunkSize: m.chunkSize, chunks: m.chunks };
}

function independentSha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function rejectionOf(value: unknown): InvalidBodyError {
  try {
    assertValidManifest(value);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidBodyError);
    expect((error as InvalidBodyError).code).toBe('ERR_INVALID_BODY');
    return error as InvalidBodyError;
  }
  throw new Error('expected the manifest to be rejected');
}

describe('computeFileId', () => {
  it('is a 64-character lowercase hex SHA-256 of the canonical encoding', () => {
    const m = manifest();
    expect(computeFileId(m)).toMatch(/^[0-9a-f]{64}$/);
    expect(computeFileId(m)).toBe(independentSha256(Buffer.from(canonicalManifest(m), 'utf8')));
  });

  it('is stable across calls and across equal copies', () => {
    expect(computeFileId(manifest())).toBe(computeFileId(manifest()));
    expect(computeFileId(manifest())).toBe(computeFileId(JSON.parse(JSON.stringify(manifest())) as Manifest));
  });

  it.each<[string, Partial<Manifest>]>([
    ['the name', { name: 'data.bin2' }],
    ['the size', { size: 2501 }],
    ['the chunkSize', { chunkSize: 2048 }],
    ['one chunk hash', { chunks: [H0, H1, 'b'.repeat(64)] }],
    ['the chunk order', { chunks: [H1, H0, H2] }],
    ['the chunk count', { chunks: [H0, H1] }],
  ])('changes when %s changes', (_field, change) => {
    expect(computeFileId(manifest(change))).not.toBe(computeFileId(manifest()));
  });

  it('ignores key order', () => {
    const m = manifest();
    const reordered = { chunks: m.chunks, chunkSize: m.chunkSize, size: m.size, name: m.name };
    expect(canonicalManifest(reordered)).toBe(canonicalManifest(m));
    expect(computeFileId(reordered)).toBe(computeFileId(m));
  });

  it('ignores extra fields such as mtimeMs', () => {
    const withExtra = { ...manifest(), mtimeMs: 12345 } as Manifest;
    expect(computeFileId(withExtra)).toBe(computeFileId(manifest()));
  });

  it('canonical order is name, size, chunkSize, chunks', () => {
    expect(Object.keys(JSON.parse(canonicalManifest(manifest())) as object)).toEqual([
      'name',
      'size',
      'chunkSize',
      'chunks',
    ]);
  });
});

describe('assertValidManifest', () => {
  it('accepts a valid manifest, an empty file and the chunk-size bounds', () => {
    expect(() => assertValidManifest(manifest())).not.toThrow();
    expect(() => assertValidManifest(manifest({ size: 0, chunks: [] }))).not.toThrow();
    expect(() => assertValidManifest(manifest({ size: 3072 }))).not.toThrow();
    expect(() => assertValidManifest(manifest({ chunkSize: MAX_CHUNK_BYTES, size: 10, chunks: [H0] }))).not.toThrow();
  });

  it.each<[string, Partial<Manifest>]>([
    ['too few chunks', { chunks: [H0, H1] }],
    ['too many chunks', { chunks: [H0, H1, H2, H0] }],
    ['chunks for an empty file', { size: 0 }],
    ['no chunks for a non-empty file', { chunks: [] }],
    ['one byte more than the chunks cover', { size: 3073 }],
  ])('rejects a chunk count mismatch: %s', (_label, change) => {
    rejectionOf(manifest(change));
  });

  it.each([
    ['empty', ''],
    ['"."', '.'],
    ['".."', '..'],
    ['a slash', 'a/b'],
    ['a backslash', 'a\\b'],
    ['a leading slash', '/etc'],
    ['a NUL', 'a\u0000b'],
    ['a BEL', '\u0007'],
    ['a newline', 'a\nb'],
    ['a DEL', 'a\u007fb'],
    ['256 ASCII bytes', 'x'.repeat(256)],
  ])('rejects a name with %s', (_label, name) => {
    rejectionOf(manifest({ name }));
  });

  it('accepts a name of exactly 255 ASCII bytes', () => {
    expect(() => assertValidManifest(manifest({ name: 'x'.repeat(255) }))).not.toThrow();
  });

  // Regression (fixed in f935684): MAX_NAME_BYTES is in UTF-8 bytes, but the schema's maxLength counts code
  // points, so these names used to pass.
  it.each([
    ['128 two-byte characters (256 bytes)', '\u00e9'.repeat(128)],
    ['200 four-byte characters (800 bytes)', '\u{1f600}'.repeat(200)],
  ])('rejects a name of %s (bug: name length counted in code points)', (_label, name) => {
    expect(Buffer.byteLength(name)).toBeGreaterThan(255);
    rejectionOf(manifest({ name }));
  });

  it.each([
    ['below 1 KiB', 1023],
    ['zero', 0],
    ['above MAX_CHUNK_BYTES', MAX_CHUNK_BYTES + 1],
    ['fractional', 1024.5],
  ])('rejects a chunkSize %s', (_label, chunkSize) => {
    rejectionOf(manifest({ chunkSize, size: 1, chunks: [H0] }));
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['an array', []],
    ['a negative size', manifest({ size: -1 })],
    ['an uppercase chunk hash', manifest({ chunks: [H0, H1, 'A'.repeat(64)] })],
    ['a short chunk hash', manifest({ chunks: [H0, H1, 'a'.repeat(63)] })],
    ['an extra field', { ...manifest(), extra: true }],
    ['a missing field', { name: 'x', size: 0, chunks: [] }],
  ])('rejects %s', (_label, value) => {
    rejectionOf(value);
  });
});

describe('chunk sizes', () => {
  it('expectedChunkCount rounds up and is 0 for an empty file', () => {
    expect(expectedChunkCount(0, 1024)).toBe(0);
    expect(expectedChunkCount(1, 1024)).toBe(1);
    expect(expectedChunkCount(1024, 1024)).toBe(1);
    expect(expectedChunkCount(1025, 1024)).toBe(2);
  });

  it('every chunk is full but the last', () => {
    const m = manifest();
    expect([0, 1, 2].map((i) => chunkLength(m, i))).toEqual([1024, 1024, 452]);
  });

  it('the last chunk is full when the size is a multiple of the chunk size', () => {
    expect(chunkLength(manifest({ size: 3072 }), 2)).toBe(1024);
  });

  it('an index past the end has length 0', () => {
    expect(chunkLength(manifest(), 3)).toBe(0);
  });

  it('chunk lengths add up to the size', () => {
    for (const size of [1, 1023, 1024, 1025, 5000, 10_240]) {
      const m = manifest({ size, chunks: Array.from({ length: expectedChunkCount(size, 1024) }, () => H0) });
      const total = m.chunks.reduce((sum, _hash, i) => sum + chunkLength(m, i), 0);
      expect(total).toBe(size);
    }
  });
});

describe('buildManifest on a real file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'swarmlab-manifest-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function writeBytes(name: string, size: number): Buffer {
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 8)) & 0xff;
    writeFileSync(join(dir, name), data);
    return data;
  }

  it.each([
    ['a partial last chunk', 5000],
    ['an exact multiple', 4096],
    ['a single short chunk', 10],
  ])('hashes every chunk of a file with %s', async (_label, size) => {
    const data = writeBytes(`f-${size}`, size);
    const built = await buildManifest(join(dir, `f-${size}`), 'shared.bin', 1024);
    expect(built.name).toBe('shared.bin');
    expect(built.size).toBe(size);
    expect(built.chunkSize).toBe(1024);
    const expected: string[] = [];
    for (let offset = 0; offset < size; offset += 1024) {
      expected.push(independentSha256(data.subarray(offset, Math.min(offset + 1024, size))));
    }
    expect(built.chunks).toEqual(expected);
    expect(() => assertValidManifest(withoutMtime(built))).not.toThrow();
  });

  it('an empty file has no chunks and a valid manifest', async () => {
    writeBytes('empty', 0);
    const built = await buildManifest(join(dir, 'empty'), 'empty', 1024);
    expect(built.chunks).toEqual([]);
    expect(() => assertValidManifest(withoutMtime(built))).not.toThrow();
  });

  it('rejects a missing file with ENOENT', async () => {
    await expect(buildManifest(join(dir, 'missing'), 'missing', 1024)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a chunk with any one bit flipped no longer matches its hash', async () => {
    const data = writeBytes('flip', 1500);
    const built = await buildManifest(join(dir, 'flip'), 'flip', 1024);
    const last = Buffer.from(data.subarray(1024));
    expect(sha256Hex(last)).toBe(built.chunks[1]);
    for (let bit = 0; bit < last.length * 8; bit++) {
      const flipped = Buffer.from(last);
      flipped[bit >> 3]! ^= 0x80 >> (bit & 7);
      expect(sha256Hex(flipped)).not.toBe(built.chunks[1]);
    }
  });
});
