/**
 * The chunks a peer holds, on disk.
 *
 * - Published files are served from where they are, in the peer's directory. Reads check (at most
 *   every STAT_CHECK_MS) that the path still names the file held open, at its published size: a file
 *   replaced, resized or removed is withdrawn. When only the mtime changed, each chunk read is
 *   verified against the manifest and one that no longer matches withdraws the file.
 * - Downloads go to DIR/.swarmlab/downloads/<fileId>.part, with the manifest in <fileId>.manifest
 *   (written once) and a sidecar <fileId>.json holding the bitfield of verified chunks (rewritten at
 *   most every SIDECAR_FLUSH_MS, and on a clean stop), so a restarted peer resumes; a crash loses at most
 *   the chunks verified in the last SIDECAR_FLUSH_MS, which it fetches again. The sidecar used to carry the manifest
 *   too: a 1 GiB download re-wrote 275 KB four times a second, 660 MB over a ten-minute download. Such
 *   sidecars still resume. A completed download is renamed into DIR atomically and becomes a
 *   published file.
 * Every path is built from a sanitised name inside DIR.
 */
import { EventEmitter } from 'node:events';
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { assertValidManifest, Bitfield, chunkLength, computeFileId, DEFAULT_CHUNK_BYTES } from '../protocol';
import type { Manifest } from '../protocol';
import { buildManifest, pathInside, readFully, safeFileName, sha256Hex } from '../shared/files';
import type { Logger } from '../shared/logger';
import { PeerError, PeerErrorCode } from './errors';
import type { ChunkWriteTarget } from './hash-worker';
import { RecentChunks } from './recent-chunks';

export const STATE_DIR_NAME = '.swarmlab';
/**
 * The sidecar's cadence is a time bound, whatever the rate: what a crash loses is what arrived in the
 * last second, so at any speed it costs about a second of transfer to fetch again. Each rewrite is four
 * thread-pool jobs (open, write, close, rename), a wake-up of the pool and of the event loop per job:
 * with a hundred slow downloads on one machine, four rewrites a second per peer were most of a peer's
 * file-system calls.
 */
export const SIDECAR_FLUSH_MS = 1_000;
const STAT_CHECK_MS = 500;

export interface StoredFile {
  fileId: string;
  manifest: Manifest;
  /** The complete file in DIR, or the partial file while downloading. */
  path: string;
  bitfield: Bitfield;
  complete: boolean;
  /** Size and mtime recorded when the file was hashed (published files only). */
  recordedSize: number;
  recordedMtimeMs: number;
}

export interface ChunkStoreEvents {
  /** A chunk became available to serve. */
  chunk: [fileId: string, index: number];
  /** A published file changed on disk and was withdrawn. */
  withdrawn: [fileId: string, reason: string];
  completed: [file: StoredFile];
}

export interface ChunkStoreInit {
  dir: string;
  chunkSize?: number;
}

export class ChunkStore extends EventEmitter<ChunkStoreEvents> {
  readonly dir: string;
  readonly chunkSize: number;
  private readonly files = new Map<string, StoredFile>();
  private readonly handles = new Map<string, Promise<FileHandle>>();
  private readonly sidecarTimers = new Map<string, NodeJS.Timeout>();
  /** The last sidecar write per file: writes of one file run one after another (they share a temp name). */
  private readonly sidecarWrites = new Map<string, Promise<void>>();
  private readonly statChecks = new Map<string, { atMs: number; change: 'same' | 'modified' | 'gone' }>();
  /** Downloads moving into DIR: a read waits for the move instead of opening the partial file's old path. */
  private readonly completing = new Map<string, Promise<void>>();
  /** `beginWrite` targets not yet settled, by file: its descriptor is not closed meanwhile. */
  private readonly writesOutside = new Map<string, number>();
  private readonly writesOutsideDone = new Map<string, Array<() => void>>();
  /** Manifests of files already hashed, by path, so a second `u` does not hash again. */
  private readonly hashed = new Map<string, { size: number; mtimeMs: number; manifest: Manifest }>();
  /** The chunks downloads received last, served without a disk read while their file is partial. */
  private readonly recent = new RecentChunks();

  constructor(
    init: ChunkStoreInit,
    private readonly logger: Logger,
  ) {
    super();
    this.dir = init.dir;
    this.chunkSize = init.chunkSize ?? DEFAULT_CHUNK_BYTES;
  }

