/**
 * Renders the run report as one self-contained HTML page: inline CSS and SVG, no script and no external
 * resource, so it opens from disk (file://) and fetches nothing. A Content-Security-Policy forbids any
 * fetch and any script as well: file and peer names come from remote peers, and even if one slipped
 * through the escaping it could neither run nor phone home.
 *
 * Hover a mark for its details (SVG <title>). The page is the same for every run; what it shows comes
 * from `ReportData` only.
 */
import type { Lane, MinimumTime, ReportData, TimeMark, TransferPoint } from './report-data';
import { networkHtml } from './report-network';
import { escapeHtml, staticPageStart } from './static-page';

const PLOT_WIDTH = 960;
const MARGIN_LEFT = 150;
const MARGIN_RIGHT = 24;
const MARGIN_TOP = 22;
const MARGIN_BOTTOM = 34;
const LANE_HEIGHT = 64;
const PROGRESS_HEIGHT = 300;
const TRANSFER_RADIUS = 2.6;
const TARGET_TICKS = 10;

/** Colours for the sources of chunks (and the downloaders' lines), distinct on white and for most eyes. */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f'];

const MARK_COLOUR: Record<TimeMark['kind'], string> = {
  fault: '#c00000',
  node: '#e07000',
  recovery: '#008a3e',
  trigger: '#6a3fb5',
  network: '#0077aa',
};

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1).replace(/\.0$/, '')} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2).replace(/\.?0+$/, '')} MiB`;
}

function formatRate(bps: number | undefined): string {
  return bps === undefined ? 'unlimited' : `${formatBytes(bps)}/s`;
}

/** A round tick step (1, 2 or 5 times a power of ten, in ms) giving about TARGET_TICKS ticks over `spanMs`. */
export function tickStepMs(spanMs: number): number {
  const raw = Math.max(spanMs, 1) / TARGET_TICKS;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  return Math.max(step, 1);
}

/**
 * Maps ms since the recording started to x pixels over the report's window; shared by both plots so their
 * time axes line up. Labels count from the run's origin (its `run` event).
 */
class TimeScale {
  constructor(
    private readonly fromT: number,
    private readonly toT: number,
    private readonly originT: number,
  ) {}

  x(t: number): number {
    const inner = PLOT_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    const clamped = Math.min(Math.max(t, this.fromT), this.toT);
    return round(MARGIN_LEFT + ((clamped - this.fromT) / (this.toT - this.fromT)) * inner);
  }

  /** `t` as seconds since the run's origin, for labels and titles. */
  at(t: number): string {
    return formatSeconds(t - this.originT);
  }

  /** The x axis at `y`: a line, ticks and labels in seconds since the origin. */
  axis(y: number): string {
    const step = tickStepMs(this.toT - this.fromT);
    const parts = [`<line class="axis" x1="${MARGIN_LEFT}" y1="${y}" x2="${PLOT_WIDTH - MARGIN_RIGHT}" y2="${y}"/>`];
    const first = this.originT + Math.ceil((this.fromT - this.originT) / step) * step;
    for (let t = first; t <= this.toT; t += step) {
      const x = this.x(t);
      parts.push(`<line class="tick" x1="${x}" y1="${y}" x2="${x}" y2="${y + 4}"/>`);
      parts.push(
        `<text class="tick-label" x="${x}" y="${y + 16}">${String(round((t - this.originT) / 1000, 3))}</text>`,
      );
    }
    parts.push(
      `<text class="axis-label" x="${PLOT_WIDTH - MARGIN_RIGHT}" y="${y + 30}">seconds since the run started</text>`,
    );
    return parts.join('');
  }

  /** Faults, state changes and recoveries as vertical lines from `top` to `bottom`. */
  marks(marks: readonly TimeMark[], top: number, bottom: number): string {
    return marks
      .map((mark) => {
        const x = this.x(mark.t);
        const title = `${mark.label} at ${this.at(mark.t)}`;
        return (
          `<line class="mark mark-${mark.kind}" x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" ` +
          `stroke="${MARK_COLOUR[mark.kind]}"><title>${escapeHtml(title)}</title></line>`
        );
      })
      .join('');
  }
}

function round(value: number, digits = 1): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function colourOf(names: readonly string[]): (name: string) => string {
  const index = new Map(names.map((name, i) => [name, i]));
  return (name) => PALETTE[(index.get(name) ?? 0) % PALETTE.length]!;
}

