/**
 * safeFileName / pathInside never leave the peer's directory, whatever a remote sends as a name;
 * hashing helpers agree with an independent SHA-256.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import fc from 'fast-check';

import { FILE_NAME_PATTERN, MAX_NAME_BYTES } from '../../src/protocol';
import { hashFile, pathInside, readFully, safeFileName, sha256Hex } from '../../src/shared/files';

const HOSTILE = [
  '../../etc/passwd',
  '..',
  '.',
  '',
  '/abs',
  '/etc/passwd',
  'a\u0000b',
  '\u0007',
  '..\\..\\windows\\system32',
  'a/../../b',
  '.hidden',
  '...',
  './',
  '/',
  '\u0000',
  'name\n',
  '\u007f',
  'x'.repeat(1000),
  '\u00e9'.repeat(300),
];

const SAFE_NAME = new RegExp(FILE_NAME_PATTERN, 'u');

function expectSafe(name: string): void {
  const safe = safeFileName(name);
  expect(safe.length).toBeGreaterThan(0);
  expect(safe).not.toMatch(/[/\\]/);
  // eslint-disable-next-line no-control-regex
  expect(safe).not.toMatch(/[\u0000-\u001f\u007f]/);
  expect(safe.startsWith('.')).toBe(false);
  expect(Buffer.byteLength(safe)).toBeLessThanOrEqual(MAX_NAME_BYTES);
  // Whatever it returns is a name the protocol would accept, and stays the same when cleaned again.
  expect(safe).toMatch(SAFE_NAME);
  expect(safeFileName(safe)).toBe(safe);
}

describe('safeFileName', () => {
  it.each(HOSTILE.map((name) => [JSON.stringify(name).slice(0, 40), name]))('cleans %s', (_label, name) => {
    expectSafe(name);
  });

  it.each(['notes.txt', 'a b.txt', 'archive.tar.gz', 'ünïcødé.txt', 'data-1_final', '\u{1f600}.png', 'x'.repeat(255)])(
    'leaves the ordinary name %s unchanged',
    (name) => {
      expect(safeFileName(name)).toBe(name);
    },
  );

  it('truncates to MAX_NAME_BYTES', () => {
    expect(safeFileName('x'.repeat(300))).toBe('x'.repeat(MAX_NAME_BYTES));
  });

  it('is safe for any string (fast-check)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ maxLength: 300 })), (name) => {
        expectSafe(name);
      }),
      { numRuns: 500 },
    );
  });

  // Regression (fixed in f935684): truncation sliced UTF-16 code units, so it could cut a surrogate pair and
  // leave a lone surrogate, written to disk as U+FFFD and no longer equal to the name in memory.
  it('never truncates inside a surrogate pair (bug: lone surrogate after truncation)', () => {
    const name = `${'x'.repeat(252)}\u{1f600}\u{1f600}`;
    const safe = safeFileName(name);
    expect(Buffer.byteLength(safe)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(Buffer.from(safe, 'utf8').toString('utf8')).toBe(safe);
  });
});

describe('pathInside', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'swarmlab-files-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(HOSTILE.map((name) => [JSON.stringify(name).slice(0, 40), name]))(
    'keeps %s directly inside the directory',
    (_label, name) => {
      const path = pathInside(dir, name);
      expect(dirname(path)).toBe(resolve(dir));
      expect(path.startsWith(resolve(dir) + '/')).toBe(true);
    },
  );

  it('resolves a relative directory', () => {
    const path = pathInside('.', 'a.txt');
    expect(path).toBe(resolve('a.txt'));
  });

  it('never leaves the directory for any string (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (name) => {
        expect(dirname(pathInside(dir, name))).toBe(resolve(dir));
      }),
      { numRuns: 500 },
    );
  });
});

describe('hashing helpers', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'swarmlab-hash-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('sha256Hex matches the FIPS 180-2 "abc" vector', () => {
    expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('hashFile equals the SHA-256 of the whole file, across its 1 MiB read buffer', async () => {
    const data = Buffer.alloc(1024 * 1024 + 4097);
    for (let i = 0; i < data.length; i++) data[i] = (i ^ (i >> 9)) & 0xff;
    writeFileSync(join(dir, 'big'), data);
    expect(await hashFile(join(dir, 'big'))).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('readFully fails with ERR_SHORT_READ past the end of the file', async () => {
    writeFileSync(join(dir, 'short'), Buffer.alloc(10, 1));
    const handle = await open(join(dir, 'short'), 'r');
    try {
      const buffer = Buffer.alloc(20);
      await readFully(handle, buffer, 10, 0);
      expect(buffer.subarray(0, 10)).toEqual(Buffer.alloc(10, 1));
      await expect(readFully(handle, buffer, 20, 0)).rejects.toMatchObject({ code: 'ERR_SHORT_READ' });
    } finally {
      await handle.close();
    }
  });
});
