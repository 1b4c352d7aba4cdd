/**
 * The tracker's transport edge: one TCP server, one TrackerConnection per open connection. A peer id
 * is bound to the connection that registered (or resumed) it, so no connection can speak for another
 * peer. Anything a remote sends that is not valid is answered with an ERROR frame; past
 * MAX_INVALID_REQUESTS the connection is closed. Nothing a remote sends can crash the tracker.
 *
 * Two kinds of registration. By default a peer lives as long as its connection: it leaves when the
 * connection closes, and one sweep timer (not a timer per connection) closes connections that have
 * read nothing for MISSED_HEARTBEATS_BEFORE_EXPIRY heartbeats. A leased peer (REGISTER `lease`) is
 * not tied to a connection, like a BitTorrent announce: it may hang up and come back on a new
 * connection (REGISTER `resume`), any request renews its lease, and the same sweep expires it after as
 * many silent heartbeats. An idle leased peer costs the tracker its registry record and no socket.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { MAX_FRAME_BYTES, MessageType, PROTOCOL_VERSION, TRACKER_FEATURE_LOCATE_HOLDERS } from '../protocol';
import type { Message } from '../protocol';
import { errorCode, errorMessage, SwarmlabError } from '../shared/errors';
import { createLogger } from '../shared/logger';
import type { Logger } from '../shared/logger';
import { SwarmRegistry } from './swarm-registry';
import { TrackerConnection } from './tracker-connection';
import type { AddressBudget, TrackerConnectionHooks } from './tracker-connection';
import { TrackerMetrics } from './tracker-metrics';
import { TrackerErrorCode } from './errors';

export const DEFAULT_TRACKER_PORT = 7070;
export const DEFAULT_HEARTBEAT_MS = 5_000;
/** A peer that misses this many heartbeats is expired. */
export const MISSED_HEARTBEATS_BEFORE_EXPIRY = 3;
export const MAX_INVALID_REQUESTS = 16;
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 1024;
/** Unsent answer bytes past which a connection is not read until it drains (docs/protocol.md, "Limits"). */
export const DEFAULT_MAX_UNSENT_BYTES = 1024 * 1024;
/** Time to complete a frame after its first byte: a remote that trickles a byte now and then is closed. */
export const DEFAULT_FRAME_TIMEOUT_MS = 30_000;
/** Bytes of unfinished frames one remote address may have the tracker hold, over all its connections. */
export const DEFAULT_MAX_BUFFERED_BYTES_PER_ADDRESS = 4 * MAX_FRAME_BYTES;
/** Sweeps per heartbeat: an idle connection is closed between 3 and 3.5 heartbeats after its last read. */
const SWEEPS_PER_HEARTBEAT = 2;
/** REGISTERED `features`: what this tracker understands beyond version 1 (docs/protocol.md, REGISTERED). */
const FEATURES = [TRACKER_FEATURE_LOCATE_HOLDERS];

export interface TrackerServerInit {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  heartbeatMs?: number;
  /** Connections one remote address may hold open at once. */
  maxConnectionsPerAddress?: number;
  maxFilesPerPeer?: number;
  /** Collect Prometheus metrics (served by the caller, see `metrics`). */
  metrics?: boolean;
  /**
   * Take REGISTER's `host` as the peer's address. Off by default: the tracker records the address it
   * sees, so a peer cannot send downloaders to an address of its choosing. Turn it on only when peers
   * reach the tracker through a proxy or NAT that hides their address.
   */
  trustAdvertisedHost?: boolean;
  /** Unsent answer bytes past which a connection is not read until it drains. */
  maxUnsentBytes?: number;
  /** Time to complete a frame once its first byte arrived. */
  frameTimeoutMs?: number;
  /** Bytes of unfinished frames one remote address may have the tracker hold, over all its connections. */
  maxBufferedBytesPerAddress?: number;
}

