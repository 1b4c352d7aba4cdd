/**
 * The live dashboard's page: plain HTML, CSS and JavaScript in one string, served by dashboard-server.ts
 * and bundled into dist/lab.js with the rest of the lab (nothing to fetch, no framework).
 *
 * The script keeps ONE EventSource on /events and folds each run event (lab/observe/run-events.ts) into
 * a small state; the DOM is updated at most once per animation frame, and only for what changed, so a
 * burst of thousands of transfers costs thousands of array writes and a handful of repaints.
 *
 * Names of peers and files come from the peers (a remote peer chooses its file names): they are only ever
 * set with textContent or as attribute values, never parsed as HTML.
 *
 * Stable hooks for tests and scripts:
 *   [data-node=NAME][data-role][data-state][data-ip]        a tracker or peer card
 *   [data-peer=NAME][data-file=FILE][data-have][data-chunks][data-complete]   a chunk map
 *   ... [data-from=SOURCE][data-count=N]                     chunks of that map received from SOURCE
 *   [data-rate-peer=NAME][data-down-bps][data-up-bps]        current rates
 *   #transfers li[data-from][data-to][data-index]            the latest transfers, newest first
 *   #timeline li[data-kind=step|fault|node|info|download|end]
 *   body[data-last-seq][data-ended][data-ok][data-connection]
 */

const STYLE = String.raw`
:root { --bg: #f6f7f9; --card: #fff; --ink: #1d2330; --dim: #6b7385; --line: #dde1e8; --bad: #c62828;
  --warn: #b26a00; --good: #2e7d32; --empty: #e8eaef; font: 14px/1.4 system-ui, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); }
header { display: flex; flex-wrap: wrap; gap: 12px 24px; align-items: baseline; padding: 12px 20px;
  background: var(--ink); color: #fff; }
header h1 { font-size: 18px; margin: 0; }
header .dim { color: #aab3c5; }
#connection { margin-left: auto; font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #444c5e; }
body[data-connection="live"] #connection { background: var(--good); }
body[data-connection="lost"] #connection { background: var(--bad); }
#step { padding: 8px 20px; background: #e9edf5; border-bottom: 1px solid var(--line); min-height: 36px; }
#step.fault { background: #fdecea; color: var(--bad); font-weight: 600; }
#result.ok { color: #9be7a0; } #result.failed { color: #ff9e9e; }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(280px, 1fr); gap: 16px; padding: 16px 20px; }
section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--dim); margin: 0 0 8px; }
#nodes { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-left: 6px solid var(--swatch, #999);
  border-radius: 6px; padding: 10px 12px; }
.card .title { display: flex; gap: 8px; align-items: baseline; }
.card .name { font-weight: 700; }
.card .ip { color: var(--dim); font-family: ui-monospace, monospace; font-size: 12px; }
.state { margin-left: auto; font-size: 11px; padding: 1px 7px; border-radius: 9px; background: var(--empty); }
.card[data-state="running"] .state { background: #dff3e1; color: var(--good); }
.card[data-state="paused"], .card[data-state="exited"], .card[data-state="dead"],
.card[data-state="disconnected"] { border-color: var(--bad); background: #fff6f5; }
.card[data-state="paused"] .state, .card[data-state="exited"] .state, .card[data-state="dead"] .state,
.card[data-state="disconnected"] .state { background: var(--bad); color: #fff; }
.rates { font-size: 12px; color: var(--dim); margin: 4px 0; font-variant-numeric: tabular-nums; }
.map { margin-top: 8px; }
.map .label { display: flex; gap: 8px; font-size: 12px; }
.map .label .file { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.map .label .count { margin-left: auto; font-variant-numeric: tabular-nums; }
.map[data-complete="true"] .label .count { color: var(--good); font-weight: 700; }
.cells { display: grid; grid-template-columns: repeat(auto-fill, minmax(9px, 1fr)); gap: 2px; margin: 4px 0; }
.cells span { height: 9px; border-radius: 2px; background: var(--empty); }
.cells span.part { opacity: .45; }
.sources { font-size: 11px; color: var(--dim); display: flex; flex-wrap: wrap; gap: 4px 10px; }
.sources span::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 2px;
  margin-right: 4px; background: var(--swatch, #999); }
.pending { font-size: 12px; color: var(--dim); }
#graph { background: var(--card); border: 1px solid var(--line); border-radius: 6px; width: 100%; height: 260px; }
#graph line { stroke: #9aa3b5; stroke-linecap: round; transition: stroke .6s, opacity .6s; }
#graph line.hot { stroke: #ff6f00; }
#graph circle { stroke: #fff; stroke-width: 2; }
#graph text { font-size: 11px; fill: var(--ink); text-anchor: middle; }
#graph g.down circle { fill: #bbb !important; }
aside { display: flex; flex-direction: column; gap: 16px; min-width: 0; }
ol { list-style: none; margin: 0; padding: 0; background: var(--card); border: 1px solid var(--line);
  border-radius: 6px; font-size: 12px; overflow-y: auto; }
ol li { padding: 3px 8px; border-bottom: 1px solid #f0f1f4; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; font-variant-numeric: tabular-nums; }
#transfers { height: 260px; }
#timeline { max-height: 420px; }
#timeline li[data-kind="fault"], #timeline li.bad { color: var(--bad); font-weight: 600; background: #fff3f2; }
#timeline li[data-kind="step"] { color: var(--ink); }
#timeline li[data-kind="info"] { color: var(--dim); }
#timeline li.good { color: var(--good); }
.t { color: var(--dim); display: inline-block; min-width: 52px; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
`;

