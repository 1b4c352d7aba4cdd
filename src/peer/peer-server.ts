/**
 * The data server: serves verified chunks to other peers. Only files this peer published or is
 * downloading are reachable, by file id and chunk index, never by path. Each connection is served in
 * order, one chunk at a time, waiting for 'drain' when the socket is full (backpressure), with at
 * most MAX_QUEUED_REQUESTS queued; anything invalid gets an ERROR, and past MAX_INVALID_REQUESTS the
 * connection is closed.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { CHUNK_HEADER_BYTES, encodeChunkFrameInPlace, encodeChunkHeader, encodeChunkRef, MAX_CHUNK_BYTES, MessageType, PEER_FEATURE_ROOM, RejectReason } from '../protocol';
import type { Message } from '../protocol';
import { errorCode, errorMessage } from '../shared/errors';
import { FramedConnection } from '../shared/framed-connection';
import type { LinkTable } from '../shared/link-emulator';
import type { Logger } from '../shared/logger';
import type { TokenBucket } from '../shared/token-bucket';
import { BufferPool } from './buffer-pool';
import type { ChunkStore } from './chunk-store';
import { PeerErrorCode } from './errors';
import type { Choker } from './choker';
import type { FaultInjector } from './fault-injector';
import { RoomQueue } from './room-queue';
import { SeedingPolicy, superSeedEnabled } from './seeding-policy';
import type { SuperSeedMode } from './seeding-policy';
import { sleep } from '../shared/token-bucket';

export const MAX_QUEUED_REQUESTS = 256;
export const MAX_INVALID_REQUESTS = 16;
export const DATA_IDLE_TIMEOUT_MS = 120_000;
export const MAX_CONNECTIONS_PER_ADDRESS = 64;
/** A data server only receives small frames (HELLO, INTERESTED, REQUEST, CANCEL), so it buffers little. */
export const MAX_INBOUND_FRAME_BYTES = 64 * 1024;
/**
 * Unsent bytes past which a data connection is not read until it drains: one chunk being sent (the
 * serving loop waits for 'drain' before the next) and room for small answers. A remote that pipelines
 * INTERESTED and never reads stops being read here instead of growing the write buffer.
 */
export const MAX_UNSENT_BYTES = MAX_CHUNK_BYTES + 1024 * 1024;
/** Time to complete a frame after its first byte: every frame a data server accepts is small. */
export const DATA_FRAME_TIMEOUT_MS = 10_000;
/**
 * How long, at this peer's upload rate, the requests it has accepted may take to send before a new
 * one is refused with REJECT `busy`, when other connections wait for the upload too. A request
 * queued longer than the downloader's request timeout (10 s) is a chunk sent for nothing: the
 * downloader has given up on it and closed the connection. With a hundred downloaders at one
 * rate-limited seeder that was most of its upload. The bound is over every connection, not one
 * request each: a hundred connections with one request each is already 12 s at 512 KiB/s.
 */
export const MAX_UPLOAD_QUEUE_MS = 4_000;
/** Chunks read from disk ahead of the one being sent, per connection. */
const READ_AHEAD = 4;
/**
 * With `haveBatchMs` (PeerServerInit), HAVE_CHUNK pushes leave at most that often: the first chunk
 * after a quiet spell is pushed at once, the chunks that arrive within the period after it go out
 * together, one write per connection, when it ends. Off by default (0): in a local swarm of 1 + 49
 * peers (docs/benchmarks.md, "HAVE_CHUNK batching and recent chunks") batching at 250 or 500 ms cut
 * neither the downloaders' CPU per chunk nor their wake-ups beyond what serving recent chunks from
 * memory did, and every batched run finished later than the unbatched ones beside it: downloaders
 * learn of new chunks later, and their sources' uploads idled more. This is the period the tests use.
 */
export const HAVE_CHUNK_BATCH_MS = 500;

interface QueuedRequest {
  requestId: number;
  fileId: string;
  index: number;
  /**
   * The chunk, pinned when the store had it in memory as the request came (a download's recent chunk):
   * a request waits up to MAX_UPLOAD_QUEUE_MS before it is served, long enough for the store to let the
   * chunk go, and then it would be read from disk. Unpinned once copied into its frame, or when the
   * request leaves the queue otherwise.
   */
  kept?: Buffer;
}

