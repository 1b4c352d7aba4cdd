/**
 * DEV DOCS — the download scheduler, the most involved module of a peer.
 *
 * One scheduler runs one download of one file. Its collaborators:
 * - `locate()` asks the tracker who holds which chunks (PEERS); it is called at start and every
 *   `refreshMs`, so holders that appear during the download (other downloaders) become sources.
 * - `connect()` returns a shared PeerConnection to a source (one per address, reused by every download).
 *   On it the scheduler sends INTERESTED and gets the source's live bitfield, then HAVE_CHUNK pushes.
 * - the ChunkStore writes verified chunks at their offset in the partial file.
 * - the HashWorker (the peer's hashing thread) verifies each chunk's SHA-256 and feeds the chunks
 *   that verify to the file's SHA-256 in file order (FileDigest), so the digest is ready with the last
 *   chunk; the event loop only reads sockets, writes files and decides what to ask for next.
 * - `announce()` tells the tracker about each new chunk (batched by the caller), so this peer becomes a
 *   source for it at once (swarming).
 *
 * Sources are keyed by address (host:port), not peer id, because a peer re-registering after a
 * tracker restart gets a new id but is the same source. Every holder LOCATE shows is known (its
 * bitfield counts for rarity), but at most `maxSources` are connected at once, picked among those
 * holding a chunk this peer lacks, never-tried and longest-untried first; at the cap, every ROTATE_MS the source that gave the fewest
 * chunks since the last rotation (of those connected for ROTATE_MS at least) makes room for another
 * (see DEFAULT_MAX_SOURCES), and a source that answers REJECT busy makes room at once (`swapBusy`). Neither
 * lets go the only known holder of a chunk this peer lacks (a seeder whose chunks are not all out yet).
 * Slots that no holder of a needed chunk takes go to peers that hold nothing yet (downloaders that
 * have just started, as BitTorrent connects to peers before they have pieces): their first chunks then
 * arrive as HAVE_CHUNK pushes, and at a big swarm's start each hop of the spread is one message, not a
 * HAVE to the tracker, a LOCATE and a connection.
 *
 * Selection: rarest first among the chunks nobody was asked for yet, ties broken at random, at most
 * `maxInflightPerSource` requests outstanding per source (pipelining). When every missing chunk is
 * already asked for, endgame: an idle source asks for a chunk in flight elsewhere (at most
 * MAX_ENDGAME_REQUESTERS per chunk); the first copy that verifies wins and the others are cancelled.
 *
 * Failure handling: every chunk is verified (SHA-256 against the manifest) before it is written. A bad
 * chunk is a strike; at `maxStrikes` the source is dropped for this download. A REJECT clears that
 * chunk from the source's bitfield; a timeout (a hung source) or a closed connection re-queues the
 * chunks it held and puts the source on backoff. The download fails only on a local write error, on
 * abort, or when no chunk arrives for `stallTimeoutMs` while it has no source.
 */