const SCRIPT = String.raw`
'use strict';
(function () {
  var PALETTE = ['#1e88e5', '#e53935', '#43a047', '#8e24aa', '#fb8c00', '#00897b', '#6d4c41', '#3949ab',
    '#c0ca33', '#d81b60', '#00acc1', '#5e35b1', '#7cb342', '#f4511e', '#546e7a'];
  var MAX_CELLS = 1024;          // a map of more chunks groups them, so the DOM stays small
  var RATE_WINDOW_MS = 5000;     // rates are bytes over the last 5 s
  var RECENT_TRANSFERS = 40;
  var TIMELINE_LIMIT = 300;
  var HOT_EDGE_MS = 1200;

  var state = {
    lastSeq: -1, startedAt: 0, run: '', scenario: '', ended: null, step: null,
    nodes: new Map(),      // name -> { name, role, ip, state }
    files: new Map(),      // file -> { size, chunks }
    maps: new Map(),       // peer -> Map(file -> holding)
    limits: new Map(),     // peer -> { up, down }
    reported: new Map(),   // peer -> rateBps from its latest progress event
    window: [],            // { at, from, to, bytes } of the last RATE_WINDOW_MS
    edges: new Map(),      // from + '>' + to -> { from, to, chunks, lastAt }
    recent: [],            // newest first
    timeline: [],          // { kind, t, text, cls }
    colors: new Map()
  };
  var dirty = { header: true, nodes: new Set(), maps: new Set(), transfers: false, timeline: false, graph: true };
  var frameRequested = false;
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function colorOf(name) {
    if (!state.colors.has(name)) state.colors.set(name, PALETTE[state.colors.size % PALETTE.length]);
    return state.colors.get(name);
  }
  function bytes(n) {
    if (n === null || n === undefined) return '-';
    if (n < 1024) return Math.round(n) + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    if (n < 1073741824) return (n / 1048576).toFixed(1) + ' MiB';
    return (n / 1073741824).toFixed(2) + ' GiB';
  }
  function rate(n) { return bytes(n) + '/s'; }
  function clock(t) { return (t / 1000).toFixed(1) + ' s'; }

  function node(name, role) {
    var n = state.nodes.get(name);
    if (!n) {
      n = { name: name, role: role || (name === 'tracker' ? 'tracker' : 'peer'), ip: '', state: 'running' };
      state.nodes.set(name, n);
      colorOf(name);
      dirty.graph = true;
    }
    dirty.nodes.add(name);
    return n;
  }
  function fileInfo(file) {
    var f = state.files.get(file);
    if (!f) { f = { size: 0, chunks: 0 }; state.files.set(file, f); }
    return f;
  }
  function holding(peer, file) {
    node(peer, 'peer');
    var byFile = state.maps.get(peer);
    if (!byFile) { byFile = new Map(); state.maps.set(peer, byFile); }
    var h = byFile.get(file);
    if (!h) {
      h = { peer: peer, file: file, full: false, done: false, have: null, haveCount: 0, from: new Map(),
        painted: null, changed: [], el: null };
      byFile.set(file, h);
    }
    dirty.maps.add(peer + '\u0000' + file);
    return h;
  }
  function learnChunks(file, chunks) {
    var f = fileInfo(file);
    if (chunks > 0 && f.chunks !== chunks) {
      f.chunks = chunks;
      state.maps.forEach(function (byFile, peer) {
        if (byFile.has(file)) dirty.maps.add(peer + '\u0000' + file);
      });
    }
  }
  function ensureBitmap(h) {
    var chunks = fileInfo(h.file).chunks;
    if (!h.have && chunks > 0) h.have = new Array(chunks);
    return h.have;
  }
  function timeline(kind, t, text, cls) {
    state.timeline.push({ kind: kind, t: t, text: text, cls: cls || '' });
    if (state.timeline.length > TIMELINE_LIMIT) state.timeline.shift();
    dirty.timeline = true;
  }

  var BAD_STATES = { paused: 1, exited: 1, dead: 1, disconnected: 1, removing: 1 };
  // Steps that hurt the swarm, and steps that heal it, whether or not the scenario marked them.
  var FAULT_ACTIONS = { kill: 1, stop: 1, pause: 1, 'disconnect-network': 1, faults: 1, 'fill-disk': 1 };
  var RECOVERY_ACTIONS = { start: 1, unpause: 1, 'connect-network': 1, 'free-disk': 1 };

  function apply(ev) {
    if (typeof ev.seq !== 'number' || ev.seq <= state.lastSeq) return; // a replayed duplicate
    state.lastSeq = ev.seq;
    if (!state.startedAt) state.startedAt = ev.at - ev.t;
    switch (ev.type) {
      case 'run':
        state.run = ev.run; state.scenario = ev.scenario || ''; dirty.header = true;
        timeline('info', ev.t, 'run ' + ev.run + (ev.scenario ? ' (scenario ' + ev.scenario + ')' : ''));
        break;
      case 'node': {
        var known = state.nodes.has(ev.name);
        var n = node(ev.name, ev.role);
        var before = n.state;
        n.role = ev.role; n.ip = ev.ip || ''; n.state = ev.state || 'unknown';
        dirty.graph = true;
        if (known && before !== n.state) {
          timeline(BAD_STATES[n.state] ? 'fault' : 'node', ev.t, ev.name + ' is ' + n.state + (n.ip ? ' (' + n.ip + ')' : ''),
            BAD_STATES[n.state] ? '' : 'good');
        }
        break;
      }
      case 'step': {
        state.step = ev; dirty.header = true;
        var hurts = ev.fault || FAULT_ACTIONS[ev.action] === 1;
        timeline(hurts ? 'fault' : 'step', ev.t, 'step ' + (ev.index + 1) + '/' + ev.total + ': ' + ev.description +
          (ev.fault ? '  [FAULT]' : ''), RECOVERY_ACTIONS[ev.action] === 1 ? 'good' : '');
        break;
      }
      case 'step-end':
        if (!ev.ok) timeline('step', ev.t, 'step ' + (ev.index + 1) + ' failed: ' + (ev.error || ''), 'bad');
        if (state.step && state.step.index === ev.index) { state.step.ended = ev; dirty.header = true; }
        break;
      case 'file': {
        var f = fileInfo(ev.file);
        f.size = ev.size;
        if (ev.chunks) learnChunks(ev.file, ev.chunks);
        else if (ev.chunkSize) learnChunks(ev.file, Math.max(1, Math.ceil(ev.size / ev.chunkSize)));
        var h = holding(ev.peer, ev.file);
        h.full = true; h.done = true;
        break;
      }
      case 'rate': {
        var limit = state.limits.get(ev.peer) || {};
        if (ev.uploadBps !== undefined) limit.up = ev.uploadBps;
        if (ev.downloadBps !== undefined) limit.down = ev.downloadBps;
        state.limits.set(ev.peer, limit);
        node(ev.peer, 'peer');
        break;
      }
      case 'transfer': {
        learnChunks(ev.file, ev.chunks);
        var t = holding(ev.to, ev.file);
        var have = ensureBitmap(t);
        if (have && have[ev.index] === undefined) { have[ev.index] = ev.from; t.haveCount += 1; t.changed.push(ev.index); }
        t.from.set(ev.from, (t.from.get(ev.from) || 0) + 1);
        node(ev.from, 'peer');
        state.window.push({ at: ev.at, from: ev.from, to: ev.to, bytes: ev.bytes });
        var key = ev.from + '>' + ev.to;
        var edge = state.edges.get(key);
        if (!edge) { edge = { from: ev.from, to: ev.to, chunks: 0, lastAt: 0, el: null }; state.edges.set(key, edge); dirty.graph = true; }
        edge.chunks += 1; edge.lastAt = Date.now(); edge.hot = true;
        state.recent.unshift(ev);
        if (state.recent.length > RECENT_TRANSFERS) state.recent.length = RECENT_TRANSFERS;
        dirty.transfers = true; dirty.graph = true;
        break;
      }
      case 'progress':
        learnChunks(ev.file, ev.chunks);
        holding(ev.peer, ev.file);
        if (typeof ev.rateBps === 'number') state.reported.set(ev.peer, { bps: ev.rateBps, at: ev.at });
        break;
      case 'download': {
        var d = holding(ev.peer, ev.file);
        if (ev.ok && ev.verified !== false) d.done = true;
        timeline('download', ev.t, ev.peer + (ev.ok ? ' finished ' : ' failed ') + ev.file +
          (ev.ok ? (ev.verified ? ', verified' : ', NOT verified') : ': ' + (ev.error || '')) +
          (ev.chunksBySource ? ' (' + Object.keys(ev.chunksBySource).map(function (k) {
            return k + ':' + ev.chunksBySource[k]; }).join(' ') + ')' : ''), ev.ok && ev.verified ? 'good' : 'bad');
        break;
      }
      case 'info':
        timeline('info', ev.t, ev.text);
        break;
      case 'end':
        state.ended = ev; dirty.header = true;
        timeline('end', ev.t, 'run ended ' + (ev.ok ? 'ok' : 'FAILED' + (ev.error ? ': ' + ev.error : '')) +
          ' after ' + clock(ev.ms), ev.ok ? 'good' : 'bad');
        break;
      default:
        break;
    }
    schedule();
  }

  function schedule() {
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(render);
  }

  // ---- rendering (once per frame, only what changed) ----
  function render() {
    frameRequested = false;
    if (dirty.header) renderHeader();
    dirty.nodes.forEach(renderNode);
    dirty.nodes.clear();
    dirty.maps.forEach(function (key) {
      var parts = key.split('\u0000');
      var h = state.maps.get(parts[0]).get(parts[1]);
      renderMap(h);
    });
    dirty.maps.clear();
    if (dirty.transfers) renderTransfers();
    if (dirty.timeline) renderTimeline();
    if (dirty.graph) renderGraph();
    document.body.setAttribute('data-last-seq', String(state.lastSeq));
  }

  function renderHeader() {
    dirty.header = false;
    $('run').textContent = state.run ? 'run ' + state.run : 'waiting for the run...';
    document.title = state.run ? 'swarmlab: ' + state.run : 'swarmlab dashboard';
    $('scenario').textContent = state.scenario ? 'scenario ' + state.scenario : '';
    var result = $('result');
    if (state.ended) {
      result.textContent = state.ended.ok ? 'finished ok' : 'FAILED' + (state.ended.error ? ': ' + state.ended.error : '');
      result.className = state.ended.ok ? 'ok' : 'failed';
      document.body.setAttribute('data-ended', 'true');
      document.body.setAttribute('data-ok', String(state.ended.ok));
    } else {
      result.textContent = state.run ? 'running' : '';
    }
    var step = $('step');
    if (state.step) {
      var s = state.step;
      step.textContent = 'step ' + (s.index + 1) + '/' + s.total + ': ' + s.description +
        (s.fault ? '  [FAULT injected]' : '') + (s.ended ? (s.ended.ok ? '  (done)' : '  (failed)') : '');
      step.className = s.fault ? 'fault' : '';
      step.setAttribute('data-step', String(s.index));
      step.setAttribute('data-fault', String(!!s.fault));
    } else {
      step.textContent = state.run ? 'no scenario step yet' : '';
    }
  }

  function cardOf(name) {
    var card = document.querySelector('[data-node="' + CSS.escape(name) + '"]');
    if (card) return card;
    var n = state.nodes.get(name);
    card = el('div', 'card');
    card.setAttribute('data-node', name);
    card.style.setProperty('--swatch', colorOf(name));
    var title = el('div', 'title');
    title.appendChild(el('span', 'name', name));
    title.appendChild(el('span', 'ip'));
    title.appendChild(el('span', 'state'));
    card.appendChild(title);
    var rates = el('div', 'rates');
    rates.setAttribute('data-rate-peer', name);
    card.appendChild(rates);
    card.appendChild(el('div', 'maps'));
    // The tracker first, then peers in the order they appeared.
    var list = $('nodes');
    if (n && n.role === 'tracker') list.insertBefore(card, list.firstChild); else list.appendChild(card);
    return card;
  }

  function renderNode(name) {
    var n = state.nodes.get(name);
    var card = cardOf(name);
    card.setAttribute('data-role', n.role);
    card.setAttribute('data-state', n.state);
    card.setAttribute('data-ip', n.ip);
    card.querySelector('.ip').textContent = n.ip || 'no address';
    card.querySelector('.state').textContent = n.state;
    if (n.role === 'tracker') card.querySelector('.rates').textContent = 'tracker: catalogue and replicas';
  }

  function renderMap(h) {
    var chunks = fileInfo(h.file).chunks;
    if (!h.el) {
      var card = cardOf(h.peer);
      h.el = el('div', 'map');
      h.el.setAttribute('data-peer', h.peer);
      h.el.setAttribute('data-file', h.file);
      var label = el('div', 'label');
      label.appendChild(el('span', 'file', h.file));
      label.appendChild(el('span', 'count'));
      h.el.appendChild(label);
      h.el.appendChild(el('div', 'cells'));
      h.el.appendChild(el('div', 'sources'));
      card.querySelector('.maps').appendChild(h.el);
    }
    var have = h.full ? chunks : h.haveCount;
    var complete = h.full || h.done || (chunks > 0 && h.haveCount >= chunks);
    h.el.setAttribute('data-chunks', String(chunks));
    h.el.setAttribute('data-have', String(have));
    h.el.setAttribute('data-complete', String(complete));
    h.el.setAttribute('data-source', h.full ? 'publisher' : 'downloader');
    h.el.querySelector('.count').textContent = chunks > 0
      ? have + '/' + chunks + (h.full ? ' (publisher)' : '') : (h.full ? 'whole file (chunks after publish)' : '');
    paintCells(h, chunks);
    renderSources(h);
  }

  function paintCells(h, chunks) {
    var grid = h.el.querySelector('.cells');
    if (chunks === 0) return;
    var cells = Math.min(chunks, MAX_CELLS);
    if (!h.painted || h.painted.cells !== cells) {
      grid.textContent = '';
      var fragment = document.createDocumentFragment();
      for (var i = 0; i < cells; i++) fragment.appendChild(document.createElement('span'));
      grid.appendChild(fragment);
      h.painted = { cells: cells, per: new Array(cells).fill(0), full: false };
      // A fresh grid repaints every chunk already known.
      h.changed = [];
      var have = ensureBitmap(h);
      if (have) for (var j = 0; j < have.length; j++) if (have[j] !== undefined) h.changed.push(j);
    }
    var spans = grid.children;
    if (h.full && !h.painted.full) {
      h.painted.full = true;
      var own = colorOf(h.peer);
      for (var k = 0; k < spans.length; k++) { spans[k].style.background = own; spans[k].className = ''; }
      h.changed = [];
      return;
    }
    if (h.painted.full) { h.changed = []; return; }
    var bitmap = ensureBitmap(h);
    for (var c = 0; c < h.changed.length; c++) {
      var index = h.changed[c];
      var cell = Math.floor(index * cells / chunks);
      var first = Math.floor(cell * chunks / cells);
      var last = Math.floor((cell + 1) * chunks / cells);
      h.painted.per[cell] += 1;
      var span = spans[cell];
      span.style.background = colorOf(bitmap[index]);
      span.className = h.painted.per[cell] >= last - first ? '' : 'part';
      span.title = 'chunk ' + index + ' from ' + bitmap[index];
    }
    h.changed = [];
  }

  function renderSources(h) {
    var box = h.el.querySelector('.sources');
    h.from.forEach(function (count, source) {
      var span = box.querySelector('[data-from="' + CSS.escape(source) + '"]');
      if (!span) {
        span = el('span');
        span.setAttribute('data-from', source);
        span.style.setProperty('--swatch', colorOf(source));
        box.appendChild(span);
      }
      span.setAttribute('data-count', String(count));
      span.textContent = source + ': ' + count;
    });
  }

  function renderTransfers() {
    dirty.transfers = false;
    var list = $('transfers');
    while (list.children.length < state.recent.length) list.appendChild(el('li'));
    for (var i = 0; i < state.recent.length; i++) {
      var ev = state.recent[i];
      var li = list.children[i];
      li.setAttribute('data-from', ev.from);
      li.setAttribute('data-to', ev.to);
      li.setAttribute('data-index', String(ev.index));
      li.textContent = '';
      li.appendChild(el('span', 't', clock(ev.t)));
      li.appendChild(document.createTextNode(ev.from + ' \u2192 ' + ev.to + '  #' + (ev.index + 1) + '/' + ev.chunks +
        '  ' + bytes(ev.bytes) + (ev.ms !== undefined ? ' in ' + ev.ms + ' ms' : '') + '  ' + ev.file));
      li.title = ev.file;
    }
  }

  function renderTimeline() {
    dirty.timeline = false;
    var list = $('timeline');
    var stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.textContent = '';
    var fragment = document.createDocumentFragment();
    state.timeline.forEach(function (entry) {
      var li = el('li', entry.cls);
      li.setAttribute('data-kind', entry.kind);
      li.appendChild(el('span', 't', clock(entry.t)));
      li.appendChild(document.createTextNode(entry.text));
      li.title = entry.text;
      fragment.appendChild(li);
    });
    list.appendChild(fragment);
    if (stick) list.scrollTop = list.scrollHeight;
  }

  // ---- the swarm as a graph: nodes on a circle, an edge per (from, to) pair that carried chunks ----
  var SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function renderGraph() {
    dirty.graph = false;
    var box = $('graph');
    var width = box.clientWidth || 600, height = box.clientHeight || 260;
    box.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    var names = Array.from(state.nodes.keys());
    var pos = new Map();
    var radius = Math.max(40, Math.min(width, height) / 2 - 34);
    names.forEach(function (name, i) {
      var angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, names.length);
      pos.set(name, { x: width / 2 + radius * Math.cos(angle), y: height / 2 + radius * Math.sin(angle) });
    });
    var edgesLayer = $('graph-edges'), nodesLayer = $('graph-nodes');
    var now = Date.now(), maxChunks = 1;
    state.edges.forEach(function (e) { maxChunks = Math.max(maxChunks, e.chunks); });
    state.edges.forEach(function (e) {
      var a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) return;
      if (!e.el) {
        e.el = svg('line', { 'data-from': e.from, 'data-to': e.to });
        edgesLayer.appendChild(e.el);
      }
      // Each direction runs a few pixels to its own side, so A->B and B->A both show; the line stops
      // short of the target so the arrowhead does too.
      var dx = b.x - a.x, dy = b.y - a.y, len = Math.sqrt(dx * dx + dy * dy) || 1;
      var ox = (-dy / len) * 4, oy = (dx / len) * 4;
      e.el.setAttribute('x1', a.x + ox); e.el.setAttribute('y1', a.y + oy);
      e.el.setAttribute('x2', b.x - (dx / len) * 16 + ox); e.el.setAttribute('y2', b.y - (dy / len) * 16 + oy);
      e.el.setAttribute('stroke-width', String(1.5 + 5 * e.chunks / maxChunks));
      e.el.setAttribute('marker-end', 'url(#arrow)');
      e.el.setAttribute('data-count', String(e.chunks));
      var hot = now - e.lastAt < HOT_EDGE_MS;
      e.el.classList.toggle('hot', hot);
    });
    nodesLayer.textContent = '';
    names.forEach(function (name) {
      var n = state.nodes.get(name), p = pos.get(name);
      var g = svg('g', { 'data-graph-node': name });
      if (BAD_STATES[n.state]) g.setAttribute('class', 'down');
      var circle = svg('circle', { cx: p.x, cy: p.y, r: n.role === 'tracker' ? 9 : 13 });
      circle.style.fill = colorOf(name);
      var label = svg('text', { x: p.x, y: p.y + 27 });
      label.textContent = name;
      g.appendChild(circle); g.appendChild(label);
      nodesLayer.appendChild(g);
    });
  }

  // ---- rates: bytes over a sliding window, recomputed once a second ----
  function tickRates() {
    var now = Date.now();
    while (state.window.length && state.window[0].at < now - RATE_WINDOW_MS) state.window.shift();
    var down = new Map(), up = new Map();
    state.window.forEach(function (w) {
      down.set(w.to, (down.get(w.to) || 0) + w.bytes);
      up.set(w.from, (up.get(w.from) || 0) + w.bytes);
    });
    state.nodes.forEach(function (n, name) {
      if (n.role !== 'peer') return;
      var line = document.querySelector('[data-rate-peer="' + CSS.escape(name) + '"]');
      if (!line) return;
      var downBps = (down.get(name) || 0) / (RATE_WINDOW_MS / 1000);
      var upBps = (up.get(name) || 0) / (RATE_WINDOW_MS / 1000);
      var reported = state.reported.get(name);
      if (downBps === 0 && reported && now - reported.at < 2000) downBps = reported.bps;
      var limit = state.limits.get(name) || {};
      line.setAttribute('data-down-bps', String(Math.round(downBps)));
      line.setAttribute('data-up-bps', String(Math.round(upBps)));
      line.textContent = '\u2193 ' + rate(downBps) + (limit.down ? ' (limit ' + rate(limit.down) + ')' : '') +
        '   \u2191 ' + rate(upBps) + (limit.up ? ' (limit ' + rate(limit.up) + ')' : '');
    });
    // Edges cool down even when nothing new arrives.
    var anyHot = false;
    state.edges.forEach(function (e) { if (e.el && e.el.classList.contains('hot')) anyHot = true; });
    if (anyHot) { dirty.graph = true; schedule(); }
    if (state.startedAt && !state.ended) $('elapsed').textContent = clock(now - state.startedAt);
  }

  function connect() {
    // One EventSource for the page's lifetime; on a drop it reconnects by itself with Last-Event-ID.
    var source = new EventSource('events');
    source.onopen = function () {
      document.body.setAttribute('data-connection', 'live');
      $('connection').textContent = 'live';
    };
    source.onerror = function () {
      document.body.setAttribute('data-connection', 'lost');
      $('connection').textContent = state.ended ? 'dashboard stopped' : 'reconnecting...';
    };
    source.onmessage = function (message) {
      var ev;
      try { ev = JSON.parse(message.data); } catch (e) { return; }
      apply(ev);
    };
  }

  window.addEventListener('resize', function () { dirty.graph = true; schedule(); });
  setInterval(tickRates, 1000);
  connect();
})();
`;

