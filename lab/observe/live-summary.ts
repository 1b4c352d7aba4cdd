/**
 * The compact live view of a big run's downloads: progress per peer and aggregate rates, redrawn at most
 * once a second on a terminal, or one plain line every few seconds when stdout is a pipe or a file.
 * A line per chunk is what the lab prints for a handful of peers; for a hundred it is a hundred thousand
 * lines that the controller spends its CPU on and nobody reads. The per-chunk record stays in the run's
 * events (events.jsonl) and the report either way.
 *
 * `ProgressTally` (the state) and `formatSummary` (the text) are pure; `LiveSummary` adds the timer.
 */

/** A scenario with more peers than this gets the compact summary instead of a line per chunk. */
export const SUMMARY_ABOVE_PEERS = 8;
/** Redraws on a terminal: at most once a second. */
export const TTY_REFRESH_MS = 1_000;
/** Plain lines (stdout not a terminal): one every 5 s keeps a 10-minute run's log at 120 lines. */
export const PLAIN_REFRESH_MS = 5_000;
/** Unfinished peers named on a plain line, slowest first. */
const SLOWEST_SHOWN = 3;
const DEFAULT_WIDTH = 100;
const MIB = 1024 * 1024;

/** What the terminal shows while chunks arrive: `auto` is `summary` above SUMMARY_ABOVE_PEERS peers. */
export type ProgressMode = 'auto' | 'chunks' | 'summary';
export const PROGRESS_MODES: readonly ProgressMode[] = ['auto', 'chunks', 'summary'];

export function usesSummary(mode: ProgressMode, peers: number): boolean {
  return mode === 'summary' || (mode === 'auto' && peers > SUMMARY_ABOVE_PEERS);
}

export type PeerState = 'downloading' | 'done' | 'failed';

export interface PeerProgress {
  peer: string;
  file: string;
  have: number;
  /** 0 until the first chunk or progress event says how many. */
  chunks: number;
  state: PeerState;
  /** A finished download whose file did not match (printed, never folded away). */
  unverified?: boolean;
}

export interface SummaryInput {
  /** Seconds since the scenario started. */
  elapsedS: number;
  peers: readonly PeerProgress[];
  /** Bytes and chunks received by all peers per second, over the last refresh. */
  bytesPerS: number;
  chunksPerS: number;
}

export interface SummaryFormat {
  /** Redrawn block (several lines) on a terminal, or one plain line. */
  tty: boolean;
  /** Terminal columns (DEFAULT_WIDTH when unknown). */
  width?: number;
}

/** Counts what every downloading peer has, and the bytes received, from the events of the downloads. */
export class ProgressTally {
  private readonly peers = new Map<string, PeerProgress>();
  private bytes = 0;
  private chunks = 0;

  /** A download began (or began again: a retry starts from what the peer reports). */
  start(peer: string, file: string): void {
    const known = this.peers.get(peer);
    this.peers.set(peer, { peer, file, have: known?.file === file ? known.have : 0, chunks: 0, state: 'downloading' });
  }

  chunk(peer: string, event: { file: string; chunks: number; bytes: number }): void {
    this.bytes += event.bytes;
    this.chunks += 1;
    const progress = this.ensure(peer, event.file);
    progress.have = Math.min(progress.have + 1, event.chunks);
    progress.chunks = event.chunks;
  }

  /** A peer's own count (it includes chunks kept from before a restart). */
  progress(peer: string, file: string, event: { have: number; chunks: number }): void {
    const progress = this.ensure(peer, file);
    progress.have = Math.max(progress.have, event.have);
    progress.chunks = event.chunks;
  }

  finish(peer: string, file: string, verified: boolean): void {
    const progress = this.ensure(peer, file);
    progress.state = 'done';
    progress.have = progress.chunks;
    if (!verified) progress.unverified = true;
  }

  fail(peer: string, file: string): void {
    this.ensure(peer, file).state = 'failed';
  }

  /** Bytes and chunks received so far, over all peers. */
  get totals(): { bytes: number; chunks: number } {
    return { bytes: this.bytes, chunks: this.chunks };
  }

  /** Every peer, in the order their downloads started. */
  list(): PeerProgress[] {
    return [...this.peers.values()].map((p) => ({ ...p }));
  }

  private ensure(peer: string, file: string): PeerProgress {
    let progress = this.peers.get(peer);
    if (progress === undefined) {
      progress = { peer, file, have: 0, chunks: 0, state: 'downloading' };
      this.peers.set(peer, progress);
    }
    return progress;
  }
}

/**
 * The summary's text. On a terminal: an aggregate line, then every peer as a cell (`peer-7  42%`,
 * `done`, `FAIL`, `BAD` for a file that did not verify) in as many columns as fit. Elsewhere one line:
 * the aggregate and the slowest unfinished peers.
 */