function legend(names: readonly string[], colour: (name: string) => string, what: string): string {
  if (names.length === 0) return '';
  const items = names
    .map(
      (name) =>
        `<span class="key"><span class="swatch" style="background:${colour(name)}"></span>${escapeHtml(name)}</span>`,
    )
    .join(' ');
  return `<p class="legend">${escapeHtml(what)}: ${items}</p>`;
}

function laneLabel(lane: Lane): string {
  return `${lane.peer} ← ${lane.file}`;
}

function transferTitle(point: TransferPoint, scale: TimeScale): string {
  const took = point.ms === undefined ? '' : ` in ${point.ms} ms`;
  return (
    `chunk ${point.index + 1}/${point.chunks} of ${point.file}: ${point.from} → ${point.to}, ` +
    `${formatBytes(point.bytes)}${took}, at ${scale.at(point.t)}`
  );
}

/** The timeline: one circle per transfer, one lane per downloader, y = chunk index within the lane. */
function timelineSvg(data: ReportData, scale: TimeScale, colour: (name: string) => string): string {
  const lanes = data.lanes.length === 0 ? [{ peer: '-', file: '-', chunks: 1 }] : data.lanes;
  const height = MARGIN_TOP + lanes.length * LANE_HEIGHT + MARGIN_BOTTOM;
  const bottom = MARGIN_TOP + lanes.length * LANE_HEIGHT;
  const parts: string[] = [];
  lanes.forEach((lane, i) => {
    const top = MARGIN_TOP + i * LANE_HEIGHT;
    parts.push(
      `<rect class="lane${i % 2 === 0 ? ' lane-even' : ''}" x="${MARGIN_LEFT}" y="${top}" ` +
        `width="${PLOT_WIDTH - MARGIN_LEFT - MARGIN_RIGHT}" height="${LANE_HEIGHT}"/>`,
      `<text class="lane-label" x="${MARGIN_LEFT - 8}" y="${top + LANE_HEIGHT / 2 + 4}">` +
        `${escapeHtml(laneLabel(lane))}<title>${escapeHtml(
          `${laneLabel(lane)} (${lane.chunks} chunks; ` + `y: chunk index, first at the bottom)`,
        )}</title></text>`,
    );
  });
  parts.push(scale.marks(data.marks, MARGIN_TOP, bottom));
  for (const point of data.transfers) {
    const top = MARGIN_TOP + point.lane * LANE_HEIGHT;
    const span = LANE_HEIGHT - 12;
    const y = round(top + 6 + span - (point.chunks <= 1 ? 0.5 : point.index / (point.chunks - 1)) * span);
    parts.push(
      `<circle class="transfer" data-seq="${point.seq}" cx="${scale.x(point.t)}" cy="${y}" r="${TRANSFER_RADIUS}" ` +
        `fill="${colour(point.from)}"><title>${escapeHtml(transferTitle(point, scale))}</title></circle>`,
    );
  }
  parts.push(scale.axis(bottom));
  return (
    `<svg class="plot timeline" viewBox="0 0 ${PLOT_WIDTH} ${height}" width="${PLOT_WIDTH}" height="${height}" ` +
    `role="img" aria-label="chunk transfers over time">${parts.join('')}</svg>`
  );
}

type DrawnMinimum = Extract<MinimumTime, { minMs: number }>;

function minimumTitle(minimum: DrawnMinimum): string {
  const seeders = minimum.seeders.map((p) => `${p.peer} ${formatRate(p.uploadBps)}`).join(', ');
  const downloaders = minimum.downloaders.map((p) => `${p.peer} ${formatRate(p.uploadBps)}`).join(', ');
  return (
    `theoretical minimum for ${minimum.file}: ${formatSeconds(minimum.minMs)} after the download started ` +
    `(F=${formatBytes(minimum.fileBytes)}; seeders ${seeders}; downloaders ${downloaders})`
  );
}

