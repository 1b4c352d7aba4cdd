/**
 * The run report's data, derived from a run's recorded events and the scenario's report: pure functions,
 * no I/O, so every figure the HTML shows can be checked in a unit test.
 *
 * Times (`t`) are ms since the recorder started, like the events' own `t`. The ScenarioReport counts from
 * the scenario's start instead; the two are tied together through the fault step's event.
 */
import type { DownloadReport, NetworkReport, ScenarioReport, StepReport } from '../report-types';
import { timedInHappenedOrder } from './run-events';
import type { NodeState, RunEvent } from './run-events';
import { minimumTimes, type MinimumTime } from './distribution-minimum';
import { foldRunEvents, holdingKey, type EventOf, type Lane, type RunState } from './run-state';
import { swarmWindows, type FileSwarmWindows } from './swarm-windows';

export type { Lane } from './run-state';
export {
  downloadStartT,
  minimumDistributionMs,
  minimumTimes,
  uploadRateAt,
  type MinimumTime,
  type RatedPeer,
} from './distribution-minimum';

/** One verified chunk received (its `transfer` event), placed on its downloader's lane of the timeline. */
export type TransferPoint = Omit<EventOf<'transfer'>, 'type' | 'at'> & {
  /** Index into `ReportData.lanes`. */
  lane: number;
};

export interface ProgressPoint {
  t: number;
  have: number;
  chunks: number;
}

export interface ProgressSeries extends Lane {
  points: ProgressPoint[];
  /** Where the points come from: the peer's own progress events, or counted transfers when it sent none. */
  source: 'progress' | 'transfers';
}

export type TimeMarkKind = 'fault' | 'node' | 'recovery' | 'trigger' | 'network';

/** Something to mark on the time axis: an injected fault, a container state change, a link change, a recovery. */
export interface TimeMark {
  t: number;
  kind: TimeMarkKind;
  label: string;
}

/** A tracker or peer as last seen, with the rates it had at the end. */
export interface ReportNode {
  name: string;
  role: 'tracker' | 'peer';
  ip?: string;
  state: NodeState;
  uploadBps?: number;
  downloadBps?: number;
}

export interface FailedDownload {
  t: number;
  peer: string;
  file: string;
  error: string;
}

/** Every download that ended in an error, in order. */
export function failedDownloads(events: readonly RunEvent[]): FailedDownload[] {
  return events
    .filter((e): e is EventOf<'download'> => e.type === 'download' && !e.ok)
    .map((e) => ({ t: e.t, peer: e.peer, file: e.file, error: e.error ?? 'failed' }));
}

export interface ReportData {
  run: string;
  scenario: string;
  ok: boolean;
  error?: string;
  /** Wall clock of the recording's start (epoch ms). */
  startedAt: number;
  /** Time zero of the report: when the run's containers were up (its `run` event), ms since the recording started. */
  originT: number;
  /**
   * The plots' window, ms since the recording started: from a little before the first download, fault or
   * state change to the end, so that the start-up (connect, generate) does not squeeze what matters.
   */
  fromT: number;
  toT: number;
  /** The scenario's own duration, as the runner measured it. */
  scenarioMs: number;
  nodes: ReportNode[];
  lanes: Lane[];
  transfers: TransferPoint[];
  progress: ProgressSeries[];
  minimums: MinimumTime[];
  /** The swarm a window of time at a time, per file (swarm-windows.ts). */
  swarm: FileSwarmWindows[];
  marks: TimeMark[];
  downloads: DownloadReport[];
  /** Downloads that ended in an error (expected or not), as their `download` events tell. */
  failedDownloads: FailedDownload[];
  steps: StepReport[];
  /** The scenario's network: who enforced what, and the links at the start (from the ScenarioReport). */
  network?: NetworkReport;
  recoverMs?: number;
  eventCount: number;
}

/** States a node is in because something was done to it: each change into one is marked as a fault. */
const FAULT_STATES = new Set<NodeState>(['exited', 'dead', 'paused', 'disconnected']);

/** Downloader lanes in order of first appearance (transfer, progress or download event). */
export function downloadLanes(events: readonly RunEvent[]): Lane[] {
  return [...foldRunEvents(events).lanes.values()];
}

