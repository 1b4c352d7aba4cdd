/**
 * pickChunk: rarest first among unrequested chunks, never a chunk the source lacks or we hold,
 * endgame duplicates only when nothing unrequested remains, capped by maxRequesters.
 */
import fc from 'fast-check';

import { PICK_LOOKAHEAD, pickChunk } from '../../src/peer/piece-picker';
import type { PickInput } from '../../src/peer/piece-picker';
import { Bitfield } from '../../src/protocol';

interface Setup {
  chunks: number;
  have?: number[];
  sourceHas?: number[];
  asked?: number[];
  requesters?: Record<number, number>;
  availability?: Record<number, number>;
  maxRequesters?: number;
  random?: () => number;
}

function bitfield(length: number, indices: number[]): Bitfield {
  const out = new Bitfield(length);
  for (const index of indices) out.set(index);
  return out;
}

function input(setup: Setup): PickInput {
  const all = Array.from({ length: setup.chunks }, (_, i) => i);
  return {
    chunks: setup.chunks,
    have: bitfield(setup.chunks, setup.have ?? []),
    sourceHas: bitfield(setup.chunks, setup.sourceHas ?? all),
    askedOfSource: new Set(setup.asked ?? []),
    requesters: (index) => setup.requesters?.[index] ?? 0,
    availability: (index) => setup.availability?.[index] ?? 5,
    maxRequesters: setup.maxRequesters ?? 2,
    random: setup.random ?? ((): number => 0),
  };
}

const RANDOMS = [0, 0.1, 0.35, 0.5, 0.77, 0.999];

