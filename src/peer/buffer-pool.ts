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
 *
 * Idle buffers also go once unused for `idleReleaseMs`: the pool keeps what recent work needs, not
 * what the busiest moment ever needed, so a peer's memory after a burst of uploads falls back instead
 * of staying at the peak for the life of the process. Every buffer the pool drops is freed at once
 * (free-memory.ts): an idle buffer has reached V8's old generation, where a dropped one would wait
 * for a full collection while new chunks took fresh memory.
 */
import { freeMemoryNow } from '../shared/free-memory';

export interface BufferPoolInit {
  /** Idle buffers kept per size; more are dropped on release. */
  maxIdlePerSize?: number;
  /** Idle bytes kept over all sizes; past it the least recently used size's buffers are dropped. */
  maxIdleBytes?: number;
  /** Idle buffers unused for this long are freed (0 = kept until the caps push them out). */
  idleReleaseMs?: number;
}

export const DEFAULT_MAX_IDLE_PER_SIZE = 32;
/** 16 chunks at the default 256 KiB chunk size: more than one connection's read-ahead and one source's window. */
export const DEFAULT_MAX_IDLE_BYTES = 4 * 1024 * 1024;
/** Long against the gaps between chunks of a transfer (milliseconds), short against a peer's life. */
export const DEFAULT_IDLE_RELEASE_MS = 10_000;

interface IdleBuffer {
  memory: ArrayBuffer;
  releasedAtMs: number;
}

export class BufferPool {
  private readonly maxIdlePerSize: number;
  private readonly maxIdleBytes: number;
  private readonly idleReleaseMs: number;
  /**
   * Idle buffers by size, the size used least recently first (a Map keeps insertion order); within a
   * size, released longest ago first (acquire takes the newest, so the oldest are the ones not needed).
   */
  private readonly idle = new Map<number, IdleBuffer[]>();
  private idleBytesNow = 0;
  /** Runs while buffers are idle; unref'd, so an idle pool never keeps the process alive. */
  private sweeper: NodeJS.Timeout | undefined;
  /** Memory this pool handed out: only these come back (a view of anything else is ignored). */
  private readonly owned = new WeakSet<ArrayBufferLike>();
  /** Memory waiting in `idle`: a second release of the same buffer is ignored. */
  private readonly waiting = new WeakSet<ArrayBufferLike>();

  constructor(init: BufferPoolInit = {}) {
    this.maxIdlePerSize = init.maxIdlePerSize ?? DEFAULT_MAX_IDLE_PER_SIZE;
    this.maxIdleBytes = init.maxIdleBytes ?? DEFAULT_MAX_IDLE_BYTES;
    this.idleReleaseMs = init.idleReleaseMs ?? DEFAULT_IDLE_RELEASE_MS;
  }

  /** A buffer of exactly `bytes` bytes (contents undefined) that owns its whole memory. */
  acquire(bytes: number): Buffer {
    const idle = this.idle.get(bytes);
    const reused = idle?.pop()?.memory;
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
    if (bytes > this.maxIdleBytes) {
      freeMemoryNow(memory);
      return;
    }
    const idle = this.idle.get(bytes) ?? [];
    if (idle.length < this.maxIdlePerSize) {
      idle.push({ memory: memory as ArrayBuffer, releasedAtMs: Date.now() });
      this.waiting.add(memory);
      this.idleBytesNow += bytes;
    } else freeMemoryNow(memory);
    this.touch(bytes, idle);
    this.evict();
    this.sweepLater();
  }

  /** Frees every idle buffer now (e.g. when the owner stops). */
  clear(): void {
    for (const [bytes, idle] of this.idle) this.drop(bytes, idle, idle.length);
    this.idle.clear();
    this.stopSweeping();
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
  private touch(bytes: number, idle: IdleBuffer[]): void {
    this.idle.delete(bytes);
    if (idle.length > 0) this.idle.set(bytes, idle);
  }

  /** Drops idle buffers, least recently used size first, until the idle bytes are within the cap. */
  private evict(): void {
    for (const [bytes, idle] of this.idle) {
      if (this.idleBytesNow <= this.maxIdleBytes) return;
      while (idle.length > 0 && this.idleBytesNow > this.maxIdleBytes) this.drop(bytes, idle, 1);
      if (idle.length === 0) this.idle.delete(bytes);
    }
  }

  /** Frees the `count` buffers of `idle` released longest ago. */
  private drop(bytes: number, idle: IdleBuffer[], count: number): void {
    for (const { memory } of idle.splice(0, count)) {
      this.waiting.delete(memory);
      this.idleBytesNow -= bytes;
      freeMemoryNow(memory);
    }
  }

  /** Frees the buffers idle for idleReleaseMs or more; runs again while any are left. */
  private sweep(): void {
    const releasedBeforeMs = Date.now() - this.idleReleaseMs;
    for (const [bytes, idle] of this.idle) {
      const stale = idle.findIndex((entry) => entry.releasedAtMs > releasedBeforeMs);
      this.drop(bytes, idle, stale === -1 ? idle.length : stale);
      if (idle.length === 0) this.idle.delete(bytes);
    }
    this.stopSweeping();
    this.sweepLater();
  }

  private sweepLater(): void {
    if (this.sweeper || this.idleReleaseMs <= 0 || this.idleBytesNow === 0) return;
    // Half the idle time between sweeps: a buffer is freed between idleReleaseMs and 1.5 times it.
    this.sweeper = setTimeout(() => this.sweep(), Math.max(1, this.idleReleaseMs / 2));
    this.sweeper.unref();
  }

  private stopSweeping(): void {
    if (this.sweeper) clearTimeout(this.sweeper);
    this.sweeper = undefined;
  }
}
