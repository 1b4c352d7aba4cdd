/**
 * Bitfield: MSB-first bit order, O(1) count, padding bits, base64 round trips.
 */
import fc from 'fast-check';

import { Bitfield } from '../../src/protocol';

describe('Bitfield', () => {
  it('starts empty with ceil(length / 8) bytes', () => {
    const bitfield = new Bitfield(10);
    expect(bitfield.bytes.length).toBe(2);
    expect(bitfield.count).toBe(0);
    expect(bitfield.complete).toBe(false);
    expect(bitfield.indices()).toEqual([]);
  });

  it('a zero-length bitfield is complete and has no bytes', () => {
    const bitfield = new Bitfield(0);
    expect(bitfield.bytes.length).toBe(0);
    expect(bitfield.complete).toBe(true);
    expect(bitfield.toBase64()).toBe('');
  });

  it('orders bits most significant first', () => {
    const bitfield = new Bitfield(16);
    bitfield.set(0);
    bitfield.set(7);
    bitfield.set(9);
    expect([...bitfield.bytes]).toEqual([0x81, 0x40]);
  });

  it('set returns true only the first time and counts once', () => {
    const bitfield = new Bitfield(8);
    expect(bitfield.set(3)).toBe(true);
    expect(bitfield.set(3)).toBe(false);
    expect(bitfield.count).toBe(1);
    expect(bitfield.has(3)).toBe(true);
    expect(bitfield.has(2)).toBe(false);
  });

  it.each([-1, 10, 11, 16, 1000])('ignores out-of-range index %i', (index) => {
    const bitfield = new Bitfield(10);
    expect(bitfield.set(index)).toBe(false);
    expect(bitfield.has(index)).toBe(false);
    bitfield.unset(index);
    expect(bitfield.count).toBe(0);
    expect([...bitfield.bytes]).toEqual([0, 0]);
  });

  it('unset clears a bit once and leaves a clear bit alone', () => {
    const bitfield = new Bitfield(9);
    bitfield.set(8);
    bitfield.unset(8);
    bitfield.unset(8);
    bitfield.unset(0);
    expect(bitfield.count).toBe(0);
    expect(bitfield.has(8)).toBe(false);
  });

  it('full sets every bit and leaves the padding clear', () => {
    const bitfield = Bitfield.full(10);
    expect(bitfield.count).toBe(10);
    expect(bitfield.complete).toBe(true);
    expect([...bitfield.bytes]).toEqual([0xff, 0xc0]);
  });

  it('ignores padding bits set by a remote and does not count them', () => {
    const bitfield = Bitfield.fromBase64(10, Buffer.from([0xff, 0xff]).toString('base64'));
    expect(bitfield.count).toBe(10);
    expect(bitfield.complete).toBe(true);
    expect([...bitfield.bytes]).toEqual([0xff, 0xc0]);
  });

  it('ignores bytes beyond its length and accepts fewer bytes', () => {
    const long = new Bitfield(8, Buffer.from([0x01, 0xff, 0xff]));
    expect(long.indices()).toEqual([7]);
    expect(long.bytes.length).toBe(1);
    const short = new Bitfield(24, Buffer.from([0x80]));
    expect(short.indices()).toEqual([0]);
    expect(short.count).toBe(1);
  });

  it('copies the bytes it is given', () => {
    const source = Buffer.from([0x80]);
    const bitfield = new Bitfield(8, source);
    source[0] = 0xff;
    expect(bitfield.count).toBe(1);
    expect(bitfield.has(1)).toBe(false);
  });

  it('round-trips any set of indices through base64', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 300 })
          .chain((length) =>
            fc.tuple(fc.constant(length), fc.array(fc.integer({ min: 0, max: length - 1 }), { maxLength: length })),
          ),
        ([length, picks]) => {
          const bitfield = new Bitfield(length);
          for (const index of picks) bitfield.set(index);
          const expected = [...new Set(picks)].sort((a, b) => a - b);
          expect(bitfield.indices()).toEqual(expected);
          expect(bitfield.count).toBe(expected.length);
          expect(bitfield.complete).toBe(expected.length === length);
          const copy = Bitfield.fromBase64(length, bitfield.toBase64());
          expect(copy.indices()).toEqual(expected);
          expect(copy.count).toBe(expected.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps count equal to the number of set bits through any sequence of set and unset', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: -2, max: 40 })), { maxLength: 100 }), (ops) => {
        const bitfield = new Bitfield(37);
        const model = new Set<number>();
        for (const [set, index] of ops) {
          if (set) {
            expect(bitfield.set(index)).toBe(index >= 0 && index < 37 && !model.has(index));
            if (index >= 0 && index < 37) model.add(index);
          } else {
            bitfield.unset(index);
            model.delete(index);
          }
        }
        expect(bitfield.count).toBe(model.size);
        expect(bitfield.indices()).toEqual([...model].sort((a, b) => a - b));
      }),
      { numRuns: 200 },
    );
  });
});
