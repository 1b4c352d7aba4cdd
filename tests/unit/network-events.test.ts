/**
 * The network's changes as run events: the RunNetwork records one per change, the shared reducer keeps the
 * links and the partition current, the report marks them on the time axis and lists them, the dashboard's
 * graph labels them, and the theoretical minimum takes the access links.
 */
import { PacketFilter } from '../../lab/network/packet-filter';
import { RunNetwork } from '../../lab/network/run-network';
import { linkLabel, linkMarks } from '../../lab/observe/link-label';
import { deriveReportData, minimumTimes, timeMarks } from '../../lab/observe/report-data';
import { renderReportHtml } from '../../lab/observe/report-html';
import { RunRecorder, type RunEvent, type RunEventBody } from '../../lab/observe/run-events';
import { foldRunEvents } from '../../lab/observe/run-state';
import { eventsOf, FILE, FILE_BYTES, ratedRun, reportOf } from '../helpers/report-events';

const signal = new AbortController().signal;
const MiB = 1024 * 1024;

function recordedNetwork(): { run: RunNetwork; recorder: RunRecorder } {
  const addresses: Record<string, string> = { 'peer-1': '10.0.0.2', 'peer-2': '10.0.0.3', tracker: '10.0.0.9' };
  const recorder = new RunRecorder();
  const run = new RunNetwork(
    {
      nodes: {
        address: (node) => addresses[node],
        hasEmulator: (node) => node !== 'tracker',
        setLink: () => Promise.resolve(),
        pid: () => Promise.resolve(7),
      },
      filter: new PacketFilter({ iptables: () => Promise.resolve('') }),
      recorder,
    },
    {
      network: {
        links: [{ between: ['peer-1', 'peer-2'], latencyMs: 50, jitterMs: 5 }],
        peers: { 'peer-1': { up: '2M', down: null } },
      },
      names: ['peer-1', 'peer-2', 'tracker'],
    },
  );
  return { run, recorder };
}

describe('network run events', () => {
  it('are recorded for the start and for each link, partition and heal', async () => {
    const { run, recorder } = recordedNetwork();
    await run.applyAll(signal);
    await run.change(['peer-2', 'peer-1'], { latencyMs: 150 }, signal);
    await run.partition([['peer-1'], ['peer-2', 'tracker']], signal);
    await run.heal(signal);
    const network = recorder.events.filter((e) => e.type === 'network');
    expect(network.map((e) => e.change)).toEqual(['initial', 'link', 'partition', 'heal']);
    const [initial, link, partition] = network;
    expect(initial?.links).toEqual([
      { between: ['peer-1', 'peer-2'], latencyMs: 50, jitterMs: 5, lossPercent: 0, bandwidth: null },
    ]);
    expect(initial?.access).toEqual({ 'peer-1': { up: 2 * MiB, down: null } });
    expect(link?.links).toEqual([
      { between: ['peer-2', 'peer-1'], latencyMs: 150, jitterMs: 5, lossPercent: 0, bandwidth: null },
    ]);
    expect(link?.description).toBe('link peer-2 <-> peer-1: 150 ms ±5 ms');
    expect(partition?.sides).toEqual([['peer-1'], ['peer-2', 'tracker']]);
  });

  it('keep the reducer current: links that are not perfect, and the partition until healed', async () => {
    const { run, recorder } = recordedNetwork();
    await run.applyAll(signal);
    await run.change(['peer-1', 'tracker'], { bandwidth: 1024 }, signal);
    await run.partition([['peer-1'], ['peer-2']], signal);
    let state = foldRunEvents(recorder.events);
    expect([...state.links.values()].map((l) => `${l.between.join('-')} ${linkLabel(l)}`)).toEqual([
      'peer-1-peer-2 50 ms ±5 ms',
      'peer-1-tracker 1.0 KiB/s',
    ]);
    expect(state.partition).toEqual([['peer-1'], ['peer-2']]);
    // The graph labels the cut pair as cut, and the other link with its conditions.
    expect(linkMarks(state)).toEqual([
      { between: ['peer-1', 'peer-2'], label: 'cut', cut: true },
      { between: ['peer-1', 'tracker'], label: '1.0 KiB/s', cut: false },
    ]);
    await run.change(['peer-1', 'peer-2'], { latencyMs: 0, jitterMs: 0 }, signal);
    await run.heal(signal);
    state = foldRunEvents(recorder.events);
    expect([...state.links.keys()]).toHaveLength(1);
    expect(state.partition).toEqual([]);
    expect(linkMarks(state)).toEqual([{ between: ['peer-1', 'tracker'], label: '1.0 KiB/s', cut: false }]);
  });

  it('are marked on the report time axis after the start, and the report lists the network', () => {
    const network: RunEventBody[] = [
      { type: 'network', change: 'initial', description: '1 links set', links: [] },
      { type: 'network', change: 'link', description: 'link peer-1 <-> peer-2: 150 ms', links: [] },
      { type: 'network', change: 'heal', description: 'partition healed' },
    ];
    const base = ratedRun();
    const events: RunEvent[] = eventsOf([
      ...base.slice(0, 6).map((e): [number, RunEventBody] => [e.t, e]),
      [1050, network[0]!],
      ...base.slice(6, 12).map((e): [number, RunEventBody] => [e.t, e]),
      [2600, network[1]!],
      [3500, network[2]!],
      ...base.slice(12).map((e): [number, RunEventBody] => [e.t, e]),
    ]);
    const marks = timeMarks(events, {}).filter((m) => m.kind === 'network');
    expect(marks).toEqual([
      { t: 2600, kind: 'network', label: 'network: link peer-1 <-> peer-2: 150 ms' },
      { t: 3500, kind: 'network', label: 'network: partition healed' },
    ]);
    const html = renderReportHtml(
      deriveReportData(
        events,
        reportOf({
          network: {
            enforcement: { latency: 'app', jitter: 'app', loss: 'kernel', bandwidth: 'app', partition: 'kernel' },
            links: [{ between: ['peer-1', 'peer-2'], latencyMs: 80, jitterMs: 0, lossPercent: 1, bandwidth: null }],
          },
        }),
        { run: 'unit' },
      ),
    );
    expect(html).toContain('class="mark mark-network"');
    expect(html).toContain('link change');
    expect(html).toContain('<section id="network">');
    expect(html).toContain('latency <b>app</b>');
    expect(html).toContain('<td>peer-1 &#60;-&#62; peer-2</td><td>80 ms, 1 % loss</td>');
  });
});