/** The open connections from one remote address, that address's one string, and the bytes they buffer. */
interface AddressEntry extends AddressBudget {
  open: number;
}

export class TrackerServer {
  readonly registry: SwarmRegistry;
  readonly metrics: TrackerMetrics | undefined;
  private readonly logger: Logger;
  private readonly server: Server;
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly heartbeatMs: number;
  private readonly idleTimeoutMs: number;
  private readonly maxConnectionsPerAddress: number;
  private readonly trustAdvertisedHost: boolean;
  private readonly frameTimeoutMs: number;
  private readonly connections = new Set<TrackerConnection>();
  private readonly addresses = new Map<string, AddressEntry>();
  private readonly hooks: TrackerConnectionHooks;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(init: TrackerServerInit = {}, components: { logger?: Logger } = {}) {
    this.logger = components.logger ?? createLogger('tracker');
    this.host = init.host ?? '0.0.0.0';
    this.requestedPort = init.port ?? DEFAULT_TRACKER_PORT;
    this.heartbeatMs = init.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.idleTimeoutMs = this.heartbeatMs * MISSED_HEARTBEATS_BEFORE_EXPIRY;
    this.maxConnectionsPerAddress = init.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
    this.trustAdvertisedHost = init.trustAdvertisedHost ?? false;
    this.frameTimeoutMs = init.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS;
    this.registry = new SwarmRegistry(
      init.maxFilesPerPeer === undefined ? {} : { maxFilesPerPeer: init.maxFilesPerPeer },
    );
    this.metrics = init.metrics
      ? new TrackerMetrics({
          peers: () => this.registry.peerCount,
          files: () => this.registry.fileCount,
          connections: () => this.connections.size,
        })
      : undefined;
    this.hooks = {
      logger: this.logger,
      maxFrameBytes: MAX_FRAME_BYTES,
      maxUnsentBytes: init.maxUnsentBytes ?? DEFAULT_MAX_UNSENT_BYTES,
      maxBufferedBytesPerAddress: init.maxBufferedBytesPerAddress ?? DEFAULT_MAX_BUFFERED_BYTES_PER_ADDRESS,
      onMessage: (connection, message) => this.onMessage(connection, message),
      onClose: (connection) => this.onClose(connection),
    };
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    this.server.on('error', (error) => this.logger.error('tracker server error', { error: error.message }));
  }

  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Answer bytes written and not yet taken by the kernel, over every connection. */
  get unsentBytes(): number {
    let bytes = 0;
    for (const connection of this.connections) bytes += connection.socket.writableLength;
    return bytes;
  }

  /** Connections not read because their remote does not read its answers. */
  get pausedConnections(): number {
    let paused = 0;
    for (const connection of this.connections) if (connection.paused) paused++;
    return paused;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.requestedPort, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const sweepMs = Math.min(this.heartbeatMs / SWEEPS_PER_HEARTBEAT, this.frameTimeoutMs / 2);
    this.sweepTimer = setInterval(() => this.sweepIdle(), sweepMs);
    this.sweepTimer.unref();
    this.logger.info('tracker listening', { host: this.host, port: this.port, heartbeatMs: this.heartbeatMs });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const connection of this.connections) connection.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private accept(socket: Socket): void {
    const remote = TrackerConnection.remoteAddressOf(socket);
    let entry = this.addresses.get(remote);
    if (entry && entry.open >= this.maxConnectionsPerAddress) {
      this.logger.warn('too many connections from one address; refusing', { remote, open: entry.open });
      const refused = new TrackerConnection(socket, { address: remote, bufferedBytes: 0 }, this.hooks);
      refused.refuse(TrackerErrorCode.TooManyConnections, `at most ${this.maxConnectionsPerAddress} connections per address`);
      return;
    }
    if (!entry) {
      entry = { address: remote, open: 0, bufferedBytes: 0 };
      this.addresses.set(remote, entry);
    }
    entry.open++;
    this.connections.add(new TrackerConnection(socket, entry, this.hooks));
  }

