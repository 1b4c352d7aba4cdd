/**
 * The event loop's side of the hashing thread (hash-thread.ts): one thread per peer, started on first
 * use, shared by every download of the peer, never keeping the process alive while idle.
 *
 * A chunk leased from the peer's ChunkMemory (the `memory` it is given) travels to the thread and back
 * without a copy: its memory is transferred and restored into the lease when it returns, so the lease
 * is all the caller holds. Any other chunk is copied for the trip.
 *
 * If the thread dies, every call waiting on it rejects (its downloads fail with a clear error); the
 * next call starts a new thread.
 */
import { Worker } from 'node:worker_threads';
import { ChunkLease } from './chunk-memory';
import type { ChunkMemory, LentChunk } from './chunk-memory';
import { PeerError, PeerErrorCode } from './errors';
import { HASH_THREAD_NAME, HASH_THREAD_SOURCE } from './hash-thread';
import type { HashThreadReply, HashThreadRequest } from './hash-thread';

export interface ChunkVerdict {
  valid: boolean;
  /** Asked to write the chunk: the errno code of a write that failed (the chunk is not in the file). */
  writeError?: string;
}

/** Where the thread writes a chunk that verifies (ChunkStore.beginWrite). */
export interface ChunkWriteTarget {
  fd: number;
  position: number;
}

export interface HashWorkerComponents {
  /** The peer's received-chunk memory: its leases are lent to the thread instead of copied. */
  memory?: ChunkMemory;
}

export interface DigestOpen {
  chunks: number;
  chunkSize: number;
  size: number;
  /** Bitfield bytes (most significant bit first) of the chunks already in the file. */
  inFile: Uint8Array;
}

type Settle = { resolve: (reply: HashThreadReply) => void; reject: (error: Error) => void };

export class HashWorker {
  private readonly memory: ChunkMemory | undefined;
  private worker: Worker | undefined;
  private readonly calls = new Map<number, Settle>();
  private nextCall = 1;
  private nextDigest = 1;
  /** Digests living in the current thread; a new thread knows none of them. */
  private readonly liveDigests = new Set<number>();
  /** [digest, index, ...] written since the last message: sent along with the next one. */
  private written: number[] = [];

  constructor(components: HashWorkerComponents = {}) {
    this.memory = components.memory;
  }

  /**
   * Whether the chunk has the SHA-256 `expectedHex`. With `digest`, a chunk that verifies is also fed
   * to that file's digest (as chunk `index`); with `write`, it is written there by the thread, in the
   * same trip. A lease of this worker's memory is lent to the thread meanwhile (its `data` is
   * unreadable until this settles).
   */
  async verify(
    chunk: ChunkLease | Buffer,
    expectedHex: string,
    digest?: { id: number; index: number },
    write?: ChunkWriteTarget,
  ): Promise<ChunkVerdict> {
    const lend = chunk instanceof ChunkLease && this.memory?.canLend(chunk) === true;
    const lent: LentChunk = lend ? chunk.lend() : copyOf(chunk instanceof ChunkLease ? chunk.data : chunk);
    let reply: HashThreadReply;
    try {
      reply = await this.call(
        (call) => ({
          op: 'verify',
          call,
          ...lent,
          expected: expectedHex,
          ...(digest && this.liveDigests.has(digest.id) ? { digest: digest.id, index: digest.index } : {}),
          ...(write ? { write } : {}),
          written: this.takeWritten(),
        }),
        [lent.memory],
      );
    } catch (error) {
      // Not sent (no thread could start): the memory was not transferred, the lease has it still.
      if (lend && lent.memory.byteLength > 0) chunk.restore(lent);
      throw error;
    }
    if (!('valid' in reply)) throw new PeerError(PeerErrorCode.HashThread, 'the hashing thread answered out of turn');
    if (lend) chunk.restore({ memory: reply.memory, offset: lent.offset, length: lent.length });
    return reply.writeError === undefined ? { valid: reply.valid } : { valid: reply.valid, writeError: reply.writeError };
  }

