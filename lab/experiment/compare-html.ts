/**
 * Renders compare.html: one self-contained page (inline CSS and SVG, no script, nothing fetched, the
 * same Content-Security-Policy as the run report) that answers "which variant distributes faster, and
 * how close to the theoretical minimum". A thin view: every figure comes from `CompareData`.
 */
import { tickStepMs } from '../observe/report-html';
import { escapeHtml, staticPageStart } from '../observe/static-page';
import { cdfPoints } from './stats';
import type { CompareData, RunFigures, VariantSummary } from './compare-data';

const PLOT_WIDTH = 960;
const MARGIN_LEFT = 220;
const MARGIN_RIGHT = 24;
const MARGIN_TOP = 16;
const MARGIN_BOTTOM = 34;
const ROW_HEIGHT = 34;
const CDF_HEIGHT = 280;
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f'];

export interface CompareHtmlInit {
  /** Each run's report.html relative to compare.html, by run name. */
  reportHrefs?: ReadonlyMap<string, string>;
}

const colour = (i: number): string => PALETTE[i % PALETTE.length]!;
const round = (value: number): number => Math.round(value * 10) / 10;

function seconds(value: number | null): string {
  return value === null ? '-' : `${value.toFixed(value < 10 ? 2 : 1)} s`;
}

function ratio(value: number | null): string {
  return value === null ? '-' : `×${value.toFixed(2)}`;
}

function span(values: [number, number] | null, format: (v: number) => string): string {
  return values === null ? '' : ` (${format(values[0])} – ${format(values[1])})`;
}

function bytes(value: number): string {
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(1)} KiB`;
  return `${(value / 1024 / 1024).toFixed(2)} MiB`;
}

function table(headers: readonly string[], rows: readonly (readonly string[])[], cls = ''): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${cell}</td>`).join('')}</tr>`).join('\n');
  return `<table${cls === '' ? '' : ` class="${cls}"`}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A seconds axis from 0 to `maxS` along the bottom of a plot `height` high. */
function xAxis(maxS: number, height: number): { x: (s: number) => number; svg: string } {
  const inner = PLOT_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
  const x = (s: number): number => round(MARGIN_LEFT + (Math.min(Math.max(s, 0), maxS) / maxS) * inner);
  const stepS = tickStepMs(maxS * 1000) / 1000;
  const ticks: string[] = [];
  for (let s = 0; s <= maxS + 1e-9; s += stepS) {
    ticks.push(
      `<line class="grid" x1="${x(s)}" y1="${MARGIN_TOP}" x2="${x(s)}" y2="${height - MARGIN_BOTTOM}"/>` +
        `<text class="tick-label" x="${x(s)}" y="${height - MARGIN_BOTTOM + 16}">${Number(s.toFixed(3))}</text>`,
    );
  }
  const axis =
    `<line class="axis" x1="${MARGIN_LEFT}" y1="${height - MARGIN_BOTTOM}" x2="${PLOT_WIDTH - MARGIN_RIGHT}" y2="${height - MARGIN_BOTTOM}"/>` +
    `<text class="axis-label" x="${PLOT_WIDTH - MARGIN_RIGHT}" y="${height - 4}">seconds from the first chunk request</text>`;
  return { x, svg: ticks.join('') + axis };
}

function plotMaxS(data: CompareData): number {
  const all = data.variants.flatMap((v) => [
    ...v.runs.flatMap((r) => [r.distributionS ?? 0, r.minimumS ?? 0, ...r.completionS]),
  ]);
  return Math.max(1, ...all) * 1.05;
}

