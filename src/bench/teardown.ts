/**
 * Teardowns for whatever a bench phase has running (peer processes, a tracker, temp directories of up
 * to a few GiB), so that Ctrl-C or SIGTERM in the middle of a run leaves nothing behind.
 */
const teardowns = new Set<() => Promise<void>>();

/** Registers a teardown; call the returned function once the phase cleaned up by itself. */
export function registerTeardown(teardown: () => Promise<void>): () => void {
  teardowns.add(teardown);
  return () => teardowns.delete(teardown);
}

export async function runTeardowns(): Promise<void> {
  const pending = [...teardowns];
  teardowns.clear();
  await Promise.allSettled(pending.map((teardown) => teardown()));
}
