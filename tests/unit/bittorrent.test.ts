/**
 * The BitTorrent side-by-side's pure part: swarmlab's speed-up over aria2 (a mean per side for the
 * demo's leechers), and null whenever either side was not measured.
 */
import { onPath, speedup } from '../../src/bench/bittorrent';

describe('speedup', () => {
  it('divides swarmlab MB/s by aria2 MB/s', () => {
    expect(speedup(600, 150)).toBeCloseTo(4);
  });

  it('compares the means of the leechers in the demo topology', () => {
    expect(speedup([300, 500], [100, 100])).toBeCloseTo(4);
  });

  it('is null when a side is missing, empty or zero', () => {
    expect(speedup(null, 150)).toBeNull();
    expect(speedup(600, null)).toBeNull();
    expect(speedup([], [100])).toBeNull();
    expect(speedup(600, 0)).toBeNull();
  });
});

describe('onPath', () => {
  it('finds an executable on a PATH and not on another', async () => {
    expect(await onPath('node', `/nonexistent:${process.execPath.replace(/\/node$/, '')}`)).toBe(true);
    expect(await onPath('node', '/nonexistent')).toBe(false);
  });
});
