/**
 * The lab's only printing module: tables, transcripts and results go to stdout from here. Logs go to
 * stderr through the logger; a `--json` result is always the last stdout line, a single JSON record.
 */
import type { LabContainer } from './engine/lab-docker';
import type { ChunkEvent, FilesResult, StatusResult } from './peer-control';
import type { ChaosResult, DownloadReport } from './report-types';

export interface Output {
  write(line: string): void;
  /** A terminal, where a live block can be redrawn in place (default false). */
  readonly isTTY?: boolean;
  /** Its width in columns. */
  readonly columns?: number;
}

const stdoutOutput: Output = {
  write: (line) => process.stdout.write(`${line}\n`),
  get isTTY() {
    return process.stdout.isTTY;
  },
  get columns() {
    return process.stdout.columns;
  },
};

/** ANSI: move to the start of the line `n` lines up, then clear to the end of the screen. */
const redrawFrom = (n: number): string => `\x1b[${n}F\x1b[J`;

export class Printer {
  private readonly out: Output;
  /** The `[  12.3s]` stamps count from here. */
  readonly startedAtMs: number;
  /** Lines written so far, and where the live block ended, to know whether it can be redrawn in place. */
  private written = 0;
  private live: { endsAt: number; lines: number } | undefined;

  constructor(init: { out?: Output; startedAtMs?: number } = {}) {
    this.out = init.out ?? stdoutOutput;
    this.startedAtMs = init.startedAtMs ?? Date.now();
  }

  line(text = ''): void {
    this.written += 1;
    this.out.write(text);
  }

  /** The final `--json` record: exactly one line. */
  json(value: unknown): void {
    this.line(JSON.stringify(value));
  }

  /** Whether stdout is a terminal (a live summary is redrawn there, printed as plain lines elsewhere). */
  get isTty(): boolean {
    return this.out.isTTY === true;
  }

  get columns(): number | undefined {
    return this.out.columns;
  }

  /**
   * A live block (the downloads' summary). On a terminal, a block that nothing was printed under since its
   * last refresh is redrawn in place; otherwise, and elsewhere, its lines are just printed.
   */
  liveBlock(lines: readonly string[]): void {
    const inPlace = this.isTty && this.live !== undefined && this.live.endsAt === this.written;
    lines.forEach((text, i) => this.line(i === 0 && inPlace ? `${redrawFrom(this.live?.lines ?? 0)}${text}` : text));
    this.live = { endsAt: this.written, lines: lines.length };
  }

  images(images: { role: string; name: string; sizeBytes: number | undefined }[]): void {
    this.table(
      ['ROLE', 'IMAGE', 'SIZE'],
      images.map((i) => [i.role, i.name, i.sizeBytes === undefined ? '?' : formatBytes(i.sizeBytes)]),
    );
  }

  containers(containers: LabContainer[]): void {
    this.table(
      ['NAME', 'IP', 'ROLE', 'STATE'],
      containers.map((c) => [
        c.name,
        c.ip ?? '-',
        c.role ?? '?',
        c.health === undefined ? c.state : `${c.state} (${c.health})`,
      ]),
    );
  }

  runs(runs: string[]): void {
    if (runs.length === 0) this.line('no runs');
    else for (const run of runs) this.line(run);
  }

  status(rows: { container: LabContainer; status?: StatusResult; error?: string }[]): void {
    this.table(
      ['NAME', 'IP', 'ROLE', 'STATE', 'TRACKER', 'FILES'],
      rows.map(({ container, status, error }) => [
        container.name,
        container.ip ?? '-',
        container.role ?? '?',
        container.health === undefined ? container.state : `${container.state} (${container.health})`,
        status === undefined
          ? container.role === 'peer'
            ? '-'
            : ''
          : status.connected === true
            ? 'connected'
            : 'disconnected',
        error !== undefined
          ? `(${error})`
          : (status?.files ?? []).map((f) => (f.complete ? f.name : `${f.name} ${f.have}/${f.chunks}`)).join(', ') ||
            (container.role === 'peer' ? '(none)' : ''),
      ]),
    );
  }

  step(index: number, total: number, description: string, note?: string): void {
    this.line(`[${this.elapsed()}] step ${index + 1}/${total} ${description}${note === undefined ? '' : ` # ${note}`}`);
  }

  stepFailed(index: number, message: string): void {
    this.line(`[${this.elapsed()}] step ${index + 1} FAILED: ${message}`);
  }

  info(text: string): void {
    this.line(`[${this.elapsed()}] ${text}`);
  }

  /** `peer-3 (172.18.0.4) <- chunk 7/32 of file1_dir1.txt from peer-2 (172.18.0.3:7071)` */
  chunk(to: { name: string; ip: string | undefined }, event: ChunkEvent): void {
    const from = event.from === '' ? (event.fromId ?? '?') : event.from;
    const fromAddr = event.fromAddr === undefined ? '' : ` (${event.fromAddr})`;
    this.line(
      `${to.name} (${to.ip ?? '?'}) <- chunk ${event.index + 1}/${event.chunks} of ${event.file} from ${from}${fromAddr}`,
    );
  }

  files(peer: string, result: FilesResult): void {
    this.line(`${peer}: ${result.files.length} file(s) on the tracker`);
    this.table(
      ['  NAME', 'SIZE', 'CHUNKS', 'HOLDERS', 'FILE ID'],
      result.files.map((f) => [
        `  ${f.name}`,
        formatBytes(f.size),
        String(f.chunks),
        String(f.holders ?? '?'),
        f.fileId.slice(0, 16),
      ]),
    );
  }

  peerStatus(peer: string, status: StatusResult): void {
    const files = (status.files ?? []).map((f) => (f.complete ? f.name : `${f.name} ${f.have}/${f.chunks}`)).join(', ');
    this.line(`${peer}: ${status.connected === true ? 'connected' : 'not connected'}; files: ${files || '(none)'}`);
  }

  downloads(reports: DownloadReport[]): void {
    for (const r of reports) {
      const sources = Object.entries(r.chunksBySource)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([source, n]) => `${source}: ${n}`)
        .join(', ');
      this.line(
        `${r.peer}: ${r.file} ${r.bytes} bytes sha256 ${r.sha256} verified ${r.verified ? 'yes' : 'NO'} ` +
          `chunks from {${sources}}${r.ms === undefined ? '' : ` in ${r.ms} ms`}`,
      );
    }
  }

  /** The chaos summary: one row per fault. */
  chaos(results: readonly ChaosResult[]): void {
    this.table(
      ['FAULT', 'SURVIVED', 'BYTES VERIFIED', 'TIME TO RECOVER'],
      results.map((r) => [
        r.fault,
        r.survived ? 'yes' : 'NO',
        String(r.bytesVerified),
        r.recoverS === null ? '-' : `${r.recoverS.toFixed(1)} s`,
      ]),
    );
  }

  logs(name: string, text: string): void {
    for (const line of text.split('\n')) if (line.length > 0) this.line(`${name} | ${line}`);
  }

  private elapsed(): string {
    return `${((Date.now() - this.startedAtMs) / 1000).toFixed(1).padStart(5)}s`;
  }

  private table(headers: string[], rows: string[][]): void {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const render = (cells: string[]): string =>
      cells
        .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd();
    this.line(render(headers));
    for (const row of rows) this.line(render(row));
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
