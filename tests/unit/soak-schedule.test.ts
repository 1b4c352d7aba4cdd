import { MIB, pickOne, planSoak, seededRandom, soakTiming } from '../../src/soak/schedule';
import type { SoakAction } from '../../src/soak/schedule';

const TEN_MINUTES_MS = 10 * 60_000;

function ofKind<K extends SoakAction['kind']>(actions: SoakAction[], kind: K): Array<Extract<SoakAction, { kind: K }>> {
  return actions.filter((action): action is Extract<SoakAction, { kind: K }> => action.kind === kind);
}

describe('soak schedule', () => {
  it('is the same plan for the same seed, and another plan for another seed', () => {
    const plan = planSoak({ seed: 42, durationMs: TEN_MINUTES_MS, joiners: 6 });
    expect(planSoak({ seed: 42, durationMs: TEN_MINUTES_MS, joiners: 6 })).toEqual(plan);
    expect(planSoak({ seed: 43, durationMs: TEN_MINUTES_MS, joiners: 6 })).not.toEqual(plan);
  });

  it('is sorted by time and stays inside the run', () => {
    const plan = planSoak({ seed: 1, durationMs: TEN_MINUTES_MS, joiners: 6 });
    expect(plan.map((a) => a.atMs)).toEqual([...plan.map((a) => a.atMs)].sort((a, b) => a - b));
    expect(plan.every((a) => a.atMs >= 0 && a.atMs < TEN_MINUTES_MS)).toBe(true);
  });

  it('has every kind of churn in a 10-minute run, at the promised rates', () => {
    const plan = planSoak({ seed: 7, durationMs: TEN_MINUTES_MS, joiners: 6 });
    // One download start every 2 s on average, a fifth of them abandoned.
    const downloads = ofKind(plan, 'download');
    expect(downloads.length).toBeGreaterThan(240);
    expect(downloads.length).toBeLessThan(360);
    const abandoned = downloads.filter((d) => d.abandonAfterMs !== undefined);
    expect(abandoned.length / downloads.length).toBeGreaterThan(0.1);
    expect(abandoned.length / downloads.length).toBeLessThan(0.3);
    // A peer killed about every 20 s, each down 1 to 8 s.
    const kills = ofKind(plan, 'kill-peer');
    expect(kills.length).toBeGreaterThan(20);
    expect(kills.every((k) => k.downMs >= 1_000 && k.downMs <= 8_000)).toBe(true);
    expect(ofKind(plan, 'join-peer')).toHaveLength(6);
    const publishes = ofKind(plan, 'publish');
    expect(publishes.length).toBeGreaterThan(10);
    expect(publishes.every((p) => p.sizeBytes >= MIB && p.sizeBytes <= 8 * MIB)).toBe(true);
    // Every 3 minutes, not in the last 2: at 3 and 6 minutes, with both signals.
    expect(ofKind(plan, 'restart-tracker').map((r) => [r.atMs, r.signal])).toEqual([
      [180_000, 'SIGTERM'],
      [360_000, 'SIGKILL'],
    ]);
    for (const pick of plan.flatMap((a) => ('pick' in a ? [a.pick] : []))) {
      expect(pick).toBeGreaterThanOrEqual(0);
      expect(pick).toBeLessThan(1);
    }
  });

  it('restarts the tracker in a 1-minute run too, and lets the last tracker live a while', () => {
    const plan = planSoak({ seed: 3, durationMs: 60_000, joiners: 2 });
    expect(ofKind(plan, 'restart-tracker').map((r) => r.atMs)).toEqual([30_000]);
    expect(ofKind(plan, 'join-peer').map((j) => j.atMs)).toEqual([16_000, 32_000]);
    expect(soakTiming(60_000)).toEqual({ warmupMs: 15_000, windowMs: 15_000, trackerRestartEveryMs: 30_000, trackerQuietEndMs: 30_000 });
    expect(soakTiming(TEN_MINUTES_MS)).toMatchObject({ warmupMs: 60_000, windowMs: 60_000 });
  });

  it('draws numbers in [0, 1) from a seed', () => {
    const random = seededRandom(9);
    const values = Array.from({ length: 10_000 }, random);
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });

  it('maps a pick onto whatever is alive', () => {
    expect(pickOne([], 0.5)).toBeUndefined();
    expect(pickOne(['a', 'b', 'c'], 0)).toBe('a');
    expect(pickOne(['a', 'b', 'c'], 0.5)).toBe('b');
    expect(pickOne(['a', 'b', 'c'], 0.999)).toBe('c');
  });
});
