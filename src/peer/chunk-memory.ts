/**
 * The memory of a peer's received chunks, with one owner: the peer makes one ChunkMemory and hands it
 * to its connections (where frames are decoded into it) and to its hashing thread (which borrows it).
 *
 * A received chunk travels as one ChunkLease: decoded into pooled memory, verified (its memory goes to
 * the hashing thread and back, without a copy), written, then released, exactly once. Whatever
 * happens to the bytes on the way, the lease knows where they are, so nobody else has to: releasing
 * a lease twice, or reading it after release, is a bug and throws. A frame nobody leases (a CHUNK that
 * arrives after its request was cancelled) goes back through `discard`.
 */
import { BufferPool } from './buffer-pool';
import { PeerError, PeerErrorCode } from './errors';

/** Frames at least this large (CHUNKs) are received into pooled buffers; smaller ones are just allocated. */
export const POOLED_FRAME_BYTES = 64 * 1024;

export interface ChunkMemoryInit {
  /** Idle chunk buffers kept per size (see BufferPool). */
  maxIdlePerSize?: number;
  /** Frames at least this large are received into pooled memory. */
  pooledFrameBytes?: number;
}

/** A chunk's memory on its way to the hashing thread: transferred when the ChunkMemory owns it, copied otherwise. */
export interface LentChunk {
  memory: ArrayBuffer;
  offset: number;
  length: number;
}

export class ChunkMemory {
  private readonly pool: BufferPool;
  /** Frames at least this large are received into pooled memory. */
  readonly pooledFrameBytes: number;

  constructor(init: ChunkMemoryInit = {}) {
    this.pool = new BufferPool(init.maxIdlePerSize === undefined ? {} : { maxIdlePerSize: init.maxIdlePerSize });
    this.pooledFrameBytes = init.pooledFrameBytes ?? POOLED_FRAME_BYTES;
  }

  /** Storage for a received frame (FrameDecoderInit.allocateFrame): pooled when chunk-sized. */
  readonly allocateFrame = (frameBytes: number): Buffer =>
    frameBytes >= this.pooledFrameBytes ? this.pool.acquire(frameBytes) : Buffer.allocUnsafe(frameBytes);

  /** Takes charge of a received chunk's bytes until the lease is released. */
  lease(data: Buffer): ChunkLease {
    return new ChunkLease(this, data);
  }

  /** Gives back a received frame that was never leased. */
  discard(data: Buffer): void {
    this.pool.release(data);
  }

  /** Whether the lease's memory is this owner's whole buffer, which can be transferred to a thread and back. */
  canLend(lease: ChunkLease): boolean {
    return lease.owner === this && this.pool.owns(lease.data);
  }

  /** Buffers waiting to be reused. */
  get idleCount(): number {
    return this.pool.idleCount;
  }

  /** @internal The memory of a lease came back from a thread in a new ArrayBuffer: it is ours again. */
  adopt(memory: ArrayBuffer): void {
    this.pool.adopt(memory);
  }
}

export class ChunkLease {
  private current: Buffer | undefined;
  private lent = false;
  private released = false;

  /** Made by ChunkMemory.lease. */
  constructor(
    readonly owner: ChunkMemory,
    data: Buffer,
  ) {
    this.current = data;
  }

  /** The chunk's bytes; throws once released or while lent to the hashing thread. */
  get data(): Buffer {
    if (this.released) throw new PeerError(PeerErrorCode.ChunkReleased, 'the chunk was already released');
    if (this.lent || this.current === undefined) throw new PeerError(PeerErrorCode.ChunkLent, 'the chunk is with the hashing thread');
    return this.current;
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** Hands the memory back to its owner; nothing may use the chunk afterwards. A second release throws. */
  release(): void {
    if (this.released) throw new PeerError(PeerErrorCode.ChunkReleased, 'the chunk was released twice');
    this.released = true;
    // Lent: its memory is in transit and comes back through `restore`, which hands it to the owner then.
    if (!this.lent && this.current) this.owner.discard(this.current);
    this.current = undefined;
  }

  /** @internal The hashing thread's side: the whole memory to transfer (see ChunkMemory.canLend). */
  lend(): LentChunk {
    const data = this.data;
    this.lent = true;
    return { memory: data.buffer as ArrayBuffer, offset: data.byteOffset, length: data.length };
  }

  /** @internal The memory lent came back (in a new ArrayBuffer): it is this lease's again. */
  restore(returned: LentChunk): void {
    this.owner.adopt(returned.memory);
    const data = Buffer.from(returned.memory, returned.offset, returned.length);
    this.lent = false;
    if (this.released) this.owner.discard(data);
    else this.current = data;
  }
}
