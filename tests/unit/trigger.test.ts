/**
 * `when:` triggers judged against recorded event streams: each fires on the very event after which its
 * condition first holds, never before; `waitForTrigger` times out with ERR_LAB_TRIGGER_TIMEOUT.
 */
import { RunRecorder, type RunEvent, type RunEventBody } from '../../lab/observe/run-events';
import { timeMarks } from '../../lab/observe/report-data';
import { validateScenario } from '../../lab/scenario/load';
import { compileWhen, type CompiledTrigger, type Trigger, type When } from '../../lab/trigger/compile';
import { createTriggerState, evaluateTrigger, firstFiring, observeEvent } from '../../lab/trigger/evaluate';
import { waitForTrigger } from '../../lab/trigger/wait';

function stream(bodies: RunEventBody[]): RunEvent[] {
  return bodies.map((body, seq) => ({ ...body, seq, t: seq * 10, at: 1_000_000 + seq * 10 }) as RunEvent);
}

const chunk = (to: string, index: number, from = 'peer-1', file = 'f.bin'): RunEventBody => ({
  type: 'transfer',
  file,
  index,
  chunks: 4,
  from,
  to,
  bytes: 1024,
});

/** peer-1 seeds f.bin (4 chunks); peer-2 and peer-3 download from it and from each other. */
const SWARM = stream([
  { type: 'node', name: 'peer-1', role: 'peer', state: 'running' },
  { type: 'node', name: 'peer-2', role: 'peer', state: 'running' },
  { type: 'node', name: 'peer-3', role: 'peer', state: 'running' },
  { type: 'file', peer: 'peer-1', file: 'f.bin', size: 4096, chunks: 4 }, // 3
  chunk('peer-2', 0), // 4: chunk 1 held only by peer-2 (peer-1 is complete)
  chunk('peer-3', 0, 'peer-2'), // 5
  chunk('peer-2', 1), // 6
  chunk('peer-3', 1, 'peer-2'), // 7
  { type: 'progress', peer: 'peer-3', file: 'f.bin', have: 2, chunks: 4 }, // 8: half of it
  chunk('peer-2', 2), // 9
  chunk('peer-2', 3), // 10: peer-2 complete
  { type: 'download', peer: 'peer-2', file: 'f.bin', ok: true, verified: true }, // 11
  chunk('peer-3', 2, 'peer-2'), // 12
  chunk('peer-3', 3), // 13: peer-3 complete
]);

function firedAt(trigger: Trigger, events: readonly RunEvent[] = SWARM): number | undefined {
  return firstFiring(trigger, events)?.event.seq;
}