/** Progress: have/chunks against time per downloader, the minimum time as a vertical line per file. */
function progressSvg(data: ReportData, scale: TimeScale, colour: (name: string) => string): string {
  const top = MARGIN_TOP;
  const bottom = MARGIN_TOP + PROGRESS_HEIGHT;
  const height = bottom + MARGIN_BOTTOM;
  const y = (share: number): number => round(bottom - share * PROGRESS_HEIGHT);
  const parts: string[] = [];
  for (const share of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(
      `<line class="grid" x1="${MARGIN_LEFT}" y1="${y(share)}" x2="${PLOT_WIDTH - MARGIN_RIGHT}" y2="${y(share)}"/>`,
      `<text class="tick-label y" x="${MARGIN_LEFT - 6}" y="${y(share) + 4}">${share * 100}%</text>`,
    );
  }
  parts.push(scale.marks(data.marks, top, bottom));
  for (const minimum of data.minimums) {
    if (!('minMs' in minimum)) continue;
    const x = scale.x(minimum.atT);
    const start = scale.x(minimum.startT);
    // Near the right edge the label goes on the left of its line.
    const labelX = x > PLOT_WIDTH - MARGIN_RIGHT - 80 ? `x="${x - 4}" text-anchor="end"` : `x="${x + 4}"`;
    parts.push(
      `<line class="download-start" x1="${start}" y1="${top}" x2="${start}" y2="${bottom}">` +
        `<title>${escapeHtml(`first chunk of ${minimum.file} requested at ${scale.at(minimum.startT)}`)}</title></line>`,
      `<g class="minimum-line" data-file="${escapeHtml(minimum.file)}"><line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}"/>` +
        `<text ${labelX} y="${top + 12}">min ${escapeHtml(formatSeconds(minimum.minMs))}</text>` +
        `<title>${escapeHtml(minimumTitle(minimum))}</title></g>`,
    );
  }
  for (const series of data.progress) {
    const points = series.points.map((p) => `${scale.x(p.t)},${y(p.chunks === 0 ? 0 : p.have / p.chunks)}`);
    const label = `${series.peer} ← ${series.file}`;
    parts.push(
      `<polyline class="progress" data-peer="${escapeHtml(series.peer)}" points="${points.join(' ')}" ` +
        `stroke="${colour(series.peer)}"><title>${escapeHtml(label)}</title></polyline>`,
    );
  }
  parts.push(scale.axis(bottom));
  return (
    `<svg class="plot progress-plot" viewBox="0 0 ${PLOT_WIDTH} ${height}" width="${PLOT_WIDTH}" height="${height}" ` +
    `role="img" aria-label="download progress over time">${parts.join('')}</svg>`
  );
}

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function summaryHtml(data: ReportData): string {
  const status = data.ok ? '<span class="ok">passed</span>' : '<span class="failed">FAILED</span>';
  const error = data.error === undefined ? '' : `<p class="error">${escapeHtml(data.error)}</p>`;
  const started = new Date(data.startedAt).toISOString();
  return (
    `<p>Scenario <b>${escapeHtml(data.scenario)}</b> on run <b>${escapeHtml(data.run)}</b>: ${status} in ` +
    `${escapeHtml(formatSeconds(data.scenarioMs))} (recording started ${escapeHtml(started)}, ` +
    `${data.eventCount} events, ${data.transfers.length} chunk transfers).</p>${error}` +
    table(
      ['NAME', 'ROLE', 'ADDRESS', 'STATE AT THE END', 'UPLOAD LIMIT', 'DOWNLOAD LIMIT'],
      data.nodes.map((n) => [
        n.name,
        n.role,
        n.ip ?? '-',
        n.state,
        n.role === 'peer' ? formatRate(n.uploadBps) : '-',
        n.role === 'peer' ? formatRate(n.downloadBps) : '-',
      ]),
    )
  );
}

