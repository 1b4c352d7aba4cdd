/**
 * The tracker's soft state, with no I/O: peers, the catalogue of manifests, and which chunks each peer
 * holds (the replicas). Everything here can be rebuilt from the peers' own re-announcements after a
 * tracker restart, like a BitTorrent tracker.
 */
import { randomBytes } from 'node:crypto';
import { assertValidManifest, Bitfield, computeFileId } from '../protocol';
import type { FileSummary, Manifest, PeerLocation } from '../protocol';
import { SwarmlabError } from '../shared/errors';

export class RegistryError extends SwarmlabError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'RegistryError';
  }
}

interface PeerRecord {
  peerId: string;
  name: string;
  host: string;
  port: number;
  lastSeenMs: number;
  /** fileId -> chunks held. */
  holdings: Map<string, Bitfield>;
}

interface FileRecord {
  fileId: string;
  manifest: Manifest;
  holders: Set<string>;
}

export interface SwarmRegistryInit {
  /** A peer is expired after this long without any message. */
  expiryMs: number;
  /** Most files one peer may hold or announce. */
  maxFilesPerPeer?: number;
}

export const DEFAULT_MAX_FILES_PER_PEER = 10_000;

export class SwarmRegistry {
  private readonly peers = new Map<string, PeerRecord>();
  private readonly files = new Map<string, FileRecord>();
  private readonly expiryMs: number;
  private readonly maxFilesPerPeer: number;

  constructor(init: SwarmRegistryInit) {
    this.expiryMs = init.expiryMs;
    this.maxFilesPerPeer = init.maxFilesPerPeer ?? DEFAULT_MAX_FILES_PER_PEER;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  get fileCount(): number {
    return this.files.size;
  }

  register(name: string, host: string, port: number, nowMs: number): string {
    const peerId = randomBytes(8).toString('hex');
    this.peers.set(peerId, { peerId, name, host, port, lastSeenMs: nowMs, holdings: new Map() });
    return peerId;
  }

  has(peerId: string): boolean {
    return this.peers.has(peerId);
  }

  touch(peerId: string, nowMs: number): void {
    const peer = this.peers.get(peerId);
    if (peer) peer.lastSeenMs = nowMs;
  }

  unregister(peerId: string): void {
    const peer = this.peers.get(peerId);
    if (!peer) return;
    for (const fileId of peer.holdings.keys()) this.dropHolder(fileId, peerId);
    this.peers.delete(peerId);
  }

  /** Removes peers not heard from within the expiry window; returns their ids. */
  expire(nowMs: number): string[] {
    const expired: string[] = [];
    for (const peer of this.peers.values()) {
      if (nowMs - peer.lastSeenMs > this.expiryMs) expired.push(peer.peerId);
    }
    for (const peerId of expired) this.unregister(peerId);
    return expired;
  }

  /** A peer holds every chunk of `manifest`. */
  publish(peerId: string, manifest: Manifest): string {
    assertValidManifest(manifest);
    const file = this.ensureFile(manifest);
    const holdings = this.holdingsFor(peerId, file);
    for (let index = 0; index < manifest.chunks.length; index++) holdings.set(index);
    return file.fileId;
  }

  /** A peer announces chunks it has verified; a manifest may travel with the first announcement. */
  have(peerId: string, fileId: string, indices: number[], manifest?: Manifest): void {
    let file = this.files.get(fileId);
    if (!file) {
      if (!manifest) throw new RegistryError('ERR_UNKNOWN_FILE', `no file ${fileId} is known; announce it with its manifest`);
      assertValidManifest(manifest);
      if (computeFileId(manifest) !== fileId) throw new RegistryError('ERR_FILE_ID_MISMATCH', 'the manifest does not hash to that file id');
      file = this.ensureFile(manifest);
    }
    const holdings = this.holdingsFor(peerId, file);
    for (const index of indices) {
      if (index >= holdings.length) throw new RegistryError('ERR_BAD_INDEX', `chunk ${index} is past the end of the file`);
      holdings.set(index);
    }
  }

  /** A peer stops offering a file. */
  withdraw(peerId: string, fileId: string): void {
    const peer = this.peers.get(peerId);
    if (!peer?.holdings.delete(fileId)) return;
    this.dropHolder(fileId, peerId);
  }

  list(): FileSummary[] {
    const summaries: FileSummary[] = [];
    for (const file of this.files.values()) {
      let seeders = 0;
      for (const holderId of file.holders) {
        if (this.peers.get(holderId)?.holdings.get(file.fileId)?.complete) seeders++;
      }
      summaries.push({
        fileId: file.fileId,
        name: file.manifest.name,
        size: file.manifest.size,
        chunkSize: file.manifest.chunkSize,
        chunks: file.manifest.chunks.length,
        holders: file.holders.size,
        seeders,
      });
    }
    return summaries.sort((a, b) => a.name.localeCompare(b.name) || a.fileId.localeCompare(b.fileId));
  }

  locate(fileId: string, excludePeerId?: string): { manifest: Manifest; peers: PeerLocation[] } {
    const file = this.files.get(fileId);
    if (!file) throw new RegistryError('ERR_UNKNOWN_FILE', `no file ${fileId} is known`);
    const peers: PeerLocation[] = [];
    for (const holderId of file.holders) {
      if (holderId === excludePeerId) continue;
      const peer = this.peers.get(holderId);
      const holdings = peer?.holdings.get(fileId);
      if (!peer || !holdings) continue;
      peers.push({
        peerId: peer.peerId,
        name: peer.name,
        host: peer.host,
        port: peer.port,
        complete: holdings.complete,
        bitfield: holdings.toBase64(),
      });
    }
    return { manifest: file.manifest, peers };
  }

  private ensureFile(manifest: Manifest): FileRecord {
    const fileId = computeFileId(manifest);
    let file = this.files.get(fileId);
    if (!file) {
      file = { fileId, manifest, holders: new Set() };
      this.files.set(fileId, file);
    }
    return file;
  }

  private holdingsFor(peerId: string, file: FileRecord): Bitfield {
    const peer = this.peers.get(peerId);
    if (!peer) throw new RegistryError('ERR_NOT_REGISTERED', 'register before announcing files');
    let holdings = peer.holdings.get(file.fileId);
    if (!holdings) {
      if (peer.holdings.size >= this.maxFilesPerPeer) {
        throw new RegistryError('ERR_TOO_MANY_FILES', `a peer may hold at most ${this.maxFilesPerPeer} files`);
      }
      holdings = new Bitfield(file.manifest.chunks.length);
      peer.holdings.set(file.fileId, holdings);
      file.holders.add(peerId);
    }
    return holdings;
  }

  private dropHolder(fileId: string, peerId: string): void {
    const file = this.files.get(fileId);
    if (!file) return;
    file.holders.delete(peerId);
    // Soft state: a file nobody holds cannot be downloaded, so it leaves the catalogue.
    if (file.holders.size === 0) this.files.delete(fileId);
  }
}
