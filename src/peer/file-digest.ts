/**
 * The whole-file SHA-256 of a download whose chunks arrive in any order, computed as they arrive.
 *
 * SHA-256 is sequential, so chunks are hashed in index order. A chunk that is the next one when it is
 * written is hashed at once from memory; chunks written ahead of the next one are read back from the
 * file when their turn comes (into a buffer or two of one chunk, reused). When chunks arrive roughly
 * in order the digest is ready with the last chunk; in random order most of the file is read back at
 * the end, which is what a final pass would cost anyway. The file is read through its own descriptor, which survives the
 * rename of the finished file into place.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { chunkLength } from '../protocol';
import type { Bitfield, Manifest } from '../protocol';
import { readFully } from '../shared/files';

export interface FileDigestInit {
  manifest: Manifest;
  /** The partial file the chunks are written to. */
  path: string;
  /** Chunks written to the file (and verified). */
  have: Bitfield;
}

export class InOrderFileDigest {
  private readonly hash = createHash('sha256');
  /** The first chunk not hashed yet. */
  private next = 0;
  private handle: Promise<FileHandle> | undefined;
  private scratch: Buffer | undefined;
  /** The loop reading written chunks back, while one runs. */
  private catchingUp: Promise<void> | undefined;
  private readBackFailed = false;

  constructor(private readonly init: FileDigestInit) {
    // Opened now, while the partial file has its name: the descriptor survives its rename on completion.
    this.handle = open(init.path, 'r');
    this.handle.catch(() => undefined); // reported by the first read that needs it
  }

  /** Chunks hashed so far (for tests and progress). */
  get hashedChunks(): number {
    return this.next;
  }

  /**
   * A chunk was verified and written: hash it now if it is the next one (its bytes are still in
   * memory), then read back whatever follows it that is already written.
   */
  written(index: number, data: Buffer): void {
    if (this.catchingUp === undefined && index === this.next) {
      this.hash.update(data);
      this.next++;
    }
    if (this.catchingUp === undefined && this.init.have.has(this.next)) this.catchUp();
  }

  /** The hex digest, once every chunk is written; reads back the chunks not hashed yet. */
  async finish(): Promise<string> {
    try {
      await this.catchingUp;
      await this.hashRestFromDisk();
    } finally {
      // Also when reading back failed: the descriptor must not wait for the garbage collector.
      await this.close();
    }
    return this.hash.digest('hex');
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle) await (await handle.catch(() => undefined))?.close().catch(() => undefined);
  }

  private openHandle(): Promise<FileHandle> {
    return (this.handle ??= open(this.init.path, 'r'));
  }

  private catchUp(): void {
    if (this.readBackFailed) return;
    this.catchingUp = (async () => {
      while (this.init.have.has(this.next)) await this.hashFromDisk(this.next);
    })().then(
      () => {
        this.catchingUp = undefined;
        // A chunk written while the loop was finishing was not hashed from memory: read it now.
        if (this.init.have.has(this.next)) this.catchUp();
      },
      () => {
        // No more reading back until finish(), which tries once more and reports the error.
        this.readBackFailed = true;
        this.catchingUp = undefined;
      },
    );
  }

  /** Reads back every chunk from `next` to the end, the next read in flight while one is hashed. */
  private async hashRestFromDisk(): Promise<void> {
    const { manifest } = this.init;
    const chunks = manifest.chunks.length;
    if (this.next >= chunks) return;
    const handle = await this.openHandle();
    const buffers = [Buffer.allocUnsafe(manifest.chunkSize), Buffer.allocUnsafe(manifest.chunkSize)] as const;
    const bufferFor = (index: number): Buffer => buffers[index % 2]!;
    const read = (index: number): Promise<void> =>
      readFully(handle, bufferFor(index), chunkLength(manifest, index), index * manifest.chunkSize);
    let reading: Promise<void> | undefined = read(this.next);
    while (reading) {
      await reading;
      const index = this.next;
      reading = index + 1 < chunks ? read(index + 1) : undefined;
      this.hash.update(bufferFor(index).subarray(0, chunkLength(manifest, index)));
      this.next = index + 1;
    }
  }

  private async hashFromDisk(index: number): Promise<void> {
    const { manifest } = this.init;
    const length = chunkLength(manifest, index);
    this.scratch ??= Buffer.allocUnsafe(manifest.chunkSize);
    await readFully(await this.openHandle(), this.scratch, length, index * manifest.chunkSize);
    this.hash.update(this.scratch.subarray(0, length));
    this.next = index + 1;
  }
}
