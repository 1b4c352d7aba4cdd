/**
 * Judges a compiled trigger against the run's state, folded from its events. Pure: no clock, no I/O, so a
 * recorded event stream replays to the same verdicts. "Not yet" is an answer of its own, with what stands
 * now, so a trigger that times out can say how far the swarm got.
 *
 * What the events tell (and all a trigger knows):
 * - `file`: the node holds the whole file (it generated, published or, as `ctl watch` reports, completed it);
 * - `transfer`: the receiver now holds that chunk (the only event naming a chunk), and the sender served one;
 * - `progress`: how many chunks the downloader holds, without saying which;
 * - `download` ok and verified: the downloader holds the whole file;
 * - `node`: whether a node is up; a node exited, paused or off the network holds nothing it can serve.
 */
import type { NodeState, RunEvent } from '../observe/run-events';
import { applyRunEvent, createRunState, holdingKey, type Holding, type RunState } from '../observe/run-state';
import { percent, type Trigger } from './compile';

/** States in which a node cannot serve what it holds. */
const DOWN_STATES = new Set<NodeState>(['exited', 'dead', 'paused', 'disconnected', 'created', 'removing']);

export interface TriggerState {
  run: RunState;
  /** The latest `have` of each downloader's progress events, by holdingKey(peer, file). */
  progressHave: Map<string, number>;
  /** Chunks served per sender, all files together, and per sender and file (by holdingKey). */
  served: Map<string, number>;
  servedOfFile: Map<string, number>;
}

export type Verdict =
  | { fired: true; reason: string; holder?: string }
  | { fired: false; /** What stands now, e.g. `peer-3 holds 3/16 chunks of a.bin`. */ now: string };

export function createTriggerState(): TriggerState {
  return { run: createRunState(), progressHave: new Map(), served: new Map(), servedOfFile: new Map() };
}

/** Folds one event into `state` (in place). Returns false for a replayed duplicate. */
export function observeEvent(state: TriggerState, event: RunEvent): boolean {
  if (applyRunEvent(state.run, event) === undefined) return false;
  if (event.type === 'progress') {
    const key = holdingKey(event.peer, event.file);
    state.progressHave.set(key, Math.max(state.progressHave.get(key) ?? 0, event.have));
  } else if (event.type === 'transfer') {
    state.served.set(event.from, (state.served.get(event.from) ?? 0) + 1);
    const key = holdingKey(event.from, event.file);
    state.servedOfFile.set(key, (state.servedOfFile.get(key) ?? 0) + 1);
  }
  return true;
}

export function evaluateTrigger(trigger: Trigger, state: TriggerState): Verdict {
  switch (trigger.kind) {
    case 'progress':
      return progressVerdict(trigger, state);
    case 'holders':
      return holdersVerdict(trigger, state);
    case 'completed':
      return completedVerdict(trigger, state);
    case 'transfers':
      return transfersVerdict(trigger, state);
    default: {
      const unknown: never = trigger;
      return unknown;
    }
  }
}

/** The first event of `events` after which `trigger` fires, with the verdict; undefined if it never does. */
export function firstFiring(
  trigger: Trigger,
  events: Iterable<RunEvent>,
): { event: RunEvent; verdict: Extract<Verdict, { fired: true }> } | undefined {
  const state = createTriggerState();
  for (const event of events) {
    if (!observeEvent(state, event)) continue;
    const verdict = evaluateTrigger(trigger, state);
    if (verdict.fired) return { event, verdict };
  }
  return undefined;
}

function chunksOf(state: TriggerState, file: string): number {
  return state.run.files.get(file)?.chunks ?? 0;
}

/** Distinct chunks `holding` is known to hold: received, reported by progress, or all when it is whole. */
function heldCount(state: TriggerState, holding: Holding, chunks: number): number {
  if (holding.publisher || holding.verified) return chunks;
  const reported = state.progressHave.get(holdingKey(holding.peer, holding.file)) ?? 0;
  return Math.min(chunks, Math.max(holding.haveCount, reported));
}

function isWhole(state: TriggerState, holding: Holding, chunks: number): boolean {
  return chunks > 0 && heldCount(state, holding, chunks) >= chunks;
}

