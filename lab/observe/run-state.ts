/**
 * The state of a run, folded from its events: the one reducer behind both the live dashboard (which feeds it
 * event by event from its SSE stream, in the browser) and the run report (which folds a finished run's
 * events at once, in Node).
 *
 * No I/O, no clock, no DOM and no Node module: it imports nothing but the event types, so the browser bundle
 * can take it as is. What depends on the wall clock (rates over the last seconds, edges that glow) or on
 * the page (colours, the timeline's wording) stays with the dashboard's client.
 */
import { isPerfectLink, pairKey } from './link-label';
import type { NetworkLinkView, NodeState, RunEvent } from './run-events';

export type EventOf<T extends RunEvent['type']> = Extract<RunEvent, { type: T }>;

/** A tracker or peer as last seen, with the rate limits it has now. */
export interface NodeView {
  name: string;
  role: 'tracker' | 'peer';
  state: NodeState;
  /** Its address as its latest `node` event gives it: none once a container exited or left the network. */
  ip?: string;
  /** The last address any `node` event gave it, kept after the container lost it. */
  lastIp?: string;
  uploadBps?: number;
  downloadBps?: number;
  /**
   * True while the node is known only because a transfer, file, progress or download event named it (a
   * peer outside the lab can send chunks): no `node` or `rate` event ever described it.
   */
  mentionedOnly: boolean;
}

export interface FileView {
  /** Bytes, when a `file` event gave them. */
  size?: number;
  /** Chunks, once an event told (0 until then). */
  chunks: number;
}

/** What one peer holds of one file: its chunk map. */
export interface Holding {
  peer: string;
  file: string;
  /** It generated or published the whole file. */
  publisher: boolean;
  /** Its download ended verified. */
  verified: boolean;
  /** The peer each chunk came from, by chunk index (the first transfer of a chunk wins). */
  sources: (string | undefined)[];
  /** How many distinct chunks it received. */
  haveCount: number;
  /** Chunks received per source, duplicates included. */
  from: Map<string, number>;
}

/** One downloader of one file: a lane of the report's timeline and a line of its progress plot. */
export interface Lane {
  peer: string;
  file: string;
  chunks: number;
}

/** Chunks carried from one peer to another. */
export interface Edge {
  from: string;
  to: string;
  chunks: number;
}

export interface RunState {
  /** The seq of the last event folded in; a later event with a seq not above it is a replayed duplicate. */
  lastSeq: number;
  /** Wall clock of the recording's start (epoch ms), from the first event. */
  startedAt?: number;
  run?: EventOf<'run'>;
  end?: EventOf<'end'>;
  /** The latest step, and its end once it ended. */
  step?: EventOf<'step'>;
  stepEnd?: EventOf<'step-end'>;
  /** In order of first appearance. */
  nodes: Map<string, NodeView>;
  files: Map<string, FileView>;
  /** By holdingKey(peer, file), in order of first appearance. */
  holdings: Map<string, Holding>;
  /** Downloaders (transfer, progress or download events) by holdingKey, in order of first appearance. */
  lanes: Map<string, Lane>;
  /** By edgeKey(from, to), in order of first transfer. */
  edges: Map<string, Edge>;
  /** The links that are not perfect now, by pairKey(a, b), as the `network` events set them. */
  links: Map<string, NetworkLinkView>;
  /** The current partition's sides (nodes); [] when there is none. */
  partition: string[][];
}

/** What one event changed, for a consumer that redraws only that. */
export interface RunChange {
  /** Nodes added or changed. */
  nodes: Set<string>;
  /** Holdings (by holdingKey) added or changed, including every map of a file whose chunk count changed. */
  holdings: Set<string>;
  /** A chunk its downloader did not hold before (a transfer event). */
  newChunk?: { holding: string; index: number };
  /** A `node` event for a node already known: the state it had before. */
  stateBefore?: NodeState;
  /** A `network` event changed the links or the partition. */
  network?: boolean;
}

export function holdingKey(peer: string, file: string): string {
  return `${peer}\u0000${file}`;
}

export function edgeKey(from: string, to: string): string {
  return `${from}>${to}`;
}

export function createRunState(): RunState {
  return {
    lastSeq: -1,
    nodes: new Map(),
    files: new Map(),
    holdings: new Map(),
    lanes: new Map(),
    edges: new Map(),
    links: new Map(),
    partition: [],
  };
}

/** Folds a finished run's events into its final state. */
export function foldRunEvents(events: readonly RunEvent[]): RunState {
  const state = createRunState();
  for (const event of events) applyRunEvent(state, event);
  return state;
}

/**
 * Folds one event into `state` (which it updates in place: the dashboard applies thousands of transfers and
 * must not copy its maps for each). Returns what changed, or undefined for a replayed duplicate.
 */