describe('trigger evaluation on recorded event streams', () => {
  it('progress fires on the event that brings the peer to the share, not before', () => {
    expect(firedAt({ kind: 'progress', peer: 'peer-3', file: 'f.bin', atLeast: 0.5 })).toBe(7);
    expect(firedAt({ kind: 'progress', peer: 'peer-3', file: 'f.bin', atLeast: 0.75 })).toBe(12);
    expect(firedAt({ kind: 'progress', peer: 'peer-3', file: 'f.bin', atLeast: 1 })).toBe(13);
  });

  it('progress counts what progress events report even when no transfer named the chunks', () => {
    const events = stream([
      { type: 'progress', peer: 'peer-3', file: 'f.bin', have: 1, chunks: 4 },
      { type: 'progress', peer: 'peer-3', file: 'f.bin', have: 3, chunks: 4 },
    ]);
    expect(firedAt({ kind: 'progress', peer: 'peer-3', file: 'f.bin', atLeast: 0.5 }, events)).toBe(1);
  });

  it('holders fires when a chunk first has a single holder besides complete ones, naming it', () => {
    const fired = firstFiring({ kind: 'holders', file: 'f.bin', atMost: 1 }, SWARM);
    expect(fired?.event.seq).toBe(4);
    expect(fired?.verdict.holder).toBe('peer-2');
    expect(fired?.verdict.reason).toBe('chunk 1/4 of f.bin held only by peer-2');
  });

  it('holders does not fire while every held chunk has more holders than allowed', () => {
    const events = stream([
      { type: 'file', peer: 'peer-1', file: 'f.bin', size: 4096, chunks: 4 },
      { type: 'file', peer: 'peer-4', file: 'f.bin', size: 4096, chunks: 4 },
      chunk('peer-2', 0),
      chunk('peer-3', 0),
    ]);
    // Complete holders aside, no chunk is in play until the first transfer.
    expect(firedAt({ kind: 'holders', file: 'f.bin', atMost: 1 }, events)).toBe(2);
    // With them, the first complete holder is the only holder of every chunk.
    expect(firedAt({ kind: 'holders', file: 'f.bin', atMost: 1, includeComplete: true }, events.slice(1))).toBe(1);
    expect(firedAt({ kind: 'holders', file: 'f.bin', atMost: 1, includeComplete: true }, events)).toBe(0);
    const state = createTriggerState();
    for (const event of events) observeEvent(state, event);
    expect(evaluateTrigger({ kind: 'holders', file: 'f.bin', atMost: 1 }, state)).toEqual({
      fired: false,
      now: 'every held chunk has 2+ holders (chunk 1/4 of f.bin: peer-2, peer-3)',
    });
  });

  it('holders with includeComplete does not count a node that is down', () => {
    const state = createTriggerState();
    const events = stream([
      { type: 'file', peer: 'peer-1', file: 'f.bin', size: 4096, chunks: 4 },
      { type: 'file', peer: 'peer-4', file: 'f.bin', size: 4096, chunks: 4 },
      { type: 'node', name: 'peer-4', role: 'peer', state: 'exited' },
    ]);
    const trigger: Trigger = { kind: 'holders', file: 'f.bin', atMost: 1, includeComplete: true };
    observeEvent(state, events[0] as RunEvent);
    observeEvent(state, events[1] as RunEvent);
    expect(evaluateTrigger(trigger, state).fired).toBe(false);
    observeEvent(state, events[2] as RunEvent);
    expect(evaluateTrigger(trigger, state)).toEqual({
      fired: true,
      reason: 'chunk 1/4 of f.bin held only by peer-1',
      holder: 'peer-1',
    });
  });

  it('completed counts downloaders that hold the whole file, not the seeder', () => {
    expect(firedAt({ kind: 'completed', file: 'f.bin', peers: 1 })).toBe(10);
    expect(firedAt({ kind: 'completed', file: 'f.bin', peers: 2 })).toBe(13);
    expect(firedAt({ kind: 'completed', file: 'f.bin', peers: 3 })).toBeUndefined();
  });

  it('transfers counts the chunks a peer served, of one file when given', () => {
    expect(firedAt({ kind: 'transfers', from: 'peer-2', atLeast: 3 })).toBe(12);
    expect(firedAt({ kind: 'transfers', from: 'peer-1', atLeast: 5 })).toBe(13);
    expect(firedAt({ kind: 'transfers', from: 'peer-1', atLeast: 1, file: 'other.bin' })).toBeUndefined();
  });

  it('ignores a replayed duplicate event', () => {
    const events = SWARM.slice(0, 5);
    const state = createTriggerState();
    for (const event of events) observeEvent(state, event);
    expect(observeEvent(state, events[4] as RunEvent)).toBe(false);
    expect(state.served.get('peer-1')).toBe(1);
  });
});