  private onClose(connection: TrackerConnection): void {
    // A refused connection was never counted.
    if (!this.connections.delete(connection)) return;
    const entry = this.addresses.get(connection.remoteAddress);
    if (entry && --entry.open <= 0) this.addresses.delete(connection.remoteAddress);
    const peerId = connection.peerId;
    if (peerId === undefined) return;
    connection.peerId = undefined;
    if (this.registry.isLeased(peerId)) {
      this.logger.debug('leased peer hung up; its lease runs on', { peerId });
      return;
    }
    this.logger.info('peer left', { peerId });
    this.registry.unregister(peerId);
  }

  /**
   * Closes every connection that has read nothing within the idle timeout (a peer bound to it expires
   * with it) or has not finished a frame within the frame timeout, and expires every leased peer that
   * renewed nothing within the idle timeout.
   */
  private sweepIdle(): void {
    const nowMs = Date.now();
    const oldestAllowedMs = nowMs - this.idleTimeoutMs;
    const oldestFrameMs = nowMs - this.frameTimeoutMs;
    for (const peerId of this.registry.expireLeases(oldestAllowedMs)) {
      this.logger.info('leased peer expired after missed heartbeats', { peerId });
      this.metrics?.expired.inc();
    }
    for (const connection of this.connections) {
      if (connection.frameStartedMs !== 0 && connection.frameStartedMs < oldestFrameMs) {
        this.logger.warn('frame not completed in time; closing connection', {
          remote: connection.remoteAddress,
          frameTimeoutMs: this.frameTimeoutMs,
        });
        connection.refuse(TrackerErrorCode.FrameTimeout, `a frame must complete within ${this.frameTimeoutMs} ms of its first byte`);
        connection.close();
        continue;
      }
      if (connection.lastReadMs >= oldestAllowedMs) continue;
      if (connection.peerId !== undefined) {
        this.logger.info('peer expired after missed heartbeats', { peerId: connection.peerId });
        this.metrics?.expired.inc();
      } else {
        this.logger.debug('idle connection closed', { remote: connection.remoteAddress });
      }
      connection.close();
    }
  }

  private onMessage(connection: TrackerConnection, message: Message): void {
    this.metrics?.requests.inc({ type: MessageType[message.type] });
    if (connection.peerId !== undefined) this.registry.renew(connection.peerId);
    try {
      this.handle(connection, message);
    } catch (error) {
      const code = errorCode(error);
      this.metrics?.refused.inc({ code });
      connection.invalidRequests++;
      this.logger.warn('request refused', {
        remote: connection.remoteAddress,
        type: MessageType[message.type],
        code,
        reason: errorMessage(error),
      });
      connection.sendError(message.requestId, code, errorMessage(error));
      if (connection.invalidRequests > MAX_INVALID_REQUESTS) {
        this.logger.warn('too many invalid requests; closing connection', { remote: connection.remoteAddress });
        connection.close();
      }
    }
  }