  get downloadsDir(): string {
    return join(this.dir, STATE_DIR_NAME, 'downloads');
  }

  get(fileId: string): StoredFile | undefined {
    return this.files.get(fileId);
  }

  all(): StoredFile[] {
    return [...this.files.values()];
  }

  /** Hashes every regular file at the top of DIR (hidden files skipped) and records it as complete. */
  async scanPublishable(): Promise<StoredFile[]> {
    let entries;
    try {
      entries = await readdir(this.dir, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new PeerError(PeerErrorCode.NoDir, `directory ${this.dir} does not exist`);
      throw new PeerError(PeerErrorCode.DirUnreadable, `cannot read ${this.dir}: ${code ?? String(error)}`);
    }
    const published: StoredFile[] = [];
    for (const entry of entries) {
      if (!entry.isFile() || entry.name.startsWith('.')) continue;
      if (safeFileName(entry.name) !== entry.name) {
        this.logger.warn('skipping a file whose name cannot travel', { name: entry.name });
        continue;
      }
      const path = join(this.dir, entry.name);
      const stats = await stat(path);
      const cached = this.hashed.get(path);
      let manifest: Manifest;
      let mtimeMs = stats.mtimeMs;
      if (cached && cached.size === stats.size && cached.mtimeMs === stats.mtimeMs) {
        manifest = cached.manifest;
      } else {
        const built = await buildManifest(path, entry.name, this.chunkSize);
        mtimeMs = built.mtimeMs;
        manifest = { name: built.name, size: built.size, chunkSize: built.chunkSize, chunks: built.chunks };
        this.hashed.set(path, { size: built.size, mtimeMs, manifest });
      }
      published.push(this.addComplete(manifest, path, manifest.size, mtimeMs));
    }
    // A file of DIR that changed (new id) or is gone since the last scan is no longer offered.
    const current = new Set(published.map((file) => file.fileId));
    for (const file of this.files.values()) {
      if (file.complete && resolve(dirname(file.path)) === resolve(this.dir) && !current.has(file.fileId)) {
        this.withdraw(file.fileId, 'the file changed or was removed since it was published');
      }
    }
    return published;
  }

  /** Resumes the downloads whose partial files survived a restart; returns them with their kept chunk counts. */
  async loadPartials(): Promise<Array<{ file: StoredFile; kept: number }>> {
    let names: string[];
    try {
      names = await readdir(this.downloadsDir);
    } catch {
      return [];
    }
    const resumed: Array<{ file: StoredFile; kept: number }> = [];
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      try {
        const sidecar = JSON.parse(await readFile(join(this.downloadsDir, name), 'utf8')) as {
          manifest?: unknown;
          bitfield: string;
        };
        const namedId = name.slice(0, -'.json'.length);
        const manifest: unknown =
          sidecar.manifest ?? JSON.parse(await readFile(join(this.downloadsDir, `${namedId}.manifest`), 'utf8'));
        assertValidManifest(manifest);
        const fileId = computeFileId(manifest);
        if (sidecar.manifest === undefined && fileId !== namedId) throw new Error(`${namedId}.manifest is not the manifest of ${namedId}`);
        const recorded = Bitfield.fromBase64(manifest.chunks.length, sidecar.bitfield);
        const file = await this.beginDownload(fileId, manifest);
        // Re-verify what the sidecar says we hold: a torn write must not be served.
        const buffer = Buffer.allocUnsafe(manifest.chunkSize);
        const handle = await this.handleFor(file);
        for (const index of recorded.indices()) {
          const length = chunkLength(manifest, index);
          try {
            await readFully(handle, buffer, length, index * manifest.chunkSize);
          } catch {
            continue;
          }
          if (sha256Hex(buffer.subarray(0, length)) === manifest.chunks[index]) file.bitfield.set(index);
        }
        // beginDownload recorded an empty bitfield: record what verified before anything else happens.
        if (file.bitfield.count > 0) await this.flushSidecar(fileId);
        resumed.push({ file, kept: file.bitfield.count });
      } catch (error) {
        this.logger.warn('ignoring an unreadable download sidecar', {
          sidecar: name,
          reason: (error as Error).message,
        });
      }
    }
    return resumed;
  }