export function formatSummary(input: SummaryInput, format: SummaryFormat): string[] {
  const peers = input.peers;
  const done = peers.filter((p) => p.state === 'done').length;
  const failed = peers.filter((p) => p.state === 'failed').length;
  const have = peers.reduce((sum, p) => sum + p.have, 0);
  const total = peers.reduce((sum, p) => sum + p.chunks, 0);
  const share = total === 0 ? '' : ` (${percent(have, total)})`;
  const aggregate =
    `[${input.elapsedS.toFixed(1).padStart(5)}s] downloads: ${done}/${peers.length} done` +
    `${failed === 0 ? '' : `, ${failed} failed`}; ${have}/${total} chunks${share}; ` +
    `${(input.bytesPerS / MIB).toFixed(1)} MiB/s, ${Math.round(input.chunksPerS)} chunks/s`;
  if (!format.tty) {
    const slowest = peers
      .filter((p) => p.state === 'downloading')
      .sort((a, b) => fraction(a) - fraction(b) || a.peer.localeCompare(b.peer))
      .slice(0, SLOWEST_SHOWN)
      .map((p) => `${p.peer} ${cellState(p)}`);
    const bad = peers.filter((p) => p.unverified === true).map((p) => p.peer);
    return [
      `${aggregate}${slowest.length === 0 ? '' : `; slowest: ${slowest.join(', ')}`}` +
        `${bad.length === 0 ? '' : `; NOT VERIFIED: ${bad.join(', ')}`}`,
    ];
  }
  const nameWidth = Math.max(0, ...peers.map((p) => p.peer.length));
  const cellWidth = nameWidth + 1 + 4; // `peer-12 100%`
  const separator = '  ';
  const width = format.width ?? DEFAULT_WIDTH;
  const perRow = Math.max(1, Math.floor((width + separator.length) / (cellWidth + separator.length)));
  const cells = peers.map((p) => `${p.peer.padEnd(nameWidth)} ${cellState(p).padStart(4)}`);
  const rows: string[] = [];
  for (let i = 0; i < cells.length; i += perRow) rows.push(cells.slice(i, i + perRow).join(separator));
  return [aggregate, ...rows];
}

function fraction(p: PeerProgress): number {
  return p.chunks === 0 ? 0 : p.have / p.chunks;
}

function percent(have: number, total: number): string {
  return `${Math.floor((have / total) * 100)}%`;
}

function cellState(p: PeerProgress): string {
  if (p.state === 'failed') return 'FAIL';
  if (p.state === 'done') return p.unverified === true ? 'BAD' : 'done';
  return p.chunks === 0 ? '-' : percent(p.have, p.chunks);
}

export interface LiveSummaryInit {
  /** Writes one refresh: on a terminal the block replaces the previous one. */
  write: (lines: string[]) => void;
  tty: boolean;
  width?: number;
  /** When the scenario started (Date.now()). */
  startedAtMs: number;
  /** Between refreshes (default TTY_REFRESH_MS on a terminal, PLAIN_REFRESH_MS otherwise). */
  refreshMs?: number;
  now?: () => number;
}

/** The tally with its refresh timer: started by the first download, stopped (with a last refresh) by the runner. */
export class LiveSummary {
  readonly tally = new ProgressTally();
  private readonly init: LiveSummaryInit;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private stopped = false;
  private last: { atMs: number; bytes: number; chunks: number };

  constructor(init: LiveSummaryInit) {
    this.init = init;
    this.now = init.now ?? Date.now;
    this.last = { atMs: this.now(), bytes: 0, chunks: 0 };
  }

  start(peer: string, file: string): void {
    this.tally.start(peer, file);
    this.changed();
  }

  chunk(peer: string, event: { file: string; chunks: number; bytes: number }): void {
    this.tally.chunk(peer, event);
    this.changed();
  }

  progress(peer: string, file: string, event: { have: number; chunks: number }): void {
    this.tally.progress(peer, file, event);
    this.changed();
  }

  finish(peer: string, file: string, verified: boolean): void {
    this.tally.finish(peer, file, verified);
    this.changed();
  }

  fail(peer: string, file: string): void {
    this.tally.fail(peer, file);
    this.changed();
  }

  /** Writes a refresh now if anything changed since the last one. */
  refresh(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const nowMs = this.now();
    const { bytes, chunks } = this.tally.totals;
    const seconds = Math.max((nowMs - this.last.atMs) / 1000, 0.001);
    const input: SummaryInput = {
      elapsedS: (nowMs - this.init.startedAtMs) / 1000,
      peers: this.tally.list(),
      bytesPerS: (bytes - this.last.bytes) / seconds,
      chunksPerS: (chunks - this.last.chunks) / seconds,
    };
    this.last = { atMs: nowMs, bytes, chunks };
    this.init.write(
      formatSummary(input, {
        tty: this.init.tty,
        ...(this.init.width === undefined ? {} : { width: this.init.width }),
      }),
    );
  }

  /** Stops the timer after a last refresh; idempotent. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.refresh();
  }

  private changed(): void {
    this.dirty = true;
    if (this.timer !== undefined || this.stopped) return;
    const refreshMs = this.init.refreshMs ?? (this.init.tty ? TTY_REFRESH_MS : PLAIN_REFRESH_MS);
    this.timer = setInterval(() => this.refresh(), refreshMs);
    this.timer.unref();
  }
}