describe('waitForTrigger on a live recorder', () => {
  const compiled = (when: When): CompiledTrigger => compileWhen(when);

  it('fires on the first live event after which the condition holds, with its holder', async () => {
    const recorder = new RunRecorder();
    recorder.record({ type: 'file', peer: 'peer-1', file: 'f.bin', size: 4096, chunks: 4 });
    const waiting = waitForTrigger(
      recorder,
      compiled({ holders: { file: 'f.bin', atMost: 1 } }),
      new AbortController().signal,
    );
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    const event = recorder.record(chunk('peer-3', 2));
    await expect(waiting).resolves.toMatchObject({ holder: 'peer-3', event: { seq: event.seq } });
  });

  it('fires at once when the condition holds already', async () => {
    const recorder = new RunRecorder();
    for (const event of SWARM) recorder.record(event);
    await expect(
      waitForTrigger(recorder, compiled({ completed: { file: 'f.bin', peers: 2 } }), new AbortController().signal),
    ).resolves.toMatchObject({ reason: 'peer-2, peer-3 completed f.bin' });
  });

  it('fails with ERR_LAB_TRIGGER_TIMEOUT and what stands now once within is up', async () => {
    const recorder = new RunRecorder();
    recorder.record(chunk('peer-3', 0));
    const started = Date.now();
    const err = await waitForTrigger(
      recorder,
      compiled({ progress: { peer: 'peer-3', file: 'f.bin', atLeast: 0.5 }, within: 0.2 }),
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_LAB_TRIGGER_TIMEOUT' });
    expect((err as Error).message).toContain('peer-3 holds 1/4 chunks of f.bin');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('rejects with the abort, not a trigger timeout, when the scenario is aborted', async () => {
    const controller = new AbortController();
    const waiting = waitForTrigger(
      recorder(),
      compiled({ transfers: { from: 'peer-1', atLeast: 1 } }),
      controller.signal,
    );
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_LAB_ABORTED' });
  });

  // Regression: AbortSignal.timeout holds no reference on the event loop, so a wait with nothing else
  // pending (every exec stream ended) let the lab exit mid-scenario, silently, with code 0.
  it('keeps the process alive while it waits, and lets go once it is done', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const controller = new AbortController();
    const waiting = waitForTrigger(
      recorder(),
      compiled({ transfers: { from: 'peer-1', atLeast: 1 }, within: 60 }),
      controller.signal,
    );
    expect(timers()).toBe(before + 1);
    controller.abort(new Error('stop'));
    await waiting.catch(() => undefined);
    expect(timers()).toBe(before);
  });

  function recorder(): RunRecorder {
    return new RunRecorder();
  }
});

describe('trigger events in the report', () => {
  it('marks when each trigger fired and why', () => {
    const events = stream([
      { type: 'step', index: 0, total: 2, action: 'download', targets: ['peer-2'], description: 'x', fault: false },
      { type: 'trigger', index: 1, condition: 'c', reason: 'chunk 1/4 of f.bin held only by peer-2', holder: 'peer-2' },
    ]);
    expect(timeMarks(events, {})).toEqual([
      { t: 10, kind: 'trigger', label: 'trigger (step 2): chunk 1/4 of f.bin held only by peer-2' },
    ]);
  });
});

describe('when: in a scenario', () => {
  const base = {
    name: 'w',
    peers: 3,
    steps: [
      { action: 'generate', peer: 'peer-1', file: 'f.bin', size: 4096 },
      { action: 'download', peers: ['peer-2', 'peer-3'], file: 'f.bin', wait: false },
    ],
  };
  const issues = (step: Record<string, unknown>): unknown => {
    try {
      validateScenario({ ...base, steps: [...base.steps, step] });
      return [];
    } catch (err) {
      return (err as { issues: unknown }).issues;
    }
  };

  it('accepts a kill of $holder on a holders trigger', () => {
    expect(
      issues({ action: 'kill', peer: '$holder', when: { holders: { file: 'f.bin', atMost: 1 }, within: 30 } }),
    ).toEqual([]);
  });

  it('refuses unknown names, $holder without holders, when beside at, and not one condition', () => {
    expect(
      issues({ action: 'kill', peer: 'peer-2', when: { progress: { peer: 'peer-9', file: 'f.bin', atLeast: 0.5 } } }),
    ).toEqual([
      { instancePath: '/steps/2/when/progress/peer', message: expect.stringContaining('unknown peer "peer-9"') },
    ]);
    expect(issues({ action: 'kill', peer: 'peer-2', when: { completed: { file: 'g.bin', peers: 1 } } })).toEqual([
      { instancePath: '/steps/2/when/completed/file', message: expect.stringContaining('unknown file "g.bin"') },
    ]);
    expect(issues({ action: 'kill', peer: '$holder', when: { transfers: { from: 'peer-1', atLeast: 2 } } })).toEqual([
      { instancePath: '/steps/2/peer', message: expect.stringContaining('needs a "holders" trigger') },
    ]);
    expect(issues({ action: 'kill', peer: '$holder' })).toEqual([
      { instancePath: '/steps/2/peer', message: expect.stringContaining('needs a "when: {holders: ...}" trigger') },
    ]);
    expect(issues({ action: 'sleep', seconds: 1, after: 2, when: { completed: { file: 'f.bin', peers: 1 } } })).toEqual(
      [{ instancePath: '/steps/2/when', message: '"when" and "after" exclude each other' }],
    );
    expect(issues({ action: 'kill', peer: 'peer-2', when: { within: 3 } })).toEqual([
      { instancePath: '/steps/2/when', message: expect.stringContaining('exactly one condition') },
    ]);
    expect(issues({ action: 'kill', peer: 'peer-2', when: { holders: { file: 'f.bin', atMost: 0 } } })).toEqual([
      { instancePath: '/steps/2/when/holders/atMost', message: expect.stringContaining('>= 1') },
    ]);
  });
});
