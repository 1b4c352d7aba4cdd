/**
 * The compact live summary of a big run's downloads: its text (pure), its refresh (at most once per
 * interval), the printer's in-place redraw on a terminal, and the download step feeding it instead of
 * printing a line per chunk.
 */
import type { LabRun } from '../../lab/controller';
import {
  LiveSummary,
  ProgressTally,
  formatSummary,
  usesSummary,
  type PeerProgress,
} from '../../lab/observe/live-summary';
import type { RunEvent } from '../../lab/observe/run-events';
import { RunRecorder } from '../../lab/observe/run-events';
import { Printer } from '../../lab/print';
import type { StepContext } from '../../lab/scenario/step-handler';
import { downloadStep } from '../../lab/scenario/steps/downloads';
import type { DownloadStep } from '../../lab/scenario/schema';

const MIB = 1024 * 1024;

function peer(name: string, have: number, chunks: number, state: PeerProgress['state'] = 'downloading'): PeerProgress {
  return { peer: name, file: 'f.bin', have, chunks, state };
}

describe('usesSummary', () => {
  it('is the summary above 8 peers in auto, and whatever was asked otherwise', () => {
    expect(usesSummary('auto', 8)).toBe(false);
    expect(usesSummary('auto', 9)).toBe(true);
    expect(usesSummary('summary', 2)).toBe(true);
    expect(usesSummary('chunks', 200)).toBe(false);
  });
});

describe('formatSummary', () => {
  const input = {
    elapsedS: 42,
    peers: [
      peer('peer-2', 10, 10, 'done'),
      peer('peer-3', 5, 10),
      peer('peer-4', 1, 10),
      peer('peer-5', 0, 10, 'failed'),
      peer('peer-10', 3, 10),
      peer('peer-11', 0, 0),
    ],
    bytesPerS: 12.5 * MIB,
    chunksPerS: 199.6,
  };

  it('is one plain line off a terminal: counts, share, rates and the slowest peers', () => {
    expect(formatSummary(input, { tty: false })).toEqual([
      '[ 42.0s] downloads: 1/6 done, 1 failed; 19/50 chunks (38%); 12.5 MiB/s, 200 chunks/s; ' +
        'slowest: peer-11 -, peer-4 10%, peer-10 30%',
    ]);
  });

  it('names a copy that did not verify', () => {
    const bad = { ...peer('peer-7', 10, 10, 'done'), unverified: true };
    expect(formatSummary({ ...input, peers: [bad] }, { tty: false })[0]).toMatch(/NOT VERIFIED: peer-7$/);
    expect(formatSummary({ ...input, peers: [bad] }, { tty: true })[1]).toBe('peer-7  BAD');
  });

  it('is an aggregate line and a grid of peers that fits the width on a terminal', () => {
    const lines = formatSummary(input, { tty: true, width: 40 });
    expect(lines).toEqual([
      '[ 42.0s] downloads: 1/6 done, 1 failed; 19/50 chunks (38%); 12.5 MiB/s, 200 chunks/s',
      'peer-2  done  peer-3   50%  peer-4   10%',
      'peer-5  FAIL  peer-10  30%  peer-11    -',
    ]);
    for (const line of lines.slice(1)) expect(line.length).toBeLessThanOrEqual(40);
  });

  it('keeps 200 peers to a screenful', () => {
    const many = Array.from({ length: 200 }, (_, i) => peer(`peer-${i + 1}`, i % 11, 10));
    expect(formatSummary({ ...input, peers: many }, { tty: true, width: 120 }).length).toBeLessThanOrEqual(26);
    expect(formatSummary({ ...input, peers: many }, { tty: false })).toHaveLength(1);
  });
});

describe('ProgressTally', () => {
  it('counts chunks per peer and in all, takes the peer’s own count when larger, and marks the end', () => {
    const tally = new ProgressTally();
    tally.start('peer-2', 'f.bin');
    tally.start('peer-3', 'f.bin');
    tally.chunk('peer-2', { file: 'f.bin', chunks: 4, bytes: 100 });
    tally.chunk('peer-2', { file: 'f.bin', chunks: 4, bytes: 100 });
    tally.progress('peer-3', 'f.bin', { have: 3, chunks: 4 });
    tally.chunk('peer-3', { file: 'f.bin', chunks: 4, bytes: 100 });
    expect(tally.totals).toEqual({ bytes: 300, chunks: 3 });
    expect(tally.list().map((p) => [p.peer, p.have, p.chunks, p.state])).toEqual([
      ['peer-2', 2, 4, 'downloading'],
      ['peer-3', 4, 4, 'downloading'],
    ]);
    tally.finish('peer-2', 'f.bin', true);
    tally.fail('peer-3', 'f.bin');
    expect(tally.list().map((p) => [p.peer, p.have, p.state])).toEqual([
      ['peer-2', 4, 'done'],
      ['peer-3', 4, 'failed'],
    ]);
  });
});

