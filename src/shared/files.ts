/**
 * File-system helpers that keep every path inside the peer's directory and hash files in chunks.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { basename, resolve, sep } from 'node:path';
import { MAX_NAME_BYTES } from '../protocol';
import type { Manifest } from '../protocol';
import { SharedErrorCode } from './errors';

/** Bytes per read when a whole file is hashed. */
const HASH_READ_BYTES = 1024 * 1024;

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Makes a name from the network safe to use as a file name: no separators, NULs, control characters,
 * leading dots or "..", at most MAX_NAME_BYTES. The result is never empty.
 */
export function safeFileName(name: string): string {
  let safe = basename(name.replace(/[\\/]/g, '_'))
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '_')
    .replace(/^\.+/, '_');
  if (Buffer.byteLength(safe) > MAX_NAME_BYTES) {
    // Cut whole code points, never half a surrogate pair.
    let kept = '';
    for (const codePoint of safe) {
      if (Buffer.byteLength(kept + codePoint) > MAX_NAME_BYTES) break;
      kept += codePoint;
    }
    safe = kept;
  }
  return safe === '' ? '_' : safe;
}

/** Resolves `name` inside `dir`; throws when the result would leave it. */
export function pathInside(dir: string, name: string): string {
  const root = resolve(dir);
  const path = resolve(root, safeFileName(name));
  if (!path.startsWith(root + sep)) throw new Error(`refusing a path outside ${root}`);
  return path;
}

/** Hashes a file chunk by chunk with one reusable buffer, so memory stays at one chunk. */
export async function buildManifest(
  path: string,
  name: string,
  chunkSize: number,
): Promise<Manifest & { mtimeMs: number }> {
  const handle = await open(path, 'r');
  try {
    const stat = await handle.stat();
    const buffer = Buffer.allocUnsafe(chunkSize);
    const chunks: string[] = [];
    for (let position = 0; position < stat.size; position += chunkSize) {
      const length = Math.min(chunkSize, stat.size - position);
      await readFully(handle, buffer, length, position);
      chunks.push(sha256Hex(buffer.subarray(0, length)));
    }
    return { name, size: stat.size, chunkSize, chunks, mtimeMs: stat.mtimeMs };
  } finally {
    await handle.close();
  }
}

export async function readFully(
  handle: import('node:fs/promises').FileHandle,
  buffer: Buffer,
  length: number,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw Object.assign(new Error('file is shorter than expected'), { code: SharedErrorCode.ShortRead });
    done += bytesRead;
  }
}

/** Whether the file at `path` is `size` bytes long (false when it cannot be read). */
export async function fileHasSize(path: string, size: number): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.size === size;
}

/**
 * SHA-256 of a whole file, streamed with two buffers: the next read is in flight (in libuv's
 * threadpool) while this thread hashes the previous one, so the pass costs the hashing, not reading
 * plus hashing.
 */
export async function hashFile(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const hash = createHash('sha256');
    const buffers = [Buffer.allocUnsafe(HASH_READ_BYTES), Buffer.allocUnsafe(HASH_READ_BYTES)] as const;
    let position = 0;
    let reading = handle.read(buffers[0], 0, HASH_READ_BYTES, position);
    for (let turn = 1; ; turn++) {
      const { bytesRead, buffer } = await reading;
      if (bytesRead === 0) break;
      position += bytesRead;
      reading = handle.read(buffers[turn % 2]!, 0, HASH_READ_BYTES, position);
      hash.update(buffer.subarray(0, bytesRead));
    }
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}
