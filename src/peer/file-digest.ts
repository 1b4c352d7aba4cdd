/**
 * The whole-file SHA-256 of a download whose chunks arrive in any order, computed as they arrive by
 * the hashing thread (hash-thread.ts has the how and why).
 *
 * SHA-256 is sequential, so chunks are hashed in index order: the next one straight from the chunk
 * that just verified, one a little ahead from a copy held until its turn, one further ahead read back
 * from the file once it is written. The downloader picks chunks near file order (see piece-picker), so
 * normally the digest is ready with the last chunk and nothing is read back; in random order most of
 * the file is read back, which is what a final pass would cost anyway. The file is read through a
 * descriptor opened at the start, which survives the rename of the finished file into place.
 */
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Bitfield, Manifest } from '../protocol';
import { errorCode } from '../shared/errors';
import { PeerErrorCode } from './errors';
import type { HashWorker } from './hash-worker';

export interface FileDigestInit {
  manifest: Manifest;
  /** The partial file the chunks are written to. */
  path: string;
  /** Chunks already in the file when the download starts (a resumed download); later ones come through `written`. */
  have: Bitfield;
}

export class FileDigest {
  private readonly id: number;
  private readonly handle: Promise<FileHandle | undefined>;
  private openError: unknown;
  private closed = false;

  constructor(
    private readonly hasher: HashWorker,
    init: FileDigestInit,
  ) {
    const { manifest, have } = init;
    this.id = hasher.openDigest({
      chunks: manifest.chunks.length,
      chunkSize: manifest.chunkSize,
      size: manifest.size,
      inFile: have.bytes,
    });
    // Opened now, while the partial file has its name. A failure matters only if a chunk must be read back.
    this.handle = open(init.path, 'r').then(
      (handle) => {
        hasher.setDescriptor(this.id, handle.fd);
        return handle;
      },
      (error: unknown) => {
        this.openError = error;
        return undefined;
      },
    );
  }

  /** What `HashWorker.verify` needs to feed chunk `index`, once it verifies, to this digest. */
  chunk(index: number): { id: number; index: number } {
    return { id: this.id, index };
  }

  /** Chunk `index` is in the file now: it can be read back if it was not hashed from memory. */
  written(index: number): void {
    this.hasher.markWritten(this.id, index);
  }

  /** The hex digest, once every chunk is written; reads back the chunks not hashed yet. */
  async finish(): Promise<string> {
    const handle = await this.handle;
    try {
      return await this.hasher.finishDigest(this.id);
    } catch (error) {
      // A chunk had to be read back from a file that never opened: that is the error to report.
      throw this.openError !== undefined && errorCode(error) === PeerErrorCode.ChunkMissing ? this.openError : error;
    } finally {
      this.closed = true;
      await handle?.close().catch(() => undefined);
    }
  }

  /** Drops the digest (the download failed) and its descriptor. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.hasher.closeDigest(this.id);
    await (await this.handle)?.close().catch(() => undefined);
  }
}
