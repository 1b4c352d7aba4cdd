import {
  deriveReportData,
  downloadLanes,
  downloadStartT,
  minimumDistributionMs,
  minimumTimes,
  plotWindow,
  progressSeries,
  reportNodes,
  timeMarks,
  transferPoints,
  uploadRateAt,
} from '../../lab/observe/report-data';
import { happenedT, PEER_CLOCK_AHEAD_MS, PEER_EVENT_MAX_LAG_MS } from '../../lab/observe/run-events';
import type { RunEvent } from '../../lab/observe/run-events';
import { eventsOf, FILE, FILE_BYTES, ratedRun, reportOf } from '../helpers/report-events';

const MIB = 1024 * 1024;
const KIB = 1024;

describe('minimumDistributionMs', () => {
  it('is N·F/(u_s + Σu_i) when the swarm as a whole is the bottleneck', () => {
    // 3 MiB to 3 downloaders: F/u_s = 6 s, N·F/(u_s+Σu_i) = 9 MiB / 1.25 MiB/s = 7.2 s.
    expect(minimumDistributionMs(3 * MIB, 512 * KIB, [256 * KIB, 256 * KIB, 256 * KIB])).toBeCloseTo(7200, 6);
  });

  it('is F/u_s when the seeders cannot send one copy any faster', () => {
    expect(minimumDistributionMs(MIB, MIB, [10 * MIB])).toBe(1000);
  });

  it('counts every seeder and every downloader', () => {
    expect(minimumDistributionMs(4 * MIB, 2 * MIB, [MIB, MIB])).toBe(2000);
    expect(minimumDistributionMs(4 * MIB, 2 * MIB, [])).toBe(2000);
  });

  it('refuses seeders that upload nothing', () => {
    expect(() => minimumDistributionMs(MIB, 0, [MIB])).toThrow(RangeError);
  });
});

describe('lanes, transfer points and progress', () => {
  const events = ratedRun();

  it('gives one lane per downloader and file, in order of appearance', () => {
    expect(downloadLanes(events)).toEqual([
      { peer: 'peer-2', file: FILE, chunks: 4 },
      { peer: 'peer-3', file: FILE, chunks: 4 },
    ]);
  });

  it('turns every transfer event into exactly one point, on its receiver lane', () => {
    const transfers = events.filter((e) => e.type === 'transfer');
    const points = transferPoints(events);
    expect(points.map((p) => p.seq)).toEqual(transfers.map((e) => e.seq));
    expect(points.map((p) => [p.to, p.lane])).toEqual(
      transfers.map((e) => [e.type === 'transfer' ? e.to : '', e.type === 'transfer' && e.to === 'peer-3' ? 1 : 0]),
    );
    expect(points[2]).toMatchObject({ t: 3000, index: 3, from: 'peer-3', to: 'peer-2', bytes: 65536 });
  });

  it("uses a downloader's progress events, and counts its transfers when it sent none", () => {
    const [peer2, peer3] = progressSeries(events);
    expect(peer2).toMatchObject({ peer: 'peer-2', source: 'progress' });
    expect(peer2?.points).toEqual([
      { t: 2600, have: 1, chunks: 4 },
      { t: 3100, have: 2, chunks: 4 },
      { t: 4700, have: 4, chunks: 4 },
    ]);
    expect(peer3).toMatchObject({ peer: 'peer-3', source: 'transfers' });
    expect(peer3?.points.map((p) => [p.t, p.have])).toEqual([
      [2700, 1],
      [3200, 2],
      [4100, 3],
      [4800, 4],
    ]);
  });
});

