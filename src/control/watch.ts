/**
 * The `watch` control command (docs/control.md): streams a peer's own activity (peer-activity.ts) as
 * event lines until the client hangs up. It starts with a `watching` line, then one `held` line per file
 * the peer holds, so a watcher that joins late still knows which chunk maps are full.
 *
 * A watcher that stops reading must not make the peer buffer without bound: past
 * MAX_WATCH_BUFFERED_BYTES unsent, the peer hangs up on it.
 */
import type { PeerNode } from '../peer/peer-node';
import { PEER_ACTIVITY_EVENTS } from '../peer/peer-activity';
import type { PeerActivityEvents } from '../peer/peer-activity';
import type { ControlLine } from './control-schemas';

export const MAX_WATCH_BUFFERED_BYTES = 1024 * 1024;

/** The connection a watch streams to. */
export interface WatchSession {
  /** Aborts when the client goes away (or the peer stops). */
  signal: AbortSignal;
  /** Bytes written to the client and not yet sent. */
  bufferedBytes(): number;
  /** Hangs up on the client. */
  drop(): void;
}

export async function watchActivity(
  node: PeerNode,
  id: number | string,
  send: (line: ControlLine) => void,
  session: WatchSession,
): Promise<Record<string, never>> {
  const emit = (event: string, payload: object): void => {
    if (session.signal.aborted) return;
    send({ id, event, ...payload });
    if (session.bufferedBytes() > MAX_WATCH_BUFFERED_BYTES) {
      node.logger.warn('dropping a watch client that does not read', { bufferedBytes: session.bufferedBytes() });
      session.drop();
    }
  };
  // First line: the watch is attached, so a client can act knowing it will see what follows.
  emit('watching', { peer: node.name });
  for (const file of node.store.all()) {
    emit('held', {
      file: file.manifest.name,
      fileId: file.fileId,
      size: file.manifest.size,
      chunks: file.manifest.chunks.length,
      have: file.bitfield.count,
      complete: file.complete,
    });
  }
  const listeners = PEER_ACTIVITY_EVENTS.map((name) => {
    const listener = (payload: PeerActivityEvents[typeof name][0]): void => emit(name, payload);
    return { name, listener };
  });
  // Several watchers (a dashboard, a student's terminal) are normal: no max-listeners warning.
  node.activity.setMaxListeners(0);
  for (const { name, listener } of listeners) node.activity.on(name, listener);
  try {
    if (!session.signal.aborted) {
      await new Promise<void>((resolve) => session.signal.addEventListener('abort', () => resolve(), { once: true }));
    }
  } finally {
    for (const { name, listener } of listeners) node.activity.off(name, listener);
  }
  return {};
}