describe('pickChunk', () => {
  it('returns undefined for a file with no chunks', () => {
    expect(pickChunk(input({ chunks: 0 }))).toBeUndefined();
  });

  it.each(RANDOMS)('picks the rarest chunk whatever the random offset (%f)', (r) => {
    const availability = { 0: 4, 1: 3, 2: 5, 3: 2, 4: 6, 5: 3, 6: 4, 7: 9 };
    expect(pickChunk(input({ chunks: 8, availability, random: () => r }))).toBe(3);
  });

  it.each(RANDOMS)('a chunk only this source holds wins (%f)', (r) => {
    const availability = { 0: 2, 1: 2, 2: 2, 3: 2, 4: 1, 5: 2 };
    expect(pickChunk(input({ chunks: 6, availability, random: () => r }))).toBe(4);
  });

  it('never picks a chunk the source lacks, however rare', () => {
    const availability = { 0: 1, 1: 9, 2: 9, 3: 1 };
    expect(pickChunk(input({ chunks: 4, sourceHas: [1, 2], availability }))).toBe(1);
    expect(pickChunk(input({ chunks: 4, sourceHas: [], availability }))).toBeUndefined();
  });

  it('never picks a chunk already held', () => {
    const availability = { 0: 1, 1: 1, 2: 7 };
    expect(pickChunk(input({ chunks: 3, have: [0, 1], availability }))).toBe(2);
    expect(pickChunk(input({ chunks: 3, have: [0, 1, 2] }))).toBeUndefined();
  });

  it('never picks a chunk already asked of this source, as a Set or a Map', () => {
    expect(pickChunk(input({ chunks: 3, asked: [0, 1] }))).toBe(2);
    const asMap: PickInput = {
      ...input({ chunks: 3 }),
      askedOfSource: new Map([
        [0, 'x'],
        [2, 'y'],
      ]),
    };
    expect(pickChunk(asMap)).toBe(1);
    expect(pickChunk(input({ chunks: 3, asked: [0, 1, 2] }))).toBeUndefined();
  });

  it('breaks ties from the random offset', () => {
    const picks = RANDOMS.map((r) => pickChunk(input({ chunks: 10, random: () => r })));
    expect(picks).toEqual([0, 1, 3, 5, 7, 9]);
  });

  it('prefers any unrequested chunk over duplicating a requested one, even a rarer one', () => {
    const setup = { chunks: 3, requesters: { 0: 1, 1: 1 }, availability: { 0: 1, 1: 1, 2: 8 } };
    for (const r of RANDOMS) expect(pickChunk(input({ ...setup, random: () => r }))).toBe(2);
  });

  it('in endgame duplicates the chunk with the fewest requesters', () => {
    const setup = { chunks: 4, requesters: { 0: 2, 1: 1, 2: 3, 3: 2 }, maxRequesters: 4 };
    for (const r of RANDOMS) expect(pickChunk(input({ ...setup, random: () => r }))).toBe(1);
  });

  it('in endgame never reaches maxRequesters', () => {
    expect(pickChunk(input({ chunks: 3, requesters: { 0: 2, 1: 2, 2: 2 }, maxRequesters: 2 }))).toBeUndefined();
    expect(pickChunk(input({ chunks: 3, requesters: { 0: 2, 1: 1, 2: 2 }, maxRequesters: 2 }))).toBe(1);
    expect(pickChunk(input({ chunks: 2, requesters: { 0: 1, 1: 1 }, maxRequesters: 1 }))).toBeUndefined();
  });

  it('in endgame skips chunks held, lacked by the source or already asked of it', () => {
    const setup = {
      chunks: 5,
      have: [0],
      sourceHas: [0, 1, 2, 3],
      asked: [1],
      requesters: { 0: 1, 1: 1, 2: 2, 3: 1, 4: 1 },
      maxRequesters: 3,
    };
    expect(pickChunk(input(setup))).toBe(3);
  });

  it('before the endgame leaves the source idle rather than duplicate a request', () => {
    const setup = { chunks: 3, requesters: { 0: 1, 1: 1, 2: 1 }, maxRequesters: 2 };
    expect(pickChunk({ ...input(setup), endgame: () => false })).toBeUndefined();
    expect(pickChunk({ ...input(setup), endgame: () => true })).toBeDefined();
  });

  it('asks whether it is the endgame only when a duplicate is the one choice', () => {
    const endgame = jest.fn(() => false);
    expect(pickChunk({ ...input({ chunks: 3, requesters: { 0: 1 } }), endgame })).toBe(1);
    expect(endgame).not.toHaveBeenCalled();
    expect(pickChunk({ ...input({ chunks: 2, requesters: { 0: 1, 1: 1 } }), endgame })).toBeUndefined();
    expect(endgame).toHaveBeenCalledTimes(1);
  });

  it('calls random once per pick when given one', () => {
    const random = jest.fn(() => 0.5);
    pickChunk(input({ chunks: 4, random }));
    expect(random).toHaveBeenCalledTimes(1);
  });

  it.each(RANDOMS)(
    'with a front, breaks ties among the spread chunks from it (%f), so chunks come near file order',
    (r) => {
      const have = [0, 1, 2, 3, 4];
      const picked = pickChunk({ ...input({ chunks: 100, have, random: () => r }), front: 5, spread: 8 });
      expect(picked).toBeGreaterThanOrEqual(5);
      expect(picked).toBeLessThan(13);
    },
  );

  it('with a front, still picks the rarest chunk wherever it is', () => {
    const availability = Object.fromEntries(Array.from({ length: 100 }, (_, index) => [index, index === 90 ? 1 : 3]));
    expect(pickChunk({ ...input({ chunks: 100, availability, random: () => 0.5 }), front: 0, spread: 8 })).toBe(90);
  });

  it('with a front, picks a chunk only this source holds from anywhere past the front, not only near it', () => {
    // A seeder's chunks nobody has yet: every downloader asks the seeder for them, and near the front
    // they would all ask for the same few (a super-seeder refuses all but one).
    const availability = Object.fromEntries(Array.from({ length: 100 }, (_, index) => [index, 1]));
    const draws = [0, 0.9];
    const random = (): number => draws.shift() ?? 0;
    expect(pickChunk({ ...input({ chunks: 100, have: [0, 1, 2], availability, random }), front: 3, spread: 8 })).toBe(
      90,
    );
  });

  it('with a front, spreads the picks of chunks only this source holds over the file', () => {
    const availability = Object.fromEntries(Array.from({ length: 128 }, (_, index) => [index, 1]));
    let seed = 1;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const picks = new Set<number>();
    for (let i = 0; i < 200; i++)
      picks.add(pickChunk({ ...input({ chunks: 128, availability, random }), front: 0, spread: 8 })!);
    expect(picks.size).toBeGreaterThan(64);
  });

  it('with a front, keeps chunks others hold too near the front', () => {
    // Only the sole-held chunks are spread; ties among chunks others hold stay near file order.
    const availability = Object.fromEntries(Array.from({ length: 100 }, (_, index) => [index, 2]));
    const draws = [0, 0.9];
    const random = (): number => draws.shift() ?? 0;
    expect(pickChunk({ ...input({ chunks: 100, availability, random }), front: 0, spread: 8 })).toBe(0);
  });

  it('looks at a bounded number of chunks past the first candidate, however large the file', () => {
    const availability = jest.fn(() => 3);
    const picked = pickChunk({ ...input({ chunks: 100_000, random: () => 0 }), availability });
    expect(picked).toBe(0);
    expect(availability.mock.calls.length).toBe(PICK_LOOKAHEAD + 1);
  });

  describe('for any state (fast-check)', () => {
    const state = fc.integer({ min: 1, max: 40 }).chain((chunks) => {
      const flags = fc.array(fc.boolean(), { minLength: chunks, maxLength: chunks });
      const counts = (max: number): fc.Arbitrary<number[]> =>
        fc.array(fc.integer({ min: 0, max }), { minLength: chunks, maxLength: chunks });
      return fc.record({
        chunks: fc.constant(chunks),
        have: flags,
        sourceHas: flags,
        asked: flags,
        requesters: counts(4),
        // A source holding a chunk is one of its holders, so availability is at least 1.
        availability: fc.array(fc.integer({ min: 1, max: 10 }), { minLength: chunks, maxLength: chunks }),
        maxRequesters: fc.integer({ min: 1, max: 4 }),
        random: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      });
    });

    it('picks a needed chunk the source holds, unrequested and rarest if any, else the least requested below the cap', () => {
      fc.assert(
        fc.property(state, (s) => {
          const indicesOf = (flags: boolean[]): number[] => flags.flatMap((on, i) => (on ? [i] : []));
          const picked = pickChunk({
            chunks: s.chunks,
            have: bitfield(s.chunks, indicesOf(s.have)),
            sourceHas: bitfield(s.chunks, indicesOf(s.sourceHas)),
            askedOfSource: new Set(indicesOf(s.asked)),
            requesters: (i) => s.requesters[i]!,
            availability: (i) => s.availability[i]!,
            maxRequesters: s.maxRequesters,
            random: () => s.random,
          });
          const candidates = Array.from({ length: s.chunks }, (_, i) => i).filter(
            (i) => !s.have[i] && s.sourceHas[i] && !s.asked[i],
          );
          const fresh = candidates.filter((i) => s.requesters[i] === 0);
          const endgame = candidates.filter((i) => s.requesters[i]! > 0 && s.requesters[i]! < s.maxRequesters);
          if (fresh.length > 0) {
            expect(fresh).toContain(picked);
            expect(s.availability[picked!]).toBe(Math.min(...fresh.map((i) => s.availability[i]!)));
          } else if (endgame.length > 0) {
            expect(endgame).toContain(picked);
            expect(s.requesters[picked!]).toBe(Math.min(...endgame.map((i) => s.requesters[i]!)));
          } else {
            expect(picked).toBeUndefined();
          }
        }),
        { numRuns: 500 },
      );
    });

    it('with a front, still picks an unrequested chunk of the lowest availability when there is one', () => {
      const withFront = state.chain((s) =>
        fc.record({
          s: fc.constant(s),
          front: fc.integer({ min: 0, max: s.chunks }),
          spread: fc.integer({ min: 1, max: 40 }),
          second: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        }),
      );
      fc.assert(
        fc.property(withFront, ({ s, front, spread, second }) => {
          const indicesOf = (flags: boolean[]): number[] => flags.flatMap((on, i) => (on || i < front ? [i] : []));
          // Every chunk before the front is held (what `front` means).
          const have = s.have.map((on, i) => on || i < front);
          const draws = [s.random, second];
          const picked = pickChunk({
            chunks: s.chunks,
            have: bitfield(s.chunks, indicesOf(have)),
            sourceHas: bitfield(
              s.chunks,
              s.sourceHas.flatMap((on, i) => (on ? [i] : [])),
            ),
            askedOfSource: new Set(s.asked.flatMap((on, i) => (on ? [i] : []))),
            requesters: (i) => s.requesters[i]!,
            availability: (i) => s.availability[i]!,
            maxRequesters: s.maxRequesters,
            random: () => draws.shift() ?? 0,
            front,
            spread,
          });
          const fresh = Array.from({ length: s.chunks }, (_, i) => i).filter(
            (i) => !have[i] && s.sourceHas[i] && !s.asked[i] && s.requesters[i] === 0,
          );
          const rarest = Math.min(...fresh.map((i) => s.availability[i]!));
          // Rarest first is exact within PICK_LOOKAHEAD of the first candidate (40 chunks here), and a
          // chunk only this source holds is never passed over.
          if (fresh.length > 0) {
            expect(fresh).toContain(picked);
            expect(s.availability[picked!]).toBe(rarest);
          }
        }),
        { numRuns: 500 },
      );
    });
  });
});
