/**
 * Copies of the chunks a download received last, so that serving them to the other downloaders needs
 * no disk read. In a swarm a chunk is asked of its new holder soon after the holder announces it (it
 * is rare then, and rarest first picks it), and each of those reads was a trip through libuv's thread
 * pool: a job, a pool thread's wake-up and the event loop's, for bytes that were in memory a moment
 * before. Bounded in bytes, oldest out first; a chunk larger than `maxChunkBytes` is not kept (its
 * read costs little beside its bytes).
 *
 * The copies go into buffers the cache let go of, not into new ones: a fresh buffer of a chunk's size
 * is memory the process maps, faults in page by page and unmaps again when the garbage collector frees
 * it, and that cost several times the copy itself (docs/benchmarks.md). A buffer is recycled only when
 * nobody holds it: `pin` hands out a kept chunk that stays the chunk (never written again) until its
 * `unpin`, even after the cache has let it go. A pin never returned only costs the recycling.
 */

/** Bytes of recent chunks a peer keeps: 16 chunks of 64 KiB, two seconds of a download at 0.5 MiB/s. */
export const RECENT_CHUNK_BYTES = 1024 * 1024;
/** Chunks larger than this are read from disk when served. */
export const MAX_RECENT_CHUNK_BYTES = 256 * 1024;

export interface RecentChunksInit {
  /** Bytes kept at most (default RECENT_CHUNK_BYTES). */
  maxBytes?: number;
  /** Larger chunks are not kept (default MAX_RECENT_CHUNK_BYTES). */
  maxChunkBytes?: number;
}

export class RecentChunks {
  /** In insertion order, so the first entry is the oldest. */
  private readonly chunks = new Map<string, Buffer>();
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly maxChunkBytes: number;
  /** Pins per buffer handed out by `pin` and not yet returned. */
  private readonly pins = new Map<Buffer, number>();
  /** Buffers let go while pinned: recycled when their last pin returns. */
  private readonly letGoPinned = new Set<Buffer>();
  /** Buffers let go and held by nobody, for the next chunks (at most maxBytes of them). */
  private readonly spare: Buffer[] = [];
  private spareBytes = 0;

  constructor(init: RecentChunksInit = {}) {
    this.maxBytes = init.maxBytes ?? RECENT_CHUNK_BYTES;
    this.maxChunkBytes = Math.min(init.maxChunkBytes ?? MAX_RECENT_CHUNK_BYTES, this.maxBytes);
  }

  get size(): number {
    return this.chunks.size;
  }

  /** Buffers waiting to be reused (for tests and diagnostics). */
  get spareCount(): number {
    return this.spare.length;
  }

  /** Keeps a copy of `data` (the caller may reuse its buffer at once). */
  keep(fileId: string, index: number, data: Buffer): void {
    if (data.length > this.maxChunkBytes) return;
    const key = keyOf(fileId, index);
    if (this.chunks.has(key)) return;
    while (this.bytes + data.length > this.maxBytes) {
      const [oldestKey, oldest] = this.chunks.entries().next().value!;
      this.chunks.delete(oldestKey);
      this.bytes -= oldest.length;
      this.letGo(oldest);
    }
    const copy = this.bufferOf(data.length);
    data.copy(copy);
    this.chunks.set(key, copy);
    this.bytes += copy.length;
  }

  /**
   * Chunk `index` as kept, or undefined. The buffer is not written again until `unpin(buffer)`, even
   * if the cache lets the chunk go meanwhile; each pin needs its own unpin.
   */
  pin(fileId: string, index: number): Buffer | undefined {
    const kept = this.chunks.get(keyOf(fileId, index));
    if (kept) this.pins.set(kept, (this.pins.get(kept) ?? 0) + 1);
    return kept;
  }

  /** Returns a pin taken by `pin`: a buffer the cache has let go of is reused once nobody holds it. */
  unpin(buffer: Buffer): void {
    const pins = this.pins.get(buffer);
    if (pins === undefined) return;
    if (pins > 1) {
      this.pins.set(buffer, pins - 1);
      return;
    }
    this.pins.delete(buffer);
    if (this.letGoPinned.delete(buffer)) this.letGo(buffer);
  }

  /** Copies chunk `index` into a buffer from `allocate`, or returns undefined when it is not kept. */
  copyOut(fileId: string, index: number, allocate: (bytes: number) => Buffer): Buffer | undefined {
    const kept = this.chunks.get(keyOf(fileId, index));
    if (!kept) return undefined;
    const buffer = allocate(kept.length);
    kept.copy(buffer);
    return buffer;
  }

  /** Forgets every chunk of `fileId`. */
  drop(fileId: string): void {
    for (const [key, chunk] of this.chunks) {
      if (!key.endsWith(`:${fileId}`)) continue;
      this.chunks.delete(key);
      this.bytes -= chunk.length;
      this.letGo(chunk);
    }
  }

  private letGo(buffer: Buffer): void {
    if (this.pins.has(buffer)) this.letGoPinned.add(buffer);
    else if (this.spareBytes + buffer.length <= this.maxBytes) {
      this.spare.push(buffer);
      this.spareBytes += buffer.length;
    }
  }

  /** A spare buffer of exactly `bytes` (chunks of a file share one size but the last), else a new one. */
  private bufferOf(bytes: number): Buffer {
    const at = this.spare.findIndex((buffer) => buffer.length === bytes);
    if (at < 0) return Buffer.allocUnsafeSlow(bytes);
    const [buffer] = this.spare.splice(at, 1);
    this.spareBytes -= bytes;
    return buffer!;
  }
}

function keyOf(fileId: string, index: number): string {
  return `${index}:${fileId}`;
}
