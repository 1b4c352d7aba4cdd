import { freeBufferNow, freeMemoryNow } from '../../src/shared/free-memory';

describe('freeBufferNow', () => {
  it('frees memory a buffer has to itself, and every view of it becomes empty', () => {
    const buffer = Buffer.allocUnsafeSlow(100_000);
    const view = buffer.subarray(10, 20);
    expect(freeBufferNow(buffer)).toBe(true);
    expect({ memory: buffer.buffer.byteLength, buffer: buffer.length, view: view.length }).toEqual({ memory: 0, buffer: 0, view: 0 });
    expect(freeBufferNow(buffer)).toBe(false);
  });

  it("leaves alone a slice of memory others share (Node's allocation slab)", () => {
    const small = Buffer.allocUnsafe(100);
    const neighbour = Buffer.allocUnsafe(100);
    expect(freeBufferNow(small)).toBe(false);
    expect({ small: small.length, neighbour: neighbour.length }).toEqual({ small: 100, neighbour: 100 });
  });

  it('frees an ArrayBuffer, and refuses what is not one', () => {
    const memory = new ArrayBuffer(4096);
    expect(freeMemoryNow(memory)).toBe(true);
    expect(memory.byteLength).toBe(0);
    expect(freeMemoryNow(new SharedArrayBuffer(16))).toBe(false);
  });
});