/** Every `transfer` event as one point, on its downloader's lane, when it happened (`happenedT`). */
export function transferPoints(
  events: readonly RunEvent[],
  lanes: readonly Lane[] = downloadLanes(events),
): TransferPoint[] {
  const laneOf = new Map(lanes.map((lane, i) => [holdingKey(lane.peer, lane.file), i]));
  const transfers = events.filter((e): e is EventOf<'transfer'> => e.type === 'transfer');
  const points: TransferPoint[] = [];
  for (const { event, t } of timedInHappenedOrder(transfers)) {
    points.push({
      seq: event.seq,
      t,
      file: event.file,
      index: event.index,
      chunks: event.chunks,
      from: event.from,
      to: event.to,
      bytes: event.bytes,
      ...(event.ms === undefined ? {} : { ms: event.ms }),
      lane: laneOf.get(holdingKey(event.to, event.file)) ?? 0,
    });
  }
  return points;
}

/**
 * Each downloader's progress over time: its own progress events when it sent any, otherwise the count of
 * chunks received so far (one step per transfer).
 */
export function progressSeries(
  events: readonly RunEvent[],
  lanes: readonly Lane[] = downloadLanes(events),
): ProgressSeries[] {
  // One pass over the events, not one per lane: a hundred lanes by tens of thousands of events.
  const reportedBy = new Map<string, Array<EventOf<'progress'>>>();
  const receivedBy = new Map<string, Array<EventOf<'transfer'>>>();
  for (const e of events) {
    if (e.type === 'progress') pushTo(reportedBy, holdingKey(e.peer, e.file), e);
    else if (e.type === 'transfer') pushTo(receivedBy, holdingKey(e.to, e.file), e);
  }
  return lanes.map((lane) => {
    const key = holdingKey(lane.peer, lane.file);
    const reported = reportedBy.get(key) ?? [];
    if (reported.length > 0) {
      return {
        ...lane,
        source: 'progress',
        points: timedInHappenedOrder(reported).map(({ event, t }) => ({ t, have: event.have, chunks: event.chunks })),
      };
    }
    return {
      ...lane,
      source: 'transfers',
      points: timedInHappenedOrder(receivedBy.get(key) ?? []).map(({ event, t }, i) => ({ t, have: i + 1, chunks: event.chunks })),
    };
  });
}

function pushTo<K, V>(groups: Map<K, V[]>, key: K, value: V): void {
  const group = groups.get(key);
  if (group) group.push(value);
  else groups.set(key, [value]);
}

/**
 * Faults and recoveries on the time axis: the scenario's `fault: true` step, every container that went
 * down, paused or off the network (and came back), each change of the network after its start (a `link`
 * step, a partition, a heal: its `network` event), each `when:` trigger that fired (and why), and the
 * moment the scenario counts as recovered.
 */
export function timeMarks(events: readonly RunEvent[], report: Pick<ScenarioReport, 'recoverMs'>): TimeMark[] {
  const marks: TimeMark[] = [];
  const firstStep = events.find((e) => e.type === 'step');
  const lastState = new Map<string, NodeState>();
  let faultStep: EventOf<'step'> | undefined;
  for (const event of events) {
    if (event.type === 'step' && event.fault) {
      faultStep ??= event;
      marks.push({ t: event.t, kind: 'fault', label: `fault: ${event.description}` });
    } else if (event.type === 'network' && event.change !== 'initial') {
      marks.push({ t: event.t, kind: 'network', label: `network: ${event.description}` });
    } else if (event.type === 'trigger') {
      marks.push({ t: event.t, kind: 'trigger', label: `trigger (step ${event.index + 1}): ${event.reason}` });
    } else if (event.type === 'node') {
      const before = lastState.get(event.name);
      lastState.set(event.name, event.state);
      // The states containers are created in (before the first step) are the starting line, not faults.
      if (firstStep === undefined || event.seq < firstStep.seq || before === event.state) continue;
      if (FAULT_STATES.has(event.state)) {
        marks.push({ t: event.t, kind: 'node', label: `${event.name} ${event.state}` });
      } else if (event.state === 'running' && before !== undefined && FAULT_STATES.has(before)) {
        marks.push({ t: event.t, kind: 'node', label: `${event.name} running again` });
      }
    }
  }
  if (faultStep !== undefined && report.recoverMs !== undefined) {
    marks.push({
      t: faultStep.t + report.recoverMs,
      kind: 'recovery',
      label: `recovered ${(report.recoverMs / 1000).toFixed(1)} s after the fault`,
    });
  }
  return marks.sort((a, b) => a.t - b.t);
}