const BODY = String.raw`
<header>
  <h1>swarmlab</h1>
  <span id="run">waiting for the run...</span>
  <span id="scenario" class="dim"></span>
  <span id="elapsed" class="dim"></span>
  <strong id="result"></strong>
  <span id="connection">connecting...</span>
</header>
<div id="step" data-step="" data-fault="false"></div>
<main>
  <section>
    <h2>Tracker and peers: state, rates, chunk maps (cell colour = the peer it came from)</h2>
    <div id="nodes"></div>
    <h2 style="margin-top:16px">Who sends to whom (edges glow while chunks flow)</h2>
    <svg id="graph" role="img" aria-label="transfers between peers">
      <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9"
        markerUnits="userSpaceOnUse" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="#9aa3b5"/></marker></defs>
      <g id="graph-edges"></g><g id="graph-nodes"></g>
    </svg>
  </section>
  <aside>
    <section><h2>Latest transfers</h2><ol id="transfers"></ol></section>
    <section><h2>Steps, faults and recoveries</h2><ol id="timeline"></ol></section>
  </aside>
</main>
`;

/** The whole page, served as is. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>swarmlab dashboard</title>
<style>${STYLE}</style>
</head>
<body data-connection="connecting" data-last-seq="-1" data-ended="false">
${BODY}
<script>${SCRIPT}</script>
</body>
</html>
`;
