/**
 * The live dashboard in the browser: folds each run event into the shared run state (../run-state.ts) and
 * updates the DOM at most once per animation frame, and only for what changed, so a burst of thousands of
 * transfers costs thousands of map writes and a handful of repaints.
 *
 * Names of peers and files come from the peers (a remote peer chooses its file names): they are only ever
 * set with textContent or as attribute values, never parsed as HTML.
 */
import type { RunEvent } from '../run-events';
import { applyRunEvent, createRunState, edgeKey, type EventOf, type Holding, type RunState } from '../run-state';
import { byId, setText } from './dom';
import { formatBytes, formatClock, formatRate } from './format';
import { renderGraph, type EdgeView } from './graph';
import { timelineEntry, type TimelineEntry } from './timeline';

// prettier-ignore
const PALETTE = ['#1e88e5', '#e53935', '#43a047', '#8e24aa', '#fb8c00', '#00897b', '#6d4c41', '#3949ab',
  '#c0ca33', '#d81b60', '#00acc1', '#5e35b1', '#7cb342', '#f4511e', '#546e7a'];
/** A map of more chunks groups them, so the DOM stays small. */
const MAX_CELLS = 1024;
/** Rates are bytes over the last 5 s. */
const RATE_WINDOW_MS = 5000;
/** A progress event's own rate stands in for a silent window this long. */
const REPORTED_RATE_MS = 2000;
const RECENT_TRANSFERS = 40;
const TIMELINE_LIMIT = 300;

type TransferEvent = EventOf<'transfer'>;

/** A chunk map as drawn: its element, its cells, and the chunks not painted yet. */
interface MapView {
  el?: HTMLElement;
  painted?: { cells: number; per: number[]; full: boolean };
  changed: number[];
}

export class Dashboard {
  private readonly state: RunState = createRunState();
  private readonly maps = new Map<string, MapView>();
  private readonly edges = new Map<string, EdgeView>();
  private readonly colors = new Map<string, string>();
  /** Each peer's rate from its latest progress event. */
  private readonly reported = new Map<string, { bps: number; at: number }>();
  /** Transfers of the last RATE_WINDOW_MS. */
  private readonly window: { at: number; from: string; to: string; bytes: number }[] = [];
  /** Newest first. */
  private readonly recent: TransferEvent[] = [];
  private readonly timeline: TimelineEntry[] = [];
  private readonly dirty = {
    header: true,
    nodes: new Set<string>(),
    maps: new Set<string>(),
    transfers: false,
    timeline: false,
    graph: true,
  };
  private frameRequested = false;

  constructor(private readonly doc: Document) {}

  get ended(): boolean {
    return this.state.end !== undefined;
  }

  apply(event: RunEvent): void {
    const nodeCount = this.state.nodes.size;
    const change = applyRunEvent(this.state, event);
    if (change === undefined) return; // a replayed duplicate
    for (const name of change.nodes) {
      this.colorOf(name); // colours follow the order nodes appear in
      this.dirty.nodes.add(name);
    }
    for (const key of change.holdings) this.dirty.maps.add(key);
    if (change.newChunk !== undefined) this.mapView(change.newChunk.holding).changed.push(change.newChunk.index);
    if (this.state.nodes.size !== nodeCount || event.type === 'node' || change.network === true) {
      this.dirty.graph = true;
    }
    if (event.type === 'run' || event.type === 'step' || event.type === 'step-end' || event.type === 'end') {
      this.dirty.header = true;
    } else if (event.type === 'transfer') {
      this.onTransfer(event);
    } else if (event.type === 'progress' && typeof event.rateBps === 'number') {
      this.reported.set(event.peer, { bps: event.rateBps, at: event.at });
    }
    const entry = timelineEntry(event, change, this.state);
    if (entry !== undefined) {
      this.timeline.push(entry);
      if (this.timeline.length > TIMELINE_LIMIT) this.timeline.shift();
      this.dirty.timeline = true;
    }
    this.schedule();
  }

  /** Redraws the graph on the next frame (after a resize, or to let its edges cool down). */
  redrawGraph(): void {
    this.dirty.graph = true;
    this.schedule();
  }