/** Per variant: a dot per run's distribution time, a bar at the median, a dashed tick at the minimum. */
function distributionSvg(data: CompareData, maxS: number): string {
  const height = MARGIN_TOP + data.variants.length * ROW_HEIGHT + MARGIN_BOTTOM;
  const { x, svg: axis } = xAxis(maxS, height);
  const rows = data.variants.map((variant, i) => {
    const y = MARGIN_TOP + i * ROW_HEIGHT + ROW_HEIGHT / 2;
    const label = `<text class="row-label" x="${MARGIN_LEFT - 8}" y="${y + 4}">${escapeHtml(variant.label)}</text>`;
    const minimum =
      variant.median.minimumS === null
        ? ''
        : `<line class="minimum" x1="${x(variant.median.minimumS)}" y1="${y - 12}" x2="${x(variant.median.minimumS)}" y2="${y + 12}">` +
          `<title>theoretical minimum ${seconds(variant.median.minimumS)}</title></line>`;
    const med =
      variant.median.distributionS === null
        ? ''
        : `<line class="median" x1="${x(variant.median.distributionS)}" y1="${y - 10}" x2="${x(variant.median.distributionS)}" y2="${y + 10}" stroke="${colour(i)}">` +
          `<title>median ${seconds(variant.median.distributionS)}</title></line>`;
    const dots = variant.runs
      .filter((run) => run.distributionS !== null)
      .map(
        (run) =>
          `<circle class="run" cx="${x(run.distributionS!)}" cy="${y}" r="4" fill="${colour(i)}">` +
          `<title>repeat ${run.repeat}: ${seconds(run.distributionS)} (${ratio(run.ratio)} the minimum)</title></circle>`,
      )
      .join('');
    return `<g class="variant-row">${label}${minimum}${med}${dots}</g>`;
  });
  return `<svg class="plot distribution" width="${PLOT_WIDTH}" height="${height}" viewBox="0 0 ${PLOT_WIDTH} ${height}">${axis}${rows.join('')}</svg>`;
}

/** Per variant: the CDF of every downloader's completion time, all repeats pooled. */
function cdfSvg(data: CompareData, maxS: number): string {
  const height = CDF_HEIGHT;
  const { x, svg: axis } = xAxis(maxS, height);
  const y = (p: number): number => round(height - MARGIN_BOTTOM - p * (height - MARGIN_BOTTOM - MARGIN_TOP));
  const yTicks = [0, 0.25, 0.5, 0.75, 1]
    .map((p) => `<text class="tick-label y" x="${MARGIN_LEFT - 6}" y="${y(p) + 4}">${p * 100}%</text>`)
    .join('');
  const lines = data.variants.map((variant, i) => {
    const points = cdfPoints(variant.runs.flatMap((run) => run.completionS));
    if (points.length === 0) return '';
    const coords: string[] = [`${x(0)},${y(0)}`];
    let p = 0;
    for (const point of points) {
      coords.push(`${x(point.x)},${y(p)}`, `${x(point.x)},${y(point.p)}`);
      p = point.p;
    }
    return (
      `<polyline class="cdf" fill="none" stroke="${colour(i)}" data-variant="${escapeHtml(variant.label)}" points="${coords.join(' ')}">` +
      `<title>${escapeHtml(variant.label)}</title></polyline>`
    );
  });
  return `<svg class="plot cdf-plot" width="${PLOT_WIDTH}" height="${height}" viewBox="0 0 ${PLOT_WIDTH} ${height}">${axis}${yTicks}${lines.join('')}</svg>`;
}

function legend(data: CompareData): string {
  return `<p class="legend">${data.variants
    .map(
      (variant, i) =>
        `<span class="key"><span class="swatch" style="background:${colour(i)}"></span>${escapeHtml(variant.label)}</span>`,
    )
    .join(' ')}</p>`;
}

function summaryTable(data: CompareData): string {
  return table(
    ['variant', 'verified runs', 'distribution: median (range)', 'minimum', 'ratio: median (range)', 'seeder copies'],
    data.variants.map((variant) => [
      escapeHtml(variant.label),
      `${variant.runs.filter((r) => r.verified).length} / ${variant.runs.length}`,
      `<b>${seconds(variant.median.distributionS)}</b>${span(variant.range.distributionS, (v) => seconds(v))}`,
      seconds(variant.median.minimumS),
      `<b>${ratio(variant.median.ratio)}</b>${span(variant.range.ratio, (v) => ratio(v))}`,
      variant.median.seederCopies === null ? '-' : variant.median.seederCopies.toFixed(2),
    ]),
    'summary',
  );
}

function bytesTable(data: CompareData): string {
  const sum = (variant: VariantSummary, pick: (run: RunFigures) => number): number =>
    variant.runs.reduce((total, run) => total + pick(run), 0);
  return table(
    ['variant', 'served by seeders', 'served by peers', 'share from peers'],
    data.variants.map((variant) => {
      const seeders = sum(variant, (r) => r.bytesFromSeeders);
      const peers = sum(variant, (r) => r.bytesFromPeers);
      const share = seeders + peers === 0 ? '-' : `${((100 * peers) / (seeders + peers)).toFixed(0)} %`;
      return [escapeHtml(variant.label), bytes(seeders), bytes(peers), share];
    }),
    'bytes',
  );
}