  private handle(connection: TrackerConnection, message: Message): void {
    switch (message.type) {
      case MessageType.Register: {
        if (connection.peerId !== undefined)
          throw trackerError(TrackerErrorCode.AlreadyRegistered, 'this connection already registered a peer');
        if (message.body.version !== PROTOCOL_VERSION)
          throw trackerError(TrackerErrorCode.Version, `protocol version ${message.body.version} is not supported`);
        const { resume } = message.body;
        if (resume) {
          const { host } = this.registry.resume(resume);
          connection.peerId = resume.peerId;
          this.logger.debug('leased peer resumed', { peerId: resume.peerId });
          connection.send(MessageType.Registered, message.requestId, {
            peerId: resume.peerId,
            heartbeatMs: this.heartbeatMs,
            host,
            key: resume.key,
            features: FEATURES,
          });
          return;
        }
        // The address the tracker sees, unless told to trust what peers advertise (behind a proxy or NAT):
        // otherwise a peer could point every downloader at an address of its choosing.
        const host = this.trustAdvertisedHost ? (message.body.host ?? connection.remoteAddress) : connection.remoteAddress;
        const { name, port } = message.body;
        const lease = message.body.lease
          ? this.registry.registerLeased(name, host, port, connection.remoteAddress)
          : undefined;
        const peerId = lease?.peerId ?? this.registry.register(name, host, port);
        connection.peerId = peerId;
        this.logger.info('peer registered', { peerId, name, address: `${host}:${port}`, leased: lease !== undefined });
        connection.send(MessageType.Registered, message.requestId, {
          peerId,
          heartbeatMs: this.heartbeatMs,
          host,
          ...(lease ? { key: lease.key } : {}),
          features: FEATURES,
        });
        return;
      }
      case MessageType.Unregister: {
        const peerId = this.requirePeer(connection);
        this.registry.unregister(peerId);
        connection.peerId = undefined;
        this.logger.info('peer unregistered', { peerId });
        connection.send(MessageType.Ok, message.requestId, {});
        return;
      }
      case MessageType.Heartbeat:
        this.requirePeer(connection);
        connection.send(MessageType.Ok, message.requestId, {});
        return;
      case MessageType.Publish: {
        const peerId = this.requirePeer(connection);
        const fileId = this.registry.publish(peerId, message.body.manifest);
        this.logger.info('file published', { peerId, fileId, name: message.body.manifest.name });
        connection.send(MessageType.Published, message.requestId, { fileId });
        return;
      }
      case MessageType.Have: {
        const peerId = this.requirePeer(connection);
        this.registry.have(peerId, message.body.fileId, message.body.indices, message.body.manifest);
        connection.sendEncoded(MessageType.Ok, message.requestId, EMPTY_BODY);
        return;
      }
      case MessageType.Withdraw: {
        const peerId = this.requirePeer(connection);
        this.registry.withdraw(peerId, message.body.fileId);
        this.logger.info('file withdrawn', { peerId, fileId: message.body.fileId });
        connection.send(MessageType.Ok, message.requestId, {});
        return;
      }
      case MessageType.List:
        connection.send(MessageType.Files, message.requestId, this.registry.listPage(message.body.offset, message.body.limit));
        return;
      case MessageType.Locate:
        connection.sendEncoded(
          MessageType.Peers,
          message.requestId,
          this.registry.locateAnswer(message.body.fileId, connection.peerId, message.body.numwant, message.body.manifest !== false),
        );
        return;
      case MessageType.Registered:
      case MessageType.Published:
      case MessageType.Files:
      case MessageType.Peers:
      case MessageType.Ok:
      case MessageType.Error:
      case MessageType.Hello:
      case MessageType.Interested:
      case MessageType.Bitfield:
      case MessageType.Request:
      case MessageType.Chunk:
      case MessageType.Reject:
      case MessageType.Cancel:
      case MessageType.HaveChunk:
      case MessageType.Ping:
      case MessageType.Pong:
      case MessageType.Room:
        throw trackerError(TrackerErrorCode.UnexpectedMessage, `a tracker does not accept ${MessageType[message.type]}`);
      default: {
        const unreachable: never = message;
        throw trackerError(TrackerErrorCode.UnexpectedMessage, `unexpected message ${String(unreachable)}`);
      }
    }
  }

  private requirePeer(connection: TrackerConnection): string {
    if (connection.peerId === undefined) throw trackerError(TrackerErrorCode.NotRegistered, 'register first');
    return connection.peerId;
  }
}

/** `{}`: the body of OK, encoded once. */
const EMPTY_BODY = Buffer.from('{}');

function trackerError(code: TrackerErrorCode, message: string): SwarmlabError {
  return new SwarmlabError(code, message);
}
