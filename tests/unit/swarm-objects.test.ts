/** The pure rules of `--engine swarm`: which task stands for a service, and what state the lab reports. */
import { LabError } from '../../lab/errors';
import { parseLabEngine } from '../../lab/engine/lab-engine';
import { currentTask, isTerminalTask, labState, taskAddress, type SwarmTask } from '../../lab/engine/swarm-objects';

function task(id: string, createdAt: string, state: string, desired = 'running', containerId?: string): SwarmTask {
  return {
    ID: id,
    ServiceID: 'svc',
    CreatedAt: createdAt,
    DesiredState: desired,
    Status: {
      State: state,
      ...(containerId === undefined ? {} : { ContainerStatus: { ContainerID: containerId } }),
    },
    NetworksAttachments: [
      { Network: { Spec: { Name: 'ingress' } }, Addresses: ['10.255.0.9/16'] },
      { Network: { Spec: { Name: 'swarmlab-run' } }, Addresses: ['10.0.3.7/24'] },
    ],
  };
}

describe('currentTask', () => {
  it('prefers the newest task Swarm wants running over a newer ended one', () => {
    const killed = task('old', '2026-01-01T00:00:01Z', 'failed', 'shutdown');
    const replacement = task('new', '2026-01-01T00:00:05Z', 'starting');
    const laterShutdown = task('other', '2026-01-01T00:00:09Z', 'shutdown', 'shutdown');
    expect(currentTask([killed, laterShutdown, replacement])?.ID).toBe('new');
  });

  it('falls back to the newest ended task, and to none for a service without tasks', () => {
    const first = task('a', '2026-01-01T00:00:01Z', 'complete', 'shutdown');
    const second = task('b', '2026-01-01T00:00:03Z', 'failed', 'shutdown');
    expect(currentTask([first, second])?.ID).toBe('b');
    expect(currentTask([])).toBeUndefined();
  });
});

describe('labState', () => {
  it('reports the task state until Swarm counts the task as running (healthy), then the container state', () => {
    expect(labState(task('t', '1', 'preparing'), undefined)).toBe('preparing');
    expect(labState(task('t', '1', 'starting'), 'running')).toBe('starting');
    expect(labState(task('t', '1', 'running'), 'running')).toBe('running');
    expect(labState(task('t', '1', 'running'), 'paused')).toBe('paused');
  });

  it('reports an ended task as exited (a killed or stopped node) and a service scaled to 0 as created', () => {
    expect(labState(task('t', '1', 'failed', 'shutdown'), 'exited')).toBe('exited');
    expect(labState(task('t', '1', 'complete', 'shutdown'), undefined)).toBe('exited');
    expect(labState(task('t', '1', 'running'), 'exited')).toBe('exited');
    expect(labState(undefined, undefined)).toBe('created');
  });

  it('tells ended tasks from pending and running ones', () => {
    for (const state of ['complete', 'failed', 'shutdown', 'rejected', 'orphaned', 'remove']) {
      expect(isTerminalTask(task('t', '1', state))).toBe(true);
    }
    for (const state of ['new', 'pending', 'assigned', 'preparing', 'starting', 'running']) {
      expect(isTerminalTask(task('t', '1', state))).toBe(false);
    }
  });
});

describe('taskAddress', () => {
  it("gives the task's address on the named network without the prefix length", () => {
    expect(taskAddress(task('t', '1', 'running'), 'swarmlab-run')).toBe('10.0.3.7');
    expect(taskAddress(task('t', '1', 'running'), 'elsewhere')).toBeUndefined();
    expect(taskAddress(undefined, 'swarmlab-run')).toBeUndefined();
  });
});

describe('parseLabEngine', () => {
  it('accepts docker (the default) and swarm, and refuses anything else as bad usage', () => {
    expect(parseLabEngine(undefined)).toBe('docker');
    expect(parseLabEngine('swarm')).toBe('swarm');
    expect(() => parseLabEngine('kubernetes')).toThrow(LabError);
    try {
      parseLabEngine('kubernetes');
    } catch (err) {
      expect((err as LabError).code).toBe('ERR_LAB_USAGE');
    }
  });
});
