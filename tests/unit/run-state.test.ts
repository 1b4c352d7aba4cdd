/**
 * The run-state reducer shared by the live dashboard (event by event) and the report (a whole run at once).
 */
import { applyRunEvent, createRunState, edgeKey, foldRunEvents, holdingKey } from '../../lab/observe/run-state';
import { eventsOf, FILE, ratedRun } from '../helpers/report-events';

describe('applyRunEvent', () => {
  it('ignores an event whose seq it already folded (a replayed SSE message)', () => {
    const [run, node] = eventsOf([
      [0, { type: 'run', run: 'r' }],
      [1, { type: 'node', name: 'peer-1', role: 'peer', ip: '10.0.0.3', state: 'running' }],
    ]);
    const state = createRunState();
    expect(applyRunEvent(state, run!)).toBeDefined();
    expect(applyRunEvent(state, node!)).toBeDefined();
    expect(
      applyRunEvent(state, { ...node!, type: 'node', name: 'peer-1', role: 'peer', state: 'exited' }),
    ).toBeUndefined();
    expect(state.nodes.get('peer-1')?.state).toBe('running');
    expect(state.lastSeq).toBe(1);
  });

  it('reports a known node state change with the state it had before', () => {
    const events = eventsOf([
      [0, { type: 'node', name: 'peer-1', role: 'peer', ip: '10.0.0.3', state: 'running' }],
      [1, { type: 'node', name: 'peer-1', role: 'peer', state: 'exited' }],
    ]);
    const state = createRunState();
    expect(applyRunEvent(state, events[0]!)?.stateBefore).toBeUndefined();
    expect(applyRunEvent(state, events[1]!)?.stateBefore).toBe('running');
  });
});

describe('foldRunEvents', () => {
  it('keeps a node current address apart from the last one it had', () => {
    const state = foldRunEvents(
      eventsOf([
        [0, { type: 'node', name: 'peer-1', role: 'peer', ip: '10.0.0.3', state: 'running' }],
        [1, { type: 'node', name: 'peer-1', role: 'peer', state: 'exited' }],
      ]),
    );
    expect(state.nodes.get('peer-1')).toMatchObject({ state: 'exited', lastIp: '10.0.0.3' });
    expect(state.nodes.get('peer-1')).not.toHaveProperty('ip');
  });

  it('marks peers known only from transfers, until a node or rate event describes them', () => {
    const state = foldRunEvents(
      eventsOf([
        [0, { type: 'transfer', file: 'f', index: 0, chunks: 2, from: 'outsider', to: 'peer-1', bytes: 1 }],
        [1, { type: 'rate', peer: 'peer-1', uploadBps: 10 }],
      ]),
    );
    expect(state.nodes.get('outsider')).toMatchObject({ role: 'peer', state: 'running', mentionedOnly: true });
    expect(state.nodes.get('peer-1')).toMatchObject({ mentionedOnly: false, uploadBps: 10 });
  });

  it('maps each chunk to the first peer that sent it and counts every transfer by source', () => {
    const state = foldRunEvents(
      eventsOf([
        [0, { type: 'transfer', file: 'f', index: 1, chunks: 3, from: 'a', to: 'c', bytes: 1 }],
        [1, { type: 'transfer', file: 'f', index: 1, chunks: 3, from: 'b', to: 'c', bytes: 1 }],
        [2, { type: 'transfer', file: 'f', index: 7, chunks: 3, from: 'b', to: 'c', bytes: 1 }],
        [3, { type: 'transfer', file: 'f', index: 0, chunks: 3, from: 'b', to: 'c', bytes: 1 }],
      ]),
    );
    const holding = state.holdings.get(holdingKey('c', 'f'));
    expect(holding?.sources).toEqual(['b', 'a']);
    expect(holding?.haveCount).toBe(2);
    expect(Object.fromEntries(holding?.from ?? [])).toEqual({ a: 1, b: 3 });
    expect(state.edges.get(edgeKey('b', 'c'))?.chunks).toBe(3);
  });

  it('learns a published file chunk count from its size and chunk size, and redraws every map of it', () => {
    const state = foldRunEvents(eventsOf([[0, { type: 'progress', peer: 'peer-2', file: 'f', have: 0, chunks: 0 }]]));
    const [file] = eventsOf([[1, { type: 'file', peer: 'peer-1', file: 'f', size: 2500, chunkSize: 1000 }]]);
    const change = applyRunEvent(state, { ...file!, seq: 1 });
    expect(state.files.get('f')).toEqual({ size: 2500, chunks: 3 });
    expect([...(change?.holdings ?? [])].sort()).toEqual([holdingKey('peer-1', 'f'), holdingKey('peer-2', 'f')].sort());
    expect(state.holdings.get(holdingKey('peer-1', 'f'))?.publisher).toBe(true);
  });

  it('folds a whole run: downloaders as lanes, publishers as holdings, the last step and the end', () => {
    const state = foldRunEvents(ratedRun());
    expect([...state.lanes.values()].map((lane) => lane.peer)).toEqual(['peer-2', 'peer-3']);
    expect(state.holdings.get(holdingKey('peer-1', FILE))?.publisher).toBe(true);
    expect(state.holdings.get(holdingKey('peer-2', FILE))).toMatchObject({ verified: true, haveCount: 4 });
    expect(state.step?.index).toBe(1);
    expect(state.end?.ok).toBe(true);
  });
});