describe('uploadRateAt', () => {
  const events = eventsOf([
    [100, { type: 'rate', peer: 'peer-1', uploadBps: 1000 }],
    [200, { type: 'rate', peer: 'peer-1', downloadBps: 5 }],
    [300, { type: 'rate', peer: 'peer-1', uploadBps: 2000 }],
    [400, { type: 'rate', peer: 'peer-1', uploadBps: null }],
  ]);

  it('is the last upload limit set at or before t; a download limit does not change it', () => {
    expect(uploadRateAt(events, 'peer-1', 50)).toBeUndefined();
    expect(uploadRateAt(events, 'peer-1', 250)).toBe(1000);
    expect(uploadRateAt(events, 'peer-1', 300)).toBe(2000);
    expect(uploadRateAt(events, 'peer-2', 300)).toBeUndefined();
  });

  it('is unset again once the limit is lifted (null)', () => {
    expect(uploadRateAt(events, 'peer-1', 500)).toBeUndefined();
  });
});

describe('minimumTimes', () => {
  it('draws the line at the first chunk request plus max(F/u_s, N·F/(u_s+Σu_i)) when every rate is set', () => {
    const [minimum] = minimumTimes(ratedRun());
    // F = 256 KiB, u_s = 64 KiB/s, N = 2, Σu_i = 32 KiB/s: max(4 s, 512/96 s) = 5.333 s.
    expect(minimum).toMatchObject({
      file: FILE,
      // The first chunk arrived at 2500 after 300 ms: requested at 2200.
      startT: 2200,
      fileBytes: FILE_BYTES,
      seeders: [{ peer: 'peer-1', uploadBps: 65536 }],
      downloaders: [
        { peer: 'peer-2', uploadBps: 16384 },
        { peer: 'peer-3', uploadBps: 16384 },
      ],
    });
    expect(minimum && 'minMs' in minimum ? minimum.minMs : NaN).toBeCloseTo(16000 / 3, 6);
    expect(minimum && 'atT' in minimum ? minimum.atT : NaN).toBeCloseTo(2200 + 16000 / 3, 6);
    // Both verified; the last chunk arrived at 4800, 2600 ms after the first request.
    expect(minimum && 'measured' in minimum ? minimum.measured : undefined).toEqual({
      distributionMs: 2600,
      ratio: expect.closeTo((2600 * 3) / 16000, 6) as number,
    });
  });

  it('measures the distribution only once every downloader has verified the file', () => {
    const [minimum] = minimumTimes(ratedRun().filter((e) => !(e.type === 'download' && e.peer === 'peer-3')));
    expect(minimum).toHaveProperty('minMs');
    expect(minimum).not.toHaveProperty('measured');
  });

  it('draws no line and says whose rate is missing when a downloader has none', () => {
    const events = ratedRun().filter((e) => !(e.type === 'rate' && e.peer === 'peer-3'));
    const [minimum] = minimumTimes(events);
    expect(minimum).not.toHaveProperty('minMs');
    expect(minimum && 'note' in minimum ? minimum.note : '').toMatch(/upload rate of peer-3 is not set/);
  });

  it('draws no line when a limit was lifted before the download', () => {
    const events = ratedRun();
    const lifted = eventsOf([
      ...events.slice(0, 10).map((e): [number, RunEvent] => [e.t, e]),
      [1500, { type: 'rate', peer: 'peer-1', uploadBps: null }],
      ...events.slice(10).map((e): [number, RunEvent] => [e.t, e]),
    ]);
    const [minimum] = minimumTimes(lifted);
    expect(minimum && 'note' in minimum ? minimum.note : '').toMatch(/upload rate of peer-1 is not set/);
  });

  it('draws no line when no peer held the file before its download', () => {
    const events = ratedRun().filter((e) => e.type !== 'file');
    const [minimum] = minimumTimes(events);
    expect(minimum && 'note' in minimum ? minimum.note : '').toMatch(/no peer held it/);
  });

  it('has nothing to say without downloads', () => {
    expect(
      minimumTimes(ratedRun().filter((e) => e.type !== 'transfer' && e.type !== 'progress' && e.type !== 'download')),
    ).toEqual([]);
  });
});

