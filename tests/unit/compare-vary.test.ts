/**
 * `lab compare --vary`: parsing each option into an axis, and expanding the axes into every combination.
 */
import { ERROR_CODES } from '../../lab/errors';
import { MAX_VARIANTS, expandVariants, parseVary, variantLabel, type VaryAxis } from '../../lab/experiment/vary';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('parseVary', () => {
  it('reads a setting for every peer and its values in order', () => {
    expect(parseVary('picker=rarest,random,sequential')).toEqual({
      name: 'picker',
      key: 'picker',
      values: ['rarest', 'random', 'sequential'],
    });
    expect(parseVary('endgame=on,off').values).toEqual(['on', 'off']);
    expect(parseVary('superSeed=auto,on,off').values).toEqual(['auto', 'on', 'off']);
  });

  it('reads whole numbers, and sizes for the chunk size', () => {
    expect(parseVary('maxInflight=1,16').values).toEqual([1, 16]);
    expect(parseVary('chunkSize=64K,1M,16384').values).toEqual([65536, 1048576, 16384]);
  });

  it('reads a setting for one peer', () => {
    expect(parseVary('peer-3.picker=sequential,rarest')).toEqual({
      name: 'peer-3.picker',
      key: 'picker',
      peer: 'peer-3',
      values: ['sequential', 'rarest'],
    });
  });

  it('reads image tags, with a registry path or digest', () => {
    expect(parseVary('image=swarmlab/peer:latest,swarmlab/peer:candidate').values).toEqual([
      'swarmlab/peer:latest',
      'swarmlab/peer:candidate',
    ]);
    expect(parseVary('image=localhost/x/peer:v1.2').values).toEqual(['localhost/x/peer:v1.2']);
  });

  it.each([['colour=red,blue'], ['pickers=rarest'], ['peer-3.colour=red'], ['Peer 3.picker=rarest']])(
    'refuses the unknown key in %s with ERR_LAB_VARY_UNKNOWN_KEY',
    (spec) => {
      expect(codeOf(() => parseVary(spec))).toBe(ERROR_CODES.VARY_UNKNOWN_KEY);
    },
  );

  it.each([
    ['endgame=on,maybe'],
    ['superSeed=sometimes'],
    ['maxInflight=0'],
    ['maxInflight=257'],
    ['maxInflight=1.5'],
    ['chunkSize=512'],
    ['chunkSize=8M'],
    ['image=Not An Image'],
    ['picker=rarest,,random'],
    ['picker=rarest,rarest'],
    ['picker'],
    ['=rarest'],
  ])('refuses %s with ERR_LAB_VARY_BAD_VALUE', (spec) => {
    expect(codeOf(() => parseVary(spec))).toBe(ERROR_CODES.VARY_BAD_VALUE);
  });
});

describe('expandVariants', () => {
  const picker = parseVary('picker=rarest,sequential');
  const endgame = parseVary('endgame=on,off');

  it('gives one variant per value of a single axis', () => {
    expect(expandVariants([picker])).toEqual([{ picker: 'rarest' }, { picker: 'sequential' }]);
  });

  it('gives the cartesian product, the first axis varying slowest', () => {
    expect(expandVariants([picker, endgame])).toEqual([
      { picker: 'rarest', endgame: 'on' },
      { picker: 'rarest', endgame: 'off' },
      { picker: 'sequential', endgame: 'on' },
      { picker: 'sequential', endgame: 'off' },
    ]);
  });

  it('keeps a per-peer axis apart from the same setting for every peer', () => {
    const one = parseVary('peer-2.picker=random,sequential');
    expect(expandVariants([picker, one])).toHaveLength(4);
    expect(expandVariants([picker, one])[1]).toEqual({ picker: 'rarest', 'peer-2.picker': 'sequential' });
  });

  it('refuses no axis, the same axis twice, and more than MAX_VARIANTS combinations', () => {
    expect(codeOf(() => expandVariants([]))).toBe(ERROR_CODES.VARY_BAD_VALUE);
    expect(codeOf(() => expandVariants([picker, picker]))).toBe(ERROR_CODES.VARY_BAD_VALUE);
    const wide: VaryAxis = { name: 'maxInflight', key: 'maxInflight', values: [1, 2, 3, 4, 5, 6, 7, 8, 9] };
    const wider: VaryAxis = {
      name: 'peer-1.maxInflight',
      key: 'maxInflight',
      peer: 'peer-1',
      values: [1, 2, 3, 4, 5, 6, 7, 8],
    };
    expect(9 * 8).toBeGreaterThan(MAX_VARIANTS);
    expect(codeOf(() => expandVariants([wide, wider]))).toBe(ERROR_CODES.VARY_BAD_VALUE);
    expect(expandVariants([wide, { ...wider, values: [1, 2, 3, 4, 5, 6, 7] }])).toHaveLength(63);
  });

  it('labels a variant with its settings', () => {
    expect(variantLabel({ picker: 'rarest', 'peer-3.endgame': 'off', maxInflight: 4 })).toBe(
      'picker=rarest peer-3.endgame=off maxInflight=4',
    );
  });
});