import { EventEmitter, setMaxListeners } from 'node:events';
import { Bitfield, chunkLength } from '../protocol';
import type { HoldersBody, Manifest, PeerLocation } from '../protocol';
import { errorCode, errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { shuffle } from '../shared/shuffle';
import type { TokenBucket } from '../shared/token-bucket';
import { busyRetryMs, ROOM_WAIT_MS } from './busy-backoff';
import type { ChunkStore, StoredFile } from './chunk-store';
import type { ChunkLease } from './chunk-memory';
import { PeerError, PeerErrorCode } from './errors';
import { FileDigest } from './file-digest';
import type { ChunkVerdict, ChunkWriteTarget, HashWorker } from './hash-worker';
import type { ChunkRejection, PeerConnection } from './peer-connection';
import { pickChunk } from './piece-picker';
import type { PickFunction } from './piece-picker';
import { RequestWindow } from './request-window';

export const DEFAULT_MAX_INFLIGHT_PER_SOURCE = 16;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_REFRESH_MS = 500;
export const DEFAULT_MAX_STRIKES = 3;
export const DEFAULT_STALL_TIMEOUT_MS = 120_000;
/**
 * Sources one download keeps connected at once. Each connected source pushes a HAVE_CHUNK for every
 * chunk it gets, holds a socket and its timers, and queues this downloader's requests behind everyone
 * else's at its rate-limited upload: with every holder as a source (a full mesh), a swarm of N peers
 * sends O(N²) announcements and a popular source's queue outgrows the request timeout. BitTorrent
 * clients likewise talk to a few dozen peers and serve only a handful at a time.
 */
export const DEFAULT_MAX_SOURCES = 12;
/** At the source cap, how often the least productive source is swapped for an unconnected holder. */
export const ROTATE_MS = 5_000;
/**
 * At its source cap a download asks the tracker for holders this often instead of every `refreshMs`:
 * its sources push what they get, and each PEERS answer carries the manifest and up to 50 bitfields
 * (about 80 KB for 64 MiB in 64 KiB chunks) to parse and validate, twice a second per downloader.
 */
export const LOCATE_AT_CAP_MS = 2_000;
/**
 * At the source cap, at most one source that answered REJECT busy is swapped for another this often, while
 * swaps pay (the source a swap brought in gave a chunk); each swap that has not paid yet doubles the
 * pause, up to BUSY_SWAP_MAX_MS. In a swarm short of upload (its start, when the seeder and a few first
 * holders serve everyone) every holder is busy, and each swap was only a connection closed and another
 * opened on both sides, one or two a second per downloader.
 */
export const BUSY_SWAP_MS = 500;
export const BUSY_SWAP_MAX_MS = 8_000;
const MAX_ENDGAME_REQUESTERS = 2;
/**
 * Ties between equally rare chunks are broken among this many chunks from the first one not held, so
 * chunks arrive near file order and the whole-file digest keeps up from memory (see piece-picker).
 */
const PICK_SPREAD = 32;
const BACKOFF_MS = 2_000;
const PROGRESS_EVERY_MS = 200;
/** Verified chunks waiting for the disk; past this no new request is sent, which bounds memory. */
const MAX_PENDING_WRITES = 16;
/**
 * Requests waiting for the download limiter at once, in request windows (maxSources × maxInflight): a
 * request to a source let go still waits for its turn before it is dropped, so windows turn over.
 */
const LIMITER_WAIT_WINDOWS = 4;

export interface ChunkTransferEvent {
  file: string;
  fileId: string;
  index: number;
  chunks: number;
  from: string;
  fromAddr: string;
  to: string;
  bytes: number;
  ms: number;
  /**
   * When this peer verified the chunk (epoch ms, its own clock): whoever reads the event later (a lab
   * controller behind a hundred busy containers reads some seconds late) still knows when it happened.
   */
  at: number;
}

export interface ProgressEvent {
  have: number;
  chunks: number;
  bytes: number;
  size: number;
  rateBps: number;
  /** When this peer held `have` chunks (epoch ms, its own clock). */
  at: number;
}

export interface DownloadResult {
  fileId: string;
  file: string;
  path: string;
  bytes: number;
  chunksBySource: Record<string, number>;
  keptChunks: number;
  ms: number;
  /** SHA-256 of the whole file, computed in chunk order as the chunks were written; absent with `digest: false`. */
  sha256?: string;
}

export interface DownloadSchedulerEvents {
  chunk: [ChunkTransferEvent];
  progress: [ProgressEvent];
  'bad-chunk': [{ index: number; from: string; fromAddr: string; strikes: number; dropped: boolean }];
}

export interface DownloadSchedulerComponents {
  store: ChunkStore;
  logger: Logger;
  downloadLimiter: TokenBucket;
  /** The file's holders (a refresh: the manifest is not needed). */
  locate: (fileId: string) => Promise<HoldersBody>;
  connect: (host: string, port: number) => Promise<PeerConnection>;
  announce: (fileId: string, index: number) => void;
  /** A source was let go to make room for another: close `connection` unless another download uses it. */
  release?: (connection: PeerConnection) => void;
  /** Verifies chunks and computes the file digest off the event loop: the peer's hashing thread. */
  hasher: HashWorker;
  /** A verified chunk of `bytes` came from the peer with this tracker id (the upload policy's tally). */
  received?: (peerId: string, name: string, bytes: number) => void;
}

export interface DownloadSchedulerInit {
  file: StoredFile;
  /** This peer's own name, for the transfer events. */
  selfName: string;
  /** Chunks already held when the download (re)started. */
  keptChunks?: number;
  maxInflightPerSource?: number;
  /** Sources connected at once (default DEFAULT_MAX_SOURCES). */
  maxSources?: number;
  /** The piece-selection policy (`--picker`); default rarest first (`pickChunk`). */
  picker?: PickFunction;
  /**
   * A policy that answers per source and may need time (an isolated picker module): called once per
   * source; `wake` refills that source when a choice it could not give at once is ready. Wins over `picker`.
   */
  pickerFor?: (wake: () => void) => PickFunction;
  /** Endgame duplicates allowed (`--endgame`); default true. */
  endgame?: boolean;
  requestTimeoutMs?: number;
  refreshMs?: number;
  maxStrikes?: number;
  stallTimeoutMs?: number;
  /**
   * false: no whole-file digest (the result has no `sha256`). Every chunk is still checked against the
   * manifest; what is saved is the second SHA-256 pass over the file, the largest cost of a download
   * after the chunk checks, for callers that check the file themselves or not at all.
   */
  digest?: boolean;
  signal?: AbortSignal;
}

interface Source {
  key: string;
  /** The tracker's id for the peer (LOCATE): how the peer's own server recognises its connections. */
  peerId: string;
  /**
   * Requests this source may have outstanding now (request-window.ts): it grows while chunks come back
   * without waiting at the source, up to maxInflight, and shrinks when they queue there. Fewer requests
   * parked at a slow source leave more chunks to ask of others, so a rate-limited seeder sends fewer
   * duplicate copies into the swarm.
   */
  window: RequestWindow;
  name: string;
  host: string;
  port: number;
  bitfield: Bitfield;
  connection: PeerConnection | undefined;
  connecting: boolean;
  /** index -> request id */
  inflight: Map<number, number>;
  strikes: number;
  dropped: boolean;
  retryAtMs: number;
  /** Rounds of REJECT busy in a row, each a longer pause (busy-backoff.ts); a chunk from it resets it. */
  busyStreak: number;
  /** Connected by a busy swap and no chunk from it yet: its first chunk shows that swaps find upload to spare. */
  swappedIn: boolean;
  /** Chunks it gave since the last rotation (ROTATE_MS): which source makes room for another. */
  recentChunks: number;
  /**
   * When its current (or last) connection was made, 0 for a holder never connected: a source connected
   * less than ROTATE_MS ago stays, and holders tried longest ago are tried first.
   */
  connectedAtMs: number;
  onHave?: (fileId: string, index: number) => void;
  onRoom?: () => void;
  onClose?: () => void;
  /** This source's pick function, from `init.pickerFor`. */
  picker?: PickFunction;
}

export class DownloadScheduler extends EventEmitter<DownloadSchedulerEvents> {
  private readonly manifest: Manifest;
  readonly fileId: string;
  private readonly have: Bitfield;
  private readonly sources = new Map<string, Source>();
  /** index -> sources currently asked for it */
  private readonly requestedFrom = new Map<number, Set<Source>>();
  /** index -> how many known sources hold it */
  private readonly availability: Uint16Array;
  /**
   * index -> the super-seeder that refused it (REJECT elsewhere): another downloader is getting it, so
   * it counts as one more holder when picking (a chunk nobody claimed is rarer) until someone else is
   * seen to hold it. Without this, every LOCATE refresh offered the claimed chunks again, ahead of the
   * unclaimed ones, and the seeder's upload went idle while it refused them.
   */
  private readonly claimedElsewhere = new Map<number, Source>();
  private readonly chunksBySource: Record<string, number> = {};
  private readonly maxInflight: number;
  private readonly maxSources: number;
  private lastRotationAtMs = Date.now();
  private lastBusySwapAtMs = 0;
  /** The pause between busy swaps now: BUSY_SWAP_MS while they pay, doubling while they do not. */
  private busySwapGapMs = BUSY_SWAP_MS;
  private lastLocateAtMs = 0;
  private readonly requestTimeoutMs: number;
  private readonly refreshMs: number;
  private readonly maxStrikes: number;
  private readonly stallTimeoutMs: number;
  private readonly startedAtMs = Date.now();
  /**
   * Ends every wait for the download limiter when the download ends. The download's own: each waiting
   * request listens on it, a window of them at a time, more than Node's default of 10 listeners (it
   * would print MaxListenersExceededWarning), and the peer's signal is shared by all its downloads.
   */
  private readonly limiterWaits = new AbortController();
  private lastChunkAtMs = Date.now();
  /** The last REJECT busy: a source that answers busy is there, its upload is taken (no stall). */
  private lastBusyAtMs = 0;
  private lastProgressAtMs = 0;
  private bytesThisRun = 0;
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing = false;
  /** No chunk below this one is missing (it only moves forward). */
  private front = 0;
  /** Chunks verified and waiting for the disk: never asked for again. */
  private readonly writing = new Set<number>();
  private finished = false;
  private resolveRun!: (result: DownloadResult) => void;
  private readonly hasher: HashWorker;
  private readonly digest: FileDigest | undefined;
  private rejectRun!: (error: Error) => void;

  constructor(
    private readonly components: DownloadSchedulerComponents,
    private readonly init: DownloadSchedulerInit,
  ) {
    super();
    this.manifest = init.file.manifest;
    this.fileId = init.file.fileId;
    this.have = init.file.bitfield;
    this.availability = new Uint16Array(this.manifest.chunks.length);
    this.maxInflight = init.maxInflightPerSource ?? DEFAULT_MAX_INFLIGHT_PER_SOURCE;
    this.maxSources = Math.max(1, init.maxSources ?? DEFAULT_MAX_SOURCES);
    this.requestTimeoutMs = init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.refreshMs = init.refreshMs ?? DEFAULT_REFRESH_MS;
    this.maxStrikes = init.maxStrikes ?? DEFAULT_MAX_STRIKES;
    this.stallTimeoutMs = init.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    this.hasher = components.hasher;
    setMaxListeners(LIMITER_WAIT_WINDOWS * this.maxSources * this.maxInflight, this.limiterWaits.signal);
    this.digest =
      init.digest === false ? undefined : new FileDigest(this.hasher, { manifest: this.manifest, path: init.file.path, have: this.have });
  }

  run(): Promise<DownloadResult> {
    const done = new Promise<DownloadResult>((resolve, reject) => {
      this.resolveRun = resolve;
      this.rejectRun = reject;
    });
    if (this.init.signal?.aborted) {
      this.fail(new PeerError(PeerErrorCode.Aborted, 'download cancelled'));
      return done;
    }
    // Removed when the run ends (stopTimers): the peer's own signal lives as long as the peer, and a
    // listener left on it kept every finished download reachable, with its sources and manifest.
    this.init.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (this.have.complete) {
      this.finish();
      return done;
    }
    this.refreshTimer = setInterval(() => void this.refresh(), this.refreshMs);
    void this.refresh();
    return done;
  }

  /** Sources that gave at least one chunk, by name. */
  get counts(): Record<string, number> {
    return { ...this.chunksBySource };
  }

  private async refresh(): Promise<void> {
    if (this.finished || this.refreshing) return;
    this.refreshing = true;
    try {
      if (this.activeSources < this.maxSources || Date.now() - this.lastLocateAtMs >= LOCATE_AT_CAP_MS) {
        this.lastLocateAtMs = Date.now();
        const located = await this.components.locate(this.fileId);
        for (const location of located.peers) this.upsertSource(location);
      }
    } catch (error) {
      // The tracker being away is not fatal: known sources keep serving.
      this.components.logger.debug('locate failed', { fileId: this.fileId, reason: errorMessage(error) });
    } finally {
      this.refreshing = false;
    }
    if (this.finished) return;
    this.connectSources();
    this.swapWaiting();
    this.fill();
    this.checkStall();
  }

  /**
   * A source that refused us with REJECT busy and sends ROOM is asked again only when it says so, so
   * its busy answers no longer come often enough to drive the swaps (`swapBusy`): while one waits, it
   * is offered for a swap at every refresh instead, at the same pace.
   */
  private swapWaiting(): void {
    const nowMs = Date.now();
    for (const source of this.sources.values()) {
      if (source.connection?.sendsRoom !== true || source.connection.closed || nowMs >= source.retryAtMs || source.inflight.size > 0) continue;
      this.swapBusy(source);
      return;
    }
  }

  /** Sources connected or connecting now (what `maxSources` caps). */
  get activeSources(): number {
    let active = 0;
    for (const source of this.sources.values()) if (this.isActive(source)) active++;
    return active;
  }

  private isActive(source: Source): boolean {
    return source.connecting || (source.connection !== undefined && !source.connection.closed);
  }

  /**
   * Connects holders of chunks this peer lacks, those never tried first, then those tried longest ago
   * (at random among equals), up to `maxSources`; at the cap, once
   * per ROTATE_MS, lets the least productive source go so that another holder gets a turn (the chunks
   * only unconnected holders have are reached that way, as are the holders a busy source kept waiting).
   */
  private connectSources(swap = false): void {
    const nowMs = Date.now();
    let active = 0;
    for (const source of this.sources.values()) if (this.isActive(source)) active++;
    const candidates = this.candidateSources(nowMs);
    if (active >= this.maxSources && candidates.length > 0 && nowMs - this.lastRotationAtMs >= ROTATE_MS) {
      this.lastRotationAtMs = nowMs;
      let worst: Source | undefined;
      for (const source of this.sources.values()) {
        if (!source.connection || source.connection.closed) continue;
        const settled = nowMs - source.connectedAtMs >= ROTATE_MS;
        // A seeder serving a hundred downloaders gives each of them the fewest chunks of all its
        // sources: without this exception every downloader let it go at the same rotation.
        if (settled && (!worst || source.recentChunks < worst.recentChunks) && !this.soleHolder(source)) worst = source;
        source.recentChunks = 0;
      }
      if (worst) {
        this.letGo(worst);
        active--;
      }
    }
    shuffle(candidates);
    // Holders never tried first, then those tried longest ago (a stable sort keeps the shuffle among
    // equals): one that just refused us is the likeliest to refuse again, and drawn at random, a holder
    // with upload to spare could wait a minute for a download with few slots to try it.
    candidates.sort((a, b) => a.connectedAtMs - b.connectedAtMs);
    for (const source of candidates) {
      if (active >= this.maxSources) break;
      this.ensureConnected(source);
      if (!this.isActive(source)) continue;
      active++;
      source.swappedIn = swap;
    }
    if (active >= this.maxSources) return;
    for (const source of this.emptyPeers(nowMs)) {
      if (active >= this.maxSources) break;
      this.ensureConnected(source);
      if (this.isActive(source)) active++;
    }
  }

  /**
   * Peers of the swarm that hold nothing yet and were never connected (downloaders that have just
   * started), in random order. A slot no holder of a needed chunk takes connects one, so that its first
   * chunks reach us as HAVE_CHUNK pushes the moment it has them, not after its HAVE to the tracker, our
   * next LOCATE and a connection; once it holds something it is a source like any other.
   */
  private emptyPeers(nowMs: number): Source[] {
    const found: Source[] = [];
    for (const source of this.sources.values()) {
      if (this.mayConnect(source, nowMs) && source.connectedAtMs === 0 && source.bitfield.count === 0) found.push(source);
    }
    return shuffle(found);
  }

  /** Known holders not connected now that may be connected: not dropped, not backing off, holding a chunk we need. */
  private candidateSources(nowMs: number): Source[] {
    const candidates: Source[] = [];
    for (const source of this.sources.values()) {
      if (this.mayConnect(source, nowMs) && this.offersSomething(source)) candidates.push(source);
    }
    return candidates;
  }

  /** Not connected now, not dropped, not backing off: a source a free slot may connect. */
  private mayConnect(source: Source, nowMs: number): boolean {
    return !this.isActive(source) && !source.dropped && nowMs >= source.retryAtMs;
  }

  /** Whether `source` is the only known holder of a chunk this peer still needs (the seeder, early on). */
  private soleHolder(source: Source): boolean {
    const chunks = this.manifest.chunks.length;
    for (let index = this.advanceFront(); index < chunks; index++) {
      if (source.bitfield.has(index) && !this.have.has(index) && !this.writing.has(index) && (this.availability[index] ?? 0) <= 1) return true;
    }
    return false;
  }

  /**
   * A source answered REJECT busy: its upload is taken by others. At the source cap, it makes room for
   * a holder not connected now (at most once per `busySwapGapMs`), which is likelier to have upload to
   * spare: otherwise every downloader stays with the first holders it found, whose uploads are full
   * while the later holders' stay idle. Not while it still holds requests of ours (it queued some: it
   * serves us, and letting it go would give up their place in its queue); the refusals of one round
   * arrive together, so the last of them decides.
   */
  private swapBusy(source: Source): void {
    const nowMs = Date.now();
    if (source.inflight.size > 0) return;
    if (nowMs - this.lastBusySwapAtMs < this.busySwapGapMs || this.activeSources < this.maxSources) return;
    if (this.soleHolder(source) || this.candidateSources(nowMs).length === 0) return;
    this.lastBusySwapAtMs = nowMs;
    this.busySwapGapMs = Math.min(this.busySwapGapMs * 2, BUSY_SWAP_MAX_MS);
    this.letGo(source);
    this.connectSources(true);
  }

  /** Whether `source` holds a chunk this peer still needs. */
  private offersSomething(source: Source): boolean {
    const chunks = this.manifest.chunks.length;
    for (let index = this.advanceFront(); index < chunks; index++) {
      if (source.bitfield.has(index) && !this.have.has(index) && !this.writing.has(index)) return true;
    }
    return false;
  }

  /** Disconnects a source to make room for another; it may be connected again after ROTATE_MS. */
  private letGo(source: Source): void {
    for (const [index, requestId] of [...source.inflight]) {
      if (requestId) source.connection?.cancel(this.fileId, index, requestId);
      this.release(source, index);
    }
    const connection = source.connection;
    this.detach(source);
    source.swappedIn = false;
    source.retryAtMs = Date.now() + ROTATE_MS;
    if (connection) this.components.release?.(connection);
    this.components.logger.debug('source let go for another', { source: source.key });
  }

  /** Whether any source of this download talks over `connection`. */
  usesConnection(connection: PeerConnection): boolean {
    for (const source of this.sources.values()) if (source.connection === connection) return true;
    return false;
  }

  private upsertSource(location: PeerLocation): void {
    const key = `${location.host}:${location.port}`;
    let source = this.sources.get(key);
    if (!source) {
      source = {
        key,
        peerId: location.peerId,
        window: new RequestWindow({ maxInflight: this.maxInflight }),
        name: location.name,
        host: location.host,
        port: location.port,
        bitfield: new Bitfield(this.manifest.chunks.length),
        connection: undefined,
        connecting: false,
        inflight: new Map(),
        strikes: 0,
        dropped: false,
        retryAtMs: 0,
        busyStreak: 0,
        swappedIn: false,
        recentChunks: 0,
        connectedAtMs: 0,
      };
      this.sources.set(key, source);
    }
    source.name = location.name;
    source.peerId = location.peerId;
    this.mergeBitfield(source, Bitfield.fromBase64(this.manifest.chunks.length, location.bitfield));
  }

  private mergeBitfield(source: Source, incoming: Bitfield): void {
    for (const index of incoming.indices()) this.addHolding(source, index);
  }

  private addHolding(source: Source, index: number): void {
    if (!source.bitfield.set(index)) return;
    this.availability[index] = (this.availability[index] ?? 0) + 1;
    const refusedBy = this.claimedElsewhere.get(index);
    if (refusedBy !== undefined && refusedBy !== source) this.claimedElsewhere.delete(index);
  }

  private removeHolding(source: Source, index: number): void {
    if (!source.bitfield.has(index)) return;
    source.bitfield.unset(index);
    this.availability[index] = Math.max(0, (this.availability[index] ?? 1) - 1);
  }

  private ensureConnected(source: Source): void {
    if (source.dropped || source.connecting || Date.now() < source.retryAtMs) return;
    if (source.connection && !source.connection.closed) return;
    source.connecting = true;
    void (async () => {
      try {
        const connection = await this.components.connect(source.host, source.port);
        if (this.finished) return;
        source.onHave = (fileId, index) => {
          if (fileId !== this.fileId || this.finished) return;
          this.addHolding(source, index);
          // Most announcements in a busy swarm are of chunks we hold already: nothing to ask for then.
          // Otherwise only what this source can be asked for changed.
          if (!this.have.has(index) && !this.writing.has(index)) this.fill(source);
        };
        source.onClose = () => this.onSourceLost(source, 'connection closed');
        // The source that refused us with REJECT busy has room now: ask at once (busy-backoff.ts).
        source.onRoom = () => {
          if (this.finished || Date.now() >= source.retryAtMs) return;
          source.retryAtMs = 0;
          this.fill(source);
        };
        connection.on('have-chunk', source.onHave);
        connection.on('room', source.onRoom);
        connection.once('close', source.onClose);
        source.connection = connection;
        source.connectedAtMs = Date.now();
        source.recentChunks = 0;
        const askedAtMs = performance.now();
        const bitfield = await connection.interested(this.fileId, this.manifest.chunks.length);
        // Nothing asked of this source yet: the answer's round trip is the path's, with no queue in it.
        source.window.setPathRtt(performance.now() - askedAtMs);
        this.mergeBitfield(source, bitfield);
        this.fill();
      } catch (error) {
        this.components.logger.debug('source unavailable', { source: source.key, reason: errorMessage(error) });
        this.detach(source);
        source.retryAtMs = Date.now() + BACKOFF_MS;
      } finally {
        source.connecting = false;
      }
    })();
  }

  /** Whether the peer with this tracker id is known to hold chunk `index` (it told us, or LOCATE did). */
  sourceHolds(peerId: string, index: number): boolean {
    for (const source of this.sources.values()) if (source.peerId === peerId && source.bitfield.has(index)) return true;
    return false;
  }

  /** Fills the request window of every usable source, or of `only` that one. */
  private fill(only?: Source): void {
    if (this.finished || this.writing.size >= MAX_PENDING_WRITES) return;
    for (const source of only ? [only] : this.sources.values()) {
      if (source.dropped || !source.connection || source.connection.closed || Date.now() < source.retryAtMs) continue;
      // Top up only once half the window is free, so requests leave in batches (fewer writes).
      if (source.inflight.size > source.window.size / 2) continue;
      source.connection.batch(() => {
        while (source.inflight.size < source.window.size) {
          const index = this.pick(source);
          if (index === undefined) break;
          this.request(source, index);
        }
      });
    }
  }

  private pick(source: Source): number | undefined {
    if (this.init.pickerFor) source.picker ??= this.init.pickerFor(() => this.fill(source));
    return (source.picker ?? this.init.picker ?? pickChunk)({
      chunks: this.manifest.chunks.length,
      have: this.have,
      writing: this.writing,
      sourceHas: source.bitfield,
      askedOfSource: source.inflight,
      requesters: (index) => this.requestedFrom.get(index)?.size ?? 0,
      availability: (index) => (this.availability[index] ?? 0) + (this.claimedElsewhere.has(index) ? 1 : 0),
      maxRequesters: MAX_ENDGAME_REQUESTERS,
      endgame: () => this.init.endgame !== false && this.inEndgame(),
      front: this.advanceFront(),
      spread: PICK_SPREAD,
    });
  }

  private advanceFront(): number {
    const chunks = this.manifest.chunks.length;
    while (this.front < chunks && this.have.has(this.front)) this.front++;
    return this.front;
  }

  /** Endgame: every missing chunk that some source holds is already asked for somewhere. */
  private inEndgame(): boolean {
    const chunks = this.manifest.chunks.length;
    for (let index = 0; index < chunks; index++) {
      if (this.have.has(index) || this.writing.has(index) || this.requestedFrom.has(index)) continue;
      if ((this.availability[index] ?? 0) > 0) return false;
    }
    return true;
  }

  private request(source: Source, index: number): void {
    const connection = source.connection!;
    source.inflight.set(index, 0);
    let requesters = this.requestedFrom.get(index);
    if (!requesters) this.requestedFrom.set(index, (requesters = new Set()));
    requesters.add(source);
    const bytes = chunkLength(this.manifest, index);
    const send = (): void => {
      if (this.finished || !source.inflight.has(index)) return;
      const startedMs = performance.now();
      connection.requestChunk(this.fileId, index, this.requestTimeoutMs, (requestId) => source.inflight.set(index, requestId)).then(
        (answer) => {
          // A throwing 'chunk' listener fails this download instead of escaping as an unhandled rejection.
          if ('chunk' in answer)
            this.receive(source, index, answer.chunk, performance.now() - startedMs).catch((error: unknown) =>
              this.fail(error instanceof Error ? error : new Error(String(error))),
            );
          else this.onRejected(source, index, answer.rejected);
        },
        (error: unknown) => this.onRequestFailed(source, index, error),
      );
    };
    // Unlimited (or within budget): send now, so fill() batches its requests into one write.
    if (this.components.downloadLimiter.tryTake(bytes)) send();
    else this.components.downloadLimiter.take(bytes, this.limiterWaits.signal).then(send, (error: unknown) => this.onRequestFailed(source, index, error));
  }

  private release(source: Source, index: number): void {
    source.inflight.delete(index);
    const requesters = this.requestedFrom.get(index);
    requesters?.delete(source);
    if (requesters?.size === 0) this.requestedFrom.delete(index);
  }

  /** Every received chunk passes here, and its lease is released here, once, whatever happens to it. */
  private async receive(source: Source, index: number, chunk: ChunkLease, ms: number): Promise<void> {
    try {
      await this.onChunk(source, index, chunk, ms);
    } finally {
      chunk.release();
    }
  }

  private async onChunk(source: Source, index: number, chunk: ChunkLease, ms: number): Promise<void> {
    this.release(source, index);
    // A dropped source's late answers are ignored, whatever they hold.
    if (this.finished || source.dropped || this.have.has(index) || this.writing.has(index)) return;
    // In hand from here (verified, then written): not asked for again unless it fails verification.
    // The SHA-256 runs in the hashing thread, so this thread keeps reading sockets meanwhile; the
    // chunks in hand count against MAX_PENDING_WRITES, which bounds the memory they hold.
    this.writing.add(index);
    // The thread also writes the chunk once it verifies (hash-thread.ts says why); the store keeps the
    // file's descriptor open until the outcome is recorded (finishWrite), whatever happens meanwhile.
    let target: ChunkWriteTarget | undefined;
    let verdict: ChunkVerdict;
    try {
      target = await this.components.store.beginWrite(this.fileId, index);
      verdict = await this.hasher.verify(chunk, this.manifest.chunks[index] ?? '', this.digest?.chunk(index), target);
    } catch (error) {
      if (target) await this.components.store.finishWrite(this.fileId, index, { written: false }).catch(() => false);
      this.fail(error as Error);
      return;
    }
    const { valid } = verdict;
    const data = chunk.data;
    if (this.finished) {
      // A verified chunk the thread wrote is in the file: recorded, a resumed download keeps it.
      if (target) await this.components.store.finishWrite(this.fileId, index, { written: valid && verdict.writeError === undefined }).catch(() => false);
      return;
    }
    if (!valid) {
      if (target) await this.components.store.finishWrite(this.fileId, index, { written: false });
      this.writing.delete(index);
      this.strike(source, index);
      this.fill();
      return;
    }
    // First verified copy wins; cancel the endgame duplicates.
    for (const other of this.requestedFrom.get(index) ?? []) {
      const requestId = other.inflight.get(index);
      if (requestId) other.connection?.cancel(this.fileId, index, requestId);
      this.release(other, index);
    }
    this.fill();
    let written: boolean;
    try {
      written = target
        ? await this.components.store.finishWrite(this.fileId, index, writeOutcome(verdict))
        : await this.components.store.writeChunk(this.fileId, index, data);
    } catch (error) {
      this.fail(error as Error);
      return;
    } finally {
      this.writing.delete(index);
    }
    this.fill();
    if (!written) return;
    // Written by the thread: it knows the chunk is in the file.
    if (!target) this.digest?.written(index);
    this.lastChunkAtMs = Date.now();
    this.bytesThisRun += data.length;
    source.window.record(ms, Date.now());
    this.chunksBySource[source.name] = (this.chunksBySource[source.name] ?? 0) + 1;
    source.recentChunks++;
    source.busyStreak = 0;
    if (source.swappedIn) {
      source.swappedIn = false;
      this.busySwapGapMs = BUSY_SWAP_MS;
    }
    // The other downloaders will ask for it soon: serve them from memory, not from the file.
    this.components.store.keepRecent(this.fileId, index, data);
    this.components.announce(this.fileId, index);
    this.components.received?.(source.peerId, source.name, data.length);
    this.emit('chunk', {
      file: this.manifest.name,
      fileId: this.fileId,
      index,
      chunks: this.manifest.chunks.length,
      from: source.name,
      fromAddr: source.key,
      to: this.init.selfName,
      bytes: data.length,
      ms: Math.round(ms * 100) / 100,
      at: Date.now(),
    });
    this.reportProgress(false);
    if (this.have.complete) this.finish();
  }

  private strike(source: Source, index: number): void {
    source.strikes++;
    const dropped = source.strikes >= this.maxStrikes;
    this.components.logger.warn('rejected a chunk that failed verification', {
      file: this.manifest.name,
      index,
      from: source.name,
      fromAddr: source.key,
      strikes: source.strikes,
      dropped,
    });
    this.emit('bad-chunk', { index, from: source.name, fromAddr: source.key, strikes: source.strikes, dropped });
    if (dropped) this.drop(source);
  }

  private drop(source: Source): void {
    source.dropped = true;
    for (const index of [...source.inflight.keys()]) {
      const requestId = source.inflight.get(index);
      if (requestId) source.connection?.cancel(this.fileId, index, requestId);
      this.release(source, index);
    }
    for (const index of source.bitfield.indices()) this.removeHolding(source, index);
    this.detach(source);
  }

  /** The request was not answered with its chunk: what that says about the source. */
  private onRejected(source: Source, index: number, rejection: ChunkRejection): void {
    this.release(source, index);
    if (this.finished) return;
    switch (rejection) {
      case 'not-held':
      case 'unavailable':
        this.removeHolding(source, index);
        break;
      case 'elsewhere':
        // A super-seeder sends this chunk to another downloader: ask the others for it, this source again
        // only when the next LOCATE refresh offers it, and meanwhile prefer chunks nobody has claimed.
        this.removeHolding(source, index);
        this.claimedElsewhere.set(index, source);
        break;
      case 'busy': {
        const nowMs = Date.now();
        this.lastBusyAtMs = nowMs;
        // The refusals of one round (the requests that were in flight) arrive together: one step per round.
        if (nowMs >= source.retryAtMs) source.busyStreak++;
        // A source that sends ROOM says when to ask again; the wait is only in case it never does.
        const pauseMs = source.connection?.sendsRoom === true ? ROOM_WAIT_MS : busyRetryMs(source.busyStreak);
        source.retryAtMs = Math.max(source.retryAtMs, nowMs + pauseMs);
        this.swapBusy(source);
        break;
      }
      case 'wrong-chunk':
        this.strike(source, index);
        break;
      case 'timed-out':
        this.components.logger.warn('source timed out; moving its chunks elsewhere', { from: source.name, fromAddr: source.key, index });
        this.onSourceLost(source, 'request timed out');
        return;
      case 'closed':
        this.onSourceLost(source, 'connection closed');
        return;
      case 'unexpected-answer':
        break;
      default: {
        const unreachable: never = rejection;
        throw new PeerError(PeerErrorCode.Protocol, `unknown rejection ${String(unreachable)}`);
      }
    }
    this.fill();
  }

  /** The request failed otherwise (an ERROR answer, or the download limiter aborted): ask again elsewhere. */
  private onRequestFailed(source: Source, index: number, error: unknown): void {
    this.release(source, index);
    if (this.finished) return;
    this.components.logger.debug('chunk request failed', { from: source.name, index, reason: errorMessage(error) });
    this.fill();
  }

  /** A source hung or went away: re-queue what it held and back off before trying it again. */
  private onSourceLost(source: Source, reason: string): void {
    if (this.finished) return;
    for (const index of [...source.inflight.keys()]) this.release(source, index);
    source.retryAtMs = Date.now() + BACKOFF_MS;
    const connection = source.connection;
    this.detach(source);
    // A hung (not closed) connection is closed so that its late answers cannot arrive.
    if (reason === 'request timed out') connection?.close();
    this.components.logger.debug('source lost', { source: source.key, reason });
    this.fill();
  }

  private detach(source: Source): void {
    const connection = source.connection;
    if (connection) {
      if (source.onHave) connection.off('have-chunk', source.onHave);
      if (source.onRoom) connection.off('room', source.onRoom);
      if (source.onClose) connection.off('close', source.onClose);
    }
    source.connection = undefined;
  }

  private checkStall(): void {
    if (this.finished) return;
    const anyInflight = [...this.sources.values()].some((source) => source.inflight.size > 0);
    const nowMs = Date.now();
    if (!anyInflight && nowMs - this.lastChunkAtMs > this.stallTimeoutMs && nowMs - this.lastBusyAtMs > this.stallTimeoutMs) {
      this.fail(new PeerError(PeerErrorCode.Stalled, `no chunk arrived for ${Math.round(this.stallTimeoutMs / 1000)} s and no source is available`));
    }
  }

  private reportProgress(force: boolean): void {
    const nowMs = Date.now();
    if (!force && nowMs - this.lastProgressAtMs < PROGRESS_EVERY_MS) return;
    this.lastProgressAtMs = nowMs;
    const elapsedS = Math.max(0.001, (nowMs - this.startedAtMs) / 1000);
    const have = this.have.count;
    const bytes = Math.min(this.manifest.size, have * this.manifest.chunkSize);
    this.emit('progress', { have, chunks: this.manifest.chunks.length, bytes, size: this.manifest.size, rateBps: Math.round(this.bytesThisRun / elapsedS), at: nowMs });
  }

  private readonly onAbort = (): void => this.fail(new PeerError(PeerErrorCode.Aborted, 'download cancelled'));

  private stopTimers(): void {
    this.finished = true;
    this.init.signal?.removeEventListener('abort', this.onAbort);
    this.limiterWaits.abort(new PeerError(PeerErrorCode.Aborted, 'the download ended'));
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    for (const source of this.sources.values()) {
      for (const [index, requestId] of source.inflight) if (requestId) source.connection?.cancel(this.fileId, index, requestId);
      source.inflight.clear();
      const connection = source.connection;
      this.detach(source);
      // An open connection keeps the source pushing HAVE_CHUNKs this download no longer reads.
      if (connection) this.components.release?.(connection);
    }
    this.requestedFrom.clear();
  }

  private finish(): void {
    if (this.finished) return;
    this.reportProgress(true);
    this.stopTimers();
    const file = this.components.store.get(this.fileId);
    (this.digest ? this.digest.finish() : Promise.resolve(undefined)).then(
      (sha256: string | undefined) =>
        this.resolveRun({
          fileId: this.fileId,
          file: this.manifest.name,
          path: file?.path ?? '',
          bytes: this.manifest.size,
          chunksBySource: this.counts,
          keptChunks: this.init.keptChunks ?? 0,
          ms: Date.now() - this.startedAtMs,
          ...(sha256 === undefined ? {} : { sha256 }),
        }),
      (error: unknown) => {
        const code = errorCode(error);
        this.rejectRun(new PeerError(PeerErrorCode.ReadFailed, `cannot read back ${this.manifest.name} to hash it: ${code}`));
      },
    );
  }

  private fail(error: Error): void {
    if (this.finished) return;
    this.stopTimers();
    void this.digest?.close();
    this.rejectRun(error);
  }
}

/** What the thread did with the write of a chunk that verified. */
function writeOutcome(verdict: ChunkVerdict): { written: boolean; writeError?: string } {
  return verdict.writeError === undefined ? { written: true } : { written: false, writeError: verdict.writeError };
}
