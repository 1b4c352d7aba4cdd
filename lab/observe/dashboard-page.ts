/**
 * The live dashboard's page: HTML and CSS here, and the script from lab/observe/client/ (TypeScript, bundled
 * by scripts/build.mjs), inlined into one page that dashboard-server.ts serves: nothing else to fetch, no
 * framework.
 *
 * dist/lab.js carries the script inlined at build time (esbuild's `define` of DASHBOARD_CLIENT_JS); run
 * from source (the tests), the page reads dist/dashboard-client.js, which `npm run build` writes.
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
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../errors';

/** The bundled client, replaced by its text when esbuild bundles the lab; undeclared when run from source. */
declare const DASHBOARD_CLIENT_JS: string | undefined;

/** Where `npm run build` writes the bundled client, from this folder (lab/observe/). */
const CLIENT_BUNDLE_PATH = join(__dirname, '..', '..', 'dist', 'dashboard-client.js');

export class DashboardClientMissingError extends Error {
  readonly code = ERROR_CODES.DASHBOARD_CLIENT_MISSING;
  override readonly name = 'DashboardClientMissingError';
  constructor(path: string, options?: ErrorOptions) {
    super(`the dashboard's script is not built (${path} is missing): run npm run build`, options);
  }
}

function clientScript(): string {
  if (typeof DASHBOARD_CLIENT_JS === 'string') return DASHBOARD_CLIENT_JS;
  try {
    return readFileSync(CLIENT_BUNDLE_PATH, 'utf8');
  } catch (err) {
    throw new DashboardClientMissingError(CLIENT_BUNDLE_PATH, { cause: err });
  }
}

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
#graph g.link line { stroke: #6a3fb5; stroke-width: 1; stroke-dasharray: 2 4; }
#graph g.link text { font-size: 10px; fill: #6a3fb5; }
#graph g.link.cut line, #graph g.link.cut text { stroke: #c00000; fill: #c00000; }
#graph g.link.cut text { stroke: none; }
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
    <h2 style="margin-top:16px">Who sends to whom (edges glow while chunks flow; dashed: link conditions, one way)</h2>
    <svg id="graph" role="img" aria-label="transfers between peers">
      <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9"
        markerUnits="userSpaceOnUse" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="#9aa3b5"/></marker></defs>
      <g id="graph-links"></g><g id="graph-edges"></g><g id="graph-nodes"></g>
    </svg>
  </section>
  <aside>
    <section><h2>Latest transfers</h2><ol id="transfers"></ol></section>
    <section><h2>Steps, faults and recoveries</h2><ol id="timeline"></ol></section>
  </aside>
</main>
`;

let page: string | undefined;

/** The whole page, served as is (built once, on first use). */
export function dashboardHtml(): string {
  // The script is inlined in a <script> element: no "</script" may close it early.
  page ??= pageWith(clientScript().replace(/<\/script/gi, '<\\/script'));
  return page;
}

function pageWith(script: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>swarmlab dashboard</title>
<style>${STYLE}</style>
</head>
<body data-connection="connecting" data-last-seq="-1" data-ended="false">
${BODY}
<script>${script}</script>
</body>
</html>
`;
}
