/**
 * The hashing thread of a peer: every received chunk's SHA-256 check, its write into the partial file,
 * and the SHA-256 of each file being downloaded, computed in file order as verified chunks pass by.
 *
 * Why a thread: both hashes cost as much CPU as everything else a downloader does together, and on
 * the event loop they would stall socket reads. WebCrypto's threadpool digest was tried first: it
 * copies every chunk and sets up a job on the event loop, which cost the loop as much as hashing
 * there. A worker gets each chunk's memory transferred (no copy), hashes it, and transfers it back.
 *
 * Why it also writes the chunk: once a chunk verifies, its bytes are here and in this core's cache. A
 * positional write from here costs the copy into the page cache and nothing else; handed back to the
 * event loop, the write went through libuv's threadpool (a wake-up per chunk, four threads contending
 * for the file's lock) and a promise on the loop, and in a profile of a 1 GiB pair the writing threads
 * cost the downloader as much CPU as its event loop. The event loop still decides what is written and
 * records it (ChunkStore.beginWrite / finishWrite); it keeps the descriptor open until then.
 *
 * Why it also computes the file digest: a chunk's bytes are final once they verify, so the thread
 * can feed the next one in file order to the file's hash at once, while they are in the CPU cache,
 * instead of reading the file back. A chunk verified a little ahead of its turn is copied and held
 * (within HOLD_AHEAD_CHUNKS and HOLD_BYTES per file); one further ahead is read back from the file
 * when its turn comes, once the event loop has said it is written (`written` in the messages).
 *
 * The thread runs from this function's source text (`eval`), so that the same code runs from the
 * esbuild bundle and from the TypeScript sources under jest. It must stay self-contained: no
 * imports, nothing from the enclosing module, only `require` of Node's own modules.
 */

import { PeerErrorCode } from './errors';

/** Messages to the thread. `written` lists [digest, index, digest, index, ...] of chunks now in their files. */
export type HashThreadRequest =
  | {
      op: 'verify';
      call: number;
      memory: ArrayBuffer;
      offset: number;
      length: number;
      expected: string;
      /** The file digest this chunk belongs to, and its index there. */
      digest?: number;
      index?: number;
      /** Where to write the chunk once it verifies: the partial file's descriptor and the chunk's offset. */
      write?: { fd: number; position: number };
      written: number[];
    }
  | {
      op: 'open';
      digest: number;
      chunks: number;
      chunkSize: number;
      size: number;
      /** Bitfield (most significant bit first) of the chunks already in the file. */
      inFile: Uint8Array;
    }
  /** The file's descriptor, for reading chunks back (opened by the event loop, closed after `finish`/`close`). */
  | { op: 'descriptor'; digest: number; fd: number }
  | { op: 'finish'; call: number; digest: number; written: number[] }
  | { op: 'close'; call: number; digest: number }
  /** What the thread's chunk buffers cost so far (tests; the pool's bound). */
  | { op: 'stats'; call: number };

export type HashThreadReply =
  /** `writeError`: the errno code of a write that failed (the chunk is not, or not wholly, in the file). */
  | { call: number; valid: boolean; memory: ArrayBuffer; writeError?: string }
  | { call: number; sha256: string }
  | { call: number; error: string }
  | { call: number; closed: true }
  | { call: number; allocatedBuffers: number; idleBytes: number };

export const HOLD_AHEAD_CHUNKS = 64;
export const HOLD_BYTES = 4 * 1024 * 1024;
/** The hashing thread's OS name (at most 15 bytes: Linux's limit for a thread name). */
export const HASH_THREAD_NAME = 'swarmlab-hash';

/** The codes the thread reports; handed in as an argument, since the thread cannot import them. */
export const HASH_THREAD_CODES = {
  shortRead: PeerErrorCode.ShortRead,
  unknownDigest: PeerErrorCode.UnknownDigest,
  chunkMissing: PeerErrorCode.ChunkMissing,
} as const;