interface ServedConnection {
  connection: FramedConnection;
  remoteName: string;
  /** The tracker id the remote gave in HELLO ('' before it, or when it has none). */
  remotePeerId: string;
  /** HELLO listed `room`: refused with REJECT `busy`, it waits for ROOM instead of asking again on a timer. */
  wantsRoom: boolean;
  queue: QueuedRequest[];
  /** Requests taken off the queue and not finished yet (read ahead, waiting for tokens, being sent). */
  inHand: number;
  serving: boolean;
  /** CANCELs of requests already taken off the queue (read ahead, or waiting for upload tokens). */
  cancelled: Set<number>;
  invalid: number;
  interests: Set<string>;
  /** Chunks to push in the next HAVE_CHUNK batch. */
  haves: Array<{ fileId: string; index: number }>;
}

export interface ChunkServedEvent {
  fileId: string;
  index: number;
  to: string;
  toAddr: string;
  bytes: number;
}

export interface PeerServerInit {
  host?: string;
  port?: number;
  uploadLimiter: TokenBucket;
  /** Lab faults applied to served chunks. */
  faults?: FaultInjector;
  /** Close a data connection after this long without incoming bytes (a half-open or slow client). */
  idleTimeoutMs?: number;
  /** Close a data connection whose frame is not complete this long after its first byte. */
  frameTimeoutMs?: number;
  /** Stop reading a data connection while this many answer bytes wait to be sent. */
  maxUnsentBytes?: number;
  onServed?: (event: ChunkServedEvent) => void;
  /**
   * Have suppression: whether the peer with this tracker id is known to hold a chunk already (this
   * peer downloads from it too), in which case it is not told that we have it. A remote that lies
   * about its id in HELLO only keeps announcements from itself.
   */
  remoteHolds?: (peerId: string, fileId: string, index: number) => boolean;
  /** When to super-seed (seeding-policy.ts); default `auto`. */
  superSeed?: SuperSeedMode;
  /** This peer's emulated links: what it sends on the connections it accepted goes through them. */
  links?: LinkTable;
  /** The upload policy (`--uploader`): a choked requester's REQUEST gets REJECT `busy`. Absent: serve all. */
  choker?: Choker;
  /** `--free-ride`: every REQUEST gets REJECT `not-held`, so requesters look elsewhere. */
  freeRide?: boolean;
  /** Accepted requests' sending time past which new ones get REJECT `busy` (default MAX_UPLOAD_QUEUE_MS). */
  maxUploadQueueMs?: number;
  /** How often HAVE_CHUNK pushes leave at most, ms (default 0: each chunk at once; see HAVE_CHUNK_BATCH_MS). */
  haveBatchMs?: number;
}

function copyInto(target: Buffer, source: Buffer): Buffer {
  source.copy(target);
  return target;
}

/** How the upload policy names a requester: the tracker id it gave in HELLO, else its address. */
function requesterKey(served: ServedConnection): string {
  return served.remotePeerId === '' ? served.remoteName : served.remotePeerId;
}

export class PeerServer {
  private readonly server: Server;
  private readonly connections = new Set<ServedConnection>();
  private readonly perAddress = new Map<string, number>();
  /** Downloaders refused with REJECT `busy` that wait for ROOM. */
  private readonly room = new RoomQueue<ServedConnection>();
  /** Chunks read from disk go into these and come back once the socket has taken them. */
  private readonly readBuffers = new BufferPool();
  /** When the last HAVE_CHUNK batch went out, and the timer of the next one while chunks wait for it. */
  private haveSentAtMs = Number.NEGATIVE_INFINITY;
  private haveTimer: NodeJS.Timeout | undefined;
  /** Wakes the next waiters when a ROOM's hold ends unanswered (room-queue.ts). */
  private roomTimer: NodeJS.Timeout | undefined;
  /** Super-seeding as `init.superSeed` says (default `auto`: while the upload is rate-limited). */
  private readonly seeding = new SeedingPolicy({
    wholeFileChunks: (fileId) => {
      const file = this.store.get(fileId);
      return file?.complete ? file.manifest.chunks.length : undefined;
    },
    enabled: () => superSeedEnabled(this.init.superSeed ?? 'auto', this.init.uploadLimiter.rateBytesPerS !== null),
  });