function minimumHtml(data: ReportData, scale: TimeScale): string {
  if (data.minimums.length === 0) return '<p class="note">No download, so no minimum distribution time.</p>';
  const items = data.minimums.map((m) => {
    if (!('minMs' in m)) return `<li class="note minimum-note">${escapeHtml(m.note)}</li>`;
    const us = m.seeders.reduce((sum, p) => sum + p.uploadBps, 0);
    const ui = m.downloaders.reduce((sum, p) => sum + p.uploadBps, 0);
    const n = m.downloaders.length;
    const caps = m.downloaders.flatMap((p) => (p.downloadBps === undefined ? [] : [p.downloadBps]));
    const dMin = caps.length === 0 ? undefined : Math.min(...caps);
    const text =
      `${m.file}: F = ${formatBytes(m.fileBytes)}, u_s = ${formatRate(us)} (${m.seeders.map((p) => p.peer).join(', ')}), ` +
      `N = ${n}, Σu_i = ${formatRate(ui)}${dMin === undefined ? '' : `, d_min = ${formatRate(dMin)}`} → ` +
      `max(F/u_s, ${dMin === undefined ? '' : 'F/d_min, '}N·F/(u_s+Σu_i)) = max(${formatSeconds((1000 * m.fileBytes) / us)}, ` +
      `${dMin === undefined ? '' : `${formatSeconds((1000 * m.fileBytes) / dMin)}, `}` +
      `${formatSeconds((1000 * n * m.fileBytes) / (us + ui))}) = ` +
      `${formatSeconds(m.minMs)}, drawn at ${scale.at(m.atT)} (first chunk requested at ${scale.at(m.startT)}).`;
    const measured =
      m.measured === undefined
        ? ''
        : `Measured: the last chunk arrived ${formatSeconds(m.measured.distributionMs)} after the first request, ` +
          `${m.measured.ratio.toFixed(2)} × the minimum (the bound is for the last downloader to finish).`;
    return `<li>${escapeHtml(text)}${measured === '' ? '' : `<br>${escapeHtml(measured)}`}</li>`;
  });
  return `<ul class="minimums">${items.join('')}</ul>`;
}

function marksHtml(data: ReportData, scale: TimeScale): string {
  if (data.marks.length === 0) return '<p class="note">No fault injected, no container changed state.</p>';
  return table(
    ['TIME', 'WHAT'],
    data.marks.map((m) => [scale.at(m.t), m.label]),
  );
}

function failedDownloadsHtml(data: ReportData, scale: TimeScale): string {
  if (data.failedDownloads.length === 0) return '';
  return (
    '<h3>Downloads that failed</h3>' +
    table(
      ['TIME', 'PEER', 'FILE', 'ERROR'],
      data.failedDownloads.map((d) => [scale.at(d.t), d.peer, d.file, d.error]),
    )
  );
}

function swarmHtml(data: ReportData, scale: TimeScale): string {
  if (data.swarm.length === 0) return '<p class="note">No chunk moved.</p>';
  return data.swarm
    .map(
      (file) =>
        `<h3>${escapeHtml(file.file)}, ${formatSeconds(file.windowMs)} at a time</h3>` +
        table(
          ['FROM', 'HOLDERS', 'CHUNKS', 'RATE', 'SENDERS', 'ANSWER p50', 'ANSWER p90'],
          file.windows.map((w) => [
            scale.at(w.t),
            String(w.holders),
            String(w.transfers),
            formatRate((w.bytes * 1000) / file.windowMs),
            String(w.senders),
            w.answerMsP50 === undefined ? '-' : formatSeconds(w.answerMsP50),
            w.answerMsP90 === undefined ? '-' : formatSeconds(w.answerMsP90),
          ]),
        ),
    )
    .join('\n');
}

function downloadsHtml(data: ReportData): string {
  if (data.downloads.length === 0) return '<p class="note">No download finished.</p>';
  return table(
    ['PEER', 'FILE', 'BYTES', 'VERIFIED', 'SHA-256', 'TIME', 'CHUNKS BY SOURCE'],
    data.downloads.map((d) => [
      d.peer,
      d.file,
      String(d.bytes),
      d.verified ? 'yes' : 'NO',
      `${d.sha256.slice(0, 16)}…`,
      d.ms === undefined ? '-' : formatSeconds(d.ms),
      Object.entries(d.chunksBySource)
        .map(([source, n]) => `${source}:${n}`)
        .join(' '),
    ]),
  );
}

