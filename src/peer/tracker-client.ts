/**
 * The peer's link to the tracker: REGISTER, heartbeats, and requests (PUBLISH, LIST, LOCATE, HAVE).
 * When the connection drops while the user wants to be connected, it reconnects with backoff and emits
 * `registered` again, so the peer re-announces everything it holds: a tracker restart loses nothing.
 *
 * By default the registration lives as long as one persistent connection. With `lease`, it is leased
 * (docs/protocol.md): the connection is parked (closed) once it has carried no request for
 * PARK_AFTER_IDLE_HEARTBEATS heartbeats, each heartbeat then renews the lease on a short connection of
 * its own (REGISTER `resume`, then hang up), and the next request reopens one. An idle seeder then
 * costs the tracker a record and no socket, like a BitTorrent peer between announces.
 */
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { MessageType, PROTOCOL_VERSION } from '../protocol';
import type { FileSummary, LeaseCredentials, Manifest, PeersBody } from '../protocol';
import { errorCode, errorMessage } from '../shared/errors';
import { FramedConnection } from '../shared/framed-connection';
import type { Logger } from '../shared/logger';
import { PeerError } from './errors';

export const TRACKER_CONNECT_TIMEOUT_MS = 5_000;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 2_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** A leased peer's connection that carried no request for this many heartbeats is closed. */
export const PARK_AFTER_IDLE_HEARTBEATS = 2;

export interface TrackerAddress {
  host: string;
  port: number;
}

export function parseHostPort(value: string, defaultPort = 7070): TrackerAddress {
  const match = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(value.trim());
  const host = match?.[1] ?? '';
  const port = match?.[2] === undefined ? defaultPort : Number(match[2]);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PeerError('ERR_BAD_ADDRESS', `"${value}" is not HOST:PORT`);
  }
  return { host, port };
}

export interface TrackerClientEvents {
  /** Emitted on every (re)registration after which the tracker may have lost what we announced. */
  registered: [peerId: string];
  /** The link dropped; reconnecting follows when still wanted. */
  lost: [reason: string];
}

export interface TrackerClientInit {
  name: string;
  /** The data port to advertise; read at every registration (the server may pick it at start). */
  dataPort: () => number;
  /** Address to advertise instead of the one the tracker sees. */
  advertiseHost?: string;
  /** Register with a lease and park the connection while idle (see above). */
  lease?: boolean;
}

interface Registration {
  peerId: string;
  host: string;
  heartbeatMs: number;
  /** A new registration, not a resumed lease: the tracker knows nothing we announced. */
  fresh: boolean;
}

export class TrackerClient extends EventEmitter<TrackerClientEvents> {
  private connection: FramedConnection | undefined;
  private wanted = false;
  private address: TrackerAddress | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelayMs = RECONNECT_MIN_MS;
  private currentPeerId: string | undefined;
  private advertisedHost: string | undefined;
  /** Leased mode: what the tracker gave us to resume the registration; kept across a lost connection. */
  private lease: LeaseCredentials | undefined;
  /** Leased mode: registered, with no connection open on purpose. */
  private parked = false;
  /** The connection being reopened for a request while parked, shared by every request that waits for it. */
  private reopening: Promise<FramedConnection> | undefined;
  /** A parked lease's renewal in flight: a reopening waits for it, so that the two never both register anew. */
  private renewing: Promise<void> | undefined;
  private lastRequestMs = 0;

  constructor(
    private readonly init: TrackerClientInit,
    private readonly logger: Logger,
  ) {
    super();
  }

  /** Registered with the tracker (a parked leased peer is registered without a connection). */
  get connected(): boolean {
    if (this.currentPeerId === undefined) return false;
    return this.parked || (this.connection !== undefined && !this.connection.isClosed);
  }

  get wantsConnection(): boolean {
    return this.wanted;
  }

  get peerId(): string | undefined {
    return this.currentPeerId;
  }

  get trackerAddress(): TrackerAddress | undefined {
    return this.address;
  }

  /** The address the tracker sees us at. */
  get host(): string | undefined {
    return this.advertisedHost;
  }

  /** Leased mode, registered, with the connection closed until the next request. */
  get isParked(): boolean {
    return this.parked;
  }

  /** Connects and registers; throws a clear PeerError when the tracker cannot be reached. */
  async connect(address: TrackerAddress): Promise<string> {
    if (this.wanted) {
      const current = this.address ? `${this.address.host}:${this.address.port}` : 'the tracker';
      throw new PeerError('ERR_ALREADY_CONNECTED', `already connected to ${current}`);
    }
    this.address = address;
    this.wanted = true;
    try {
      return await this.establish();
    } catch (error) {
      this.wanted = false;
      throw error;
    }
  }

