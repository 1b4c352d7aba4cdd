/**
 * The peer's link to the tracker: one persistent connection, REGISTER, heartbeats, and requests
 * (PUBLISH, LIST, LOCATE, HAVE). When the connection drops while the user wants to be connected, it
 * reconnects with backoff and emits `registered` again, so the peer re-announces everything it holds:
 * a tracker restart loses nothing.
 */
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { MessageType, PROTOCOL_VERSION } from '../protocol';
import type { FileSummary, Manifest, PeersBody } from '../protocol';
import { errorMessage } from '../shared/errors';
import { FramedConnection } from '../shared/framed-connection';
import type { Logger } from '../shared/logger';
import { PeerError } from './errors';

export const TRACKER_CONNECT_TIMEOUT_MS = 5_000;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 2_000;

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
  /** Emitted on every (re)registration. */
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

  constructor(
    private readonly init: TrackerClientInit,
    private readonly logger: Logger,
  ) {
    super();
  }

  get connected(): boolean {
    return this.connection !== undefined && !this.connection.isClosed && this.currentPeerId !== undefined;
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
    this.wanted = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const connection = this.connection;
    if (connection && !connection.isClosed && this.currentPeerId !== undefined) {
      await connection.request(MessageType.Unregister, {}, 2_000).catch(() => undefined);
    }
    this.teardown();
  }

  async publish(manifest: Manifest): Promise<string> {
    const response = await this.live().request(MessageType.Publish, { manifest });
    if (response.type !== MessageType.Published) throw unexpected(response.type);
    return response.body.fileId;
  }

  async list(): Promise<FileSummary[]> {
    const response = await this.live().request(MessageType.List, {});
    if (response.type !== MessageType.Files) throw unexpected(response.type);
    return response.body.files;
  }

  async locate(fileId: string): Promise<PeersBody> {
    const response = await this.live().request(MessageType.Locate, { fileId });
    if (response.type !== MessageType.Peers) throw unexpected(response.type);
    return response.body;
  }

  async have(fileId: string, indices: number[], manifest?: Manifest): Promise<void> {
    await this.live().request(MessageType.Have, manifest ? { fileId, indices, manifest } : { fileId, indices });
  }

  async withdraw(fileId: string): Promise<void> {
    await this.live().request(MessageType.Withdraw, { fileId });
  }

  close(): void {
    this.wanted = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.teardown();
  }

  private live(): FramedConnection {
    if (!this.wanted) throw new PeerError('ERR_NOT_CONNECTED', 'not connected to a tracker (use c to connect)');
    if (!this.connection || this.connection.isClosed || this.currentPeerId === undefined) {
      throw new PeerError('ERR_TRACKER_UNAVAILABLE', 'the tracker is unreachable right now; reconnecting');
    }
    return this.connection;
  }

  private async establish(): Promise<string> {
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
    const connection = new FramedConnection(socket, this.logger, { requestTimeoutMs: 10_000 });
    this.connection = connection;
    connection.on('close', (error) => this.onClose(connection, error));
    let response;
    try {
      response = await connection.request(MessageType.Register, {
        version: PROTOCOL_VERSION,
        name: this.init.name,
        port: this.init.dataPort(),
        ...(this.init.advertiseHost ? { host: this.init.advertiseHost } : {}),
      });
      if (response.type !== MessageType.Registered) throw unexpected(response.type);
    } catch (error) {
      // Something that accepts but does not answer as a tracker: hang up rather than hold the socket.
      connection.close();
      throw error instanceof PeerError ? error : new PeerError('ERR_TRACKER_UNREACHABLE', `${address.host}:${address.port} did not register us: ${errorMessage(error)}`);
    }
    this.currentPeerId = response.body.peerId;
    this.advertisedHost = response.body.host;
    this.reconnectDelayMs = RECONNECT_MIN_MS;
    const heartbeatMs = response.body.heartbeatMs;
    this.heartbeatTimer = setInterval(() => {
      connection.request(MessageType.Heartbeat, {}, heartbeatMs * 2).catch((error: unknown) => {
        this.logger.warn('heartbeat failed', { reason: errorMessage(error) });
        // A tracker that stopped answering (partitioned, paused) is dropped so we reconnect.
        if (!connection.isClosed) connection.close(error as Error);
      });
    }, heartbeatMs);
    this.heartbeatTimer.unref();
    this.logger.info('registered with the tracker', { peerId: this.currentPeerId, tracker: `${address.host}:${address.port}`, host: this.advertisedHost });
    this.emit('registered', this.currentPeerId);
    return this.currentPeerId;
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
    const connection = this.connection;
    this.connection = undefined;
    connection?.close();
  }
}

function unexpected(type: MessageType): PeerError {
  return new PeerError('ERR_PROTOCOL', `unexpected answer from the tracker: ${MessageType[type]}`);
}