function runsTable(data: CompareData, hrefs: ReadonlyMap<string, string>): string {
  const rows = data.variants.flatMap((variant) =>
    variant.runs.map((run) => {
      const href = hrefs.get(run.run);
      return [
        escapeHtml(variant.label),
        String(run.repeat),
        escapeHtml(run.seed),
        seconds(run.distributionS),
        ratio(run.ratio),
        run.seederCopies === null ? '-' : run.seederCopies.toFixed(2),
        run.verified ? '<span class="ok">verified</span>' : '<span class="failed">FAILED</span>',
        href === undefined ? '-' : `<a class="run-report" href="${escapeHtml(href)}">${escapeHtml(run.run)}</a>`,
      ];
    }),
  );
  return table(
    ['variant', 'repeat', 'seed', 'distribution', 'ratio', 'seeder copies', 'downloads', 'report'],
    rows,
    'runs',
  );
}

function failuresHtml(data: CompareData): string {
  const items = data.variants.flatMap((variant) =>
    variant.runs.flatMap((run) =>
      run.failures.map(
        (failure) => `<li><b>${escapeHtml(variant.label)}</b>, repeat ${run.repeat}: ${escapeHtml(failure)}</li>`,
      ),
    ),
  );
  return items.length === 0 ? '<p class="ok">No failures.</p>' : `<ul class="failures">${items.join('\n')}</ul>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px; max-width: 1000px; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 28px 0 8px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 3px 10px; text-align: left; border-bottom: 1px solid #ddd; }
th { font-size: 12px; color: #555; } td { font-variant-numeric: tabular-nums; white-space: nowrap; }
.ok { color: #008a3e; font-weight: bold; } .failed { color: #c00000; font-weight: bold; }
.note { color: #666; } .legend { margin: 4px 0; } .key { margin-right: 12px; white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 4px; }
svg.plot { display: block; font-size: 11px; }
.axis { stroke: #333; } .grid { stroke: #eee; }
.tick-label { text-anchor: middle; fill: #444; } .tick-label.y { text-anchor: end; }
.axis-label { text-anchor: end; fill: #444; } .row-label { text-anchor: end; fill: #333; }
.minimum { stroke: #000; stroke-width: 2; stroke-dasharray: 4 3; } .median { stroke-width: 3; }
.cdf { stroke-width: 2; }
`;

export function renderCompareHtml(data: CompareData, init: CompareHtmlInit = {}): string {
  const maxS = plotMaxS(data);
  const hrefs = init.reportHrefs ?? new Map<string, string>();
  const title = `swarmlab compare: ${data.scenario}`;
  const planned = data.variants.length * data.repeat;
  const done = data.variants.reduce((n, v) => n + v.runs.length, 0);
  const status = !data.complete
    ? `<span class="failed">incomplete: ${done} of ${planned} runs</span>`
    : data.ok
      ? '<span class="ok">every run verified its downloads</span>'
      : '<span class="failed">some runs failed</span>';
  return `${staticPageStart(title, STYLE)}
<h1>${escapeHtml(title)}</h1>
<p>Scenario <code>${escapeHtml(data.scenarioFile)}</code>, ${data.variants.length} variant(s) × ${data.repeat} repeat(s),
seed <code>${escapeHtml(data.seed)}</code> (repeat r of every variant runs with seed <code>${escapeHtml(data.seed)}-r</code>).
${status}.</p>
<section id="summary">
<h2>Distribution time against the theoretical minimum</h2>
<p class="note">From the first chunk request to the last chunk's arrival, once every downloader verified the file.
The minimum is max(F/u_s, N·F/(u_s + Σu_i)); the ratio is the time over the minimum (1 would be perfect).</p>
${summaryTable(data)}
${legend(data)}
${distributionSvg(data, maxS)}
<p class="note">One dot per run, a bar at the median, the dashed black tick at the minimum.</p>
</section>
<section id="cdf">
<h2>When each downloader finished</h2>
<p class="note">Share of downloaders (all repeats pooled) that held the whole file, against time from the first chunk request.</p>
${legend(data)}
${cdfSvg(data, maxS)}
</section>
<section id="bytes">
<h2>Who served the bytes</h2>
<p class="note">Seeder copies: bytes the seeders uploaded, in copies of the file (median over repeats). The rest came from other downloaders.</p>
${bytesTable(data)}
</section>
<section id="failures">
<h2>Failures</h2>
${failuresHtml(data)}
</section>
<section id="runs">
<h2>Runs</h2>
${runsTable(data, hrefs)}
</section>
<p class="note">Written by swarmlab; the figures are in compare.json beside this file, each run's events and report in its own folder.</p>
</body>
</html>
`;
}