  async disconnect(): Promise<void> {
    if (!this.wanted) throw new PeerError('ERR_NOT_CONNECTED', 'not connected to a tracker');
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.currentPeerId !== undefined) {
      // A parked lease is reopened to end it now rather than let it run out.
      await this.live()
        .then((connection) => connection.request(MessageType.Unregister, {}, 2_000))
        .catch(() => undefined);
    }
    this.wanted = false;
    this.lease = undefined;
    this.teardown();
  }

  async publish(manifest: Manifest): Promise<string> {
    const response = await (await this.live()).request(MessageType.Publish, { manifest });
    if (response.type !== MessageType.Published) throw unexpected(response.type);
    return response.body.fileId;
  }

  async list(): Promise<FileSummary[]> {
    const response = await (await this.live()).request(MessageType.List, {});
    if (response.type !== MessageType.Files) throw unexpected(response.type);
    return response.body.files;
  }

  async locate(fileId: string): Promise<PeersBody> {
    const response = await (await this.live()).request(MessageType.Locate, { fileId });
    if (response.type !== MessageType.Peers) throw unexpected(response.type);
    return response.body;
  }

  async have(fileId: string, indices: number[], manifest?: Manifest): Promise<void> {
    await (await this.live()).request(MessageType.Have, manifest ? { fileId, indices, manifest } : { fileId, indices });
  }

  async withdraw(fileId: string): Promise<void> {
    await (await this.live()).request(MessageType.Withdraw, { fileId });
  }

  close(): void {
    this.wanted = false;
    this.lease = undefined;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.teardown();
  }

  /** The registered connection for a request, reopened when parked. */
  private live(): Promise<FramedConnection> {
    if (!this.wanted) return Promise.reject(this.notLive());
    this.lastRequestMs = Date.now();
    const connection = this.connection;
    if (connection && !connection.isClosed && this.currentPeerId !== undefined) return Promise.resolve(connection);
    if (this.parked) {
      this.reopening ??= this.unpark().finally(() => (this.reopening = undefined));
      return this.reopening;
    }
    return Promise.reject(this.notLive());
  }

  /** First connection, and every reconnection after a loss: always ends with `registered`. */
  private async establish(): Promise<string> {
    const connection = await this.open();
    const registration = await this.registerOn(connection);
    this.adopt(connection, registration);
    this.reconnectDelayMs = RECONNECT_MIN_MS;
    this.startHeartbeats(registration.heartbeatMs);
    const address = this.address!;
    this.logger.info('registered with the tracker', {
      peerId: this.currentPeerId,
      tracker: `${address.host}:${address.port}`,
      host: this.advertisedHost,
      leased: this.lease !== undefined,
      resumed: !registration.fresh,
    });
    // Even a resumed lease may have missed HAVEs sent while the link was down: re-announce all.
    this.emit('registered', registration.peerId);
    return registration.peerId;
  }

  /** Reopens a parked lease for a request. */
  private async unpark(): Promise<FramedConnection> {
    try {
      await this.renewing;
      if (!this.parked) throw this.notLive();
      const connection = await this.open();
      const registration = await this.registerOn(connection);
      if (!this.parked) {
        connection.close();
        throw this.notLive();
      }
      this.parked = false;
      this.adopt(connection, registration);
      this.logger.debug('tracker connection reopened', { peerId: registration.peerId });
      if (registration.fresh) this.emit('registered', registration.peerId);
      return connection;
    } catch (error) {
      if (this.parked) this.lostWhileParked(error);
      throw error instanceof PeerError ? error : new PeerError('ERR_TRACKER_UNAVAILABLE', errorMessage(error));
    }
  }

  /** Why no request can go now: the user is not connected, or the link is down (reconnecting). */
  private notLive(): PeerError {
    return this.wanted
      ? new PeerError('ERR_TRACKER_UNAVAILABLE', 'the tracker is unreachable right now; reconnecting')
      : new PeerError('ERR_NOT_CONNECTED', 'not connected to a tracker (use c to connect)');
  }

  /** A parked lease's heartbeat: resume on a short connection of its own, then hang up. */
  private renewParked(): void {
    if (this.renewing || this.reopening) return;
    const renewal = (async (): Promise<void> => {
      const connection = await this.open();
      try {
        const registration = await this.registerOn(connection);
        if (registration.fresh && this.parked) {
          this.currentPeerId = registration.peerId;
          this.advertisedHost = registration.host;
          this.emit('registered', registration.peerId);
        }
      } finally {
        connection.close();
      }
    })();
    this.renewing = renewal
      .catch((error: unknown) => {
        if (this.parked) this.lostWhileParked(error);
      })
      .finally(() => (this.renewing = undefined));
  }

  private lostWhileParked(error: unknown): void {
    this.parked = false;
    this.teardown();
    if (!this.wanted) return;
    const reason = errorMessage(error);
    this.logger.warn('lost the tracker; reconnecting', { reason, retryInMs: this.reconnectDelayMs });
    this.emit('lost', reason);
    this.scheduleReconnect();
  }

  private startHeartbeats(heartbeatMs: number): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.heartbeat(heartbeatMs), heartbeatMs);
    this.heartbeatTimer.unref();
  }

  private heartbeat(heartbeatMs: number): void {
    if (this.parked) {
      this.renewParked();
      return;
    }
    const connection = this.connection;
    if (!connection || connection.isClosed) return;
    const idleMs = Date.now() - this.lastRequestMs;
    if (this.lease && connection.pendingRequests === 0 && idleMs >= PARK_AFTER_IDLE_HEARTBEATS * heartbeatMs) {
      // The previous tick's HEARTBEAT renewed the lease; the next tick renews it on a short connection.
      this.parked = true;
      this.connection = undefined;
      connection.close();
      this.logger.debug('tracker connection parked while idle', { peerId: this.currentPeerId });
      return;
    }
    connection.request(MessageType.Heartbeat, {}, heartbeatMs * 2).catch((error: unknown) => {
      this.logger.warn('heartbeat failed', { reason: errorMessage(error) });
      // A tracker that stopped answering (partitioned, paused) is dropped so we reconnect.
      if (!connection.isClosed) connection.close(error as Error);
    });
  }

  private async open(): Promise<FramedConnection> {
    const address = this.address!;
    const socket = connect({ host: address.host, port: address.port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new PeerError('ERR_TRACKER_UNREACHABLE', `tracker ${address.host}:${address.port} did not answer in ${TRACKER_CONNECT_TIMEOUT_MS} ms`));
      }, TRACKER_CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new PeerError('ERR_TRACKER_UNREACHABLE', `cannot reach the tracker at ${address.host}:${address.port} (${error.code ?? error.message})`));
      });
    });
    return new FramedConnection(socket, this.logger, { requestTimeoutMs: REQUEST_TIMEOUT_MS });
  }

  /**
   * REGISTER on a fresh connection: resumes our lease when we hold one (a fresh registration when the
   * tracker no longer knows it), or registers anew. Closes the connection when it does not work out.
   */
  private async registerOn(connection: FramedConnection): Promise<Registration> {
    const address = this.address!;
    const base = {
      version: PROTOCOL_VERSION,
      name: this.init.name,
      port: this.init.dataPort(),
      ...(this.init.advertiseHost ? { host: this.init.advertiseHost } : {}),
    };
    try {
      if (this.lease) {
        const resumed = await connection
          .request(MessageType.Register, { ...base, resume: this.lease })
          .catch((error: unknown) => {
            // Expired while we were away, or a restarted tracker: register anew on this connection.
            if (errorCode(error) !== 'ERR_UNKNOWN_PEER') throw error;
            this.logger.info('the tracker no longer knows our lease; registering anew', { peerId: this.lease?.peerId });
            this.lease = undefined;
            return undefined;
          });
        if (resumed?.type === MessageType.Registered) return { ...resumed.body, fresh: false };
        if (resumed) throw unexpected(resumed.type);
      }
      const response = await connection.request(MessageType.Register, this.init.lease ? { ...base, lease: true } : base);
      if (response.type !== MessageType.Registered) throw unexpected(response.type);
      if (this.init.lease) {
        if (response.body.key === undefined) throw new PeerError('ERR_PROTOCOL', 'the tracker gave no lease key');
        this.lease = { peerId: response.body.peerId, key: response.body.key };
      }
      return { ...response.body, fresh: true };
    } catch (error) {
      // Something that accepts but does not answer as a tracker: hang up rather than hold the socket.
      connection.close();
      throw error instanceof PeerError ? error : new PeerError('ERR_TRACKER_UNREACHABLE', `${address.host}:${address.port} did not register us: ${errorMessage(error)}`);
    }
  }

  /** Makes `connection` the registered one. */
  private adopt(connection: FramedConnection, registration: Registration): void {
    this.connection = connection;
    this.currentPeerId = registration.peerId;
    this.advertisedHost = registration.host;
    // Idle time counts from here: a new connection is not parked at the very next tick.
    this.lastRequestMs = Date.now();
    connection.on('close', (error) => this.onClose(connection, error));
  }

  private onClose(connection: FramedConnection, error: Error | undefined): void {
    if (connection !== this.connection) return;
    this.teardown();
    if (!this.wanted) return;
    const reason = error ? errorMessage(error) : 'connection closed';
    this.logger.warn('lost the tracker; reconnecting', { reason, retryInMs: this.reconnectDelayMs });
    this.emit('lost', reason);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (!this.wanted) return;
      this.establish().catch((error: unknown) => {
        this.logger.debug('reconnect failed', { reason: errorMessage(error) });
        this.teardown();
        this.reconnectDelayMs = Math.min(RECONNECT_MAX_MS, this.reconnectDelayMs * 2);
        if (this.wanted) this.scheduleReconnect();
      });
    }, this.reconnectDelayMs);
    this.reconnectTimer.unref();
  }

  private teardown(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.currentPeerId = undefined;
    this.parked = false;
    const connection = this.connection;
    this.connection = undefined;
    connection?.close();
  }
}

function unexpected(type: MessageType): PeerError {
  return new PeerError('ERR_PROTOCOL', `unexpected answer from the tracker: ${MessageType[type]}`);
}