describe('downloadStartT', () => {
  const downloaders = new Set(['peer-2', 'peer-3']);

  it('is when the first chunk was requested, not when the download step began', () => {
    expect(downloadStartT(ratedRun(), FILE, downloaders)).toBe(2200);
  });

  it('is never before the download step (a chunk time longer than the wait)', () => {
    const events = ratedRun().map((e) => (e.type === 'transfer' && e.seq === 11 ? { ...e, ms: 900 } : e));
    expect(events[11]).toMatchObject({ type: 'transfer', ms: 900 });
    expect(downloadStartT(events, FILE, downloaders)).toBe(2000);
  });

  it('is the first arrival when no chunk says how long it took, and undefined without a download', () => {
    const events = ratedRun().map((e) => (e.type === 'transfer' ? { ...e, ms: undefined } : e));
    expect(downloadStartT(events, FILE, downloaders)).toBe(2500);
    expect(downloadStartT(ratedRun(), 'other.bin', downloaders)).toBeUndefined();
  });
});

describe('timeMarks', () => {
  const events = eventsOf([
    [0, { type: 'run', run: 'r' }],
    [0, { type: 'node', name: 'peer-3', role: 'peer', state: 'created' }],
    [10, { type: 'step', index: 0, total: 4, action: 'connect', targets: [], description: 'connect', fault: false }],
    [
      20,
      {
        type: 'step',
        index: 1,
        total: 4,
        action: 'kill',
        targets: ['peer-2'],
        description: 'kill peer-2',
        fault: true,
      },
    ],
    [25, { type: 'node', name: 'peer-2', role: 'peer', state: 'exited' }],
    [30, { type: 'node', name: 'peer-1', role: 'peer', state: 'paused' }],
    [40, { type: 'node', name: 'peer-1', role: 'peer', ip: '10.0.0.3', state: 'running' }],
    [50, { type: 'node', name: 'peer-3', role: 'peer', ip: '10.0.0.4', state: 'running' }],
  ]);

  it('marks the fault step, containers going down and coming back, and the recovery', () => {
    expect(timeMarks(events, { recoverMs: 1000 })).toEqual([
      { t: 20, kind: 'fault', label: 'fault: kill peer-2' },
      { t: 25, kind: 'node', label: 'peer-2 exited' },
      { t: 30, kind: 'node', label: 'peer-1 paused' },
      { t: 40, kind: 'node', label: 'peer-1 running again' },
      { t: 1020, kind: 'recovery', label: 'recovered 1.0 s after the fault' },
    ]);
  });

  it('marks no recovery without recoverMs, and a container started late is no fault', () => {
    const marks = timeMarks(events, {});
    expect(marks.map((m) => m.kind)).toEqual(['fault', 'node', 'node', 'node']);
    expect(marks.some((m) => m.label.startsWith('peer-3'))).toBe(false);
  });
});

describe('reportNodes', () => {
  it('keeps the last state and address of each node and its last rates', () => {
    const events = eventsOf([
      [0, { type: 'node', name: 'peer-1', role: 'peer', ip: '10.0.0.3', state: 'running' }],
      [1, { type: 'rate', peer: 'peer-1', uploadBps: 100, downloadBps: 200 }],
      [2, { type: 'node', name: 'peer-1', role: 'peer', state: 'exited' }],
      [3, { type: 'rate', peer: 'peer-1', downloadBps: null }],
    ]);
    expect(reportNodes(events)).toEqual([
      { name: 'peer-1', role: 'peer', ip: '10.0.0.3', state: 'exited', uploadBps: 100 },
    ]);
  });
});

describe('reportNodes, nodes only named by events', () => {
  it('lists no peer that only a transfer names (a peer outside the lab is not one of its nodes)', () => {
    const events = eventsOf([
      [0, { type: 'node', name: 'peer-1', role: 'peer', ip: '10.0.0.3', state: 'running' }],
      [1, { type: 'transfer', file: 'f', index: 0, chunks: 1, from: 'outsider', to: 'peer-1', bytes: 1 }],
    ]);
    expect(reportNodes(events).map((node) => node.name)).toEqual(['peer-1']);
  });
});