  constructor(
    private readonly store: ChunkStore,
    private readonly logger: Logger,
    private readonly init: PeerServerInit,
  ) {
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    this.server.on('error', (error) => this.logger.error('data server error', { error: error.message }));
    store.on('chunk', (fileId, index) => this.announce(fileId, index));
    store.on('withdrawn', (fileId) => this.seeding.drop(fileId));
    // Who the upload policy serves changed: a downloader it unchoked may be waiting for ROOM. Each
    // waiter counts as asking (it would ask again on a timer without ROOM), so it stays a candidate.
    init.choker?.afterRound(() => {
      for (const served of this.room.waitingNow()) init.choker?.admits(requesterKey(served), served.remoteName);
      this.offerRoom();
    });
  }

  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Answer bytes written and not yet taken by the kernel, over every connection. */
  get unsentBytes(): number {
    let bytes = 0;
    for (const { connection } of this.connections) bytes += connection.socket.writableLength;
    return bytes;
  }

  /** The super-seeding policy's state: claims held and files it records (bounded by open connections and offered files). */
  get superSeedState(): { claims: number; files: number } {
    return { claims: this.seeding.claimCount, files: this.seeding.fileCount };
  }

  /** Writes queued on every connection and not yet flushed (each costs memory beyond its bytes). */
  get queuedWrites(): number {
    let writes = 0;
    for (const { connection } of this.connections) writes += connection.queuedWrites;
    return writes;
  }

  /** Connections not read because their remote does not read its answers. */
  get pausedConnections(): number {
    let paused = 0;
    for (const { connection } of this.connections) if (connection.paused) paused++;
    return paused;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.init.port ?? 0, this.init.host ?? '0.0.0.0', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    clearTimeout(this.haveTimer);
    this.haveTimer = undefined;
    clearTimeout(this.roomTimer);
    this.roomTimer = undefined;
    for (const served of this.connections) served.connection.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const connection = new FramedConnection(socket, this.logger, {
      idleTimeoutMs: this.init.idleTimeoutMs ?? DATA_IDLE_TIMEOUT_MS,
      maxFrameBytes: MAX_INBOUND_FRAME_BYTES,
      frameTimeoutMs: this.init.frameTimeoutMs ?? DATA_FRAME_TIMEOUT_MS,
      maxUnsentBytes: this.init.maxUnsentBytes ?? MAX_UNSENT_BYTES,
      ...(this.init.links ? { links: this.init.links } : {}),
    });
    const address = connection.remoteAddress;
    const open = this.perAddress.get(address) ?? 0;
    if (open >= MAX_CONNECTIONS_PER_ADDRESS) {
      connection.sendError(0, PeerErrorCode.TooManyConnections, 'too many connections from your address');
      socket.end();
      return;
    }
    this.perAddress.set(address, open + 1);
    const served: ServedConnection = {
      connection,
      remoteName: `${address}:${connection.remotePort}`,
      remotePeerId: '',
      wantsRoom: false,
      queue: [],
      inHand: 0,
      serving: false,
      cancelled: new Set(),
      invalid: 0,
      interests: new Set(),
      haves: [],
    };
    this.connections.add(served);
    connection.on('message', (message) => this.onMessage(served, message));
    connection.on('close', () => {
      this.connections.delete(served);
      this.seeding.forget(connection);
      this.room.forget(served);
      for (const request of served.queue) this.unpinKept(request);
      served.queue.length = 0;
      served.haves.length = 0;
      // What it had queued no longer takes the upload.
      this.offerRoom();
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
    });
  }

