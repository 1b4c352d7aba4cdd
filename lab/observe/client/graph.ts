/**
 * The swarm as a graph: nodes on a circle, one edge per (from, to) pair that carried chunks, thicker for
 * more chunks and glowing while chunks flow. Links whose conditions are not perfect (the scenario's
 * network, its `link` steps) and links a partition cuts are drawn dashed, labelled with their conditions.
 */
import { linkMarks } from '../link-label';
import type { RunState } from '../run-state';
import { byId } from './dom';
import { isBadState } from './timeline';

const SVG_NS = 'http://www.w3.org/2000/svg';
/** An edge glows this long after its last chunk. */
export const HOT_EDGE_MS = 1200;

/** An edge as drawn: its line, and when its last chunk arrived (wall clock). */
export interface EdgeView {
  el?: SVGLineElement;
  lastAt: number;
}

function svg<K extends keyof SVGElementTagNameMap>(
  doc: Document,
  tag: K,
  attributes: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const node = doc.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

/** Draws every node on a circle and every edge, reusing each edge's line; node marks are redrawn. */
export function renderGraph(
  doc: Document,
  state: RunState,
  edges: Map<string, EdgeView>,
  colorOf: (name: string) => string,
): void {
  const box = byId(doc, 'graph');
  const width = box.clientWidth || 600;
  const height = box.clientHeight || 260;
  box.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const names = [...state.nodes.keys()];
  const pos = new Map<string, { x: number; y: number }>();
  const radius = Math.max(40, Math.min(width, height) / 2 - 34);
  names.forEach((name, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, names.length);
    pos.set(name, { x: width / 2 + radius * Math.cos(angle), y: height / 2 + radius * Math.sin(angle) });
  });
  renderLinks(doc, state, pos);
  const edgesLayer = byId(doc, 'graph-edges');
  const nodesLayer = byId(doc, 'graph-nodes');
  const now = Date.now();
  let maxChunks = 1;
  for (const edge of state.edges.values()) maxChunks = Math.max(maxChunks, edge.chunks);
  for (const [key, edge] of state.edges) {
    const a = pos.get(edge.from);
    const b = pos.get(edge.to);
    if (a === undefined || b === undefined) continue;
    const view = edges.get(key) ?? { lastAt: 0 };
    edges.set(key, view);
    view.el ??= edgesLayer.appendChild(svg(doc, 'line', { 'data-from': edge.from, 'data-to': edge.to }));
    // Each direction runs a few pixels to its own side, so A->B and B->A both show; the line stops
    // short of the target so the arrowhead does too.
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len = Math.sqrt(dx * dx + dy * dy) || 1;
    const ox = (-dy / len) * 4;
    const oy = (dx / len) * 4;
    view.el.setAttribute('x1', String(a.x + ox));
    view.el.setAttribute('y1', String(a.y + oy));
    view.el.setAttribute('x2', String(b.x - (dx / len) * 16 + ox));
    view.el.setAttribute('y2', String(b.y - (dy / len) * 16 + oy));
    view.el.setAttribute('stroke-width', String(1.5 + (5 * edge.chunks) / maxChunks));
    view.el.setAttribute('marker-end', 'url(#arrow)');
    view.el.setAttribute('data-count', String(edge.chunks));
    view.el.classList.toggle('hot', now - view.lastAt < HOT_EDGE_MS);
  }
  nodesLayer.textContent = '';
  for (const name of names) {
    const node = state.nodes.get(name);
    const p = pos.get(name);
    if (node === undefined || p === undefined) continue;
    const g = svg(doc, 'g', { 'data-graph-node': name });
    if (isBadState(node.state)) g.setAttribute('class', 'down');
    const circle = svg(doc, 'circle', { cx: p.x, cy: p.y, r: node.role === 'tracker' ? 9 : 13 });
    circle.style.fill = colorOf(name);
    const label = svg(doc, 'text', { x: p.x, y: p.y + 27 });
    label.textContent = name;
    g.appendChild(circle);
    g.appendChild(label);
    nodesLayer.appendChild(g);
  }
}

function renderLinks(doc: Document, state: RunState, pos: ReadonlyMap<string, { x: number; y: number }>): void {
  const layer = byId(doc, 'graph-links');
  layer.textContent = '';
  for (const mark of linkMarks(state)) {
    const a = pos.get(mark.between[0]);
    const b = pos.get(mark.between[1]);
    if (a === undefined || b === undefined) continue;
    const g = svg(doc, 'g', { class: mark.cut ? 'link cut' : 'link', 'data-link': mark.between.join(' ') });
    g.appendChild(svg(doc, 'line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y }));
    const text = svg(doc, 'text', { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 4 });
    text.textContent = mark.label;
    g.appendChild(text);
    layer.appendChild(g);
  }
}
