/**
 * What a peer does, as events anyone may follow: files published, downloads started and finished, every
 * verified chunk received (from whom, to whom) and download progress. The control socket's `watch`
 * command streams them (docs/control.md), so the lab's dashboard can show transfers started by hand.
 */
import type { EventEmitter } from 'node:events';

import { errorCode, errorMessage } from '../shared/errors';
import type { ChunkTransferEvent, DownloadSchedulerEvents, ProgressEvent } from './download-scheduler';

export interface PublishedActivity {
  file: string;
  fileId: string;
  size: number;
  chunks: number;
}

export interface DownloadStartedActivity {
  fileId: string;
  /** The name asked for, when the download was asked for by name. */
  file?: string;
}

export interface ProgressActivity extends ProgressEvent {
  fileId: string;
  file?: string;
}

export interface DownloadFinishedActivity {
  fileId: string;
  file?: string;
  /** Not `ok`: on the control socket that key marks a response line, and this is an event. */
  succeeded: boolean;
  verified?: boolean;
  bytes?: number;
  ms?: number;
  chunksBySource?: Record<string, number>;
  code?: string;
  error?: string;
}

/** Event name → listener arguments (kebab-case names, one typed map). */
export interface PeerActivityEvents {
  published: [PublishedActivity];
  'download-started': [DownloadStartedActivity];
  chunk: [ChunkTransferEvent];
  progress: [ProgressActivity];
  'download-finished': [DownloadFinishedActivity];
}

export const PEER_ACTIVITY_EVENTS: ReadonlyArray<keyof PeerActivityEvents> = [
  'published',
  'download-started',
  'chunk',
  'progress',
  'download-finished',
];

/** The outcome of a download, as far as the activity stream tells it. */
interface FinishedDownload {
  file: string;
  bytes: number;
  ms: number;
  verified: boolean;
  chunksBySource: Record<string, number>;
}

/**
 * Reports one download (started now) on `activity`: its chunk and progress events as they come, then how
 * it ended. Called once per download, however many callers join it.
 */
export function followDownload(
  activity: EventEmitter<PeerActivityEvents>,
  started: DownloadStartedActivity,
  events: EventEmitter<DownloadSchedulerEvents>,
  done: Promise<FinishedDownload>,
): void {
  let file = started.file;
  const { fileId } = started;
  activity.emit('download-started', { ...started });
  events.on('chunk', (chunk) => {
    file = chunk.file;
    activity.emit('chunk', chunk);
  });
  events.on('progress', (progress) => activity.emit('progress', { ...progress, fileId, ...(file ? { file } : {}) }));
  done.then(
    (outcome) =>
      activity.emit('download-finished', {
        fileId,
        file: outcome.file,
        succeeded: true,
        verified: outcome.verified,
        bytes: outcome.bytes,
        ms: outcome.ms,
        chunksBySource: outcome.chunksBySource,
      }),
    (error: unknown) =>
      activity.emit('download-finished', {
        fileId,
        ...(file ? { file } : {}),
        succeeded: false,
        code: errorCode(error),
        error: errorMessage(error),
      }),
  );
}