  private onMessage(served: ServedConnection, message: Message): void {
    const { connection } = served;
    switch (message.type) {
      case MessageType.Hello:
        served.remoteName = message.body.name;
        served.remotePeerId = message.body.peerId;
        served.wantsRoom = message.body.features?.includes(PEER_FEATURE_ROOM) === true;
        return;
      case MessageType.Interested: {
        const file = this.store.get(message.body.fileId);
        if (!file) {
          this.refuse(served, message.requestId, PeerErrorCode.NotHeld, 'this peer does not hold that file');
          return;
        }
        served.interests.add(message.body.fileId);
        connection.send(MessageType.Bitfield, message.requestId, {
          fileId: file.fileId,
          bitfield: file.bitfield.toBase64(),
          ...(served.wantsRoom ? { features: [PEER_FEATURE_ROOM] } : {}),
        });
        return;
      }
      case MessageType.Request: {
        // Checked against the manifest before anything keys a map on it (the seeding policy's claims).
        const held = this.store.get(message.body.fileId);
        if (!held || message.body.index >= held.manifest.chunks.length) {
          connection.write(encodeChunkRef(MessageType.Reject, message.requestId, message.body.fileId, message.body.index, RejectReason.NotHeld));
          return;
        }
        this.room.answered(served);
        if (served.queue.length >= MAX_QUEUED_REQUESTS) {
          this.refuseBusy(served, message.requestId, message.body.fileId, message.body.index, held.manifest.chunkSize);
          return;
        }
        if (this.init.freeRide) {
          connection.write(encodeChunkRef(MessageType.Reject, message.requestId, message.body.fileId, message.body.index, RejectReason.NotHeld));
          return;
        }
        if (this.init.choker && !this.init.choker.admits(requesterKey(served), served.remoteName)) {
          this.refuseBusy(served, message.requestId, message.body.fileId, message.body.index, held.manifest.chunkSize);
          return;
        }
        if (this.uploadQueueFull(served, held.manifest.chunkSize)) {
          this.refuseBusy(served, message.requestId, message.body.fileId, message.body.index, held.manifest.chunkSize);
          return;
        }
        if (!this.seeding.admit(message.body.fileId, message.body.index, connection, this.uploadBusy())) {
          connection.write(encodeChunkRef(MessageType.Reject, message.requestId, message.body.fileId, message.body.index, RejectReason.Elsewhere));
          return;
        }
        const kept = this.store.pinRecent(message.body.fileId, message.body.index);
        served.queue.push({ requestId: message.requestId, fileId: message.body.fileId, index: message.body.index, ...(kept ? { kept } : {}) });
        if (!served.serving) void this.serve(served);
        return;
      }
      case MessageType.Cancel: {
        const position = served.queue.findIndex((queued) => queued.requestId === message.requestId);
        if (position >= 0) {
          this.unpinKept(served.queue.splice(position, 1)[0]!);
          this.offerRoom();
        }
        // Not queued: read ahead or waiting for the upload, unless already sent (then the loop forgets it).
        else if (served.serving && served.cancelled.size < MAX_QUEUED_REQUESTS) served.cancelled.add(message.requestId);
        return;
      }
      case MessageType.Ping:
        // Answered in line with everything else this connection sends, so the round trip includes the link's queue.
        connection.send(MessageType.Pong, message.requestId, {});
        return;
      case MessageType.HaveChunk:
      case MessageType.Error:
        return;
      case MessageType.Register:
      case MessageType.Registered:
      case MessageType.Unregister:
      case MessageType.Heartbeat:
      case MessageType.Publish:
      case MessageType.Published:
      case MessageType.List:
      case MessageType.Files:
      case MessageType.Locate:
      case MessageType.Peers:
      case MessageType.Have:
      case MessageType.Withdraw:
      case MessageType.Ok:
      case MessageType.Bitfield:
      case MessageType.Chunk:
      case MessageType.Reject:
      case MessageType.Pong:
      case MessageType.Room:
        this.refuse(served, message.requestId, PeerErrorCode.UnexpectedMessage, `a peer does not accept ${MessageType[message.type]}`);
        return;
      default: {
        const unreachable: never = message;
        this.refuse(served, 0, PeerErrorCode.UnexpectedMessage, `unexpected ${String(unreachable)}`);
      }
    }
  }

  private refuse(served: ServedConnection, requestId: number, code: string, reason: string): void {
    served.invalid++;
    served.connection.sendError(requestId, code, reason);
    if (served.invalid > MAX_INVALID_REQUESTS) {
      this.logger.warn('too many invalid requests; closing connection', { remote: served.remoteName });
      served.connection.close();
    }
  }