export function hashThreadMain(holdAheadChunks: number, holdBytes: number, codes: typeof HASH_THREAD_CODES, threadName: string): void {
  /* eslint-disable @typescript-eslint/no-require-imports -- see the module comment: no imports here */
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const { readSync, writeFileSync, writeSync } = require('node:fs') as typeof import('node:fs');
  /* eslint-enable @typescript-eslint/no-require-imports */
  // The OS thread's name, so that `top -H`, perf and /proc/PID/task/*/comm tell this thread from the
  // event loop and libuv's threads (Node 20 names none of them; the Worker's `name` is only the
  // inspector's). A synchronous write runs on the calling thread, and Linux lets a thread rename
  // itself through /proc/thread-self; elsewhere it fails and nothing changes.
  try {
    writeFileSync('/proc/thread-self/comm', threadName);
  } catch {
    // Not Linux, or /proc not mounted: the thread keeps the process's name.
  }
  type Hash = ReturnType<typeof createHash>;

  interface FileDigest {
    hash: Hash;
    /** The first chunk not hashed yet. */
    next: number;
    chunks: number;
    chunkSize: number;
    size: number;
    /** 1 for each chunk in the file (readable), by index. */
    inFile: Uint8Array;
    fd: number | undefined;
    held: Map<number, Buffer>;
    heldBytes: number;
    /** Buffers of held chunks already hashed, reused for the next ones (no garbage per chunk). */
    spare: Buffer[];
    scratch: Buffer | undefined;
    /** Why reading back failed; no more reading back until `finish`, which tries once more. */
    failure: string | undefined;
  }

  const digests = new Map<number, FileDigest>();
  const port = parentPort!;
  /**
   * Chunk-sized buffers of finished digests (held copies, read-back scratch), by chunk size, for the
   * next digests. A buffer dropped instead waits for a garbage collection of this thread, which
   * allocates so little on its heap that one comes late: every download used to leave its few MiB
   * of held copies behind, and the thread's memory grew by tens of MiB before they were collected.
   * At most `holdBytes` wait here.
   */
  const idle = new Map<number, Buffer[]>();
  let idleBytes = 0;
  let allocatedBuffers = 0;

  function takeBuffer(chunkSize: number): Buffer {
    const reused = idle.get(chunkSize)?.pop();
    if (reused) {
      idleBytes -= reused.length;
      return reused;
    }
    allocatedBuffers++;
    return Buffer.allocUnsafeSlow(chunkSize);
  }

  function giveBack(buffer: Buffer): void {
    if (idleBytes + buffer.length > holdBytes) return;
    let list = idle.get(buffer.length);
    if (!list) idle.set(buffer.length, (list = []));
    list.push(buffer);
    idleBytes += buffer.length;
  }

  /** A digest is done: its buffers go to the next one. */
  function recycle(digest: FileDigest): void {
    for (const held of digest.held.values()) if (held.buffer.byteLength === digest.chunkSize) giveBack(Buffer.from(held.buffer));
    for (const spare of digest.spare) giveBack(spare);
    if (digest.scratch) giveBack(digest.scratch);
    digest.held.clear();
    digest.spare = [];
    digest.scratch = undefined;
  }

  function chunkLength(digest: FileDigest, index: number): number {
    return Math.max(0, Math.min(digest.chunkSize, digest.size - index * digest.chunkSize));
  }

  function markWritten(written: number[]): void {
    for (let i = 0; i + 1 < written.length; i += 2) {
      const digest = digests.get(written[i]!);
      if (digest) digest.inFile[written[i + 1]!] = 1;
    }
    for (let i = 0; i < written.length; i += 2) {
      const digest = digests.get(written[i]!);
      if (digest) catchUp(digest);
    }
  }

  /** Hashes, in order, every chunk from `next` that is held or can be read back. */
  function catchUp(digest: FileDigest): void {
    while (digest.next < digest.chunks) {
      const held = digest.held.get(digest.next);
      if (held) {
        digest.held.delete(digest.next);
        digest.heldBytes -= held.length;
        digest.hash.update(held);
        if (held.buffer.byteLength === digest.chunkSize) digest.spare.push(Buffer.from(held.buffer));
      } else if (digest.inFile[digest.next] === 1 && digest.fd !== undefined && digest.failure === undefined) {
        try {
          readBack(digest, digest.next);
        } catch (error) {
          digest.failure = (error as NodeJS.ErrnoException).code ?? String(error);
          return;
        }
      } else {
        return;
      }
      digest.next++;
    }
  }

  function readBack(digest: FileDigest, index: number): void {
    const length = chunkLength(digest, index);
    const scratch = (digest.scratch ??= takeBuffer(digest.chunkSize));
    for (let done = 0; done < length; ) {
      const bytes = readSync(digest.fd!, scratch, done, length - done, index * digest.chunkSize + done);
      if (bytes === 0) throw Object.assign(new Error('the file is shorter than its manifest'), { code: codes.shortRead });
      done += bytes;
    }
    digest.hash.update(scratch.subarray(0, length));
  }

  /**
   * Writes the whole chunk at `position`. A write can come back short without an error (a disk that is
   * filling up): keep writing, and call a write that makes no progress a full disk. Returns the errno
   * code of a failure.
   */
  function writeChunk(fd: number, data: Uint8Array, position: number): string | undefined {
    try {
      for (let done = 0; done < data.length; ) {
        const bytes = writeSync(fd, data, done, data.length - done, position + done);
        if (bytes === 0) return 'ENOSPC';
        done += bytes;
      }
      return undefined;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code ?? 'EIO';
    }
  }

  /** A verified chunk: hashed now if it is next, held if a little ahead, else read back later. */
  function offer(digest: FileDigest, index: number, data: Uint8Array): void {
    if (index === digest.next) {
      digest.hash.update(data);
      digest.next++;
      catchUp(digest);
    } else if (
      index > digest.next &&
      index - digest.next < holdAheadChunks &&
      digest.heldBytes + data.length <= holdBytes &&
      !digest.held.has(index)
    ) {
      const copy = (digest.spare.pop() ?? takeBuffer(digest.chunkSize)).subarray(0, data.length);
      copy.set(data);
      digest.held.set(index, copy);
      digest.heldBytes += data.length;
    }
  }

  function handle(request: HashThreadRequest): void {
    switch (request.op) {
      case 'verify': {
        markWritten(request.written);
        const data = new Uint8Array(request.memory, request.offset, request.length);
        const valid = createHash('sha256').update(data).digest('hex') === request.expected;
        const writeError = valid && request.write ? writeChunk(request.write.fd, data, request.write.position) : undefined;
        const digest = request.digest === undefined ? undefined : digests.get(request.digest);
        if (valid && digest && request.index !== undefined) {
          if (request.write && writeError === undefined) digest.inFile[request.index] = 1;
          offer(digest, request.index, data);
        }
        const reply: HashThreadReply = {
          call: request.call,
          valid,
          memory: request.memory,
          ...(writeError === undefined ? {} : { writeError }),
        };
        port.postMessage(reply, [request.memory]);
        return;
      }
      case 'open': {
        const inFile = new Uint8Array(request.chunks);
        for (let index = 0; index < request.chunks; index++) {
          if (((request.inFile[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0) inFile[index] = 1;
        }
        digests.set(request.digest, {
          hash: createHash('sha256'),
          next: 0,
          chunks: request.chunks,
          chunkSize: request.chunkSize,
          size: request.size,
          inFile,
          fd: undefined,
          held: new Map(),
          heldBytes: 0,
          spare: [],
          scratch: undefined,
          failure: undefined,
        });
        return;
      }
      case 'descriptor': {
        const digest = digests.get(request.digest);
        if (!digest) return;
        digest.fd = request.fd;
        catchUp(digest);
        return;
      }
      case 'finish': {
        markWritten(request.written);
        const digest = digests.get(request.digest);
        digests.delete(request.digest);
        let reply: HashThreadReply;
        if (!digest) reply = { call: request.call, error: codes.unknownDigest };
        else {
          digest.failure = undefined;
          catchUp(digest);
          if (digest.next === digest.chunks) reply = { call: request.call, sha256: digest.hash.digest('hex') };
          else reply = { call: request.call, error: digest.failure ?? codes.chunkMissing };
          recycle(digest);
        }
        port.postMessage(reply);
        return;
      }
      case 'close': {
        const digest = digests.get(request.digest);
        digests.delete(request.digest);
        if (digest) recycle(digest);
        port.postMessage({ call: request.call, closed: true } satisfies HashThreadReply);
        return;
      }
      case 'stats':
        port.postMessage({ call: request.call, allocatedBuffers, idleBytes } satisfies HashThreadReply);
        return;
    }
  }

  port.on('message', handle);
}

/** The thread's code, as given to `new Worker(..., { eval: true })`. */
export const HASH_THREAD_SOURCE = `(${hashThreadMain.toString()})(${HOLD_AHEAD_CHUNKS}, ${HOLD_BYTES}, ${JSON.stringify(HASH_THREAD_CODES)}, ${JSON.stringify(HASH_THREAD_NAME)});`;
