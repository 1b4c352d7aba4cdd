/**
 * The swarm a window of time at a time, from the recorded events alone: how many peers held part of
 * the file, how many chunks moved and from how many distinct senders, and how long the answered
 * requests waited (request to answer: the downloader's `ms`, which includes the source's queue).
 *
 * It tells apart the ways a swarm falls short of its minimum. Many holders and few senders is
 * discovery: peers hold chunks that nobody asks them for yet. Answers that take many times a chunk's
 * transfer time are queues at the sources the downloaders did find. Both with every sender busy is the
 * upload (or the CPU behind it).
 */
import { happenedT, inHappenedOrder } from './run-events';
import type { RunEvent } from './run-events';
import type { EventOf } from './run-state';

export interface SwarmWindow {
  /** The window's start, ms since the recording started (like every event's `t`). */
  t: number;
  /** Peers holding at least one chunk of the file by the window's end (its publishers included). */
  holders: number;
  /** Chunks received in the window, and their bytes. */
  transfers: number;
  bytes: number;
  /** Distinct peers that sent those chunks. */
  senders: number;
  /** Request-to-answer time of those chunks, ms: median and 90th percentile (absent when none said). */
  answerMsP50?: number;
  answerMsP90?: number;
}

export interface FileSwarmWindows {
  file: string;
  /** The length of every window, ms: a whole number of seconds. */
  windowMs: number;
  windows: SwarmWindow[];
}

/** About this many windows per file: a table that fits a screen, however long the run. */
export const SWARM_WINDOWS = 30;

/** Per file with transfers: its windows from the first chunk received to the last. */
export function swarmWindows(events: readonly RunEvent[], maxWindows = SWARM_WINDOWS): FileSwarmWindows[] {
  const transfersByFile = new Map<string, EventOf<'transfer'>[]>();
  for (const event of events) {
    if (event.type !== 'transfer') continue;
    const list = transfersByFile.get(event.file) ?? [];
    list.push(event);
    transfersByFile.set(event.file, list);
  }
  return [...transfersByFile].map(([file, transfers]) => {
    const publishedAt = events.filter((e): e is EventOf<'file'> => e.type === 'file' && e.file === file);
    return windowsOf(file, inHappenedOrder(transfers), publishedAt, maxWindows);
  });
}

function windowsOf(
  file: string,
  transfers: readonly EventOf<'transfer'>[],
  published: readonly EventOf<'file'>[],
  maxWindows: number,
): FileSwarmWindows {
  const firstT = happenedT(transfers[0]!);
  const spanMs = happenedT(transfers[transfers.length - 1]!) - firstT;
  const windowMs = Math.max(1000, Math.ceil(spanMs / Math.max(1, maxWindows) / 1000) * 1000);
  const count = Math.floor(spanMs / windowMs) + 1;
  const windows: SwarmWindow[] = [];
  const holders = new Set<string>();
  let nextTransfer = 0;
  let nextPublished = 0;
  for (let w = 0; w < count; w++) {
    const startT = firstT + w * windowMs;
    const endT = startT + windowMs;
    let transfersIn = 0;
    let bytes = 0;
    const senders = new Set<string>();
    const answerMs: number[] = [];
    for (; nextPublished < published.length && published[nextPublished]!.t < endT; nextPublished++)
      holders.add(published[nextPublished]!.peer);
    for (; nextTransfer < transfers.length && happenedT(transfers[nextTransfer]!) < endT; nextTransfer++) {
      const transfer = transfers[nextTransfer]!;
      transfersIn++;
      bytes += transfer.bytes;
      senders.add(transfer.from);
      // A sender holds what it sends, whether or not a `file` event said so (a peer restarted with its data).
      holders.add(transfer.from);
      holders.add(transfer.to);
      if (transfer.ms !== undefined) answerMs.push(transfer.ms);
    }
    answerMs.sort((a, b) => a - b);
    windows.push({
      t: startT,
      holders: holders.size,
      transfers: transfersIn,
      bytes,
      senders: senders.size,
      ...(answerMs.length === 0
        ? {}
        : { answerMsP50: percentile(answerMs, 0.5), answerMsP90: percentile(answerMs, 0.9) }),
    });
  }
  return { file, windowMs, windows };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}
