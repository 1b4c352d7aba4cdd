import type { RunEventBody } from '../../lab/observe/run-events';
import { swarmWindows } from '../../lab/observe/swarm-windows';
import { eventsOf, FILE, ratedRun } from '../helpers/report-events';

const KIB = 1024;

describe('swarmWindows', () => {
  it('counts holders, chunks, senders and answer times a second at a time in the rated run', () => {
    // ratedRun: peer-1 publishes at 1.2 s; chunks arrive at 2.5, 2.7, 3.0, 3.2, 4.0, 4.1, 4.6 and 4.8 s.
    const [file] = swarmWindows(ratedRun());
    expect(file).toMatchObject({ file: FILE, windowMs: 1000 });
    expect(file!.windows).toEqual([
      // 2.5–3.5 s: peer-1 sends to both, peer-3 and peer-2 pass on what they got; only the first said its ms.
      { t: 2500, holders: 3, transfers: 4, bytes: 4 * 64 * KIB, senders: 3, answerMsP50: 300, answerMsP90: 300 },
      { t: 3500, holders: 3, transfers: 2, bytes: 2 * 64 * KIB, senders: 1 },
      { t: 4500, holders: 3, transfers: 2, bytes: 2 * 64 * KIB, senders: 2 },
    ]);
  });

  it('counts a publisher as a holder before it sends, and takes nearest-rank percentiles of the answers', () => {
    const transfer = (t: number, from: string, to: string, ms: number): [number, RunEventBody] => [
      t,
      { type: 'transfer', file: 'f', index: 0, chunks: 1, from, to, bytes: 100, ms },
    ];
    const events = eventsOf([
      [0, { type: 'file', peer: 'seed', file: 'f', size: 100 }],
      [0, { type: 'file', peer: 'seed-2', file: 'f', size: 100 }],
      ...[10, 20, 30, 40, 50, 60, 70, 80, 90, 1000].map((ms, i) => transfer(100 + i, 'seed', `leech-${i}`, ms)),
      transfer(5_100, 'leech-0', 'late', 5),
    ]);
    const [file] = swarmWindows(events, 30);
    expect(file!.windowMs).toBe(1000);
    expect(file!.windows).toHaveLength(6);
    expect(file!.windows[0]).toEqual({
      t: 100,
      holders: 12, // two publishers (one never sends) and ten downloaders
      transfers: 10,
      bytes: 1000,
      senders: 1,
      answerMsP50: 50,
      answerMsP90: 90,
    });
    // The quiet seconds between are there, holding what was held.
    expect(file!.windows[2]).toEqual({ t: 2100, holders: 12, transfers: 0, bytes: 0, senders: 0 });
    expect(file!.windows[5]).toMatchObject({ holders: 13, transfers: 1, senders: 1, answerMsP50: 5 });
  });

  it('widens the windows to keep about maxWindows of them, in whole seconds, one table per file', () => {
    const events = eventsOf([
      [0, { type: 'transfer', file: 'a', index: 0, chunks: 2, from: 'p1', to: 'p2', bytes: 1 }],
      [0, { type: 'transfer', file: 'b', index: 0, chunks: 2, from: 'p1', to: 'p3', bytes: 1 }],
      [95_000, { type: 'transfer', file: 'a', index: 1, chunks: 2, from: 'p2', to: 'p3', bytes: 1 }],
    ]);
    const [a, b] = swarmWindows(events, 30);
    expect(a).toMatchObject({ file: 'a', windowMs: 4000 });
    expect(a!.windows).toHaveLength(24);
    expect(b).toMatchObject({ file: 'b', windowMs: 1000 });
    expect(b!.windows).toHaveLength(1);
  });

  it('is empty when no chunk moved', () => {
    expect(swarmWindows(eventsOf([[0, { type: 'run', run: 'r' }]]))).toEqual([]);
  });
});