  /**
   * Serves the queue in order, one loop per connection. Up to READ_AHEAD chunks are read from disk
   * while earlier ones are being sent, so the socket never waits for the disk.
   */
  private async serve(served: ServedConnection): Promise<void> {
    served.serving = true;
    const { connection } = served;
    const reads: Array<{ request: QueuedRequest; data: Promise<Buffer> }> = [];
    try {
      while (!connection.isClosed) {
        while (reads.length < READ_AHEAD && served.queue.length > 0) {
          const request = served.queue.shift()!;
          // Read into a frame's storage after room for its header: the frame goes out in one write.
          const frameData = (bytes: number): Buffer => this.readBuffers.acquire(CHUNK_HEADER_BYTES + bytes).subarray(CHUNK_HEADER_BYTES);
          const data = request.kept && this.store.has(request.fileId, request.index) ? Promise.resolve(copyInto(frameData(request.kept.length), request.kept)) : this.store.readChunk(request.fileId, request.index, frameData);
          this.unpinKept(request);
          data.catch(() => undefined); // handled when its turn comes
          reads.push({ request, data });
        }
        served.inHand = reads.length;
        // The chunk sent last has left the queue: its slot may go to a downloader waiting for ROOM.
        this.offerRoom();
        const next = reads.shift();
        if (!next) break;
        const { request } = next;
        let data: Buffer;
        try {
          data = await next.data;
        } catch (error) {
          const reason = errorCode(error) === PeerErrorCode.NotHeld ? RejectReason.NotHeld : RejectReason.Unavailable;
          if (reason === RejectReason.Unavailable) this.logger.warn('cannot read chunk', { fileId: request.fileId, index: request.index, reason: errorMessage(error) });
          connection.write(encodeChunkRef(MessageType.Reject, request.requestId, request.fileId, request.index, reason));
          continue;
        }
        const read = data;
        const reuse = (): void => this.readBuffers.release(read);
        // A cancelled request (an endgame duplicate the downloader got elsewhere) costs no upload.
        if (served.cancelled.delete(request.requestId)) {
          reuse();
          continue;
        }
        await this.init.uploadLimiter.take(data.length);
        if (served.cancelled.delete(request.requestId)) {
          this.init.uploadLimiter.giveBack(data.length);
          reuse();
          continue;
        }
        if (this.init.faults?.active) {
          const decision = this.init.faults.decide(data);
          if (!decision.send) {
            reuse();
            continue;
          }
          if (decision.delayMs > 0) await sleep(decision.delayMs);
          if (decision.corrupted) this.logger.info('fault: sending a corrupted chunk', { fileId: request.fileId, index: request.index, to: served.remoteName });
          data = decision.data;
        }
        if (connection.isClosed) break;
        // A chunk as read (not replaced by a fault) has its frame's header room in front of it.
        const flushed =
          data === read && read.byteOffset >= CHUNK_HEADER_BYTES
            ? connection.write(
                encodeChunkFrameInPlace(Buffer.from(read.buffer, read.byteOffset - CHUNK_HEADER_BYTES, CHUNK_HEADER_BYTES + read.length), request.requestId, request.fileId, request.index),
                reuse,
              )
            : connection.writeWithPayload(encodeChunkHeader(request.requestId, request.fileId, request.index, data.length), data, reuse);
        this.seeding.sent(request.fileId, request.index);
        this.init.choker?.sent(requesterKey(served), data.length);
        this.init.onServed?.({ fileId: request.fileId, index: request.index, to: served.remoteName, toAddr: `${connection.remoteAddress}:${connection.remotePort}`, bytes: data.length });
        if (!flushed) await connection.drained();
      }
    } catch (error) {
      if (!connection.isClosed) this.logger.warn('serving failed', { remote: served.remoteName, reason: errorMessage(error) });
    } finally {
      served.serving = false;
      served.inHand = 0;
      served.cancelled.clear();
      this.offerRoom();
      // Requests that arrived while the last write drained are served by a new loop.
      if (!connection.isClosed && served.queue.length > 0) void this.serve(served);
    }
  }

  /**
   * Whether the requests accepted so far, over every connection, and this one would take longer than
   * maxUploadQueueMs to send at the upload rate, while other connections wait for the upload too
   * (never on an unlimited upload; a connection alone with the upload has MAX_QUEUED_REQUESTS).
   */
  private uploadQueueFull(served: ServedConnection, chunkBytes: number): boolean {
    const capacityBytes = this.uploadQueueBytes();
    if (capacityBytes === Infinity) return false;
    // Slots a ROOM holds for another downloader count as taken (room-queue.ts).
    let accepted = this.room.held(performance.now(), served);
    let othersWaiting = accepted > 0;
    for (const other of this.connections) {
      const pending = other.queue.length + other.inHand;
      accepted += pending;
      if (other !== served && pending > 0) othersWaiting = true;
    }
    return othersWaiting && (accepted + 1) * chunkBytes > capacityBytes;
  }

