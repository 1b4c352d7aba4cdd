import { FLAT_FACTOR, isFlat, median, soakVerdict, summariseRss } from '../../src/soak/verdict';
import type { RssSample, SoakTally } from '../../src/soak/verdict';

const window = { warmupMs: 60_000, windowMs: 60_000, endMs: 600_000 };

/** One sample every 2 s for 10 minutes, valued by `rss(atMs)`. */
function series(rss: (atMs: number) => number): RssSample[] {
  return Array.from({ length: 301 }, (_, i) => ({ atMs: i * 2_000, rssMB: rss(i * 2_000) }));
}

const clean: SoakTally = { downloads: 12, verified: 12, corrupt: 0, lost: 0, crashes: [] };

describe('soak verdict', () => {
  it('takes the median after warm-up as start, the median of the last window as end, and the largest sample as max', () => {
    const samples = series((atMs) => (atMs < 60_000 ? 200 : atMs >= 540_000 ? 70 : 60));
    // A single spike neither starts nor ends the run.
    samples[40] = { atMs: 80_000, rssMB: 500 };
    expect(summariseRss(samples, window)).toEqual({ start: 60, end: 70, max: 500 });
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBe(0);
  });

  it('is flat up to 1.1 times the start, and not beyond', () => {
    expect(isFlat({ start: 100, end: 100 * FLAT_FACTOR, max: 200 })).toBe(true);
    expect(isFlat({ start: 100, end: 100 * FLAT_FACTOR + 0.1, max: 200 })).toBe(false);
    // No sample after warm-up is no proof of flatness.
    expect(isFlat({ start: 0, end: 0, max: 0 })).toBe(false);
  });

  it('passes a clean run', () => {
    const flat = summariseRss(series(() => 60), window);
    expect(soakVerdict(clean, flat, flat, [])).toEqual({ flat: true, ok: true, failures: [] });
  });

  it('fails a growing tracker and says it is the tracker', () => {
    const growing = summariseRss(series((atMs) => 60 + atMs / 10_000), window);
    const flat = summariseRss(series(() => 60), window);
    const verdict = soakVerdict(clean, growing, flat, []);
    expect(verdict).toMatchObject({ flat: false, ok: false });
    expect(verdict.failures).toHaveLength(1);
    expect(verdict.failures[0]).toMatch(/^tracker memory grew/);
  });

  it('fails growing peers and names the peer process that grew', () => {
    const flat = summariseRss(series(() => 60), window);
    const growing = summariseRss(series((atMs) => 60 + atMs / 10_000), window);
    const verdict = soakVerdict(clean, flat, growing, [
      { name: 'p02#100', start: 60, end: 61 },
      { name: 'p01#99', start: 60, end: 120 },
    ]);
    expect(verdict.flat).toBe(false);
    expect(verdict.failures).toEqual([expect.stringMatching(/^peer memory grew: .*grew: p01#99 60 -> 120 MB$/)]);
  });

  it('fails corrupt and lost files, a crash, and a run with no download', () => {
    const flat = summariseRss(series(() => 60), window);
    expect(soakVerdict({ ...clean, verified: 11, corrupt: 1 }, flat, flat, []).failures).toEqual([expect.stringMatching(/^1 downloaded files differ/)]);
    expect(soakVerdict({ ...clean, verified: 11, lost: 1 }, flat, flat, []).failures).toEqual([expect.stringMatching(/^1 files lost/)]);
    expect(soakVerdict({ ...clean, crashes: ['p03 exited with code 1 at 40 s'] }, flat, flat, []).failures).toEqual(['crash: p03 exited with code 1 at 40 s']);
    expect(soakVerdict({ downloads: 0, verified: 0, corrupt: 0, lost: 0, crashes: [] }, flat, flat, []).ok).toBe(false);
  });
});