describe('LiveSummary', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('refreshes at most once per interval, only after a change, and once more when stopped', () => {
    let nowMs = 0;
    const writes: string[][] = [];
    const summary = new LiveSummary({
      write: (lines) => writes.push(lines),
      tty: false,
      startedAtMs: 0,
      refreshMs: 1_000,
      now: () => nowMs,
    });
    summary.start('peer-2', 'f.bin');
    for (let i = 0; i < 50; i++) summary.chunk('peer-2', { file: 'f.bin', chunks: 100, bytes: MIB / 50 });
    expect(writes).toHaveLength(0);
    nowMs = 1_000;
    jest.advanceTimersByTime(1_000);
    expect(writes).toEqual([
      ['[  1.0s] downloads: 0/1 done; 50/100 chunks (50%); 1.0 MiB/s, 50 chunks/s; slowest: peer-2 50%'],
    ]);
    nowMs = 3_000;
    jest.advanceTimersByTime(2_000); // nothing changed: nothing written
    expect(writes).toHaveLength(1);
    summary.finish('peer-2', 'f.bin', true);
    summary.stop();
    expect(writes).toHaveLength(2);
    expect(writes[1]![0]).toMatch(/^\[ {2}3\.0s\] downloads: 1\/1 done; 100\/100 chunks \(100%\); 0\.0 MiB\/s/);
    summary.chunk('peer-2', { file: 'f.bin', chunks: 100, bytes: 1 });
    jest.advanceTimersByTime(5_000);
    expect(writes).toHaveLength(2);
  });
});

describe('Printer.liveBlock', () => {
  it('redraws the block in place on a terminal while nothing else was printed under it', () => {
    const out: string[] = [];
    const printer = new Printer({ out: { write: (line) => out.push(line), isTTY: true, columns: 80 } });
    printer.liveBlock(['a', 'b']);
    printer.liveBlock(['c', 'd', 'e']);
    expect(out).toEqual(['a', 'b', '\x1b[2F\x1b[Jc', 'd', 'e']);
    printer.line('step 4/4');
    printer.liveBlock(['f']);
    expect(out.slice(5)).toEqual(['step 4/4', 'f']);
  });

  it('only prints lines when stdout is not a terminal', () => {
    const out: string[] = [];
    const printer = new Printer({ out: { write: (line) => out.push(line) } });
    printer.liveBlock(['a']);
    printer.liveBlock(['b']);
    expect(out).toEqual(['a', 'b']);
  });
});

describe('the download step with a live summary', () => {
  const CHUNKS = 4;

  /** A StepContext around a fake peer whose download streams CHUNKS chunk events. */
  function context(summary: LiveSummary | undefined, out: string[]): StepContext {
    const control = {
      request: (
        _command: string,
        _args: unknown,
        init: { onEvent?: (event: Record<string, unknown>) => void },
      ): Promise<unknown> => {
        for (let index = 0; index < CHUNKS; index++) {
          init.onEvent?.({ event: 'chunk', file: 'f.bin', index, chunks: CHUNKS, from: 'peer-1', bytes: 1024 });
        }
        return Promise.resolve({ path: '/data/f.bin', verified: true, sha256: 'a'.repeat(64), chunksBySource: {} });
      },
      sha256: () => Promise.resolve('a'.repeat(64)),
      fileSize: () => Promise.resolve(CHUNKS * 1024),
    };
    const run = {
      peer: () => ({ control }),
      refresh: () => Promise.resolve({ ip: '172.30.0.2' }),
    } as unknown as LabRun;
    return {
      run,
      printer: new Printer({ out: { write: (line) => out.push(line) } }),
      recorder: new RunRecorder(),
      printChunks: summary === undefined,
      ...(summary === undefined ? {} : { summary }),
      scenarioSignal: new AbortController().signal,
      startedAtMs: Date.now(),
      expectedSha: new Map([['f.bin', 'a'.repeat(64)]]),
      downloads: new Map(),
      pending: [],
    } as unknown as StepContext;
  }

  const step: DownloadStep = { action: 'download', peers: ['peer-2', 'peer-3'], file: 'f.bin' };

  it('prints a line per chunk without a summary', async () => {
    const out: string[] = [];
    await downloadStep.run(step, ['peer-2', 'peer-3'], context(undefined, out), new AbortController().signal);
    expect(out.filter((line) => / <- chunk \d\/4 of f\.bin from peer-1$/.test(line))).toHaveLength(2 * CHUNKS);
  });

  it('feeds the summary instead, and still records every chunk for events.jsonl', async () => {
    const out: string[] = [];
    const written: string[][] = [];
    const summary = new LiveSummary({ write: (lines) => written.push(lines), tty: false, startedAtMs: 0 });
    const ctx = context(summary, out);
    await downloadStep.run(step, ['peer-2', 'peer-3'], ctx, new AbortController().signal);
    summary.stop();
    expect(out).toEqual([]);
    expect(summary.tally.list().map((p) => [p.peer, p.have, p.state])).toEqual([
      ['peer-2', CHUNKS, 'done'],
      ['peer-3', CHUNKS, 'done'],
    ]);
    expect(written.at(-1)?.[0]).toMatch(/downloads: 2\/2 done; 8\/8 chunks \(100%\)/);
    const transfers = ctx.recorder?.events.filter((e: RunEvent) => e.type === 'transfer');
    expect(transfers).toHaveLength(2 * CHUNKS);
  });

  it('prints why a download failed, which the summary only counts', async () => {
    const out: string[] = [];
    const summary = new LiveSummary({ write: () => undefined, tty: false, startedAtMs: 0 });
    const ctx = context(summary, out);
    const failing = {
      request: () => Promise.reject(Object.assign(new Error('no answer from the tracker'), { code: 'ERR_X' })),
    };
    (ctx.run as unknown as { peer: () => unknown }).peer = () => ({ control: failing });
    await expect(downloadStep.run(step, ['peer-2'], ctx, new AbortController().signal)).rejects.toThrow(
      /no answer from the tracker/,
    );
    summary.stop();
    expect(summary.tally.list().map((p) => p.state)).toEqual(['failed']);
    expect(out).toEqual([expect.stringMatching(/peer-2: download of f\.bin failed: .*no answer from the tracker/)]);
  });
});