  /** Starts a file digest in the thread; `fd` follows with `setDescriptor` once the file is open. */
  openDigest(init: DigestOpen): number {
    const digest = this.nextDigest++;
    this.post({ op: 'open', digest, ...init });
    this.liveDigests.add(digest);
    return digest;
  }

  setDescriptor(digest: number, fd: number): void {
    if (this.liveDigests.has(digest)) this.post({ op: 'descriptor', digest, fd });
  }

  /** Chunk `index` of `digest`'s file is written: the thread may read it back when its turn comes. */
  markWritten(digest: number, index: number): void {
    this.written.push(digest, index);
  }

  /** The file's SHA-256 once every chunk is written (and marked so). */
  async finishDigest(digest: number): Promise<string> {
    if (!this.liveDigests.delete(digest)) throw new PeerError(PeerErrorCode.HashThread, 'the hashing thread stopped during the download');
    const reply = await this.call((call) => ({ op: 'finish', call, digest, written: this.takeWritten() }));
    if ('sha256' in reply) return reply.sha256;
    // The thread's code: why reading a chunk back failed (EISDIR, ...), or ERR_CHUNK_MISSING.
    const code = 'error' in reply ? reply.error : PeerErrorCode.ReadFailed;
    throw new PeerError(code, `cannot hash the file: ${code}`);
  }

  /** Drops a digest (the download failed); resolves once the thread no longer reads its file. */
  async closeDigest(digest: number): Promise<void> {
    if (!this.liveDigests.delete(digest)) return;
    await this.call((call) => ({ op: 'close', call, digest })).catch(() => undefined);
  }

  /** Chunk buffers the thread allocated since it started, and those waiting for the next digest. */
  async stats(): Promise<{ allocatedBuffers: number; idleBytes: number }> {
    const reply = await this.call((call) => ({ op: 'stats', call }));
    if (!('allocatedBuffers' in reply)) throw new PeerError(PeerErrorCode.HashThread, 'the hashing thread answered out of turn');
    return { allocatedBuffers: reply.allocatedBuffers, idleBytes: reply.idleBytes };
  }

  /** Stops the thread (tests; a process exits without it). */
  async terminate(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.stopped(worker, 'terminated');
    await worker.terminate();
  }

  private takeWritten(): number[] {
    const written = this.written;
    this.written = [];
    return written;
  }

  private call(build: (call: number) => HashThreadRequest, transfer: ArrayBuffer[] = []): Promise<HashThreadReply> {
    const call = this.nextCall++;
    return new Promise<HashThreadReply>((resolve, reject) => {
      this.calls.set(call, { resolve, reject });
      try {
        const worker = this.started();
        worker.ref();
        worker.postMessage(build(call), transfer);
      } catch (error) {
        // Not sent (no thread could start, or the message cannot be cloned): nothing will answer it.
        this.calls.delete(call);
        throw error;
      }
    });
  }

  private post(request: HashThreadRequest): void {
    this.started().postMessage(request);
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    // The thread allocates little on its heap (messages; chunk copies live outside it): a small young
    // generation keeps its memory small.
    const worker = new Worker(HASH_THREAD_SOURCE, { eval: true, name: HASH_THREAD_NAME, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    worker.unref();
    worker.on('message', (reply: HashThreadReply) => {
      const settle = this.calls.get(reply.call);
      this.calls.delete(reply.call);
      if (this.calls.size === 0) worker.unref();
      settle?.resolve(reply);
    });
    worker.on('error', (error) => this.stopped(worker, error.message));
    worker.on('exit', (code) => this.stopped(worker, `exit code ${code}`));
    this.worker = worker;
    return worker;
  }

  private stopped(worker: Worker, why: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.liveDigests.clear();
    this.written = [];
    const error = new PeerError(PeerErrorCode.HashThread, `the hashing thread stopped: ${why}`);
    for (const settle of this.calls.values()) settle.reject(error);
    this.calls.clear();
  }
}

function copyOf(data: Uint8Array): LentChunk {
  const copy = new Uint8Array(data.length);
  copy.set(data);
  return { memory: copy.buffer, offset: 0, length: data.length };
}
