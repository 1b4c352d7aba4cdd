/**
 * Reads the JSON-lines progress stream that the Engine API returns for build, pull and import, and
 * turns an `{error, errorDetail}` line into a rejection (the HTTP status is 200 even when a build fails).
 */
import type { Readable } from 'node:stream';

import { ERROR_CODES } from '../errors';

/** One line of a build/pull/import progress stream. */
export interface DockerStreamEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  aux?: { ID?: string };
  error?: string;
  errorDetail?: { message?: string };
}

export class DockerStreamError extends Error {
  readonly code = ERROR_CODES.DOCKER_STREAM;
  constructor(message = 'the Docker engine reported an error') {
    super(message);
    this.name = 'DockerStreamError';
  }
}

/**
 * Resolves with every event once the stream ends; rejects on the first error event, on a stream error,
 * or when `signal` aborts (the stream is then destroyed, which cancels the request on the engine side).
 */
export async function followDockerStream(
  stream: Readable,
  onEvent?: (event: DockerStreamEvent) => void,
  signal?: AbortSignal,
): Promise<DockerStreamEvent[]> {
  return new Promise<DockerStreamEvent[]>((resolve, reject) => {
    const events: DockerStreamEvent[] = [];
    let pending = '';
    let settled = false;

    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', finish);
      signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) {
        stream.destroy();
        reject(err);
      } else resolve(events);
    };
    const handleLine = (line: string): void => {
      if (line.trim() === '') return;
      let event: DockerStreamEvent;
      try {
        event = JSON.parse(line) as DockerStreamEvent;
      } catch {
        event = { stream: line };
      }
      events.push(event);
      if (event.error !== undefined || event.errorDetail !== undefined) {
        finish(new DockerStreamError(event.errorDetail?.message ?? event.error));
        return;
      }
      onEvent?.(event);
    };
    const onData = (chunk: Buffer | string): void => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) handleLine(line);
    };
    const onEnd = (): void => {
      handleLine(pending);
      pending = '';
      finish();
    };
    const onAbort = (): void => {
      finish(signal?.reason instanceof Error ? signal.reason : new DockerStreamError('aborted'));
    };

    if (signal?.aborted === true) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    stream.on('error', finish);
  });
}
