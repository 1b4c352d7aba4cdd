/**
 * The switchable piece-selection policies on constructed swarms (fast-check): each one only ever picks
 * an eligible chunk (the source holds it; we neither hold, write nor asked this source for it), prefers
 * a chunk nobody was asked for, and otherwise duplicates only as the endgame allows. Then what sets them
 * apart: sequential takes the lowest eligible chunk, random covers every eligible chunk over many calls,
 * rarest is the policy piece-picker.test.ts describes. And the guard that keeps a custom picker's bugs
 * from stalling a download.
 */
import fc from 'fast-check';

import { pickChunk } from '../../src/peer/piece-picker';
import type { PickFunction, PickInput } from '../../src/peer/piece-picker';
import { BUILT_IN_PICKERS, guardPicker, isValidPick, PICKER_WARN_EVERY, PICKERS, pickRandom, pickSequential } from '../../src/peer/pickers';
import { Bitfield } from '../../src/protocol';
import type { Logger } from '../../src/shared/logger';

interface Swarm {
  chunks: number;
  have: boolean[];
  writing: boolean[];
  sourceHas: boolean[];
  asked: boolean[];
  requesters: number[];
  availability: number[];
  maxRequesters: number;
  endgame: boolean;
  random: number;
}

const indicesOf = (flags: boolean[]): number[] => flags.flatMap((on, i) => (on ? [i] : []));

function bitfield(length: number, indices: number[]): Bitfield {
  const out = new Bitfield(length);
  for (const index of indices) out.set(index);
  return out;
}

function toInput(s: Swarm): PickInput {
  return {
    chunks: s.chunks,
    have: bitfield(s.chunks, indicesOf(s.have)),
    writing: new Set(indicesOf(s.writing)),
    sourceHas: bitfield(s.chunks, indicesOf(s.sourceHas)),
    askedOfSource: new Set(indicesOf(s.asked)),
    requesters: (i) => s.requesters[i]!,
    availability: (i) => s.availability[i]!,
    maxRequesters: s.maxRequesters,
    endgame: () => s.endgame,
    random: () => s.random,
  };
}

const swarm: fc.Arbitrary<Swarm> = fc.integer({ min: 1, max: 40 }).chain((chunks) => {
  const flags = fc.array(fc.boolean(), { minLength: chunks, maxLength: chunks });
  return fc.record({
    chunks: fc.constant(chunks),
    have: flags,
    writing: flags,
    sourceHas: flags,
    asked: flags,
    requesters: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: chunks, maxLength: chunks }),
    availability: fc.array(fc.integer({ min: 1, max: 10 }), { minLength: chunks, maxLength: chunks }),
    maxRequesters: fc.integer({ min: 1, max: 4 }),
    endgame: fc.boolean(),
    random: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  });
});

function classes(s: Swarm): { fresh: number[]; duplicates: number[] } {
  const eligible = Array.from({ length: s.chunks }, (_, i) => i).filter(
    (i) => s.sourceHas[i] && !s.have[i] && !s.writing[i] && !s.asked[i],
  );
  return {
    fresh: eligible.filter((i) => s.requesters[i] === 0),
    duplicates: eligible.filter((i) => s.requesters[i]! > 0 && s.requesters[i]! < s.maxRequesters),
  };
}

function silentLogger(): Logger & { warn: jest.Mock } {
  return { warn: jest.fn(), info: jest.fn(), debug: jest.fn(), error: jest.fn() } as unknown as Logger & { warn: jest.Mock };
}

