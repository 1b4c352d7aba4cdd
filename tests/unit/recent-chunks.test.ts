import { RecentChunks } from '../../src/peer/recent-chunks';

const filled = (bytes: number, value: number): Buffer => Buffer.alloc(bytes, value);

describe('RecentChunks', () => {
  test('serves a copy: the caller may reuse its buffer at once', () => {
    const recent = new RecentChunks();
    const data = filled(1024, 7);
    recent.keep('f', 3, data);
    data.fill(0);
    const out = recent.copyOut('f', 3, (bytes) => Buffer.alloc(bytes));
    expect(out).toEqual(filled(1024, 7));
    expect(recent.copyOut('f', 4, (bytes) => Buffer.alloc(bytes))).toBeUndefined();
    expect(recent.copyOut('g', 3, (bytes) => Buffer.alloc(bytes))).toBeUndefined();
  });

  test('keeps at most maxBytes, oldest out first', () => {
    const recent = new RecentChunks({ maxBytes: 4096 });
    for (let index = 0; index < 6; index++) recent.keep('f', index, filled(1024, index));
    expect(recent.size).toBe(4);
    expect(recent.copyOut('f', 1, Buffer.alloc)).toBeUndefined();
    expect(recent.copyOut('f', 2, Buffer.alloc)).toEqual(filled(1024, 2));
    expect(recent.copyOut('f', 5, Buffer.alloc)).toEqual(filled(1024, 5));
  });

  test('does not keep a chunk larger than maxChunkBytes', () => {
    const recent = new RecentChunks({ maxBytes: 8192, maxChunkBytes: 2048 });
    recent.keep('f', 0, filled(4096, 1));
    expect(recent.size).toBe(0);
  });

  test('forgets one file', () => {
    const recent = new RecentChunks();
    recent.keep('f', 0, filled(16, 1));
    recent.keep('g', 0, filled(16, 2));
    recent.drop('f');
    expect(recent.copyOut('f', 0, Buffer.alloc)).toBeUndefined();
    expect(recent.copyOut('g', 0, Buffer.alloc)).toEqual(filled(16, 2));
  });

  test('reuses the buffer of a chunk it let go for the next chunk', () => {
    const recent = new RecentChunks({ maxBytes: 2048 });
    recent.keep('f', 0, filled(1024, 1));
    const first = recent.pin('f', 0)!;
    recent.unpin(first);
    recent.keep('f', 1, filled(1024, 2));
    recent.keep('f', 2, filled(1024, 3)); // lets chunk 0 go, and goes into its buffer
    const third = recent.pin('f', 2)!;
    expect(third).toBe(first);
    expect(third).toEqual(filled(1024, 3));
    expect(recent.copyOut('f', 1, Buffer.alloc)).toEqual(filled(1024, 2));
  });

  test('a pinned chunk stays the chunk after the cache lets it go, and is reused only once unpinned', () => {
    const recent = new RecentChunks({ maxBytes: 1024 });
    recent.keep('f', 0, filled(1024, 1));
    const pinnedTwice = recent.pin('f', 0)!;
    recent.pin('f', 0);
    recent.keep('f', 1, filled(1024, 2)); // lets chunk 0 go while pinned
    recent.keep('f', 2, filled(1024, 3));
    expect(pinnedTwice).toEqual(filled(1024, 1));
    expect(recent.copyOut('f', 0, Buffer.alloc)).toBeUndefined();
    recent.unpin(pinnedTwice);
    recent.keep('f', 3, filled(1024, 4));
    recent.keep('f', 4, filled(1024, 5));
    expect(pinnedTwice).toEqual(filled(1024, 1));
    expect(recent.spareCount).toBe(0); // chunk 0's buffer is still pinned once
    recent.unpin(pinnedTwice);
    expect(recent.spareCount).toBe(1);
    recent.keep('f', 5, filled(1024, 6));
    expect(recent.pin('f', 5)).toBe(pinnedTwice);
  });

  test('reuses only a buffer of the chunk\'s size, and keeps at most maxBytes of spares', () => {
    const recent = new RecentChunks({ maxBytes: 2048 });
    recent.keep('f', 0, filled(1024, 1));
    recent.keep('f', 1, filled(1024, 2));
    recent.keep('f', 2, filled(2048, 3)); // lets both go: 2 KiB of spares
    expect(recent.spareCount).toBe(2);
    recent.keep('g', 0, filled(512, 4)); // no spare of 512 bytes: a new buffer; lets the 2 KiB chunk go, over the bound
    expect(recent.spareCount).toBe(2);
    expect(recent.copyOut('g', 0, Buffer.alloc)).toEqual(filled(512, 4));
  });
});