function stepsHtml(data: ReportData): string {
  return table(
    ['#', 'ACTION', 'TARGETS', 'OK', 'START', 'TOOK', 'ERROR'],
    data.steps.map((s) => [
      String(s.index + 1),
      s.action,
      s.targets.join(', '),
      s.ok ? 'yes' : 'NO',
      formatSeconds(s.startedAtMs),
      formatSeconds(s.ms),
      s.error ?? '',
    ]),
  );
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px; max-width: 1000px; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 28px 0 8px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 3px 10px; text-align: left; border-bottom: 1px solid #ddd; }
th { font-size: 12px; color: #555; } td { font-variant-numeric: tabular-nums; white-space: nowrap; }
td:last-child { white-space: normal; }
.ok { color: #008a3e; font-weight: bold; } .failed, .error { color: #c00000; font-weight: bold; }
.note { color: #666; } .legend { margin: 4px 0; } .key { margin-right: 12px; white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 4px; }
svg.plot { display: block; font-size: 11px; }
.axis { stroke: #333; } .tick { stroke: #333; } .grid { stroke: #eee; }
.tick-label { text-anchor: middle; fill: #444; } .tick-label.y { text-anchor: end; }
.axis-label { text-anchor: end; fill: #444; } .lane-label { text-anchor: end; fill: #333; }
.lane { fill: #fff; } .lane-even { fill: #f6f7f9; }
.transfer { stroke: none; opacity: 0.85; }
.progress { fill: none; stroke-width: 2; }
.mark { stroke-width: 1.5; stroke-dasharray: 5 3; }
.minimum-line line { stroke: #000; stroke-width: 2; stroke-dasharray: 8 4; } .minimum-line text { fill: #000; font-weight: bold; }
.download-start { stroke: #999; stroke-dasharray: 2 3; }
.mark-key { display: inline-block; width: 18px; border-top: 2px dashed; vertical-align: middle; margin-right: 4px; }
`;

/** The whole report page. */
export function renderReportHtml(data: ReportData): string {
  const scale = new TimeScale(data.fromT, data.toT, data.originT);
  const windowNote =
    data.fromT - data.originT < 1000
      ? ''
      : ` The plots start at ${scale.at(data.fromT)}; what came before (start-up, connect, generate) is in the steps.`;
  const sources = [...new Set(data.transfers.map((p) => p.from))].sort();
  const downloaders = [...new Set(data.progress.map((s) => s.peer))];
  // One colour per peer name, whether it appears as a source or as a downloader.
  const colour = colourOf([...new Set([...sources, ...downloaders].sort())]);
  const markKeys = (['fault', 'node', 'recovery', 'trigger', 'network'] as const)
    .filter((kind) => data.marks.some((m) => m.kind === kind))
    .map(
      (kind) =>
        `<span class="key"><span class="mark-key" style="border-color:${MARK_COLOUR[kind]}"></span>` +
        `${{ fault: 'fault injected', node: 'container state change', recovery: 'recovered', trigger: 'when: trigger fired', network: 'link change' }[kind]}</span>`,
    )
    .join(' ');
  const title = `swarmlab run ${data.run}: ${data.scenario}`;
  return `${staticPageStart(title, STYLE)}
<h1>${escapeHtml(title)}</h1>
<section id="summary">${summaryHtml(data)}</section>
<section id="timeline">
<h2>Chunk transfers</h2>
<p class="note">One dot per verified chunk: x = when it arrived, lane = who received it, height = which chunk,
colour = who sent it. Hover a dot for the details.${escapeHtml(windowNote)}</p>
${legend(sources, colour, 'from')}
${markKeys === '' ? '' : `<p class="legend">${markKeys}</p>`}
${timelineSvg(data, scale, colour)}
</section>
<section id="progress">
<h2>Progress of each downloader</h2>
<p class="note">Chunks held against time; the bold dashed line is the theoretical minimum distribution time
max(F/u_s, F/d_min, N·F/(u_s + Σu_i)) counted from the first chunk request (dotted); F/d_min only where a
downloader's download is capped (its access link or download rate).</p>
${legend(downloaders, colour, 'downloader')}
${progressSvg(data, scale, colour)}
<h3>Theoretical minimum</h3>
${minimumHtml(data, scale)}
</section>
<section id="swarm">
<h2>The swarm over time</h2>
<p class="note">Per window: the peers holding part of the file by its end, the chunks received in it and
from how many distinct senders, and how long their requests waited for an answer (the source's queue
included). Many holders but few senders is discovery (chunks nobody asks for yet); answers many times a
chunk's transfer time are queues at the sources the downloaders found.</p>
${swarmHtml(data, scale)}
</section>
<section id="faults">
<h2>Faults and recoveries</h2>
${marksHtml(data, scale)}
${data.recoverMs === undefined ? '' : `<p>Time to recover: <b>${escapeHtml(formatSeconds(data.recoverMs))}</b> from the fault step to the last verified download.</p>`}
</section>
${networkHtml(data.network)}
<section id="downloads">
<h2>Downloads</h2>
${downloadsHtml(data)}
${failedDownloadsHtml(data, scale)}
</section>
<section id="steps">
<h2>Steps</h2>
${stepsHtml(data)}
</section>
<p class="note">Written by swarmlab; the events are in events.jsonl and the data in report.json beside this file.</p>
</body>
</html>
`;
}
