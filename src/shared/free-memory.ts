/**
 * Frees the memory behind a buffer now rather than at the next full garbage collection.
 *
 * A buffer that lived a while (an idle pooled chunk, a frame that arrived slowly) has been promoted
 * to V8's old generation, and its memory goes back to the allocator only when a full collection runs:
 * in a process whose heap is small and steady that can take minutes, while the allocator hands out
 * fresh memory for new buffers and the process's footprint climbs. Moving the memory into a new,
 * young ArrayBuffer that nothing references (a transfer, no copy) frees it at the next minor
 * collection, which runs every few MB of allocation.
 *
 * Only for memory nobody uses any more: every view of it becomes empty. A view that does not cover
 * its whole ArrayBuffer (e.g. a slice of Node's shared 8 KiB allocation slab) is left alone.
 */
import { isArrayBuffer } from 'node:util/types';

/** Frees `memory` now; false when it was already empty or cannot be transferred. */
export function freeMemoryNow(memory: ArrayBufferLike): boolean {
  if (!isArrayBuffer(memory) || memory.byteLength === 0) return false;
  try {
    structuredClone(memory, { transfer: [memory] });
    return true;
  } catch {
    // Not detachable (e.g. memory Node or an addon pinned): the collector frees it in its own time.
    return false;
  }
}

/** Frees the memory of `view` now when the view is the whole of it (see freeMemoryNow). */
export function freeBufferNow(view: Uint8Array): boolean {
  const memory = view.buffer;
  if (view.byteOffset !== 0 || view.byteLength !== memory.byteLength) return false;
  return freeMemoryNow(memory);
}