/**
 * Every node a `node` or `rate` event described, as last seen, with its last known address and its last
 * upload and download limits.
 */
export function reportNodes(events: readonly RunEvent[]): ReportNode[] {
  return nodesOf(foldRunEvents(events));
}

function nodesOf(state: RunState): ReportNode[] {
  return [...state.nodes.values()]
    .filter((node) => !node.mentionedOnly)
    .map((node) => ({
      name: node.name,
      role: node.role,
      ...(node.lastIp === undefined ? {} : { ip: node.lastIp }),
      state: node.state,
      ...(node.uploadBps === undefined ? {} : { uploadBps: node.uploadBps }),
      ...(node.downloadBps === undefined ? {} : { downloadBps: node.downloadBps }),
    }));
}

/** Share of the window's span left blank before its first point of interest. */
const WINDOW_LEAD = 0.04;

/**
 * The plots' time window: from just before the first download step, transfer, fault or state change
 * (or from the origin when there is none) to the last event or minimum line.
 */
export function plotWindow(
  events: readonly RunEvent[],
  originT: number,
  minimums: readonly MinimumTime[] = [],
  marks: readonly TimeMark[] = [],
): { fromT: number; toT: number } {
  const lastT = events.reduce((max, e) => Math.max(max, e.t), originT);
  const toT = Math.max(
    lastT,
    ...minimums.map((m) => ('atT' in m ? m.atT : originT)),
    ...marks.map((m) => m.t),
    originT + 1,
  );
  const interesting = [
    ...events
      .filter((e) => e.type === 'transfer' || (e.type === 'step' && (e.action === 'download' || e.fault)))
      .map((e) => e.t),
    ...minimums.map((m) => m.startT ?? toT),
    ...marks.map((m) => m.t),
  ];
  const firstT = interesting.length === 0 ? originT : Math.max(originT, Math.min(...interesting));
  const fromT = Math.max(originT, firstT - (toT - firstT) * WINDOW_LEAD);
  return { fromT, toT: Math.max(toT, fromT + 1) };
}

/** Everything the report shows, from the recorded events and the scenario's report. */
export function deriveReportData(
  events: readonly RunEvent[],
  report: ScenarioReport,
  init: { run?: string; startedAt?: number } = {},
): ReportData {
  const runEvent = events.find((e): e is EventOf<'run'> => e.type === 'run');
  const endEvent = events.find((e): e is EventOf<'end'> => e.type === 'end');
  const state = foldRunEvents(events);
  const lanes = [...state.lanes.values()];
  const minimums = minimumTimes(events, lanes);
  const marks = timeMarks(events, report);
  const originT = runEvent?.t ?? 0;
  const window = plotWindow(events, originT, minimums, marks);
  const error = report.error?.message ?? endEvent?.error;
  return {
    run: init.run ?? runEvent?.run ?? report.scenario,
    scenario: report.scenario,
    ok: report.ok,
    ...(error === undefined ? {} : { error }),
    startedAt: init.startedAt ?? (events[0] === undefined ? Date.now() : events[0].at - events[0].t),
    originT,
    ...window,
    scenarioMs: report.ms,
    nodes: nodesOf(state),
    lanes,
    transfers: transferPoints(events, lanes),
    progress: progressSeries(events, lanes),
    minimums,
    swarm: swarmWindows(events),
    marks,
    downloads: report.downloads,
    failedDownloads: failedDownloads(events),
    steps: report.steps,
    ...(report.network === undefined ? {} : { network: report.network }),
    ...(report.recoverMs === undefined ? {} : { recoverMs: report.recoverMs }),
    eventCount: events.length,
  };
}