  /**
   * Starts (or returns) the partial file for a download. A start that fails (a full disk: the
   * manifest or the sidecar cannot be written) leaves nothing behind that it created: no partial file
   * that no sidecar describes (never resumed, never removed), no temp file, no entry in the store; a
   * later start begins afresh. A partial file that was already there (a resumed download) is kept.
   */
  async beginDownload(fileId: string, manifest: Manifest): Promise<StoredFile> {
    const existing = this.files.get(fileId);
    if (existing) return existing;
    const path = join(this.downloadsDir, `${fileId}.part`);
    const file: StoredFile = {
      fileId,
      manifest,
      path,
      bitfield: new Bitfield(manifest.chunks.length),
      complete: false,
      recordedSize: manifest.size,
      recordedMtimeMs: 0,
    };
    const created: string[] = [];
    try {
      await mkdir(this.downloadsDir, { recursive: true });
      const manifestPath = join(this.downloadsDir, `${fileId}.manifest`);
      const sidecarPath = join(this.downloadsDir, `${fileId}.json`);
      const hadPartial = await exists(path);
      if (!hadPartial) created.push(path, manifestPath, sidecarPath);
      this.files.set(fileId, file);
      const handle = await this.handleFor(file, true);
      await handle.truncate(manifest.size).catch(() => undefined);
      await writeAtomically(manifestPath, JSON.stringify(manifest));
      // An empty file has no chunk to wait for: it is complete at once.
      if (manifest.chunks.length === 0) await this.complete(file);
      else await this.flushSidecar(fileId);
      return file;
    } catch (error) {
      if (this.files.get(fileId) === file) this.files.delete(fileId);
      await this.closeHandle(fileId);
      await Promise.all(created.map((created) => rm(created, { force: true }).catch(() => undefined)));
      if (error instanceof PeerError) throw error;
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
      throw new PeerError(
        code === 'ENOSPC' ? PeerErrorCode.DiskFull : PeerErrorCode.WriteFailed,
        `cannot start the download of ${manifest.name}: ${code}`,
      );
    }
  }

  has(fileId: string, index: number): boolean {
    return this.files.get(fileId)?.bitfield.has(index) ?? false;
  }

  /**
   * Reads one chunk that this peer holds and has verified; throws PeerError otherwise. `allocate`
   * gives the buffer to read into (e.g. from a pool).
   */
  async readChunk(
    fileId: string,
    index: number,
    allocate: (bytes: number) => Buffer = Buffer.allocUnsafe,
  ): Promise<Buffer> {
    const file = this.files.get(fileId);
    if (!file || !file.bitfield.has(index))
      throw new PeerError(PeerErrorCode.NotHeld, `chunk ${index} of ${fileId} is not held`);
    // Only partial files are kept: a published file's reads also check that it did not change on disk.
    if (!file.complete) {
      const kept = this.recent.copyOut(fileId, index, allocate);
      if (kept) return kept;
    }
    await this.completing.get(fileId)?.catch(() => undefined);
    const handle = await this.handleFor(file);
    const length = chunkLength(file.manifest, index);
    const buffer = allocate(length);
    if (file.complete) {
      const change = await this.changeOnDisk(file, handle);
      if (change === 'gone') {
        // Replaced (the handle reads the old bytes), shortened, grown or removed: no longer the
        // published file, whatever its chunks still hold.
        this.withdraw(fileId, 'the file was replaced, resized or removed after it was published');
        throw new PeerError(PeerErrorCode.NotHeld, 'the file changed on disk after it was published');
      }
      await readFully(handle, buffer, length, index * file.manifest.chunkSize).catch(() => {
        throw new PeerError(PeerErrorCode.NotHeld, 'the file is shorter than its manifest');
      });
      if (change === 'modified' && sha256Hex(buffer) !== file.manifest.chunks[index]) {
        this.withdraw(fileId, 'the file changed on disk after it was published');
        throw new PeerError(PeerErrorCode.NotHeld, 'the file changed on disk after it was published');
      }
      return buffer;
    }
    await readFully(handle, buffer, length, index * file.manifest.chunkSize);
    return buffer;
  }

