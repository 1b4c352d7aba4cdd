import { BufferPool } from '../../src/peer/buffer-pool';

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
