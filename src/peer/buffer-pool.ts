/**
 * Reusable buffers for chunk-sized data. A 1 GiB download at 256 KiB chunks would otherwise allocate
 * 4096 fresh buffers on each side, each one external memory that the GC has to notice and free; with
 * a pool the same few buffers go round. A buffer is handed back with `release` once nothing uses it
 * any more (its chunk is written, or sent); a buffer never released is simply collected. At most
 * `maxIdlePerSize` buffers wait per size, so the pool never holds more than a few chunks' worth.
 */
export interface BufferPoolInit {
  /** Idle buffers kept per size; more are dropped on release. */
  maxIdlePerSize?: number;
}

export const DEFAULT_MAX_IDLE_PER_SIZE = 32;

export class BufferPool {
  private readonly maxIdlePerSize: number;
  private readonly idle = new Map<number, ArrayBuffer[]>();
  /** Memory this pool handed out: only these come back (a view of anything else is ignored). */
  private readonly owned = new WeakSet<ArrayBufferLike>();
  /** Memory waiting in `idle`: a second release of the same buffer is ignored. */
  private readonly waiting = new WeakSet<ArrayBufferLike>();

  constructor(init: BufferPoolInit = {}) {
    this.maxIdlePerSize = init.maxIdlePerSize ?? DEFAULT_MAX_IDLE_PER_SIZE;
  }

  /** A buffer of exactly `bytes` bytes (contents undefined) that owns its whole memory. */
  acquire(bytes: number): Buffer {
    const reused = this.idle.get(bytes)?.pop();
    if (reused) {
      this.waiting.delete(reused);
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
    let idle = this.idle.get(memory.byteLength);
    if (!idle) this.idle.set(memory.byteLength, (idle = []));
    if (idle.length >= this.maxIdlePerSize) return;
    idle.push(memory as ArrayBuffer);
    this.waiting.add(memory);
  }

  /** Buffers waiting to be reused, all sizes together. */
  get idleCount(): number {
    let count = 0;
    for (const idle of this.idle.values()) count += idle.length;
    return count;
  }
}