  /**
   * How a published file differs from when it was hashed: 'gone' when the path no longer leads to the
   * file we hold open (replaced by rename, removed) or its size changed, 'modified' when only its
   * mtime did (each chunk read is then verified), 'same' otherwise. Checked at most every
   * STAT_CHECK_MS per file: two stats per chunk served would cost more than the read itself. A change
   * once seen is kept.
   */
  private async changeOnDisk(file: StoredFile, handle: FileHandle): Promise<'same' | 'modified' | 'gone'> {
    const nowMs = Date.now();
    const checked = this.statChecks.get(file.fileId);
    if (checked && (checked.change !== 'same' || nowMs - checked.atMs < STAT_CHECK_MS)) return checked.change;
    const [open, named] = await Promise.all([handle.stat(), stat(file.path).catch(() => undefined)]);
    const change =
      !named || named.ino !== open.ino || named.dev !== open.dev || open.size !== file.recordedSize ? 'gone'
      : open.mtimeMs !== file.recordedMtimeMs ? 'modified'
      : 'same';
    this.statChecks.set(file.fileId, { atMs: nowMs, change });
    return change;
  }

  /**
   * Keeps a copy of a chunk a download just verified and recorded, so that serving it soon after
   * needs no disk read (recent-chunks.ts). Nothing is kept once the file is complete.
   */
  keepRecent(fileId: string, index: number, data: Buffer): void {
    const file = this.files.get(fileId);
    if (file && !file.complete && file.bitfield.has(index)) this.recent.keep(fileId, index, data);
  }

  /**
   * A download's recent chunk as kept in memory, or undefined: not kept, or its file is complete (a
   * published file's reads check the disk). The buffer stays the chunk until `unpinRecent(buffer)`
   * (recent-chunks.ts).
   */
  pinRecent(fileId: string, index: number): Buffer | undefined {
    const file = this.files.get(fileId);
    return file && !file.complete && file.bitfield.has(index) ? this.recent.pin(fileId, index) : undefined;
  }

  /** Returns a buffer from `pinRecent`: the store may write another chunk into it from now on. */
  unpinRecent(buffer: Buffer): void {
    this.recent.unpin(buffer);
  }

  /** Writes a chunk that the caller has already verified; completes the file when it is the last. */
  async writeChunk(fileId: string, index: number, data: Buffer): Promise<boolean> {
    const file = this.files.get(fileId);
    if (!file || file.complete || file.bitfield.has(index)) return false;
    const handle = await this.handleFor(file);
    try {
      // A write can come back short without an error (a disk that is filling up): keep writing
      // until the whole chunk is down, and call a write that makes no progress a full disk.
      const position = index * file.manifest.chunkSize;
      for (let written = 0; written < data.length;) {
        const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
        if (bytesWritten === 0) throw Object.assign(new Error('no space left'), { code: 'ENOSPC' });
        written += bytesWritten;
      }
    } catch (error) {
      throw writeFailure(file, (error as NodeJS.ErrnoException).code ?? 'EIO');
    }
    return this.recordWritten(file, index);
  }

  /**
   * Where a writer off the event loop (the hashing thread, which writes a chunk in the same trip as it
   * verifies it) puts chunk `index` of a download: the partial file's descriptor and the chunk's
   * offset. Undefined when the chunk is not to be written (held already, the file complete or not
   * known). Every target handed out is settled with `finishWrite`, once; until then the descriptor
   * stays open (a close waits), so the writer never writes to a descriptor reused for another file.
   */
  async beginWrite(fileId: string, index: number): Promise<ChunkWriteTarget | undefined> {
    const file = this.files.get(fileId);
    if (!file || file.complete || file.bitfield.has(index)) return undefined;
    this.writesOutside.set(fileId, (this.writesOutside.get(fileId) ?? 0) + 1);
    try {
      const handle = await this.handleFor(file);
      return { fd: handle.fd, position: index * file.manifest.chunkSize };
    } catch (error) {
      this.writeSettled(fileId);
      throw writeFailure(file, (error as NodeJS.ErrnoException).code ?? 'EIO');
    }
  }

  /**
   * Settles a `beginWrite` target: `written` when the writer put the whole verified chunk there, else
   * `writeError` (its errno code) when it tried and failed, or neither when it did not write (the chunk
   * did not verify). A written chunk is recorded as `writeChunk` records it; a failed write throws as
   * `writeChunk` does.
   */
  async finishWrite(fileId: string, index: number, outcome: { written: boolean; writeError?: string }): Promise<boolean> {
    this.writeSettled(fileId);
    const file = this.files.get(fileId);
    if (!file) return false;
    if (outcome.writeError !== undefined) throw writeFailure(file, outcome.writeError);
    if (!outcome.written || file.complete || file.bitfield.has(index)) return false;
    return this.recordWritten(file, index);
  }

