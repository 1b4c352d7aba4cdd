/**
 * The run recorder's memory bound: with `maxEvents` it keeps a window of the latest events (never more
 * than a quarter over the limit) while seqs keep counting; without it, it keeps every event (the run
 * report needs them all).
 */
import { RunRecorder } from '../../lab/observe/run-events';

function recordInfo(recorder: RunRecorder, count: number): void {
  for (let i = 0; i < count; i++) recorder.record({ type: 'info', text: `line ${i}` });
}

describe('RunRecorder', () => {
  it('keeps every event by default', () => {
    const recorder = new RunRecorder();
    recordInfo(recorder, 10_000);
    expect(recorder.events).toHaveLength(10_000);
    expect(recorder.firstSeq).toBe(0);
    expect(recorder.eventAt(0)?.seq).toBe(0);
  });

  it('issue 18 hole 9: with maxEvents, keeps at most 1.25 x maxEvents of the latest, and seqs keep counting', () => {
    const recorder = new RunRecorder({ maxEvents: 100 });
    let largest = 0;
    for (let i = 0; i < 10_000; i++) {
      recordInfo(recorder, 1);
      largest = Math.max(largest, recorder.events.length);
    }
    expect(largest).toBeLessThanOrEqual(125);
    expect(recorder.nextSeq).toBe(10_000);
    expect(recorder.events.length).toBeGreaterThanOrEqual(100);
    expect(recorder.firstSeq).toBe(10_000 - recorder.events.length);
    expect(recorder.events.map((e) => e.seq)).toEqual(
      Array.from({ length: recorder.events.length }, (_, i) => recorder.firstSeq + i),
    );
    expect(recorder.eventAt(recorder.firstSeq - 1)).toBeUndefined();
    expect(recorder.eventAt(9_999)).toMatchObject({ seq: 9_999, text: 'line 0' });
    expect(recorder.eventAt(10_000)).toBeUndefined();
  });
});
