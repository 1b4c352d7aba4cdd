import { BufferPool, DEFAULT_IDLE_RELEASE_MS, DEFAULT_MAX_IDLE_BYTES } from '../../src/peer/buffer-pool';

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

  it('a chunk-sized pool by default: 16 chunks of 256 KiB, and no more', () => {
    const pool = new BufferPool();
    const held = Array.from({ length: 40 }, () => pool.acquire(256 * KIB));
    for (const buffer of held) pool.release(buffer);
    expect(pool.idleCount).toBe(16);
    for (let size = 1; size <= 100; size++) pool.release(pool.acquire(size * 2 * KIB));
    expect(pool.idleBytes).toBeLessThanOrEqual(DEFAULT_MAX_IDLE_BYTES);
  });
});

// Issue 18 (load held, 10-minute soak): the pools of the busiest peer filled towards their caps over
// minutes and held that memory for good, and what they dropped waited in the old generation for a
// full collection while new chunks took fresh memory.
describe('BufferPool releases what it does not use', () => {
  const KIB = 1024;

  afterEach(() => {
    jest.useRealTimers();
  });

  it('frees idle buffers once unused for idleReleaseMs', () => {
    jest.useFakeTimers();
    const pool = new BufferPool();
    const buffers = Array.from({ length: 6 }, () => pool.acquire(256 * KIB));
    const memory = buffers.map((buffer) => buffer.buffer);
    for (const buffer of buffers) pool.release(buffer);
    jest.advanceTimersByTime(DEFAULT_IDLE_RELEASE_MS / 2);
    expect(pool.idleCount).toBe(6);
    jest.advanceTimersByTime(DEFAULT_IDLE_RELEASE_MS);
    expect({ count: pool.idleCount, bytes: pool.idleBytes, sizes: pool.idleSizes }).toEqual({ count: 0, bytes: 0, sizes: 0 });
    // Freed, not just forgotten: the memory is gone from every view of it.
    expect(memory.map((m) => m.byteLength)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('keeps the buffers a steady transfer keeps reusing, and frees those the busiest moment left', () => {
    jest.useFakeTimers();
    const pool = new BufferPool({ idleReleaseMs: 10_000 });
    const burst = Array.from({ length: 8 }, () => pool.acquire(64 * KIB));
    for (const buffer of burst) pool.release(buffer);
    // Afterwards two buffers at a time are enough, for a minute.
    for (let ms = 0; ms < 60_000; ms += 500) {
      const pair = [pool.acquire(64 * KIB), pool.acquire(64 * KIB)];
      expect(pair.every((buffer) => burst.some((kept) => kept.buffer === buffer.buffer))).toBe(true);
      for (const buffer of pair) pool.release(buffer);
      jest.advanceTimersByTime(500);
    }
    expect(pool.idleCount).toBe(2);
  });

  it('frees at once what it drops past its caps', () => {
    const pool = new BufferPool({ maxIdleBytes: 16 * KIB, maxIdlePerSize: 2 });
    const sameSize = [pool.acquire(4 * KIB), pool.acquire(4 * KIB), pool.acquire(4 * KIB)];
    const memory = sameSize.map((buffer) => buffer.buffer);
    for (const buffer of sameSize) pool.release(buffer);
    expect(memory.map((m) => m.byteLength)).toEqual([4 * KIB, 4 * KIB, 0]);
    const large = pool.acquire(32 * KIB);
    const largeMemory = large.buffer;
    pool.release(large);
    expect(largeMemory.byteLength).toBe(0);
    const evicting = pool.acquire(16 * KIB);
    pool.release(evicting);
    // 8 + 16 KiB is over 16: the 4 KiB size, used least recently, goes, and its memory with it.
    expect(memory.slice(0, 2).map((m) => m.byteLength)).toEqual([0, 0]);
    expect(pool.idleBytes).toBe(16 * KIB);
  });

  it('clear frees every idle buffer', () => {
    const pool = new BufferPool();
    const buffer = pool.acquire(100 * KIB);
    const memory = buffer.buffer;
    pool.release(buffer);
    pool.clear();
    expect({ count: pool.idleCount, bytes: pool.idleBytes, freed: memory.byteLength }).toEqual({ count: 0, bytes: 0, freed: 0 });
  });
});
