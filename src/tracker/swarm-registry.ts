/**
 * The tracker's soft state, with no I/O: peers, the catalogue of manifests, and which chunks each peer
 * holds (the replicas). Everything here can be rebuilt from the peers' own re-announcements after a
 * tracker restart, like a BitTorrent tracker.
 *
 * Sized for many idle peers: a peer that announces nothing costs one small record (its holdings map is
 * made on its first file). Liveness comes in two kinds: a peer registered on a connection is bound to
 * it and expires with it (the tracker's connection sweep), while a leased peer has no connection of its
 * own and expires here, when nothing renewed its lease in time (`expireLeases`). A leased peer's key is
 * not stored: it is an HMAC of the peer id under this registry's secret, recomputed to check it.
 *
 * Each file keeps its encoded LOCATE answer until something about it changes; every mutation below that
 * can change an answer goes through `changed(file)`, which drops it.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { assertValidManifest, Bitfield, computeFileId, DEFAULT_NUMWANT, MAX_LIST_PAGE, MAX_NUMWANT } from '../protocol';
import type { FileSummary, Manifest } from '../protocol';
import { SwarmlabError } from '../shared/errors';
import { LocateAnswer } from './locate-answer';
import type { HolderEntry } from './locate-answer';
import { TrackerErrorCode } from './errors';

export class RegistryError extends SwarmlabError {
  constructor(code: TrackerErrorCode, message: string) {
    super(code, message);
    this.name = 'RegistryError';
  }
}

interface PeerRecord {
  readonly peerId: string;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** fileId -> what this peer holds of it; made on the peer's first file. */
  holdings: Map<string, Holding> | undefined;
  /** A leased peer: the remote address that registered it (leases are counted per address); undefined when bound to its connection. */
  readonly leasedFrom: string | undefined;
  /** Leased peers: when the lease was last renewed (Date.now()). */
  renewedMs: number;
}

/** One peer's replica of one file, shared by the peer's and the file's maps. */
interface Holding {
  readonly peer: PeerRecord;
  readonly chunks: Bitfield;
}

interface FileRecord {
  readonly fileId: string;
  readonly manifest: Manifest;
  /** peerId -> holding, in the order the peers first announced the file. */
  readonly holders: Map<string, Holding>;
  /** The encoded LOCATE answer for the current state; undefined after any change. */
  answer: LocateAnswer | undefined;
}

export interface SwarmRegistryInit {
  /** Most files one peer may hold or announce. */
  maxFilesPerPeer?: number;
  /**
   * Most live leases one remote address may hold. A lease outlives its connection, so the tracker's
   * limit on connections per address does not bound them: without this, one host could register
   * leases in a loop until the tracker ran out of memory.
   */
  maxLeasesPerAddress?: number;
}

export const DEFAULT_MAX_FILES_PER_PEER = 10_000;
export const DEFAULT_MAX_LEASES_PER_ADDRESS = 1024;
const LEASE_KEY_HEX_CHARS = 32;

/** A leased registration's identity, as REGISTERED hands it out and REGISTER `resume` shows it back. */
export interface Lease {
  peerId: string;
  key: string;
}

export class SwarmRegistry {
  private readonly peers = new Map<string, PeerRecord>();
  private readonly files = new Map<string, FileRecord>();
  private readonly maxFilesPerPeer: number;
  private readonly maxLeasesPerAddress: number;
  private readonly leasesByAddress = new Map<string, number>();
  /** Signs leased peers' keys; new with each tracker, so a restart invalidates every lease. */
  private readonly leaseSecret = randomBytes(32);

