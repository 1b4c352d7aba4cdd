/**
 * The dashboard's timeline: which events make a line, in what words and colours. The run's state comes
 * from the shared reducer; only the wording lives here.
 */
import type { NodeState, RunEvent } from '../run-events';
import type { RunChange, RunState } from '../run-state';
import { formatClock } from './format';

export type TimelineKind = 'step' | 'fault' | 'node' | 'info' | 'download' | 'end';

export interface TimelineEntry {
  kind: TimelineKind;
  t: number;
  text: string;
  cls: '' | 'good' | 'bad';
}

/** States a node is in because something was done to it (shown red, greyed on the graph). */
const BAD_STATES: ReadonlySet<NodeState> = new Set(['paused', 'exited', 'dead', 'disconnected', 'removing']);
// Steps that hurt the swarm, and steps that heal it, whether or not the scenario marked them.
const FAULT_ACTIONS: ReadonlySet<string> = new Set([
  'kill',
  'stop',
  'pause',
  'disconnect-network',
  'faults',
  'fill-disk',
]);
const RECOVERY_ACTIONS: ReadonlySet<string> = new Set(['start', 'unpause', 'connect-network', 'free-disk']);

export function isBadState(state: NodeState): boolean {
  return BAD_STATES.has(state);
}

/** The timeline line an event makes, once folded into `state` (`change` is what folding it changed). */
export function timelineEntry(event: RunEvent, change: RunChange, state: RunState): TimelineEntry | undefined {
  const t = event.t;
  switch (event.type) {
    case 'run':
      return {
        kind: 'info',
        t,
        cls: '',
        text: `run ${event.run}${event.scenario ? ` (scenario ${event.scenario})` : ''}`,
      };
    case 'node': {
      const node = state.nodes.get(event.name);
      if (node === undefined || change.stateBefore === undefined || change.stateBefore === node.state) return undefined;
      const bad = isBadState(node.state);
      const text = `${node.name} is ${node.state}${node.ip ? ` (${node.ip})` : ''}`;
      return { kind: bad ? 'fault' : 'node', t, text, cls: bad ? '' : 'good' };
    }
    case 'step': {
      const hurts = event.fault || FAULT_ACTIONS.has(event.action);
      return {
        kind: hurts ? 'fault' : 'step',
        t,
        text: `step ${event.index + 1}/${event.total}: ${event.description}${event.fault ? '  [FAULT]' : ''}`,
        cls: RECOVERY_ACTIONS.has(event.action) ? 'good' : '',
      };
    }
    case 'step-end':
      if (event.ok) return undefined;
      return { kind: 'step', t, text: `step ${event.index + 1} failed: ${event.error ?? ''}`, cls: 'bad' };
    case 'download': {
      const outcome = event.ok ? (event.verified ? ', verified' : ', NOT verified') : `: ${event.error ?? ''}`;
      const sources =
        event.chunksBySource === undefined
          ? ''
          : ` (${Object.entries(event.chunksBySource)
              .map(([source, count]) => `${source}:${count}`)
              .join(' ')})`;
      return {
        kind: 'download',
        t,
        text: `${event.peer}${event.ok ? ' finished ' : ' failed '}${event.file}${outcome}${sources}`,
        cls: event.ok && event.verified ? 'good' : 'bad',
      };
    }
    case 'info':
      return { kind: 'info', t, text: event.text, cls: '' };
    case 'network': {
      const kind = event.change === 'initial' ? 'info' : event.change === 'heal' ? 'node' : 'fault';
      return { kind, t, text: `network: ${event.description}`, cls: event.change === 'heal' ? 'good' : '' };
    }
    case 'trigger':
      return { kind: 'step', t, text: `trigger for step ${event.index + 1}: ${event.reason}`, cls: '' };
    case 'end':
      return {
        kind: 'end',
        t,
        text: `run ended ${event.ok ? 'ok' : `FAILED${event.error ? `: ${event.error}` : ''}`} after ${formatClock(event.ms)}`,
        cls: event.ok ? 'good' : 'bad',
      };
    default:
      return undefined;
  }
}
