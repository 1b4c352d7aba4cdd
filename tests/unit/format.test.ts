/**
 * Human formatting: sizes in and out, rates, durations, progress bars and tables.
 */
import {
  formatBytes,
  formatDuration,
  formatRate,
  parseSize,
  progressBar,
  progressLine,
  table,
} from '../../src/cli/format';

describe('parseSize', () => {
  it.each<[string, number]>([
    ['0', 0],
    ['1048576', 1_048_576],
    ['512k', 512 * 1024],
    ['512K', 512 * 1024],
    ['512KiB', 512 * 1024],
    ['512kb', 512 * 1024],
    ['1.5M', 1.5 * 1024 ** 2],
    ['1.5 MiB', 1.5 * 1024 ** 2],
    ['2G', 2 * 1024 ** 3],
    ['2GiB', 2 * 1024 ** 3],
    ['1T', 1024 ** 4],
    ['  64k  ', 64 * 1024],
    ['100B', 100],
    ['0.5k', 512],
  ])('parses %j as %i bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it('rounds fractional bytes to a whole number', () => {
    expect(parseSize('1.5')).toBe(2);
    expect(Number.isInteger(parseSize('1.1k'))).toBe(true);
  });

  it.each(['', 'abc', '-1', '-1k', '1.5.2M', '1X', '1 M B', 'k', '1e3', '.5k', '1,5M', '1kk'])('rejects %j', (text) => {
    expect(() => parseSize(text)).toThrow(Error);
  });
});

describe('formatBytes', () => {
  it.each<[number, string]>([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [100 * 1024, '100 KiB'],
    [1024 ** 2, '1.0 MiB'],
    [5.25 * 1024 ** 3, '5.3 GiB'],
    [1024 ** 4, '1.0 TiB'],
    [2048 * 1024 ** 4, '2048 TiB'],
  ])('formats %i as %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('round-trips through parseSize within the displayed precision', () => {
    for (const bytes of [1024, 1536, 3 * 1024 ** 2, 7 * 1024 ** 3]) {
      const [value, unit] = formatBytes(bytes).split(' ');
      expect(parseSize(`${value}${unit}`)).toBe(bytes);
    }
  });
});

describe('formatRate and formatDuration', () => {
  it('formats a rate per second, rounding to whole bytes', () => {
    expect(formatRate(0)).toBe('0 B/s');
    expect(formatRate(10.4)).toBe('10 B/s');
    expect(formatRate(2 * 1024 ** 2)).toBe('2.0 MiB/s');
  });

  it.each<[number, string]>([
    [0, '0 ms'],
    [999, '999 ms'],
    [1000, '1s'],
    [59_000, '59s'],
    [60_000, '1m00s'],
    [61_000, '1m01s'],
    [3_600_000, '60m00s'],
    [Infinity, '?'],
    [NaN, '?'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('progress', () => {
  it.each<[number, string]>([
    [0, `[${'-'.repeat(10)}]   0%`],
    [0.5, `[${'#'.repeat(5)}${'-'.repeat(5)}]  50%`],
    [1, `[${'#'.repeat(10)}] 100%`],
    [-3, `[${'-'.repeat(10)}]   0%`],
    [7, `[${'#'.repeat(10)}] 100%`],
  ])('progressBar(%d) is %s', (fraction, text) => {
    expect(progressBar(fraction, 10)).toBe(text);
  });

  it('progressBar defaults to 24 cells', () => {
    expect(progressBar(0.25)).toBe(`[${'#'.repeat(6)}${'-'.repeat(18)}]  25%`);
  });

  it('progressLine shows the bar, name, sizes, rate and ETA', () => {
    const text = progressLine('a.bin', 512 * 1024, 1024 * 1024, 256 * 1024);
    expect(text).toBe(`${progressBar(0.5)} a.bin 512 KiB/1.0 MiB 256 KiB/s ETA 2s`);
  });

  it('progressLine of an empty file is complete and a stalled one has an unknown ETA', () => {
    expect(progressLine('e', 0, 0, 0).startsWith(progressBar(1))).toBe(true);
    expect(progressLine('s', 1, 2, 0).endsWith('ETA ?')).toBe(true);
  });
});

describe('table', () => {
  it('pads columns to the widest cell and trims trailing space', () => {
    expect(
      table(
        ['name', 'size'],
        [
          ['a', 1],
          ['longer-name', 22],
        ],
      ),
    ).toBe(['name         size', 'a            1', 'longer-name  22'].join('\n'));
  });

  it('tolerates short rows', () => {
    expect(table(['a', 'b'], [['x']])).toBe(['a  b', 'x'].join('\n'));
  });
});
