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
});
