/**
 * A peer: the composition of its chunk store, data server, tracker client and downloads. Every user
 * command (console, control socket, lab) lands on one of the public methods here.
 */
import { EventEmitter, once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { compileSchemas, FILE_NAME_PATTERN, MAX_NAME_BYTES, PEER_INBOUND_JSON_TYPES } from '../protocol';
import type { FileSummary, PeersBody } from '../protocol';
import { errorCode, errorMessage, SharedErrorCode } from '../shared/errors';
import { fileHasSize, hashFile, pathInside } from '../shared/files';
import { generateFile } from '../shared/generate';
import { LinkTable } from '../shared/link-emulator';
import type { LinkConditions, LinkRule } from '../shared/link-emulator';
import { createLogger } from '../shared/logger';
import type { Logger } from '../shared/logger';
import { TokenBucket } from '../shared/token-bucket';
import { ChunkMemory } from './chunk-memory';
import { ChunkStore, STATE_DIR_NAME } from './chunk-store';
import type { StoredFile } from './chunk-store';
import { DownloadScheduler } from './download-scheduler';
import type { ChunkTransferEvent, DownloadResult, DownloadSchedulerEvents, ProgressEvent } from './download-scheduler';
import { DirLock } from './dir-lock';
import { PeerError, PeerErrorCode, TrackerClientErrorCode } from './errors';
import { followDownload } from './peer-activity';
import type { PeerActivityEvents } from './peer-activity';
import { PeerConnection } from './peer-connection';
import { FaultInjector } from './fault-injector';
import type { FaultSettings } from './fault-injector';
import { HashWorker } from './hash-worker';
import { PeerMetrics } from './peer-metrics';
import { PeerServer } from './peer-server';
import type { PickFunction } from './piece-picker';
import { Choker } from './choker';
import type { ChokerPolicy } from './choker';
import type { SuperSeedMode } from './seeding-policy';
import { parseHostPort, TrackerClient } from './tracker-client';

/**
 * How long `files` and `download` wait for a tracker link that is reconnecting before they fail with
 * ERR_TRACKER_UNAVAILABLE: a tracker restart costs an interactive user a pause, not an error, and a
 * script still gets its typed error within a few seconds (docs/control.md).
 */
export const TRACKER_LINK_WAIT_MS = 5_000;
/** Errors that mean the tracker link went down under a request: worth one more try once it is back. */
const LINK_DOWN_CODES: ReadonlySet<string> = new Set([
  TrackerClientErrorCode.TrackerUnavailable,
  TrackerClientErrorCode.TrackerUnreachable,
  SharedErrorCode.ConnectionClosed,
]);

/** How long a stopping peer tries to end its tracker lease (UNREGISTER) before it lets the lease run out. */
const LEASE_END_ON_STOP_MS = 2_000;
/** Times a download asks for its first LOCATE before a timeout fails it (each waits for the request timeout). */
export const START_LOCATE_ATTEMPTS = 3;
/** How long a stopping peer waits for its aborted downloads to settle before it closes the store. */
const DOWNLOADS_END_ON_STOP_MS = 2_000;

export interface PeerNodeInit {
  /** The directory this peer publishes from and downloads into. */
  dir: string;
  name?: string;
  /** Data port; 0 picks a free one. */
  port?: number;
  host?: string;
  /** Default tracker for `connect` without an address. */
  tracker?: string;
  chunkSize?: number;
  uploadRateBps?: number | null;
  downloadRateBps?: number | null;
  maxInflightPerSource?: number;
  /** Sources one download keeps connected at once (default DEFAULT_MAX_SOURCES). */
  maxSources?: number;
  /** Piece selection (`--picker`); default rarest first. */
  picker?: PickFunction;
  /** Piece selection answered per source, possibly later (an isolated picker module); wins over `picker`. */
  pickerFor?: (wake: () => void) => PickFunction;
  /** Which requesters to serve (`--uploader`, upload-policy.ts); default: everyone, no choking. */
  uploader?: ChokerPolicy;
  /** Serve nobody (`--free-ride`): every request is refused. */
  freeRide?: boolean;
  /** Endgame duplicates (`--endgame`); default on. */
  endgame?: boolean;
  /** When to super-seed (`--super-seed`); default `auto`. */
  superSeed?: SuperSeedMode;
  /**
   * Batch HAVE_CHUNK pushes over this many ms (peer-server.ts, HAVE_CHUNK_BATCH_MS says what was
   * measured); default 0: each chunk is pushed at once.
   */
  haveBatchMs?: number;
  requestTimeoutMs?: number;
  /** Address to advertise to the tracker instead of the one it sees. */
  advertiseHost?: string;
  /** Lab faults applied to the chunks this peer serves. */
  faults?: FaultSettings;
  /** Collect Prometheus metrics (exposed by the caller through `metrics.registry`). */
  metrics?: boolean;
  /** Idle timeout of incoming data connections. */
  idleTimeoutMs?: number;
  /** Register with the tracker on a lease and park the connection while idle (TrackerClient). */
  trackerLease?: boolean;
  /** This peer's control socket, named to a second peer started on the same directory. */
  controlPath?: string;
  /** How long `files` and `download` wait for a reconnecting tracker link (default TRACKER_LINK_WAIT_MS). */
  trackerLinkWaitMs?: number;
  /** Emulated links (link-emulator.ts): delays and caps on what this peer sends, per remote. */
  links?: readonly LinkRule[];
}

/** What `ctl ping` prints with --json. */
export interface PingResult {
  target: string;
  rttMs: number[];
  medianMs: number;
}

/** Pings one `ctl ping` sends when no count is given. */
export const DEFAULT_PING_COUNT = 10;

export interface DownloadOutcome extends DownloadResult {
  /** The file's SHA-256; absent only when the caller asked for `digest: false`. */
  sha256?: string;
  verified: boolean;
}

export interface DownloadHandlers {
  onChunk?: (event: ChunkTransferEvent) => void;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  /**
   * false: the caller does not need the file's SHA-256, so none is computed (every chunk is still
   * checked against the manifest) and the outcome may lack `sha256`. A caller that wants it and joins
   * a download started without it gets it hashed from the finished file on disk.
   */
  digest?: boolean;
}

/**
 * How long new chunks wait to be told to the tracker together. Downloaders read the tracker's news only
 * on their next LOCATE (every few seconds at the source cap), while connected peers hear of each chunk
 * at once through HAVE_CHUNK; one tracker request per chunk would be hundreds a second in a large swarm.
 * The first chunk after a quiet period goes at once: at a swarm's start a peer's first chunk is how the
 * others learn it can serve, and every hop of the start waited up to a period for it.
 */
export const HAVE_BATCH_MS = 500;
/** How long a finished download waits for the tracker to take its last HAVEs. */
const FINAL_HAVE_WAIT_MS = 2_000;

export class PeerNode {
  readonly name: string;
  readonly store: ChunkStore;
  readonly logger: Logger;
  readonly metrics: PeerMetrics | undefined;
  /** What this peer does (published, downloads, chunks), for `watch` on the control socket. */
  readonly activity = new EventEmitter<PeerActivityEvents>();
  private readonly server: PeerServer;
  private readonly tracker: TrackerClient;
  private readonly uploadLimiter: TokenBucket;
  /** Chunk bytes served to other peers since start (duplicates included): what the upload carried. */
  private uploadedBytes = 0;
  private readonly downloadLimiter: TokenBucket;
  private readonly faults: FaultInjector;
  /** This peer's emulated links, read by every connection it sends on (data, served, tracker). */
  readonly links: LinkTable;
  /** The one owner of received chunks' memory: the data connections decode into it, the hashing thread borrows it. */
  private readonly chunkMemory = new ChunkMemory();
  private readonly hasher = new HashWorker({ memory: this.chunkMemory });
  private readonly connections = new Map<string, Promise<PeerConnection>>();
  private readonly downloads = new Map<string, { events: EventEmitter<DownloadSchedulerEvents>; done: Promise<DownloadOutcome> }>();
  private readonly schedulers = new Set<DownloadScheduler>();
  private readonly pendingHaves = new Map<string, number[]>();
  /**
   * Files whose manifest the tracker got from us since we registered: later HAVEs go without it (a
   * 1 GiB manifest is ~270 KB of JSON to encode, send, parse and validate every HAVE_BATCH_MS).
   */
  private readonly manifestAnnounced = new Set<string>();
  private haveTimer: NodeJS.Timeout | undefined;
  /** When HAVEs last left (performance.now()): the next may go at once HAVE_BATCH_MS later. */
  private havesFlushedAtMs = -Infinity;
  /** WITHDRAWs on their way to the tracker; `upload` waits for them so `f` right after is accurate. */
  private readonly withdrawals = new Set<Promise<void>>();
  private resumed: Array<{ file: StoredFile; kept: number }> = [];
  private started = false;
  private dirLock: DirLock | undefined;
  /** Aborted by stop(): running downloads end instead of refreshing and writing after it. */
  private lifetime = new AbortController();
  /** Applies `--uploader` (absent: everyone is served). */
  private readonly choker: Choker | undefined;

  constructor(private readonly init: PeerNodeInit) {
    this.name = init.name ?? (hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) || 'peer');
    this.logger = createLogger('peer', { peer: this.name });
    this.store = new ChunkStore({ dir: init.dir, ...(init.chunkSize ? { chunkSize: init.chunkSize } : {}) }, this.logger);
    this.uploadLimiter = new TokenBucket({ rateBytesPerS: init.uploadRateBps ?? null });
    this.downloadLimiter = new TokenBucket({ rateBytesPerS: init.downloadRateBps ?? null });
    this.faults = new FaultInjector(init.faults);
    this.links = new LinkTable(init.links ?? []);
    this.choker = init.uploader
      ? new Choker({
          policy: init.uploader,
          downloading: () => this.downloads.size > 0,
          onRound: (input, serve) => {
            if (input.candidates.length > 0) this.logger.debug('upload round', { round: input.round, downloading: input.downloading, candidates: input.candidates, serve });
          },
        })
      : undefined;
    this.server = new PeerServer(this.store, this.logger, {
      faults: this.faults,
      ...(init.idleTimeoutMs ? { idleTimeoutMs: init.idleTimeoutMs } : {}),
      host: init.host ?? '0.0.0.0',
      port: init.port ?? 0,
      uploadLimiter: this.uploadLimiter,
      ...(init.superSeed ? { superSeed: init.superSeed } : {}),
      ...(this.choker ? { choker: this.choker } : {}),
      ...(init.freeRide ? { freeRide: true } : {}),
      ...(init.haveBatchMs ? { haveBatchMs: init.haveBatchMs } : {}),
      links: this.links,
      remoteHolds: (peerId, fileId, index) => {
        for (const scheduler of this.schedulers) if (scheduler.fileId === fileId && scheduler.sourceHolds(peerId, index)) return true;
        return false;
      },
      onServed: (event) => {
        this.uploadedBytes += event.bytes;
        this.metrics?.chunksServed.inc();
        this.metrics?.bytesUploaded.inc(event.bytes);
        this.logger.debug('chunk served', event);
      },
    });
    this.tracker = new TrackerClient(
      {
        name: this.name,
        dataPort: () => this.server.port,
        ...(init.advertiseHost ? { advertiseHost: init.advertiseHost } : {}),
        ...(init.trackerLease ? { lease: true } : {}),
        links: this.links,
      },
      this.logger,
    );
    this.metrics = init.metrics ? new PeerMetrics(this.name, () => this.server.connectionCount) : undefined;
    this.tracker.on('registered', () => {
      this.metrics?.connectedToTracker.set(1);
      void this.reannounce();
    });
    this.tracker.on('lost', () => this.metrics?.connectedToTracker.set(0));
    this.store.on('withdrawn', (fileId, reason) => {
      this.logger.warn('no longer offering a file', { fileId, reason });
      if (!this.tracker.connected) return;
      const withdrawal = this.tracker.withdraw(fileId).catch((error: unknown) => {
        this.logger.debug('WITHDRAW not sent', { reason: errorMessage(error) });
      });
      this.withdrawals.add(withdrawal);
      void withdrawal.finally(() => this.withdrawals.delete(withdrawal));
    });
  }

  get dataPort(): number {
    return this.server.port;
  }

  get connected(): boolean {
    return this.tracker.connected;
  }

  /** Data connections this peer opened to sources and has not closed (the downloads' source cap bounds them). */
  get sourceConnections(): number {
    return this.connections.size;
  }

  /** Data connections other peers opened to this one and have not closed (its downloaders). */
  get servedConnections(): number {
    return this.server.connectionCount;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.lifetime.signal.aborted) this.lifetime = new AbortController();
    compileSchemas(PEER_INBOUND_JSON_TYPES);
    this.choker?.start();
    await mkdir(this.init.dir, { recursive: true }).catch(() => undefined);
    // Before anything in DIR is read or written: a second peer on it would rewrite our sidecars.
    try {
      this.dirLock = await DirLock.acquire(this.init.dir, join(this.init.dir, STATE_DIR_NAME), {
        pid: process.pid,
        ...(this.init.controlPath ? { control: this.init.controlPath } : {}),
      });
    } catch (error) {
      this.started = false;
      throw error;
    }
    try {
      await this.server.start();
      this.resumed = await this.store.loadPartials();
    } catch (error) {
      await this.server.stop().catch(() => undefined);
      await this.dirLock.release();
      this.started = false;
      throw error;
    }
    for (const { file, kept } of this.resumed) {
      this.logger.info('found a partial download', { file: file.manifest.name, kept, chunks: file.manifest.chunks.length });
    }
    this.logger.info('peer started', { dataPort: this.server.port, dir: this.init.dir });
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.choker?.stop();
    for (const scheduler of this.schedulers) scheduler.removeAllListeners();
    this.lifetime.abort();
    if (this.haveTimer) clearTimeout(this.haveTimer);
    // A bound registration ends with its connection; a lease would outlive us by three heartbeats, so
    // it is ended now, but a tracker that cannot be reached does not hold up the shutdown for long.
    if (this.init.trackerLease && this.tracker.wantsConnection) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.tracker.disconnect().catch(() => undefined),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, LEASE_END_ON_STOP_MS))),
      ]);
      clearTimeout(timer);
    }
    this.tracker.close();
    for (const connection of this.connections.values()) void connection.then((c) => c.close(), () => undefined);
    await this.server.stop();
    // The aborted downloads settle (a chunk being written finishes) before the store closes; one stuck
    // on a dead tracker does not hold up the shutdown.
    let settleTimer: NodeJS.Timeout | undefined;
    await Promise.race([this.settle(), new Promise<void>((resolve) => (settleTimer = setTimeout(resolve, DOWNLOADS_END_ON_STOP_MS)))]);
    clearTimeout(settleTimer);
    await this.store.close();
    await this.hasher.terminate();
    await this.dirLock?.release();
    this.dirLock = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async connect(tracker?: string): Promise<{ peerId: string; tracker: string }> {
    const target = tracker ?? this.init.tracker;
    if (!target) throw new PeerError(PeerErrorCode.NoTracker, 'no tracker address: pass HOST:PORT or start the peer with --tracker');
    const address = parseHostPort(target);
    const peerId = await this.tracker.connect(address);
    return { peerId, tracker: `${address.host}:${address.port}` };
  }

  async disconnect(): Promise<Record<string, never>> {
    await this.tracker.disconnect();
    this.metrics?.connectedToTracker.set(0);
    return {};
  }

  /** Publishes every file in DIR. */
  async upload(): Promise<{ published: Array<{ name: string; fileId: string; size: number; chunks: number }> }> {
    this.requireConnected();
    const files = await this.store.scanPublishable();
    await Promise.allSettled([...this.withdrawals]);
    if (files.length === 0) throw new PeerError(PeerErrorCode.NothingToPublish, `no files to publish in ${this.init.dir}`);
    const published = [];
    for (const file of files) {
      await this.tracker.publish(file.manifest);
      published.push({ name: file.manifest.name, fileId: file.fileId, size: file.manifest.size, chunks: file.manifest.chunks.length });
      this.activity.emit('published', { file: file.manifest.name, fileId: file.fileId, size: file.manifest.size, chunks: file.manifest.chunks.length });
    }
    this.logger.info('published files', { count: published.length });
    return { published };
  }

  async files(): Promise<{ files: FileSummary[] }> {
    return { files: await this.withTrackerLink(() => this.tracker.list()) };
  }

  /** Downloads a file by name (unique on the network) or by file id; joins a download already running. */
  async download(target: { name?: string; fileId?: string }, handlers: DownloadHandlers = {}): Promise<DownloadOutcome> {
    const fileId = await this.withTrackerLink(() => this.resolve(target));
    // Registered before any further await, so a second `d` of the same file joins this one.
    let running = this.downloads.get(fileId);
    if (!running) {
      const events = new EventEmitter<DownloadSchedulerEvents>();
      const done = this.runDownload(fileId, events, handlers.signal, handlers.digest !== false).finally(() => this.downloads.delete(fileId));
      running = { events, done };
      this.downloads.set(fileId, running);
      followDownload(this.activity, { fileId, ...(target.name ? { file: target.name } : {}) }, events, done);
    }
    const { events, done } = running;
    if (handlers.onChunk) events.on('chunk', handlers.onChunk);
    if (handlers.onProgress) events.on('progress', handlers.onProgress);
    const outcome = done.finally(() => {
      if (handlers.onChunk) events.off('chunk', handlers.onChunk);
      if (handlers.onProgress) events.off('progress', handlers.onProgress);
    });
    if (handlers.digest === false) return outcome;
    // Joined a download started with `digest: false`: this caller's digest is read from the file.
    return outcome.then(async (result) => (result.sha256 === undefined ? { ...result, sha256: await hashFile(result.path) } : result));
  }

  private async runDownload(
    fileId: string,
    events: EventEmitter<DownloadSchedulerEvents>,
    signal: AbortSignal | undefined,
    digest: boolean,
  ): Promise<DownloadOutcome> {
    const located = await this.locateAtStart(fileId);
    const manifest = located.manifest;
    let file = this.store.get(fileId);
    if (!file?.complete) {
      try {
        file = await this.store.beginDownload(fileId, manifest);
      } catch (error) {
        // A full disk keeps its own code: the same as when it fills up later in the download.
        if (error instanceof PeerError && error.code === PeerErrorCode.DiskFull) throw error;
        throw new PeerError(PeerErrorCode.CannotWrite, `cannot start the download in ${this.init.dir}: ${errorMessage(error)}`);
      }
    }
    if (file.complete) {
      // Already held (or an empty file, complete at once): nothing to fetch.
      return {
        fileId,
        file: manifest.name,
        path: file.path,
        bytes: manifest.size,
        chunksBySource: {},
        keptChunks: manifest.chunks.length,
        ms: 0,
        ...(digest ? { sha256: await hashFile(file.path) } : {}),
        verified: true,
      };
    }
    const kept = file.bitfield.count;
    if (kept > 0) this.logger.info('resuming a download', { file: manifest.name, kept, chunks: manifest.chunks.length });
    // Announce what we kept (with the manifest; nothing yet on a fresh start) at once: the other
    // downloaders then connect to us now, and our HAVE_CHUNK pushes reach them as chunks arrive,
    // instead of after a HAVE batch and their next LOCATE. Not awaited: the download needs no answer.
    this.tracker.have(fileId, file.bitfield.indices(), manifest).catch(() => undefined);
    const scheduler = new DownloadScheduler(
      {
        store: this.store,
        logger: this.logger,
        downloadLimiter: this.downloadLimiter,
        locate: (id) => this.tracker.locateHolders(id),
        connect: (host, port) => this.connectTo(host, port),
        announce: (id, index) => this.queueHave(id, index),
        release: (connection) => {
          for (const other of this.schedulers) if (other.usesConnection(connection)) return;
          connection.close();
        },
        hasher: this.hasher,
        ...(this.choker ? { received: (peerId: string, name: string, bytes: number) => this.choker?.received(peerId, name, bytes) } : {}),
      },
      {
        file,
        selfName: this.name,
        keptChunks: kept,
        ...(this.init.maxInflightPerSource ? { maxInflightPerSource: this.init.maxInflightPerSource } : {}),
        ...(this.init.maxSources ? { maxSources: this.init.maxSources } : {}),
        ...(this.init.picker ? { picker: this.init.picker } : {}),
        ...(this.init.pickerFor ? { pickerFor: this.init.pickerFor } : {}),
        ...(this.init.endgame === false ? { endgame: false } : {}),
        ...(this.init.requestTimeoutMs ? { requestTimeoutMs: this.init.requestTimeoutMs } : {}),
        ...(digest ? {} : { digest: false }),
        signal: signal ? AbortSignal.any([signal, this.lifetime.signal]) : this.lifetime.signal,
      },
    );
    scheduler.on('chunk', (event) => {
      this.metrics?.chunksReceived.inc();
      this.metrics?.bytesDownloaded.inc(event.bytes);
      // One structured event per transfer; at debug so a 1 GiB download does not print 4096 lines.
      this.logger.debug('chunk received', { ...event });
      events.emit('chunk', event);
    });
    scheduler.on('bad-chunk', (event) => {
      this.metrics?.verificationFailures.inc();
      events.emit('bad-chunk', event);
    });
    scheduler.on('progress', (progress) => {
      this.metrics?.downloadProgress.set({ file: manifest.name }, progress.have / Math.max(1, progress.chunks));
      events.emit('progress', progress);
    });
    this.schedulers.add(scheduler);
    try {
      const result = await scheduler.run();
      // So that `f` right after a download counts this peer among the file's seeders; a tracker that
      // does not answer soon does not hold the download's result back.
      await Promise.race([this.flushHaves(), delay(FINAL_HAVE_WAIT_MS, undefined, { ref: false })]);
      // Every chunk was verified against the manifest before it was written, and every write is checked
      // to be complete, so there is no second pass: the scheduler hashed the whole file as it was written
      // (unless the caller asked for no digest).
      const verified = await fileHasSize(result.path, manifest.size);
      if (!verified) this.logger.error('the finished file does not have its manifest size', { file: result.file, path: result.path });
      this.logger.info('download complete', { file: result.file, bytes: result.bytes, ms: result.ms, sha256: result.sha256 ?? null, chunksBySource: result.chunksBySource });
      return { ...result, verified };
    } catch (error) {
      this.logger.warn('download failed', { file: manifest.name, reason: errorMessage(error) });
      throw error;
    } finally {
      this.schedulers.delete(scheduler);
    }
  }

  async status(): Promise<Record<string, unknown>> {
    const address = this.tracker.trackerAddress;
    return {
      peerId: this.tracker.peerId ?? null,
      name: this.name,
      connected: this.tracker.connected,
      // Leased registrations only: whether the tracker connection is open or parked while idle.
      trackerLink: this.init.trackerLease ? (this.tracker.isParked ? 'parked' : 'open') : null,
      tracker: address ? `${address.host}:${address.port}` : null,
      host: this.tracker.host ?? null,
      dataPort: this.server.port,
      dir: this.init.dir,
      uploadRate: this.uploadLimiter.rateBytesPerS,
      downloadRate: this.downloadLimiter.rateBytesPerS,
      uploadedBytes: this.uploadedBytes,
      faults: this.faults.settings,
      files: this.store.all().map((file) => ({
        name: file.manifest.name,
        fileId: file.fileId,
        size: file.manifest.size,
        have: file.bitfield.count,
        chunks: file.manifest.chunks.length,
        complete: file.complete,
      })),
      downloads: [...this.downloads.keys()],
    };
  }

  /** Writes a deterministic file into DIR (for demos and labs). */
  async generate(name: string, size: number, seed: string, text: boolean): Promise<{ name: string; size: number; sha256: string }> {
    if (!new RegExp(FILE_NAME_PATTERN).test(name) || Buffer.byteLength(name) > MAX_NAME_BYTES) {
      throw new PeerError(PeerErrorCode.BadName, `"${name}" is not a valid file name`);
    }
    await mkdir(this.init.dir, { recursive: true });
    const sha256 = await generateFile(pathInside(this.init.dir, name), size, seed, text);
    return { name, size, sha256 };
  }

  setRates(rates: { upload?: number | null; download?: number | null }): { upload: number | null; download: number | null } {
    if (rates.upload !== undefined) this.uploadLimiter.setRate(rates.upload);
    if (rates.download !== undefined) this.downloadLimiter.setRate(rates.download);
    return { upload: this.uploadLimiter.rateBytesPerS, download: this.downloadLimiter.rateBytesPerS };
  }

  setFaults(settings: Partial<FaultSettings>): FaultSettings {
    this.faults.settings = { ...this.faults.settings, ...settings };
    this.logger.info('faults set', { ...this.faults.settings });
    return this.faults.settings;
  }

  /**
   * Times `count` PING → PONG round trips, one after the other, to the peer listening at `target`
   * (HOST:PORT), on a data connection of its own that goes through this peer's links like any other.
   */
  async ping(target: string, count = DEFAULT_PING_COUNT): Promise<PingResult> {
    const { host, port } = parseHostPort(target, 0);
    const connection = await PeerConnection.open(
      { logger: this.logger, memory: this.chunkMemory, links: this.links },
      { host, port, hello: { peerId: this.tracker.peerId ?? '', name: this.name } },
    );
    const rttMs: number[] = [];
    try {
      for (let i = 0; i < count; i++) rttMs.push(Math.round((await connection.ping()) * 100) / 100);
    } finally {
      connection.close();
    }
    return { target: `${host}:${port}`, rttMs, medianMs: median(rttMs) };
  }

  /** Sets the conditions of the link to `to` (HOST, HOST:PORT or 'default'); fields left out keep their value. */
  setLink(to: string, changes: Partial<LinkConditions>): { links: LinkRule[] } {
    const rule = this.links.set(to, changes);
    this.logger.info('link set', { ...rule });
    return { links: this.links.show() };
  }

  /** Removes the rule for `to`, or every rule. */
  clearLinks(to?: string): { cleared: number; links: LinkRule[] } {
    const cleared = this.links.clear(to);
    this.logger.info('links cleared', { to: to ?? 'all', cleared });
    return { cleared, links: this.links.show() };
  }

  showLinks(): { links: LinkRule[] } {
    return { links: this.links.show() };
  }

  /** Waits for every running download (used when a scripted console reaches the end of its input). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.downloads.values()].map((download) => download.done));
  }

  /** The partial downloads found at start-up, so `d` can resume them. */
  get resumable(): Array<{ name: string; fileId: string; kept: number }> {
    return this.resumed.map(({ file, kept }) => ({ name: file.manifest.name, fileId: file.fileId, kept }));
  }

  private requireConnected(): void {
    if (!this.tracker.wantsConnection) throw new PeerError(PeerErrorCode.NotConnected, 'not connected to a tracker (use c to connect)');
  }

  /**
   * Runs a tracker request once the link is up: while it is reconnecting (or drops under the request),
   * waits for the next registration, up to trackerLinkWaitMs in all, then lets the request fail with
   * its own error (ERR_TRACKER_UNAVAILABLE).
   */
  /**
   * A download's first LOCATE, asked again when its answer timed out: when a crowd of downloads starts
   * at once the tracker answers late, not wrongly, and without the manifest a download cannot begin.
   */
  private async locateAtStart(fileId: string): Promise<PeersBody> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.withTrackerLink(() => this.tracker.locate(fileId));
      } catch (error) {
        if (errorCode(error) !== SharedErrorCode.RequestTimeout || attempt >= START_LOCATE_ATTEMPTS) throw error;
        this.logger.info('the tracker did not answer LOCATE in time; asking again', { fileId, attempt });
      }
    }
  }

  private async withTrackerLink<T>(request: () => Promise<T>): Promise<T> {
    const deadlineMs = Date.now() + (this.init.trackerLinkWaitMs ?? TRACKER_LINK_WAIT_MS);
    for (;;) {
      this.requireConnected();
      const leftMs = deadlineMs - Date.now();
      if (!this.tracker.connected && leftMs > 0) {
        await once(this.tracker, 'registered', { signal: AbortSignal.timeout(leftMs) }).catch(() => undefined);
      }
      try {
        return await request();
      } catch (error) {
        // Still linked means the tracker answered: its error is the answer. Past the deadline, so is ours.
        if (!LINK_DOWN_CODES.has(errorCode(error)) || this.tracker.connected || Date.now() >= deadlineMs) throw error;
      }
    }
  }

  private async resolve(target: { name?: string; fileId?: string }): Promise<string> {
    if (target.fileId) return target.fileId;
    const name = target.name ?? '';
    const files = await this.tracker.list();
    const matches = files.filter((file) => file.name === name || file.fileId.startsWith(name) && name.length >= 8);
    if (matches.length === 0) throw new PeerError(PeerErrorCode.NotFound, `no file named "${name}" on the network`);
    if (matches.length > 1) {
      const ids = matches.map((file) => `${file.fileId.slice(0, 12)} (${file.size} bytes)`).join(', ');
      throw new PeerError(PeerErrorCode.Ambiguous, `${matches.length} files are named "${name}": ${ids}; download one by its id`);
    }
    return matches[0]!.fileId;
  }

  private connectTo(host: string, port: number): Promise<PeerConnection> {
    const key = `${host}:${port}`;
    let connection = this.connections.get(key);
    if (!connection) {
      connection = PeerConnection.open(
        { logger: this.logger, memory: this.chunkMemory, links: this.links },
        { host, port, hello: { peerId: this.tracker.peerId ?? '', name: this.name } },
      );
      this.connections.set(key, connection);
      connection.then(
        (open) => open.once('close', () => this.connections.delete(key)),
        () => this.connections.delete(key),
      );
    }
    return connection;
  }

  private queueHave(fileId: string, index: number): void {
    let indices = this.pendingHaves.get(fileId);
    if (!indices) this.pendingHaves.set(fileId, (indices = []));
    indices.push(index);
    if (this.haveTimer) return;
    const waitMs = this.havesFlushedAtMs + HAVE_BATCH_MS - performance.now();
    if (waitMs <= 0) void this.flushHaves();
    else this.haveTimer = setTimeout(() => void this.flushHaves(), waitMs);
  }

  /**
   * Sends the batched HAVE announcements; the first carries the manifest so the tracker knows the file.
   * Resolves when the tracker has answered them (never rejects).
   */
  private flushHaves(): Promise<void> {
    if (this.haveTimer) clearTimeout(this.haveTimer);
    this.haveTimer = undefined;
    this.havesFlushedAtMs = performance.now();
    const sent: Array<Promise<void>> = [];
    for (const [fileId, indices] of this.pendingHaves) {
      const manifest = this.manifestAnnounced.has(fileId) ? undefined : this.store.get(fileId)?.manifest;
      this.manifestAnnounced.add(fileId);
      sent.push(
        this.tracker.have(fileId, indices, manifest).catch((error: unknown) => {
          // The tracker forgot the file (every holder left it): announce these again, with the manifest.
          this.manifestAnnounced.delete(fileId);
          if (manifest === undefined && errorCode(error) === PeerErrorCode.UnknownFile) for (const index of indices) this.queueHave(fileId, index);
          else this.logger.debug('HAVE not sent', { reason: errorMessage(error) });
        }),
      );
    }
    this.pendingHaves.clear();
    return Promise.all(sent).then(() => undefined);
  }

  /** After every (re)registration: publish complete files and announce partial ones. */
  private async reannounce(): Promise<void> {
    this.manifestAnnounced.clear();
    for (const file of this.store.all()) {
      try {
        if (file.complete) await this.tracker.publish(file.manifest);
        else if (file.bitfield.count > 0) await this.tracker.have(file.fileId, file.bitfield.indices(), file.manifest);
      } catch (error) {
        this.logger.warn('re-announce failed', { file: file.manifest.name, reason: errorMessage(error) });
      }
    }
  }
}


function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return 0;
  return sorted.length % 2 === 1 ? sorted[middle]! : Math.round(((sorted[middle - 1]! + sorted[middle]!) / 2) * 100) / 100;
}
