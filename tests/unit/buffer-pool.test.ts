import { BufferPool, DEFAULT_MAX_IDLE_BYTES } from '../../src/peer/buffer-pool';

describe('BufferPool', () => {
  it('gives back the same memory after a release, at the same size only', () => {
    const pool = new BufferPool();
    const first = pool.acquire(1024);
    expect(first.length).toBe(1024);
    pool.release(first.subarray(100, 200));
    expect(pool.idleCount).toBe(1);
    expect(pool.acquire(2048).buffer).not.toBe(first.buffer);
    const again = pool.acquire(1024);
    expect(again.buffer).toBe(first.buffer);
    expect(again.length).toBe(1024);
    expect(pool.idleCount).toBe(0);
  });

  it('hands out distinct memory to buffers in use at the same time', () => {
    const pool = new BufferPool();
    const a = pool.acquire(512);
    const b = pool.acquire(512);
    expect(a.buffer).not.toBe(b.buffer);
    pool.release(a);
    pool.release(b);
    expect(new Set([pool.acquire(512).buffer, pool.acquire(512).buffer]).size).toBe(2);
  });

  it('ignores a second release and memory it did not hand out', () => {
    const pool = new BufferPool();
    const buffer = pool.acquire(256);
    pool.release(buffer);
    pool.release(buffer);
    pool.release(Buffer.alloc(256));
    pool.release(Buffer.allocUnsafe(16));
    expect(pool.idleCount).toBe(1);
  });

  it('keeps at most maxIdlePerSize idle buffers per size', () => {
    const pool = new BufferPool({ maxIdlePerSize: 2 });
    const buffers = [pool.acquire(64), pool.acquire(64), pool.acquire(64)];
    for (const buffer of buffers) pool.release(buffer);
    expect(pool.idleCount).toBe(2);
  });
});

// Issue 18 (load held): one idle buffer per distinct size used to stay forever, and every file's last
// chunk has a size of its own, so a seeder's pool grew with every file it served.
describe('BufferPool idle bytes', () => {
  const KIB = 1024;

  it('keeps at most maxIdleBytes over all sizes, however many sizes pass through', () => {
    const pool = new BufferPool({ maxIdleBytes: 64 * KIB });
    for (let size = 1; size <= 500; size++) pool.release(pool.acquire(size * KIB));
    // Every buffer is at least 1 KiB: no more than 64 of them fit.
    expect(pool.idleCount).toBeLessThanOrEqual(64);
    expect(pool.idleBytes).toBeLessThanOrEqual(64 * KIB);
    expect(pool.idleSizes).toBeLessThanOrEqual(64);
  });

  it('drops one-off sizes before the size in steady use', () => {
    const pool = new BufferPool({ maxIdleBytes: 40 * KIB });
    const chunks = [pool.acquire(8 * KIB), pool.acquire(8 * KIB), pool.acquire(8 * KIB)];
    for (const chunk of chunks) pool.release(chunk);
    for (let tail = 1; tail <= 50; tail++) {
      pool.release(pool.acquire(tail * 100));
      // The chunk size keeps being used between files.
      const chunk = pool.acquire(8 * KIB);
      expect(chunks.some((kept) => kept.buffer === chunk.buffer)).toBe(true);
      pool.release(chunk);
    }
    expect(pool.idleBytes).toBeLessThanOrEqual(40 * KIB);
  });

  it('counts what it hands back out, and never keeps a buffer larger than the cap', () => {
    const pool = new BufferPool({ maxIdleBytes: 16 * KIB });
    const a = pool.acquire(4 * KIB);
    pool.release(a);
    expect(pool.idleBytes).toBe(4 * KIB);
    expect(pool.acquire(4 * KIB).buffer).toBe(a.buffer);
    expect({ bytes: pool.idleBytes, sizes: pool.idleSizes }).toEqual({ bytes: 0, sizes: 0 });
    pool.release(pool.acquire(32 * KIB));
    expect(pool.idleBytes).toBe(0);
  });

  it('a chunk-sized pool by default: 32 chunks of 256 KiB, and no more', () => {
    const pool = new BufferPool();
    const held = Array.from({ length: 40 }, () => pool.acquire(256 * KIB));
    for (const buffer of held) pool.release(buffer);
    expect(pool.idleCount).toBe(32);
    for (let size = 1; size <= 100; size++) pool.release(pool.acquire(size * 2 * KIB));
    expect(pool.idleBytes).toBeLessThanOrEqual(DEFAULT_MAX_IDLE_BYTES);
  });
});