  private async recordWritten(file: StoredFile, index: number): Promise<boolean> {
    if (!file.bitfield.set(index)) return false;
    this.emit('chunk', file.fileId, index);
    if (file.bitfield.complete) await this.complete(file);
    else this.scheduleSidecar(file.fileId);
    return true;
  }

  private writeSettled(fileId: string): void {
    const left = (this.writesOutside.get(fileId) ?? 1) - 1;
    if (left > 0) {
      this.writesOutside.set(fileId, left);
      return;
    }
    this.writesOutside.delete(fileId);
    const waiting = this.writesOutsideDone.get(fileId) ?? [];
    this.writesOutsideDone.delete(fileId);
    for (const wake of waiting) wake();
  }

  /** Resolves once no `beginWrite` target of the file is outstanding. */
  private async noWritesOutside(fileId: string): Promise<void> {
    if (!this.writesOutside.has(fileId)) return;
    await new Promise<void>((resolve) => {
      const waiting = this.writesOutsideDone.get(fileId) ?? [];
      waiting.push(resolve);
      this.writesOutsideDone.set(fileId, waiting);
    });
  }

  /** Stops offering a file (e.g. it changed on disk). */
  withdraw(fileId: string, reason: string): void {
    const file = this.files.get(fileId);
    if (!file) return;
    this.files.delete(fileId);
    this.recent.drop(fileId);
    this.hashed.delete(file.path);
    this.statChecks.delete(fileId);
    void this.closeHandle(fileId);
    this.logger.warn('withdrawing a file', { fileId, name: file.manifest.name, reason });
    this.emit('withdrawn', fileId, reason);
  }

  async close(): Promise<void> {
    for (const [fileId, timer] of this.sidecarTimers) {
      clearTimeout(timer);
      await this.flushSidecar(fileId).catch(() => undefined);
    }
    this.sidecarTimers.clear();
    await Promise.all([...this.handles.keys()].map((fileId) => this.closeHandle(fileId)));
  }

  private addComplete(manifest: Manifest, path: string, size: number, mtimeMs: number): StoredFile {
    const fileId = computeFileId(manifest);
    const existing = this.files.get(fileId);
    if (existing?.complete) return existing;
    const file: StoredFile = {
      fileId,
      manifest,
      path,
      bitfield: Bitfield.full(manifest.chunks.length),
      complete: true,
      recordedSize: size,
      recordedMtimeMs: mtimeMs,
    };
    this.files.set(fileId, file);
    return file;
  }

  private complete(file: StoredFile): Promise<void> {
    const moving = this.moveIntoPlace(file);
    this.completing.set(file.fileId, moving);
    void moving.then(
      () => this.completing.delete(file.fileId),
      () => this.completing.delete(file.fileId),
    );
    return moving;
  }

