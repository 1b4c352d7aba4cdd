/**
 * Copies of the chunks a download received last, so that serving them to the other downloaders needs
 * no disk read. In a swarm a chunk is asked of its new holder soon after the holder announces it (it
 * is rare then, and rarest first picks it), and each of those reads was a trip through libuv's thread
 * pool: a job, a pool thread's wake-up and the event loop's, for bytes that were in memory a moment
 * before. Bounded in bytes, oldest out first; a chunk larger than `maxChunkBytes` is not kept (its
 * read costs little beside its bytes). A kept buffer is never written again, so a reference taken with
 * `get` (a queued request's) stays the chunk after the cache has let it go.
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

  constructor(init: RecentChunksInit = {}) {
    this.maxBytes = init.maxBytes ?? RECENT_CHUNK_BYTES;
    this.maxChunkBytes = Math.min(init.maxChunkBytes ?? MAX_RECENT_CHUNK_BYTES, this.maxBytes);
  }

  get size(): number {
    return this.chunks.size;
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
    }
    const copy = Buffer.allocUnsafeSlow(data.length);
    data.copy(copy);
    this.chunks.set(key, copy);
    this.bytes += copy.length;
  }

  /** Chunk `index` as kept (never written again), or undefined. */
  get(fileId: string, index: number): Buffer | undefined {
    return this.chunks.get(keyOf(fileId, index));
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
    }
  }
}

function keyOf(fileId: string, index: number): string {
  return `${index}:${fileId}`;
}