describe('the theoretical minimum with access links', () => {
  /** ratedRun without its rate events, and the network's initial event giving the same rates as access links. */
  function accessRun(access: Record<string, { up?: number | null; down?: number | null }>): RunEvent[] {
    const bodies = ratedRun()
      .filter((e) => e.type !== 'rate')
      .map((e): [number, RunEventBody] => [e.t, e]);
    bodies.splice(7, 0, [1300, { type: 'network', change: 'initial', description: 'access', access }]);
    return eventsOf(bodies);
  }

  it('takes the peers upload from network.peers when no rate was set', () => {
    const [fromRates] = minimumTimes(ratedRun());
    const [fromAccess] = minimumTimes(
      accessRun({ 'peer-1': { up: 65536 }, 'peer-2': { up: 16384 }, 'peer-3': { up: 16384 } }),
    );
    expect(fromAccess).toEqual(fromRates);
    // F/u_s = 4 s; N·F/(u_s+Σu_i) = 2·256 KiB / 96 KiB/s = 5.33 s.
    expect(fromAccess && 'minMs' in fromAccess ? fromAccess.minMs : undefined).toBeCloseTo(16000 / 3, 6);
  });

  it('counts the slowest downloader download cap (F/d_min) when it is the bottleneck', () => {
    const [minimum] = minimumTimes(
      accessRun({
        'peer-1': { up: 65536 },
        'peer-2': { up: 16384, down: 32768 },
        'peer-3': { up: 16384, down: 16384 },
      }),
    );
    expect(minimum && 'minMs' in minimum ? minimum.minMs : undefined).toBeCloseTo((1000 * FILE_BYTES) / 16384, 6);
    expect(minimum && 'minMs' in minimum ? minimum.downloaders : undefined).toEqual([
      { peer: 'peer-2', uploadBps: 16384, downloadBps: 32768 },
      { peer: 'peer-3', uploadBps: 16384, downloadBps: 16384 },
    ]);
  });

  it('has no line while a peer upload is neither a rate nor an access link', () => {
    const [minimum] = minimumTimes(accessRun({ 'peer-1': { up: 65536 }, 'peer-2': { down: 8192 } }));
    expect(minimum).toMatchObject({ file: FILE });
    expect(minimum && 'note' in minimum ? minimum.note : '').toMatch(/peer-2, peer-3/);
  });
});
