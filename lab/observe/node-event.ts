import type { LabContainer } from '../engine/lab-docker';
import { TRACKER_NAME } from '../constants';
import type { RunEventBody } from './run-events';

/** A `node` run event for a container as just inspected. */
export function nodeEvent(name: string, container: LabContainer): RunEventBody {
  const state = container.state === 'running' && container.ip === undefined ? 'disconnected' : container.state;
  return {
    type: 'node',
    name,
    role: container.role ?? (name === TRACKER_NAME ? 'tracker' : 'peer'),
    ...(container.ip === undefined ? {} : { ip: container.ip }),
    state,
  };
}
