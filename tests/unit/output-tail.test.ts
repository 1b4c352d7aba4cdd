/**
 * The bounded tail of an exec's output (`ctl watch` runs for a whole `lab up --dashboard` session): it
 * never holds more than its limit and keeps exactly the last bytes.
 */
import { OutputTail } from '../../lab/engine/output-tail';

describe('OutputTail', () => {
  it('keeps everything without a limit', () => {
    const tail = new OutputTail();
    for (let i = 0; i < 1000; i++) tail.push(Buffer.from(`line ${i}\n`));
    expect(tail.toString().split('\n')).toHaveLength(1001);
    expect(tail.dropped).toBe(0);
  });

  it('issue 18 hole 9: holds at most maxBytes, and they are the last bytes written', () => {
    const tail = new OutputTail(1000);
    let all = '';
    for (let i = 0; i < 10_000; i++) {
      const text = `{"event":"chunk","index":${i}}\n`.repeat(1 + (i % 3));
      all += text;
      tail.push(Buffer.from(text));
      expect(tail.length).toBeLessThanOrEqual(1000);
    }
    expect(tail.toString()).toBe(all.slice(-1000));
    expect(tail.dropped).toBe(all.length - 1000);
  });

  it('keeps the end of one chunk larger than the limit', () => {
    const tail = new OutputTail(4);
    tail.push(Buffer.from('abcdefgh'));
    expect(tail.toString()).toBe('efgh');
  });
});
