/**
 * Reusable buffers for chunk-sized data. A 1 GiB download at 256 KiB chunks would otherwise allocate
 * 4096 fresh buffers on each side, each one external memory that the GC has to notice and free; with
 * a pool the same few buffers go round. A buffer is handed back with `release` once nothing uses it
 * any more (its chunk is written, or sent); a buffer never released is simply collected.
 *
 * Buffers are kept by exact size, and every file's last chunk has a size of its own: a long-lived
 * seeder serving many files would keep one idle buffer per file it ever served, forever. So the idle
 * buffers are bounded in bytes as well as per size, and past `maxIdleBytes` the size used least
 * recently gives up its buffers first: the chunk size in use stays pooled, one-off sizes go.
 */
export interface BufferPoolInit {
  /** Idle buffers kept per size; more are dropped on release. */
  maxIdlePerSize?: number;
  /** Idle bytes kept over all sizes; past it the least recently used size's buffers are dropped. */
  maxIdleBytes?: number;
}

export const DEFAULT_MAX_IDLE_PER_SIZE = 32;
/** 32 chunks at the default 256 KiB chunk size. */
export const DEFAULT_MAX_IDLE_BYTES = 8 * 1024 * 1024;

export class BufferPool {
  private readonly maxIdlePerSize: number;
  private readonly maxIdleBytes: number;
  /** Idle buffers by size, the size used least recently first (a Map keeps insertion order). */
  private readonly idle = new Map<number, ArrayBuffer[]>();
  private idleBytesNow = 0;
  /** Memory this pool handed out: only these come back (a view of anything else is ignored). */
  private readonly owned = new WeakSet<ArrayBufferLike>();
  /** Memory waiting in `idle`: a second release of the same buffer is ignored. */
  private readonly waiting = new WeakSet<ArrayBufferLike>();

  constructor(init: BufferPoolInit = {}) {
    this.maxIdlePerSize = init.maxIdlePerSize ?? DEFAULT_MAX_IDLE_PER_SIZE;
    this.maxIdleBytes = init.maxIdleBytes ?? DEFAULT_MAX_IDLE_BYTES;
  }

  /** A buffer of exactly `bytes` bytes (contents undefined) that owns its whole memory. */
  acquire(bytes: number): Buffer {
    const idle = this.idle.get(bytes);
    const reused = idle?.pop();
    if (reused) {
      this.waiting.delete(reused);
      this.idleBytesNow -= reused.byteLength;
      this.touch(bytes, idle!);
      return Buffer.from(reused);
    }
    const buffer = Buffer.allocUnsafeSlow(bytes);
    this.owned.add(buffer.buffer);
    return buffer;
  }

  /** Whether `view` is a view of memory this pool handed out (and may be transferred, see `adopt`). */
  owns(view: Uint8Array): boolean {
    return this.owned.has(view.buffer) && view.buffer.byteLength > 0;
  }

  /**
   * Takes back as its own the memory of a buffer it handed out that was transferred to a worker thread
   * and back: the transfer detaches the old ArrayBuffer and returns the memory in a new one.
   */
  adopt(memory: ArrayBuffer): void {
    this.owned.add(memory);
  }

  /** Gives back the memory behind `view` (any view of an acquired buffer); nothing may use it afterwards. */
  release(view: Uint8Array): void {
    const memory = view.buffer;
    // A detached buffer (its memory was transferred away) has nothing to give back.
    if (!this.owned.has(memory) || this.waiting.has(memory) || memory.byteLength === 0) return;
    const bytes = memory.byteLength;
    if (bytes > this.maxIdleBytes) return;
    const idle = this.idle.get(bytes) ?? [];
    if (idle.length < this.maxIdlePerSize) {
      idle.push(memory as ArrayBuffer);
      this.waiting.add(memory);
      this.idleBytesNow += bytes;
    }
    this.touch(bytes, idle);
    this.evict();
  }

  /** Buffers waiting to be reused, all sizes together. */
  get idleCount(): number {
    let count = 0;
    for (const idle of this.idle.values()) count += idle.length;
    return count;
  }

  /** Idle bytes, all sizes together (at most `maxIdleBytes`). */
  get idleBytes(): number {
    return this.idleBytesNow;
  }

  /** Sizes with idle buffers. */
  get idleSizes(): number {
    return this.idle.size;
  }

  /** Marks `bytes` as the size used most recently (an empty list is dropped). */
  private touch(bytes: number, idle: ArrayBuffer[]): void {
    this.idle.delete(bytes);
    if (idle.length > 0) this.idle.set(bytes, idle);
  }

  /** Drops idle buffers, least recently used size first, until the idle bytes are within the cap. */
  private evict(): void {
    for (const [bytes, idle] of this.idle) {
      if (this.idleBytesNow <= this.maxIdleBytes) return;
      while (idle.length > 0 && this.idleBytesNow > this.maxIdleBytes) {
        const dropped = idle.shift()!;
        this.waiting.delete(dropped);
        this.idleBytesNow -= bytes;
      }
      if (idle.length === 0) this.idle.delete(bytes);
    }
  }
}