  constructor(init: SwarmRegistryInit = {}) {
    this.maxFilesPerPeer = init.maxFilesPerPeer ?? DEFAULT_MAX_FILES_PER_PEER;
    this.maxLeasesPerAddress = init.maxLeasesPerAddress ?? DEFAULT_MAX_LEASES_PER_ADDRESS;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  get fileCount(): number {
    return this.files.size;
  }

  /** A peer bound to its connection: the caller unregisters it when the connection goes. */
  register(name: string, host: string, port: number): string {
    return this.add(name, host, port, undefined, 0).peerId;
  }

  /**
   * A peer with no connection of its own, registered from `fromAddress`: it stays until UNREGISTER or
   * until `expireLeases` finds it silent.
   */
  registerLeased(name: string, host: string, port: number, fromAddress: string, nowMs = Date.now()): Lease {
    const leases = this.leasesByAddress.get(fromAddress) ?? 0;
    if (leases >= this.maxLeasesPerAddress)
      throw new RegistryError(TrackerErrorCode.TooManyLeases, `one address may hold at most ${this.maxLeasesPerAddress} leases`);
    const { peerId } = this.add(name, host, port, fromAddress, nowMs);
    this.leasesByAddress.set(fromAddress, leases + 1);
    return { peerId, key: this.leaseKey(peerId) };
  }

  /**
   * Renews the lease that `lease` shows and returns the address it advertises; throws when it is
   * unknown (expired, or from an earlier tracker) or the key is wrong.
   */
  resume(lease: Lease, nowMs = Date.now()): { host: string } {
    const peer = this.peers.get(lease.peerId);
    const expected = Buffer.from(this.leaseKey(lease.peerId));
    const shown = Buffer.from(lease.key);
    const keyMatches = shown.length === expected.length && timingSafeEqual(shown, expected);
    if (peer?.leasedFrom === undefined || !keyMatches)
      throw new RegistryError(TrackerErrorCode.UnknownPeer, 'no such leased peer (it expired, or the tracker restarted); register again');
    peer.renewedMs = nowMs;
    return { host: peer.host };
  }

  /** Called on every request from a peer: a leased peer's lease starts again. */
  renew(peerId: string, nowMs = Date.now()): void {
    const peer = this.peers.get(peerId);
    if (peer?.leasedFrom !== undefined) peer.renewedMs = nowMs;
  }

  isLeased(peerId: string): boolean {
    return this.peers.get(peerId)?.leasedFrom !== undefined;
  }

  /** Unregisters every leased peer not renewed since `oldestAllowedMs`; returns their ids. */
  expireLeases(oldestAllowedMs: number): string[] {
    const expired: string[] = [];
    for (const peer of this.peers.values()) {
      if (peer.leasedFrom !== undefined && peer.renewedMs < oldestAllowedMs) expired.push(peer.peerId);
    }
    for (const peerId of expired) this.unregister(peerId);
    return expired;
  }

  private add(name: string, host: string, port: number, leasedFrom: string | undefined, renewedMs: number): PeerRecord {
    let peerId: string;
    do peerId = randomBytes(8).toString('hex');
    while (this.peers.has(peerId));
    const peer: PeerRecord = { peerId, name, host, port, holdings: undefined, leasedFrom, renewedMs };
    this.peers.set(peerId, peer);
    return peer;
  }

  private leaseKey(peerId: string): string {
    return createHmac('sha256', this.leaseSecret).update(peerId).digest('hex').slice(0, LEASE_KEY_HEX_CHARS);
  }

  unregister(peerId: string): void {
    const peer = this.peers.get(peerId);
    if (!peer) return;
    for (const fileId of peer.holdings?.keys() ?? []) this.dropHolder(fileId, peerId);
    this.peers.delete(peerId);
    if (peer.leasedFrom !== undefined) {
      const leases = (this.leasesByAddress.get(peer.leasedFrom) ?? 1) - 1;
      if (leases > 0) this.leasesByAddress.set(peer.leasedFrom, leases);
      else this.leasesByAddress.delete(peer.leasedFrom);
    }
  }

  /** A peer holds every chunk of `manifest`. */
  publish(peerId: string, manifest: Manifest): string {
    assertValidManifest(manifest);
    const peer = this.requirePeer(peerId);
    const file = this.holdingFor(peer, computeFileId(manifest), manifest);
    const { chunks } = file.holding;
    let added = false;
    for (let index = 0; index < manifest.chunks.length; index++) added = chunks.set(index) || added;
    if (added) this.changed(file.record);
    return file.record.fileId;
  }

  /** A peer announces chunks it has verified; a manifest may travel with the first announcement. */
  have(peerId: string, fileId: string, indices: number[], manifest?: Manifest): void {
    const peer = this.requirePeer(peerId);
    if (!this.files.has(fileId)) {
      if (!manifest)
        throw new RegistryError(TrackerErrorCode.UnknownFile, `no file ${fileId} is known; announce it with its manifest`);
      assertValidManifest(manifest);
      if (computeFileId(manifest) !== fileId)
        throw new RegistryError(TrackerErrorCode.FileIdMismatch, 'the manifest does not hash to that file id');
    }
    const file = this.holdingFor(peer, fileId, manifest);
    const { chunks } = file.holding;
    let added = false;
    try {
      for (const index of indices) {
        if (index >= chunks.length)
          throw new RegistryError(TrackerErrorCode.BadIndex, `chunk ${index} is past the end of the file`);
        added = chunks.set(index) || added;
      }
    } finally {
      // The indices before a bad one were taken, as they always were.
      if (added) this.changed(file.record);
    }
  }

  /** A peer stops offering a file. */
  withdraw(peerId: string, fileId: string): void {
    const peer = this.peers.get(peerId);
    if (!peer?.holdings?.delete(fileId)) return;
    this.dropHolder(fileId, peerId);
  }

  /**
   * One page of the catalogue (docs/protocol.md, LIST): at most `limit` files (capped to MAX_LIST_PAGE)
   * from `offset` on, in name order, and the offset of the next page when there is one. A page is
   * bounded so that the answer stays far below MAX_FRAME_BYTES however large the catalogue grows.
   */
  listPage(offset = 0, limit = MAX_LIST_PAGE): { files: FileSummary[]; next?: number } {
    const all = this.list();
    const end = offset + Math.min(limit, MAX_LIST_PAGE);
    const files = all.slice(offset, end);
    return end < all.length ? { files, next: end } : { files };
  }

  list(): FileSummary[] {
    const summaries: FileSummary[] = [];
    for (const file of this.files.values()) {
      let seeders = 0;
      for (const { chunks } of file.holders.values()) if (chunks.complete) seeders++;
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

  /**
   * The encoded PEERS body (docs/protocol.md, LOCATE) for `fileId`: its manifest and up to `numwant`
   * holders (capped to MAX_NUMWANT) other than the asking peer, with the chunks each holds; without the
   * manifest when `withManifest` is false. The encoded holders are reused until the file changes.
   */
  locateAnswer(fileId: string, askingPeerId?: string, numwant = DEFAULT_NUMWANT, withManifest = true): Buffer {
    const file = this.files.get(fileId);
    if (!file) throw new RegistryError(TrackerErrorCode.UnknownFile, `no file ${fileId} is known`);
    file.answer ??= LocateAnswer.encode(file.fileId, file.manifest, holderEntries(file));
    return file.answer.body(askingPeerId, Math.min(numwant, MAX_NUMWANT), withManifest);
  }

  private requirePeer(peerId: string): PeerRecord {
    const peer = this.peers.get(peerId);
    if (!peer) throw new RegistryError(TrackerErrorCode.NotRegistered, 'register before announcing files');
    return peer;
  }

  /**
   * The peer's holding of a file, made (with the file's record, from `manifest`, when the catalogue does
   * not have it yet) after the per-peer limit is checked, so a refused announcement leaves nothing behind.
   */
  private holdingFor(
    peer: PeerRecord,
    fileId: string,
    manifest: Manifest | undefined,
  ): { record: FileRecord; holding: Holding } {
    const existing = peer.holdings?.get(fileId);
    const known = this.files.get(fileId);
    if (existing && known) return { record: known, holding: existing };
    if ((peer.holdings?.size ?? 0) >= this.maxFilesPerPeer) {
      throw new RegistryError(TrackerErrorCode.TooManyFiles, `a peer may hold at most ${this.maxFilesPerPeer} files`);
    }
    let record = known;
    if (!record) {
      if (!manifest) throw new RegistryError(TrackerErrorCode.UnknownFile, `no file ${fileId} is known`);
      record = { fileId, manifest, holders: new Map(), answer: undefined };
      this.files.set(fileId, record);
    }
    const holding: Holding = { peer, chunks: new Bitfield(record.manifest.chunks.length) };
    peer.holdings ??= new Map();
    peer.holdings.set(fileId, holding);
    record.holders.set(peer.peerId, holding);
    this.changed(record);
    return { record, holding };
  }

  private dropHolder(fileId: string, peerId: string): void {
    const file = this.files.get(fileId);
    if (!file?.holders.delete(peerId)) return;
    this.changed(file);
    // Soft state: a file nobody holds cannot be downloaded, so it leaves the catalogue.
    if (file.holders.size === 0) this.files.delete(fileId);
  }

  private changed(file: FileRecord): void {
    file.answer = undefined;
  }
}

function holderEntries(file: FileRecord): HolderEntry[] {
  const entries: HolderEntry[] = [];
  for (const { peer, chunks } of file.holders.values()) {
    entries.push({
      location: {
        peerId: peer.peerId,
        name: peer.name,
        host: peer.host,
        port: peer.port,
        complete: chunks.complete,
        bitfield: chunks.toBase64(),
      },
      chunks,
    });
  }
  return entries;
}