  /** What the upload sends in maxUploadQueueMs: the bound on accepted requests (Infinity when unlimited). */
  private uploadQueueBytes(): number {
    const rateBytesPerS = this.init.uploadLimiter.rateBytesPerS;
    return rateBytesPerS === null ? Infinity : (rateBytesPerS * (this.init.maxUploadQueueMs ?? MAX_UPLOAD_QUEUE_MS)) / 1000;
  }

  /** REJECT `busy`; a downloader that asked for ROOM in HELLO waits for it (room-queue.ts). */
  private refuseBusy(served: ServedConnection, requestId: number, fileId: string, index: number, chunkBytes: number): void {
    served.connection.write(encodeChunkRef(MessageType.Reject, requestId, fileId, index, RejectReason.Busy));
    if (served.wantsRoom) this.room.wait(served, chunkBytes);
  }

  /**
   * Sends ROOM to the waiters the upload queue has room for now, first refused first. With an upload
   * policy only to those it unchokes; asking it counts as a request, so a downloader waiting for ROOM
   * stays among its candidates as one asking again on a timer would.
   */
  private offerRoom(): void {
    if (this.room.waiters === 0) return;
    const capacityBytes = this.uploadQueueBytes();
    let accepted = 0;
    for (const served of this.connections) accepted += served.queue.length + served.inHand;
    const choker = this.init.choker;
    const eligible = (served: ServedConnection): boolean =>
      !served.connection.isClosed && (!choker || choker.admits(requesterKey(served), served.remoteName));
    for (const served of this.room.wake(performance.now(), accepted, capacityBytes, eligible)) served.connection.send(MessageType.Room, 0, {});
    // Nothing else may come to wake the rest (no chunk leaving, no request): a hold's end must.
    const holdEndMs = this.room.nextHoldEndMs();
    if (this.room.waiters > 0 && holdEndMs !== undefined && this.roomTimer === undefined) {
      this.roomTimer = setTimeout(() => {
        this.roomTimer = undefined;
        this.offerRoom();
      }, Math.max(0, holdEndMs - performance.now()) + 1);
      this.roomTimer.unref();
    }
  }

  private unpinKept(request: QueuedRequest): void {
    if (request.kept) this.store.unpinRecent(request.kept);
  }

  /** Whether any connection has requests waiting for the upload. */
  private uploadBusy(): boolean {
    for (const served of this.connections) if (served.serving || served.queue.length > 0) return true;
    return false;
  }

  /**
   * Tells every connection interested in `fileId` that a new chunk can be asked for: at once, or with
   * `haveBatchMs` at once after a quiet period, else with the batch that ends it.
   */
  private announce(fileId: string, index: number): void {
    for (const served of this.connections) if (served.interests.has(fileId)) served.haves.push({ fileId, index });
    if (this.haveTimer) return;
    const waitMs = this.haveSentAtMs + (this.init.haveBatchMs ?? 0) - performance.now();
    if (waitMs <= 0) this.pushHaves();
    else this.haveTimer = setTimeout(() => this.pushHaves(), waitMs);
  }

  /** Sends every connection its waiting HAVE_CHUNKs, in one write per connection. */
  private pushHaves(): void {
    this.haveTimer = undefined;
    this.haveSentAtMs = performance.now();
    for (const served of this.connections) {
      if (served.haves.length === 0) continue;
      const frames: Buffer[] = [];
      for (const { fileId, index } of served.haves) {
        // Asked at send time: a chunk the remote got meanwhile (it told us, as our source) is not pushed.
        if (served.remotePeerId !== '' && this.init.remoteHolds?.(served.remotePeerId, fileId, index)) continue;
        frames.push(encodeChunkRef(MessageType.HaveChunk, 0, fileId, index));
      }
      served.haves.length = 0;
      if (frames.length > 0) served.connection.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
    }
  }
}
