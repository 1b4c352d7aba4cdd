/**
 * LineSplitter: the control socket's framing. Lines come out whole whatever the chunking; a line
 * longer than the limit is refused.
 */
import fc from 'fast-check';

import { LineSplitter } from '../../src/control/line-splitter';

describe('LineSplitter', () => {
  it('returns complete lines and keeps the partial one', () => {
    const splitter = new LineSplitter(100);
    expect(splitter.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(splitter.push(':2}\n')).toEqual(['{"b":2}']);
    expect(splitter.push('')).toEqual([]);
  });

  it('drops blank and whitespace-only lines', () => {
    expect(new LineSplitter(100).push('\n\n  \na\n\t\nb\n')).toEqual(['a', 'b']);
  });

  it('yields the same lines however the input is chunked (fast-check)', () => {
    const lineArb = fc.string({ maxLength: 20 }).map((s) => s.replace(/\n/g, ' '));
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 10 }), (lines, cuts) => {
        const text = lines.map((l) => `${l}\n`).join('');
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const splitter = new LineSplitter(100);
        const out: string[] = [];
        let start = 0;
        for (const point of [...points, text.length]) {
          out.push(...splitter.push(text.slice(start, point)));
          start = point;
        }
        expect(out).toEqual(lines.filter((l) => l.trim() !== ''));
      }),
      { numRuns: 200 },
    );
  });

  it('throws when a partial line grows past the limit', () => {
    const splitter = new LineSplitter(10);
    expect(splitter.push('x'.repeat(10))).toEqual([]);
    expect(() => splitter.push('x')).toThrow(Error);
  });

  it('accepts a line of exactly the limit', () => {
    expect(new LineSplitter(10).push(`${'x'.repeat(10)}\n`)).toEqual(['x'.repeat(10)]);
  });

  // Regression (fixed in f935684): only the trailing partial line was measured, so a line longer than the
  // limit that arrived complete in one push (or completed in the push after a full-limit partial) was returned.
  it('refuses an over-long line that arrives complete in one push (bug: only the partial line is checked)', () => {
    expect(() => new LineSplitter(10).push(`${'x'.repeat(11)}\n`)).toThrow(Error);
  });

  it('refuses an over-long line completed by the next push (bug: only the partial line is checked)', () => {
    const splitter = new LineSplitter(10);
    expect(splitter.push('x'.repeat(10))).toEqual([]);
    expect(() => splitter.push('xxxxx\n')).toThrow(Error);
  });
});
