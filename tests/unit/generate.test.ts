/**
 * generateFile: deterministic bytes for a (seed, size), exact size, readable text mode, and a return
 * value that is the SHA-256 of what was written.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { generateFile } from '../../src/shared/generate';

const MIB = 1024 * 1024;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('generateFile', () => {
  let dir: string;
  let counter = 0;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'swarmlab-generate-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function generate(size: number, seed: string, text: boolean): Promise<{ sha: string; bytes: Buffer }> {
    const path = join(dir, `f${counter++}`);
    const sha = await generateFile(path, size, seed, text);
    expect(statSync(path).size).toBe(size);
    return { sha, bytes: readFileSync(path) };
  }

  describe.each([
    ['binary', false],
    ['text', true],
  ])('%s mode', (_mode, text) => {
    it.each([0, 1, 1000, MIB - 1, MIB, MIB + 1, 2 * MIB + 12_345])(
      'writes exactly %i bytes and returns their SHA-256',
      async (size) => {
        const { sha, bytes } = await generate(size, 'size-seed', text);
        expect(bytes.length).toBe(size);
        expect(sha).toBe(sha256(bytes));
      },
    );

    it('gives the same bytes and SHA-256 for the same seed and size', async () => {
      const a = await generate(MIB + 777, 'same', text);
      const b = await generate(MIB + 777, 'same', text);
      expect(a.sha).toBe(b.sha);
      expect(a.bytes.equals(b.bytes)).toBe(true);
    });

    it('gives other bytes for another seed', async () => {
      const a = await generate(4096, 'seed-a', text);
      const b = await generate(4096, 'seed-b', text);
      expect(a.sha).not.toBe(b.sha);
    });

    it('a shorter file is a prefix of a longer one with the same seed', async () => {
      const long = await generate(2 * MIB + 100, 'prefix', text);
      for (const size of [10, MIB - 3, MIB, MIB + 50, 2 * MIB]) {
        const short = await generate(size, 'prefix', text);
        expect(short.bytes.equals(long.bytes.subarray(0, size))).toBe(true);
      }
    });
  });

  it('text mode is printable ASCII lines numbered in order, across block boundaries', async () => {
    const { bytes } = await generate(2 * MIB + 12_345, 'readable', true);
    expect(/[^\x20-\x7e\n]/.test(bytes.toString('latin1'))).toBe(false);
    const lines = bytes.toString('utf8').split('\n');
    lines.pop(); // the last line may be cut by the size
    expect(lines.length).toBeGreaterThan(1000);
    lines.forEach((line, i) => {
      expect(line).toMatch(/^\d{7}( [a-z]+){8}$/);
      expect(Number(line.slice(0, 7))).toBe(i);
    });
  });

  it('binary mode is not text: it uses the whole byte range', async () => {
    const { bytes } = await generate(64 * 1024, 'binary', false);
    expect(new Set(bytes).size).toBe(256);
  });
});