describe('plotWindow', () => {
  it('starts a little before the first download and ends at the last event or minimum line', () => {
    const events = ratedRun();
    const window = plotWindow(events, 1000, minimumTimes(events));
    const lineT = 2200 + 16000 / 3;
    expect(window.toT).toBeCloseTo(lineT, 6);
    expect(window.fromT).toBeLessThan(2000);
    expect(window.fromT).toBeGreaterThan(1000);
  });

  it('is the whole run when nothing happened', () => {
    const events = eventsOf([
      [500, { type: 'run', run: 'r' }],
      [900, { type: 'end', ok: true, ms: 400 }],
    ]);
    expect(plotWindow(events, 500)).toEqual({ fromT: 500, toT: 900 });
  });
});

describe('deriveReportData', () => {
  it('ties everything together, with the run event as time zero', () => {
    const data = deriveReportData(ratedRun(), reportOf(), { run: 'unit' });
    expect(data).toMatchObject({ run: 'unit', scenario: 'rated', ok: true, originT: 1000, scenarioMs: 4200 });
    expect(data.transfers).toHaveLength(8);
    expect(data.lanes).toHaveLength(2);
    expect(data.nodes.map((n) => n.name)).toEqual(['tracker', 'peer-1', 'peer-2', 'peer-3']);
    expect(data.minimums[0]).toHaveProperty('minMs');
    expect(data.eventCount).toBe(ratedRun().length);
  });

  it("carries the scenario's error", () => {
    const data = deriveReportData(ratedRun(), reportOf({ ok: false, error: { code: 'ERR_X', message: 'boom' } }));
    expect(data).toMatchObject({ ok: false, error: 'boom' });
  });
});

describe('peer-side times (peerAt)', () => {
  /** The run read late: every transfer and progress event stamped 4 s after its downloader verified it. */
  const readLate = (lagMs: number): RunEvent[] =>
    ratedRun().map((e) =>
      e.type === 'transfer' || e.type === 'progress' ? ({ ...e, t: e.t + lagMs, at: e.at + lagMs, peerAt: e.at } as RunEvent) : e,
    );

  it('places transfers and progress when the downloader verified them, not when the controller read them', () => {
    const onTime = ratedRun();
    const late = readLate(4000);
    expect(transferPoints(late).map((p) => p.t)).toEqual(transferPoints(onTime).map((p) => p.t));
    expect(progressSeries(late)).toEqual(progressSeries(onTime));
    expect(downloadStartT(late, FILE, new Set(['peer-2', 'peer-3']))).toBe(2200);
  });

  it('orders events read out of order by when they happened', () => {
    const events = ratedRun();
    const transfers = events.filter((e) => e.type === 'transfer');
    // The first transfer is read last, after every other event of the run.
    const first = transfers[0]!;
    const lastT = events[events.length - 1]!.t;
    const reordered = events.map((e) =>
      e.seq === first.seq ? ({ ...e, t: lastT, at: e.at - e.t + lastT, peerAt: e.at } as RunEvent) : e,
    );
    expect(transferPoints(reordered).map((p) => p.t)).toEqual(transferPoints(events).map((p) => p.t));
    expect(happenedT(reordered[first.seq]!)).toBe(first.t);
  });

  it('keeps the controller\'s time for a peer clock too far off, and never moves an event later', () => {
    const [transfer] = ratedRun().filter((e) => e.type === 'transfer');
    const at = transfer!.at;
    const withPeerAt = (peerAt: number): RunEvent => ({ ...transfer!, peerAt }) as RunEvent;
    expect(happenedT(withPeerAt(at - 3000))).toBe(transfer!.t - 3000);
    expect(happenedT(withPeerAt(at + 500))).toBe(transfer!.t);
    expect(happenedT(withPeerAt(at + PEER_CLOCK_AHEAD_MS + 1))).toBe(transfer!.t);
    expect(happenedT(withPeerAt(at - PEER_EVENT_MAX_LAG_MS - 1))).toBe(transfer!.t);
    expect(happenedT(withPeerAt(Number.NaN))).toBe(transfer!.t);
  });
});