  private async moveIntoPlace(file: StoredFile): Promise<void> {
    const timer = this.sidecarTimers.get(file.fileId);
    if (timer) clearTimeout(timer);
    this.sidecarTimers.delete(file.fileId);
    // A sidecar write still in flight would put the sidecar back after it is removed below.
    await this.sidecarWrites.get(file.fileId)?.catch(() => undefined);
    await this.closeHandle(file.fileId);
    let target: string;
    let stats;
    try {
      target = await this.claimName(file.path, file.manifest.name);
      await rm(join(this.downloadsDir, `${file.fileId}.json`), { force: true });
      await rm(join(this.downloadsDir, `${file.fileId}.manifest`), { force: true });
      stats = await stat(target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
      throw new PeerError(
        PeerErrorCode.WriteFailed,
        `cannot move the finished ${file.manifest.name} into ${this.dir}: ${code}`,
      );
    }
    file.path = target;
    file.complete = true;
    this.recent.drop(file.fileId);
    file.recordedSize = stats.size;
    file.recordedMtimeMs = stats.mtimeMs;
    this.hashed.set(target, { size: stats.size, mtimeMs: stats.mtimeMs, manifest: file.manifest });
    this.emit('completed', file);
  }

  /**
   * Moves `from` to the manifest's name in DIR, or name.1, name.2... when another file has it. The
   * name is claimed atomically (link fails with EEXIST), so a file that appears meanwhile (the user's,
   * or another download of that name finishing now) is never replaced. Where hard links are not
   * supported, an empty file created with 'wx' claims the name and the move replaces only that.
   */
  private async claimName(from: string, name: string): Promise<string> {
    const base = pathInside(this.dir, name);
    for (let attempt = 0; attempt < 1000; attempt++) {
      const candidate = attempt === 0 ? base : `${base}.${attempt}`;
      try {
        await link(from, candidate);
        await unlink(from);
        return candidate;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
      }
      try {
        await (await open(candidate, 'wx')).close();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw error;
      }
      await rename(from, candidate);
      return candidate;
    }
    throw new PeerError(PeerErrorCode.NameTaken, `no free name for ${name}`);
  }

  private scheduleSidecar(fileId: string): void {
    if (this.sidecarTimers.has(fileId)) return;
    const timer = setTimeout(() => {
      this.sidecarTimers.delete(fileId);
      this.flushSidecar(fileId).catch((error: unknown) =>
        this.logger.warn('cannot save download state', { fileId, reason: (error as Error).message }),
      );
    }, SIDECAR_FLUSH_MS);
    this.sidecarTimers.set(fileId, timer);
  }

  /**
   * Writes the sidecar after any write of it still in flight: a loaded machine can take longer than
   * SIDECAR_FLUSH_MS per write, and two writes at once raced on the temp file ("cannot save download
   * state": ENOENT on rename).
   */
  private flushSidecar(fileId: string): Promise<void> {
    const previous = this.sidecarWrites.get(fileId) ?? Promise.resolve();
    const write = previous.catch(() => undefined).then(() => this.writeSidecar(fileId));
    this.sidecarWrites.set(fileId, write);
    void write.then(
      () => this.sidecarWrites.get(fileId) === write && this.sidecarWrites.delete(fileId),
      () => this.sidecarWrites.get(fileId) === write && this.sidecarWrites.delete(fileId),
    );
    return write;
  }

  /** Writes the sidecar (the bitfield; the manifest has its own file) so a crash never leaves half of it. */
  private async writeSidecar(fileId: string): Promise<void> {
    const file = this.files.get(fileId);
    if (!file || file.complete) return;
    await writeAtomically(join(this.downloadsDir, `${fileId}.json`), JSON.stringify({ bitfield: file.bitfield.toBase64() }));
  }

  /**
   * One open handle per file; a partial file is opened for update. Only starting a download
   * (`create`) creates a missing partial file: a read that reopened one after it moved into DIR would
   * leave an empty partial file, and cache its handle for a file the peer advertises.
   */
  private handleFor(file: StoredFile, create = false): Promise<FileHandle> {
    let handle = this.handles.get(file.fileId);
    if (!handle) {
      handle = open(file.path, file.complete ? 'r' : 'r+').catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !file.complete && create) return open(file.path, 'w+');
        throw error;
      });
      handle.catch(() => this.handles.delete(file.fileId));
      this.handles.set(file.fileId, handle);
    }
    return handle;
  }

  private async closeHandle(fileId: string): Promise<void> {
    const handle = this.handles.get(fileId);
    this.handles.delete(fileId);
    // A writer off the loop may still hold the descriptor: closed now, its number could be given to
    // another file before the write lands.
    if (handle) await this.noWritesOutside(fileId);
    if (handle) await (await handle.catch(() => undefined))?.close().catch(() => undefined);
  }
}

function writeFailure(file: StoredFile, code: string): PeerError {
  return new PeerError(
    code === 'ENOSPC' ? PeerErrorCode.DiskFull : PeerErrorCode.WriteFailed,
    `cannot write ${file.manifest.name}: ${code}`,
  );
}

/** Temp file + rename: a reader sees the old content or the new, never half of it. */
async function writeAtomically(path: string, content: string): Promise<void> {
  try {
    await writeFile(`${path}.tmp`, content);
    await rename(`${path}.tmp`, path);
  } catch (error) {
    // A full disk leaves a temp file, partly written: nothing would ever remove it.
    await rm(`${path}.tmp`, { force: true }).catch(() => undefined);
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