export function applyRunEvent(state: RunState, event: RunEvent): RunChange | undefined {
  if (event.seq <= state.lastSeq) return undefined;
  state.lastSeq = event.seq;
  state.startedAt ??= event.at - event.t;
  const change: RunChange = { nodes: new Set(), holdings: new Set() };
  switch (event.type) {
    case 'run':
      state.run = event;
      break;
    case 'node':
      applyNode(state, event, change);
      break;
    case 'step':
      state.step = event;
      delete state.stepEnd;
      break;
    case 'step-end':
      if (state.step?.index === event.index) state.stepEnd = event;
      break;
    case 'file': {
      const file = fileOf(state, event.file);
      file.size = event.size;
      if (event.chunks !== undefined && event.chunks > 0) learnChunks(state, event.file, event.chunks, change);
      else if (event.chunkSize !== undefined && event.chunkSize > 0) {
        learnChunks(state, event.file, Math.max(1, Math.ceil(event.size / event.chunkSize)), change);
      }
      holdingOf(state, event.peer, event.file, change).publisher = true;
      break;
    }
    case 'rate': {
      const node = nodeOf(state, event.peer, 'peer', change);
      node.mentionedOnly = false;
      if (event.uploadBps === null) delete node.uploadBps;
      else if (event.uploadBps !== undefined) node.uploadBps = event.uploadBps;
      if (event.downloadBps === null) delete node.downloadBps;
      else if (event.downloadBps !== undefined) node.downloadBps = event.downloadBps;
      break;
    }
    case 'transfer':
      applyTransfer(state, event, change);
      break;
    case 'progress':
      learnChunks(state, event.file, event.chunks, change);
      holdingOf(state, event.peer, event.file, change);
      laneOf(state, event.peer, event.file, event.chunks);
      break;
    case 'download': {
      const holding = holdingOf(state, event.peer, event.file, change);
      if (event.ok && event.verified !== false) holding.verified = true;
      laneOf(state, event.peer, event.file, 0);
      break;
    }
    case 'network':
      applyNetwork(state, event);
      change.network = true;
      break;
    case 'info':
    case 'trigger':
      break;
    case 'end':
      state.end = event;
      break;
    default: {
      const unknown: never = event;
      void unknown;
    }
  }
  return change;
}

function applyNetwork(state: RunState, event: EventOf<'network'>): void {
  for (const link of event.links ?? []) {
    const key = pairKey(link.between[0], link.between[1]);
    if (isPerfectLink(link)) state.links.delete(key);
    else state.links.set(key, { ...link, between: [...link.between] });
  }
  if (event.change === 'partition') state.partition = (event.sides ?? []).map((side) => [...side]);
  else if (event.change === 'heal') state.partition = [];
}

function applyNode(state: RunState, event: EventOf<'node'>, change: RunChange): void {
  const known = state.nodes.get(event.name);
  if (known !== undefined) change.stateBefore = known.state;
  const node = nodeOf(state, event.name, event.role, change);
  node.mentionedOnly = false;
  node.role = event.role;
  node.state = event.state;
  if (event.ip === undefined) delete node.ip;
  else node.ip = node.lastIp = event.ip;
}

function applyTransfer(state: RunState, event: EventOf<'transfer'>, change: RunChange): void {
  learnChunks(state, event.file, event.chunks, change);
  const holding = holdingOf(state, event.to, event.file, change);
  laneOf(state, event.to, event.file, event.chunks);
  const inRange = Number.isInteger(event.index) && event.index >= 0 && event.index < fileOf(state, event.file).chunks;
  if (inRange && holding.sources[event.index] === undefined) {
    holding.sources[event.index] = event.from;
    holding.haveCount += 1;
    change.newChunk = { holding: holdingKey(event.to, event.file), index: event.index };
  }
  holding.from.set(event.from, (holding.from.get(event.from) ?? 0) + 1);
  nodeOf(state, event.from, 'peer', change);
  const key = edgeKey(event.from, event.to);
  let edge = state.edges.get(key);
  if (edge === undefined) {
    edge = { from: event.from, to: event.to, chunks: 0 };
    state.edges.set(key, edge);
  }
  edge.chunks += 1;
}

/** The node called `name`, added (as running, known by mention only) when first named. */
function nodeOf(state: RunState, name: string, role: NodeView['role'], change: RunChange): NodeView {
  let node = state.nodes.get(name);
  if (node === undefined) {
    node = { name, role, state: 'running', mentionedOnly: true };
    state.nodes.set(name, node);
  }
  change.nodes.add(name);
  return node;
}

function fileOf(state: RunState, name: string): FileView {
  let file = state.files.get(name);
  if (file === undefined) {
    file = { chunks: 0 };
    state.files.set(name, file);
  }
  return file;
}

function holdingOf(state: RunState, peer: string, file: string, change: RunChange): Holding {
  nodeOf(state, peer, 'peer', change);
  const key = holdingKey(peer, file);
  let holding = state.holdings.get(key);
  if (holding === undefined) {
    holding = { peer, file, publisher: false, verified: false, sources: [], haveCount: 0, from: new Map() };
    state.holdings.set(key, holding);
  }
  change.holdings.add(key);
  return holding;
}

function laneOf(state: RunState, peer: string, file: string, chunks: number): void {
  const key = holdingKey(peer, file);
  const lane = state.lanes.get(key);
  if (lane === undefined) state.lanes.set(key, { peer, file, chunks });
  else lane.chunks = Math.max(lane.chunks, chunks);
}

/** A file's chunk count, once known; a new count marks every map of that file as changed. */
function learnChunks(state: RunState, name: string, chunks: number, change: RunChange): void {
  const file = fileOf(state, name);
  if (!(chunks > 0) || file.chunks === chunks) return;
  file.chunks = chunks;
  for (const [key, holding] of state.holdings) if (holding.file === name) change.holdings.add(key);
}