function isUp(state: TriggerState, peer: string): boolean {
  const node = state.run.nodes.get(peer);
  return node === undefined || !DOWN_STATES.has(node.state);
}

function holdingsOf(state: TriggerState, file: string): Holding[] {
  return [...state.run.holdings.values()].filter((h) => h.file === file);
}

function progressVerdict(trigger: Extract<Trigger, { kind: 'progress' }>, state: TriggerState): Verdict {
  const chunks = chunksOf(state, trigger.file);
  const holding = state.run.holdings.get(holdingKey(trigger.peer, trigger.file));
  if (chunks === 0 || holding === undefined)
    return { fired: false, now: `${trigger.peer} holds none of ${trigger.file} yet` };
  const have = heldCount(state, holding, chunks);
  const now = `${trigger.peer} holds ${have}/${chunks} chunks of ${trigger.file} (${percent(have / chunks)})`;
  return have / chunks >= trigger.atLeast ? { fired: true, reason: now } : { fired: false, now };
}

function holdersVerdict(trigger: Extract<Trigger, { kind: 'holders' }>, state: TriggerState): Verdict {
  const chunks = chunksOf(state, trigger.file);
  if (chunks === 0) return { fired: false, now: `the chunk count of ${trigger.file} is not known yet` };
  const holders: string[][] = Array.from({ length: chunks }, () => []);
  for (const holding of holdingsOf(state, trigger.file)) {
    if (!isUp(state, holding.peer)) continue;
    if (isWhole(state, holding, chunks)) {
      if (trigger.includeComplete === true) for (const list of holders) list.push(holding.peer);
      continue;
    }
    holding.sources.forEach((source, index) => {
      if (source !== undefined && index < chunks) holders[index]?.push(holding.peer);
    });
  }
  // A chunk that no counted node holds yet is not in play: only a chunk with a holder can lose its last one.
  let fewest: { index: number; nodes: string[] } | undefined;
  holders.forEach((nodes, index) => {
    if (nodes.length === 0) return;
    if (fewest === undefined || nodes.length < fewest.nodes.length) fewest = { index, nodes };
  });
  if (fewest === undefined) return { fired: false, now: `no chunk of ${trigger.file} held by a counted node yet` };
  const chunk = `chunk ${fewest.index + 1}/${chunks} of ${trigger.file}`;
  const [holder] = fewest.nodes;
  if (holder !== undefined && fewest.nodes.length <= trigger.atMost) {
    const by = fewest.nodes.length === 1 ? `only by ${holder}` : `by only ${fewest.nodes.join(', ')}`;
    return { fired: true, reason: `${chunk} held ${by}`, holder };
  }
  return {
    fired: false,
    now: `every held chunk has ${fewest.nodes.length}+ holders (${chunk}: ${fewest.nodes.join(', ')})`,
  };
}

function completedVerdict(trigger: Extract<Trigger, { kind: 'completed' }>, state: TriggerState): Verdict {
  const chunks = chunksOf(state, trigger.file);
  // Downloaders only: a node that had the file from the start (generate, publish) completed nothing.
  const done = holdingsOf(state, trigger.file)
    .filter((h) => h.verified || (!h.publisher && isWhole(state, h, chunks)))
    .map((h) => h.peer);
  const now =
    done.length === 0 ? `no peer completed ${trigger.file} yet` : `${done.join(', ')} completed ${trigger.file}`;
  return done.length >= trigger.peers ? { fired: true, reason: now } : { fired: false, now };
}

function transfersVerdict(trigger: Extract<Trigger, { kind: 'transfers' }>, state: TriggerState): Verdict {
  const served =
    trigger.file === undefined
      ? (state.served.get(trigger.from) ?? 0)
      : (state.servedOfFile.get(holdingKey(trigger.from, trigger.file)) ?? 0);
  const now = `${trigger.from} served ${served} chunk(s)${trigger.file === undefined ? '' : ` of ${trigger.file}`}`;
  return served >= trigger.atLeast ? { fired: true, reason: now } : { fired: false, now };
}