describe.each(BUILT_IN_PICKERS)('built-in picker %s, for any constructed swarm', (name) => {
  const pick = PICKERS[name];

  it('picks an unrequested eligible chunk when there is one, else an endgame duplicate only while the endgame allows it', () => {
    fc.assert(
      fc.property(swarm, (s) => {
        const picked = pick(toInput(s));
        const { fresh, duplicates } = classes(s);
        if (fresh.length > 0) expect(fresh).toContain(picked);
        else if (duplicates.length > 0 && s.endgame) {
          expect(duplicates).toContain(picked);
          expect(s.requesters[picked!]).toBe(Math.min(...duplicates.map((i) => s.requesters[i]!)));
        } else expect(picked).toBeUndefined();
        // Whatever it picks, the guard would accept it: built-ins and custom pickers obey one contract.
        expect(isValidPick(toInput(s), picked)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('with the endgame off (--endgame off) never asks a second source for a chunk', () => {
    fc.assert(
      fc.property(swarm, (s) => {
        const picked = pick(toInput({ ...s, endgame: false }));
        if (picked !== undefined) expect(s.requesters[picked]).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('sequential', () => {
  it('picks the lowest-index eligible chunk nobody was asked for', () => {
    fc.assert(
      fc.property(swarm, (s) => {
        const { fresh } = classes(s);
        if (fresh.length > 0) expect(pickSequential(toInput(s))).toBe(Math.min(...fresh));
      }),
      { numRuns: 400 },
    );
  });

  it('ignores rarity and the random draw', () => {
    const s: Swarm = {
      chunks: 6,
      have: [true, false, false, false, false, false],
      writing: [false, false, true, false, false, false],
      sourceHas: [true, false, true, true, true, true],
      asked: new Array<boolean>(6).fill(false),
      requesters: [0, 0, 0, 0, 0, 0],
      availability: [5, 5, 5, 9, 1, 1],
      maxRequesters: 2,
      endgame: true,
      random: 0.99,
    };
    expect(pickSequential(toInput(s))).toBe(3);
    expect(pickChunk(toInput(s))).not.toBe(3);
  });
});

describe('random', () => {
  it('covers every eligible chunk, and only those, over many calls', () => {
    fc.assert(
      fc.property(swarm, (s) => {
        const { fresh } = classes(s);
        if (fresh.length === 0) return;
        const seen = new Set<number | undefined>();
        // One draw per pick: stepping the draw across [0, 1) must reach every eligible chunk.
        const steps = fresh.length * 4;
        for (let k = 0; k < steps; k++) seen.add(pickRandom(toInput({ ...s, random: k / steps })));
        expect([...seen].sort((a, b) => a! - b!)).toEqual(fresh);
      }),
      { numRuns: 300 },
    );
  });

  it('is uniform: with Math.random, each of 8 eligible chunks gets about 1/8 of 8000 picks', () => {
    const s: Swarm = {
      chunks: 12,
      have: [true, true, false, false, false, false, false, false, false, false, false, false],
      writing: new Array<boolean>(12).fill(false),
      sourceHas: [true, true, true, true, true, true, true, true, true, true, false, false],
      asked: new Array<boolean>(12).fill(false),
      requesters: new Array<number>(12).fill(0),
      availability: [1, 1, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9],
      maxRequesters: 2,
      endgame: true,
      random: 0,
    };
    const counts = new Map<number, number>();
    for (let k = 0; k < 8000; k++) {
      const picked = pickRandom({ ...toInput(s), random: Math.random })!;
      counts.set(picked, (counts.get(picked) ?? 0) + 1);
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    // Binomial(8000, 1/8): mean 1000, sd ~30; 850..1150 is five standard deviations.
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(850);
      expect(count).toBeLessThan(1150);
    }
  });
});

describe('rarest', () => {
  it('is the policy pickChunk implements (the default, unchanged)', () => {
    expect(PICKERS.rarest).toBe(pickChunk);
  });
});

describe('isValidPick', () => {
  const base: Swarm = {
    chunks: 4,
    have: [true, false, false, false],
    writing: [false, false, false, true],
    sourceHas: [true, true, true, true],
    asked: [false, false, false, false],
    requesters: [0, 0, 1, 0],
    availability: [1, 1, 1, 1],
    maxRequesters: 2,
    endgame: false,
    random: 0,
  };

  it.each([
    [undefined, true],
    [1, true],
    [0, false], // held
    [3, false], // being written
    [2, false], // a duplicate outside the endgame
    [4, false], // out of range
    [-1, false],
    [1.5, false],
    ['1', false],
    [null, false],
    [Number.NaN, false],
  ])('%p -> %p', (choice, valid) => {
    expect(isValidPick(toInput(base), choice)).toBe(valid);
  });

  it('accepts a duplicate in the endgame below maxRequesters, not at it', () => {
    expect(isValidPick(toInput({ ...base, endgame: true }), 2)).toBe(true);
    expect(isValidPick(toInput({ ...base, endgame: true, maxRequesters: 1 }), 2)).toBe(false);
  });

  it('rejects a chunk the source lacks or was already asked for', () => {
    expect(isValidPick(toInput({ ...base, sourceHas: [true, false, true, true] }), 1)).toBe(false);
    expect(isValidPick(toInput({ ...base, asked: [false, true, false, false] }), 1)).toBe(false);
  });
});

describe('guardPicker', () => {
  const s: Swarm = {
    chunks: 5,
    have: [true, false, false, false, false],
    writing: new Array<boolean>(5).fill(false),
    sourceHas: new Array<boolean>(5).fill(true),
    asked: new Array<boolean>(5).fill(false),
    requesters: new Array<number>(5).fill(0),
    availability: [3, 3, 3, 1, 3],
    maxRequesters: 2,
    endgame: false,
    random: 0,
  };

  it('passes a valid choice through', () => {
    const logger = silentLogger();
    expect(guardPicker('mine.js', () => 2, logger)(toInput(s))).toBe(2);
    expect(guardPicker('mine.js', () => undefined, logger)(toInput(s))).toBeUndefined();
    expect(logger.warn).not.toHaveBeenCalled();
  });

  it.each<[string, (input: PickInput) => unknown]>([
    ['throws', () => {
      throw new Error('boom');
    }],
    ['returns a held chunk', () => 0],
    ['returns an index past the end', () => 99],
    ['returns a string', () => 'three'],
    ['returns a promise', () => Promise.resolve(2)],
  ])('a picker that %s gets rarest for that call, with a warning', (_, custom) => {
    const logger = silentLogger();
    expect(guardPicker('mine.js', custom, logger)(toInput(s))).toBe(pickChunk(toInput(s)));
    expect(pickChunk(toInput(s))).toBe(3);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0]![1]).toMatchObject({ picker: 'mine.js', failures: 1 });
  });

  it(`warns on the first failure and then every ${PICKER_WARN_EVERY}th, not on every call`, () => {
    const logger = silentLogger();
    const guarded: PickFunction = guardPicker('mine.js', () => -1, logger);
    for (let k = 0; k < 2 * PICKER_WARN_EVERY; k++) guarded(toInput(s));
    expect(logger.warn).toHaveBeenCalledTimes(3);
    expect(logger.warn.mock.calls.map((call) => (call[1] as { failures: number }).failures)).toEqual([1, PICKER_WARN_EVERY, 2 * PICKER_WARN_EVERY]);
  });
});
