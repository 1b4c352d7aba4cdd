/** The link table (which rule applies to a remote, what a change keeps) and the text form of links. */
import { parseLinkConditions, parseLinkFlags, parseLinkRule } from '../../src/cli/link-spec';
import { LinkTable } from '../../src/shared/link-emulator';

describe('LinkTable', () => {
  it('applies the most specific rule: HOST:PORT, then HOST, then the default', () => {
    const table = new LinkTable([
      { to: 'default', latencyMs: 1, jitterMs: 0, bandwidth: null },
      { to: '10.0.0.2', latencyMs: 2, jitterMs: 0, bandwidth: null },
      { to: '10.0.0.2:7001', latencyMs: 3, jitterMs: 0, bandwidth: 1024 },
    ]);
    expect(table.resolve('10.0.0.2', 7001)?.conditions.latencyMs).toBe(3);
    expect(table.resolve('10.0.0.2', 40000)?.conditions.latencyMs).toBe(2);
    expect(table.resolve('10.0.0.3', 7001)?.conditions.latencyMs).toBe(1);
    table.clear('default');
    expect(table.resolve('10.0.0.3', 7001)).toBeUndefined();
  });

  it('gives each remote under the default its own link (and bucket)', () => {
    const table = new LinkTable([{ to: 'default', latencyMs: 0, jitterMs: 0, bandwidth: 1024 * 1024 }]);
    const a = table.resolve('10.0.0.2', 1)!;
    const b = table.resolve('10.0.0.3', 1)!;
    expect(a.link).not.toBe(b.link);
    expect(table.bucket(a.link, 1024 * 1024)).not.toBe(table.bucket(b.link, 1024 * 1024));
    expect(table.bucket(a.link, 1024 * 1024)).toBe(table.bucket(a.link, 1024 * 1024));
    expect(table.bucket(a.link, 2048 * 1024)?.rateBytesPerS).toBe(2048 * 1024);
    expect(table.bucket(a.link, null)).toBeUndefined();
  });

  it('keeps the fields a change leaves out', () => {
    const table = new LinkTable();
    table.set('h', { latencyMs: 50, jitterMs: 5, bandwidth: 4096 });
    expect(table.set('h', { latencyMs: 150 })).toEqual({ to: 'h', latencyMs: 150, jitterMs: 5, bandwidth: 4096 });
    expect(table.set('h', { bandwidth: null })).toEqual({ to: 'h', latencyMs: 150, jitterMs: 5, bandwidth: null });
    expect(table.show()).toEqual([{ to: 'h', latencyMs: 150, jitterMs: 5, bandwidth: null }]);
  });

  it('samples delays within latency ± jitter, never below 0', () => {
    const samples = [0, 0.5, 0.999999];
    const table = new LinkTable([], { random: () => samples.shift() ?? 0.5 });
    const conditions = { latencyMs: 10, jitterMs: 4, bandwidth: null };
    expect(table.sampleDelayMs(conditions)).toBeCloseTo(6);
    expect(table.sampleDelayMs(conditions)).toBeCloseTo(10);
    expect(table.sampleDelayMs(conditions)).toBeCloseTo(14);
    expect(new LinkTable([], { random: () => 0 }).sampleDelayMs({ latencyMs: 1, jitterMs: 5, bandwidth: null })).toBe(0);
  });
});

describe('link specs', () => {
  it('parses conditions, with rate suffixes and off', () => {
    expect(parseLinkConditions('latencyMs=50,jitterMs=5,bandwidth=4M')).toEqual({ latencyMs: 50, jitterMs: 5, bandwidth: 4 * 1024 * 1024 });
    expect(parseLinkConditions('bandwidth=off')).toEqual({ bandwidth: null });
    expect(parseLinkConditions('latencyMs=40')).toEqual({ latencyMs: 40 });
  });

  it('parses rules and fills what a flag leaves out', () => {
    expect(parseLinkRule('peer-2:7001=latencyMs=50')).toEqual({ to: 'peer-2:7001', latencyMs: 50, jitterMs: 0, bandwidth: null });
    expect(parseLinkFlags('latencyMs=40', ['10.0.0.2=bandwidth=2M'])).toEqual([
      { to: 'default', latencyMs: 40, jitterMs: 0, bandwidth: null },
      { to: '10.0.0.2', latencyMs: 0, jitterMs: 0, bandwidth: 2 * 1024 * 1024 },
    ]);
  });

  it.each([
    ['an unknown key', () => parseLinkConditions('delay=5')],
    ['loss, which the peer does not emulate', () => parseLinkConditions('lossPercent=1')],
    ['a non-numeric latency', () => parseLinkConditions('latencyMs=fast')],
    ['a bad size', () => parseLinkConditions('bandwidth=lots')],
    ['a negative latency', () => parseLinkRule('h=latencyMs=-5')],
    ['a rule without a target', () => parseLinkRule('=latencyMs=5')],
    ['a target with a space', () => parseLinkRule('a b=latencyMs=5')],
    ['a latency above 60 s', () => parseLinkFlags('latencyMs=60001', [])],
  ])('rejects %s with ERR_CONFIG', (_label, parse) => {
    expect(parse).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }) as Error);
  });
});
