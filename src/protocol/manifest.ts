/**
 * Manifests and file ids. The file id is the SHA-256 of the manifest's canonical encoding (like a
 * BitTorrent info-hash): two files with the same name but other bytes get other ids.
 */
import { createHash } from 'node:crypto';
import { MAX_NAME_BYTES } from './constants';
import { InvalidBodyError } from './errors';
import type { Manifest } from './messages';
import { validateManifest } from './schemas';

/** JSON with the fields in a fixed order, so every peer derives the same id. */
export function canonicalManifest(manifest: Manifest): string {
  return JSON.stringify({
    name: manifest.name,
    size: manifest.size,
    chunkSize: manifest.chunkSize,
    chunks: manifest.chunks,
  });
}

export function computeFileId(manifest: Manifest): string {
  return createHash('sha256').update(canonicalManifest(manifest)).digest('hex');
}

export function expectedChunkCount(size: number, chunkSize: number): number {
  return size === 0 ? 0 : Math.ceil(size / chunkSize);
}

/** Bytes in chunk `index`: every chunk is full but the last. */
export function chunkLength(manifest: Manifest, index: number): number {
  const start = index * manifest.chunkSize;
  return Math.max(0, Math.min(manifest.chunkSize, manifest.size - start));
}

/** Throws InvalidBodyError unless the manifest matches its schema and its chunk count matches its size. */
export function assertValidManifest(manifest: unknown): asserts manifest is Manifest {
  const problem = validateManifest(manifest);
  if (problem !== undefined) throw new InvalidBodyError(`manifest ${problem}`);
  const { name, size, chunkSize, chunks } = manifest as Manifest;
  // JSON Schema counts characters; the limit is in bytes of UTF-8.
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw new InvalidBodyError(`manifest name is longer than ${MAX_NAME_BYTES} bytes`);
  if (chunks.length !== expectedChunkCount(size, chunkSize)) {
    throw new InvalidBodyError(`manifest lists ${chunks.length} chunks but a size of ${size} needs ${expectedChunkCount(size, chunkSize)}`);
  }
}