  private onTransfer(event: TransferEvent): void {
    this.window.push({ at: event.at, from: event.from, to: event.to, bytes: event.bytes });
    const key = edgeKey(event.from, event.to);
    const edge = this.edges.get(key) ?? { lastAt: 0 };
    edge.lastAt = Date.now();
    this.edges.set(key, edge);
    this.recent.unshift(event);
    if (this.recent.length > RECENT_TRANSFERS) this.recent.length = RECENT_TRANSFERS;
    this.dirty.transfers = true;
    this.dirty.graph = true;
  }

  private schedule(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => this.render());
  }

  private el(tag: string, cls?: string, text?: string): HTMLElement {
    const node = this.doc.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  private colorOf(name: string): string {
    let color = this.colors.get(name);
    if (color === undefined) {
      color = PALETTE[this.colors.size % PALETTE.length] ?? '#999';
      this.colors.set(name, color);
    }
    return color;
  }

  private mapView(key: string): MapView {
    let view = this.maps.get(key);
    if (view === undefined) {
      view = { changed: [] };
      this.maps.set(key, view);
    }
    return view;
  }

  // ---- rendering (once per frame, only what changed) ----
  private render(): void {
    this.frameRequested = false;
    if (this.dirty.header) this.renderHeader();
    for (const name of this.dirty.nodes) this.renderNode(name);
    this.dirty.nodes.clear();
    for (const key of this.dirty.maps) {
      const holding = this.state.holdings.get(key);
      if (holding !== undefined) this.renderMap(key, holding);
    }
    this.dirty.maps.clear();
    if (this.dirty.transfers) this.renderTransfers();
    if (this.dirty.timeline) this.renderTimeline();
    if (this.dirty.graph) this.renderGraph();
    this.doc.body.setAttribute('data-last-seq', String(this.state.lastSeq));
  }

  private renderHeader(): void {
    this.dirty.header = false;
    const { run, end, step, stepEnd } = this.state;
    byId(this.doc, 'run').textContent = run ? `run ${run.run}` : 'waiting for the run...';
    this.doc.title = run ? `swarmlab: ${run.run}` : 'swarmlab dashboard';
    byId(this.doc, 'scenario').textContent = run?.scenario ? `scenario ${run.scenario}` : '';
    const result = byId(this.doc, 'result');
    if (end) {
      result.textContent = end.ok ? 'finished ok' : `FAILED${end.error ? `: ${end.error}` : ''}`;
      result.className = end.ok ? 'ok' : 'failed';
      this.doc.body.setAttribute('data-ended', 'true');
      this.doc.body.setAttribute('data-ok', String(end.ok));
    } else {
      result.textContent = run ? 'running' : '';
    }
    const line = byId(this.doc, 'step');
    if (step) {
      const outcome = stepEnd ? (stepEnd.ok ? '  (done)' : '  (failed)') : '';
      line.textContent =
        `step ${step.index + 1}/${step.total}: ${step.description}` +
        (step.fault ? '  [FAULT injected]' : '') +
        outcome;
      line.className = step.fault ? 'fault' : '';
      line.setAttribute('data-step', String(step.index));
      line.setAttribute('data-fault', String(Boolean(step.fault)));
    } else {
      line.textContent = run ? 'no scenario step yet' : '';
    }
  }

  private cardOf(name: string): HTMLElement {
    const found = this.doc.querySelector<HTMLElement>(`[data-node="${CSS.escape(name)}"]`);
    if (found !== null) return found;
    const card = this.el('div', 'card');
    card.setAttribute('data-node', name);
    card.style.setProperty('--swatch', this.colorOf(name));
    const title = this.el('div', 'title');
    title.appendChild(this.el('span', 'name', name));
    title.appendChild(this.el('span', 'ip'));
    title.appendChild(this.el('span', 'state'));
    card.appendChild(title);
    const rates = this.el('div', 'rates');
    rates.setAttribute('data-rate-peer', name);
    card.appendChild(rates);
    card.appendChild(this.el('div', 'maps'));
    // The tracker first, then peers in the order they appeared.
    const list = byId(this.doc, 'nodes');
    if (this.state.nodes.get(name)?.role === 'tracker') list.insertBefore(card, list.firstChild);
    else list.appendChild(card);
    return card;
  }

  private renderNode(name: string): void {
    const node = this.state.nodes.get(name);
    if (node === undefined) return;
    const card = this.cardOf(name);
    card.setAttribute('data-role', node.role);
    card.setAttribute('data-state', node.state);
    card.setAttribute('data-ip', node.ip ?? '');
    setText(card, '.ip', node.ip || 'no address');
    setText(card, '.state', node.state);
    if (node.role === 'tracker') setText(card, '.rates', 'tracker: catalogue and replicas');
  }

  private renderMap(key: string, holding: Holding): void {
    const chunks = this.state.files.get(holding.file)?.chunks ?? 0;
    const view = this.mapView(key);
    if (view.el === undefined) {
      const card = this.cardOf(holding.peer);
      const map = this.el('div', 'map');
      map.setAttribute('data-peer', holding.peer);
      map.setAttribute('data-file', holding.file);
      const label = this.el('div', 'label');
      label.appendChild(this.el('span', 'file', holding.file));
      label.appendChild(this.el('span', 'count'));
      map.appendChild(label);
      map.appendChild(this.el('div', 'cells'));
      map.appendChild(this.el('div', 'sources'));
      card.querySelector('.maps')?.appendChild(map);
      view.el = map;
    }
    const have = holding.publisher ? chunks : holding.haveCount;
    const complete = holding.publisher || holding.verified || (chunks > 0 && holding.haveCount >= chunks);
    view.el.setAttribute('data-chunks', String(chunks));
    view.el.setAttribute('data-have', String(have));
    view.el.setAttribute('data-complete', String(complete));
    view.el.setAttribute('data-source', holding.publisher ? 'publisher' : 'downloader');
    const count =
      chunks > 0
        ? `${have}/${chunks}${holding.publisher ? ' (publisher)' : ''}`
        : holding.publisher
          ? 'whole file (chunks after publish)'
          : '';
    setText(view.el, '.count', count);
    this.paintCells(view, view.el, holding, chunks);
    this.renderSources(view.el, holding);
  }

  private paintCells(view: MapView, map: HTMLElement, holding: Holding, chunks: number): void {
    const grid = map.querySelector('.cells');
    if (grid === null || chunks === 0) return;
    const cells = Math.min(chunks, MAX_CELLS);
    if (view.painted === undefined || view.painted.cells !== cells) {
      grid.textContent = '';
      const fragment = this.doc.createDocumentFragment();
      for (let i = 0; i < cells; i++) fragment.appendChild(this.doc.createElement('span'));
      grid.appendChild(fragment);
      view.painted = { cells, per: new Array<number>(cells).fill(0), full: false };
      // A fresh grid repaints every chunk already known.
      view.changed = [];
      holding.sources.forEach((source, index) => {
        if (source !== undefined) view.changed.push(index);
      });
    }
    const spans = grid.children as HTMLCollectionOf<HTMLElement>;
    const painted = view.painted;
    if (holding.publisher && !painted.full) {
      painted.full = true;
      const own = this.colorOf(holding.peer);
      for (const span of spans) {
        span.style.background = own;
        span.className = '';
      }
      view.changed = [];
      return;
    }
    if (painted.full) {
      view.changed = [];
      return;
    }
    for (const index of view.changed) {
      const source = holding.sources[index];
      const cell = Math.floor((index * cells) / chunks);
      const span = spans[cell];
      if (source === undefined || span === undefined) continue;
      const first = Math.floor((cell * chunks) / cells);
      const last = Math.floor(((cell + 1) * chunks) / cells);
      const per = (painted.per[cell] ?? 0) + 1;
      painted.per[cell] = per;
      span.style.background = this.colorOf(source);
      span.className = per >= last - first ? '' : 'part';
      span.title = `chunk ${index} from ${source}`;
    }
    view.changed = [];
  }

  private renderSources(map: HTMLElement, holding: Holding): void {
    const box = map.querySelector('.sources');
    if (box === null) return;
    for (const [source, count] of holding.from) {
      let span = box.querySelector<HTMLElement>(`[data-from="${CSS.escape(source)}"]`);
      if (span === null) {
        span = this.el('span');
        span.setAttribute('data-from', source);
        span.style.setProperty('--swatch', this.colorOf(source));
        box.appendChild(span);
      }
      span.setAttribute('data-count', String(count));
      span.textContent = `${source}: ${count}`;
    }
  }

  private renderTransfers(): void {
    this.dirty.transfers = false;
    const list = byId(this.doc, 'transfers');
    while (list.children.length < this.recent.length) list.appendChild(this.el('li'));
    this.recent.forEach((event, i) => {
      const li = list.children[i] as HTMLElement | undefined;
      if (li === undefined) return;
      li.setAttribute('data-from', event.from);
      li.setAttribute('data-to', event.to);
      li.setAttribute('data-index', String(event.index));
      li.textContent = '';
      li.appendChild(this.el('span', 't', formatClock(event.t)));
      const took = event.ms !== undefined ? ` in ${event.ms} ms` : '';
      li.appendChild(
        this.doc.createTextNode(
          `${event.from} \u2192 ${event.to}  #${event.index + 1}/${event.chunks}  ${formatBytes(event.bytes)}${took}  ${event.file}`,
        ),
      );
      li.title = event.file;
    });
  }

  private renderTimeline(): void {
    this.dirty.timeline = false;
    const list = byId(this.doc, 'timeline');
    const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.textContent = '';
    const fragment = this.doc.createDocumentFragment();
    for (const entry of this.timeline) {
      const li = this.el('li', entry.cls);
      li.setAttribute('data-kind', entry.kind);
      li.appendChild(this.el('span', 't', formatClock(entry.t)));
      li.appendChild(this.doc.createTextNode(entry.text));
      li.title = entry.text;
      fragment.appendChild(li);
    }
    list.appendChild(fragment);
    if (stick) list.scrollTop = list.scrollHeight;
  }

  private renderGraph(): void {
    this.dirty.graph = false;
    renderGraph(this.doc, this.state, this.edges, (name) => this.colorOf(name));
  }

  // ---- rates: bytes over a sliding window, recomputed once a second ----
  tickRates(): void {
    const now = Date.now();
    while (this.window.length > 0 && (this.window[0]?.at ?? now) < now - RATE_WINDOW_MS) this.window.shift();
    const down = new Map<string, number>();
    const up = new Map<string, number>();
    for (const w of this.window) {
      down.set(w.to, (down.get(w.to) ?? 0) + w.bytes);
      up.set(w.from, (up.get(w.from) ?? 0) + w.bytes);
    }
    for (const [name, node] of this.state.nodes) {
      if (node.role !== 'peer') continue;
      const line = this.doc.querySelector(`[data-rate-peer="${CSS.escape(name)}"]`);
      if (line === null) continue;
      let downBps = (down.get(name) ?? 0) / (RATE_WINDOW_MS / 1000);
      const upBps = (up.get(name) ?? 0) / (RATE_WINDOW_MS / 1000);
      const reported = this.reported.get(name);
      if (downBps === 0 && reported !== undefined && now - reported.at < REPORTED_RATE_MS) downBps = reported.bps;
      line.setAttribute('data-down-bps', String(Math.round(downBps)));
      line.setAttribute('data-up-bps', String(Math.round(upBps)));
      line.textContent =
        `\u2193 ${formatRate(downBps)}${node.downloadBps ? ` (limit ${formatRate(node.downloadBps)})` : ''}` +
        `   \u2191 ${formatRate(upBps)}${node.uploadBps ? ` (limit ${formatRate(node.uploadBps)})` : ''}`;
    }
    // Edges cool down even when nothing new arrives.
    let anyHot = false;
    for (const view of this.edges.values()) if (view.el?.classList.contains('hot')) anyHot = true;
    if (anyHot) this.redrawGraph();
    if (this.state.startedAt && !this.state.end)
      byId(this.doc, 'elapsed').textContent = formatClock(now - this.state.startedAt);
  }
}
