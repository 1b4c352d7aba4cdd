/**
 * The tracker's transport edge: one TCP server, one FramedConnection per peer. A peer id is bound to
 * the connection that registered it, so no connection can speak for another peer. Anything a remote
 * sends that is not valid is answered with an ERROR frame; past MAX_INVALID_REQUESTS the connection
 * is closed. Nothing a remote sends can crash the tracker.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { MessageType, PROTOCOL_VERSION } from '../protocol';
import type { Message } from '../protocol';
import { errorCode, errorMessage, SwarmlabError } from '../shared/errors';
import { FramedConnection } from '../shared/framed-connection';
import { createLogger } from '../shared/logger';
import type { Logger } from '../shared/logger';
import { SwarmRegistry } from './swarm-registry';
import { TrackerMetrics } from './tracker-metrics';

export const DEFAULT_TRACKER_PORT = 7070;
export const DEFAULT_HEARTBEAT_MS = 5_000;
/** A peer that misses this many heartbeats is expired. */
export const MISSED_HEARTBEATS_BEFORE_EXPIRY = 3;
export const MAX_INVALID_REQUESTS = 16;
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 1024;

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
}

interface ConnectionState {
  connection: FramedConnection;
  peerId: string | undefined;
  invalidRequests: number;
}

export class TrackerServer {
  readonly registry: SwarmRegistry;
  readonly metrics: TrackerMetrics | undefined;
  private readonly logger: Logger;
  private readonly server: Server;
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly heartbeatMs: number;
  private readonly maxConnectionsPerAddress: number;
  private readonly connections = new Set<ConnectionState>();
  private readonly connectionsByPeer = new Map<string, ConnectionState>();
  private readonly connectionsPerAddress = new Map<string, number>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(init: TrackerServerInit = {}, components: { logger?: Logger } = {}) {
    this.logger = components.logger ?? createLogger('tracker');
    this.host = init.host ?? '0.0.0.0';
    this.requestedPort = init.port ?? DEFAULT_TRACKER_PORT;
    this.heartbeatMs = init.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.maxConnectionsPerAddress = init.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
    this.registry = new SwarmRegistry({
      expiryMs: this.heartbeatMs * MISSED_HEARTBEATS_BEFORE_EXPIRY,
      ...(init.maxFilesPerPeer === undefined ? {} : { maxFilesPerPeer: init.maxFilesPerPeer }),
    });
    this.metrics = init.metrics
      ? new TrackerMetrics({ peers: () => this.registry.peerCount, files: () => this.registry.fileCount, connections: () => this.connections.size })
      : undefined;
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    this.server.on('error', (error) => this.logger.error('tracker server error', { error: error.message }));
  }

  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.requestedPort, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.expiryTimer = setInterval(() => this.expirePeers(), this.heartbeatMs);
    this.expiryTimer.unref();
    this.logger.info('tracker listening', { host: this.host, port: this.port, heartbeatMs: this.heartbeatMs });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    for (const state of this.connections) state.connection.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private accept(socket: Socket): void {
    const connection = new FramedConnection(socket, this.logger, { idleTimeoutMs: this.heartbeatMs * MISSED_HEARTBEATS_BEFORE_EXPIRY });
    const address = connection.remoteAddress;
    const open = this.connectionsPerAddress.get(address) ?? 0;
    if (open >= this.maxConnectionsPerAddress) {
      this.logger.warn('too many connections from one address; refusing', { remote: address, open });
      connection.sendError(0, 'ERR_TOO_MANY_CONNECTIONS', `at most ${this.maxConnectionsPerAddress} connections per address`);
      socket.end();
      return;
    }
    this.connectionsPerAddress.set(address, open + 1);
    const state: ConnectionState = { connection, peerId: undefined, invalidRequests: 0 };
    this.connections.add(state);
    connection.on('message', (message) => this.onMessage(state, message));
    connection.on('close', () => {
      this.connections.delete(state);
      const left = (this.connectionsPerAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.connectionsPerAddress.delete(address);
      else this.connectionsPerAddress.set(address, left);
      if (state.peerId !== undefined) {
        this.logger.info('peer left', { peerId: state.peerId });
        this.registry.unregister(state.peerId);
        this.connectionsByPeer.delete(state.peerId);
      }
    });
  }

  private onMessage(state: ConnectionState, message: Message): void {
    this.metrics?.requests.inc({ type: MessageType[message.type] });
    try {
      this.handle(state, message);
    } catch (error) {
      const code = errorCode(error);
      this.metrics?.refused.inc({ code });
      state.invalidRequests++;
      this.logger.warn('request refused', { remote: state.connection.remoteAddress, type: MessageType[message.type], code, reason: errorMessage(error) });
      state.connection.sendError(message.requestId, code, errorMessage(error));
      if (state.invalidRequests > MAX_INVALID_REQUESTS) {
        this.logger.warn('too many invalid requests; closing connection', { remote: state.connection.remoteAddress });
        state.connection.close();
      }
    }
  }

  private handle(state: ConnectionState, message: Message): void {
    const { connection } = state;
    const nowMs = Date.now();
    if (state.peerId !== undefined) this.registry.touch(state.peerId, nowMs);
    switch (message.type) {
      case MessageType.Register: {
        if (state.peerId !== undefined) throw trackerError('ERR_ALREADY_REGISTERED', 'this connection already registered a peer');
        if (message.body.version !== PROTOCOL_VERSION) throw trackerError('ERR_VERSION', `protocol version ${message.body.version} is not supported`);
        const host = message.body.host ?? connection.remoteAddress;
        const peerId = this.registry.register(message.body.name, host, message.body.port, nowMs);
        state.peerId = peerId;
        this.connectionsByPeer.set(peerId, state);
        this.logger.info('peer registered', { peerId, name: message.body.name, address: `${host}:${message.body.port}` });
        connection.send(MessageType.Registered, message.requestId, { peerId, heartbeatMs: this.heartbeatMs, host });
        return;
      }
      case MessageType.Unregister: {
        const peerId = this.requirePeer(state);
        this.registry.unregister(peerId);
        this.connectionsByPeer.delete(peerId);
        state.peerId = undefined;
        this.logger.info('peer unregistered', { peerId });
        connection.send(MessageType.Ok, message.requestId, {});
        return;
      }
      case MessageType.Heartbeat:
        this.requirePeer(state);
        connection.send(MessageType.Ok, message.requestId, {});
        return;
      case MessageType.Publish: {
        const peerId = this.requirePeer(state);
        const fileId = this.registry.publish(peerId, message.body.manifest);
        this.logger.info('file published', { peerId, fileId, name: message.body.manifest.name });
        connection.send(MessageType.Published, message.requestId, { fileId });
        return;
      }
      case MessageType.Have: {
        const peerId = this.requirePeer(state);
        this.registry.have(peerId, message.body.fileId, message.body.indices, message.body.manifest);
        connection.send(MessageType.Ok, message.requestId, {});
        return;
      }
      case MessageType.Withdraw: {
        const peerId = this.requirePeer(state);
        this.registry.withdraw(peerId, message.body.fileId);
        this.logger.info('file withdrawn', { peerId, fileId: message.body.fileId });
        connection.send(MessageType.Ok, message.requestId, {});
        return;
      }
      case MessageType.List:
        connection.send(MessageType.Files, message.requestId, { files: this.registry.list() });
        return;
      case MessageType.Locate: {
        const { manifest, peers } = this.registry.locate(message.body.fileId, state.peerId);
        connection.send(MessageType.Peers, message.requestId, { fileId: message.body.fileId, manifest, peers });
        return;
      }
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
        throw trackerError('ERR_UNEXPECTED_MESSAGE', `a tracker does not accept ${MessageType[message.type]}`);
      default: {
        const unreachable: never = message;
        throw trackerError('ERR_UNEXPECTED_MESSAGE', `unexpected message ${String(unreachable)}`);
      }
    }
  }

  private requirePeer(state: ConnectionState): string {
    if (state.peerId === undefined) throw trackerError('ERR_NOT_REGISTERED', 'register first');
    return state.peerId;
  }

  private expirePeers(): void {
    for (const peerId of this.registry.expire(Date.now())) {
      this.logger.info('peer expired after missed heartbeats', { peerId });
      this.metrics?.expired.inc();
      const state = this.connectionsByPeer.get(peerId);
      this.connectionsByPeer.delete(peerId);
      if (state) {
        state.peerId = undefined;
        state.connection.close();
      }
    }
  }
}

function trackerError(code: string, message: string): SwarmlabError {
  return new SwarmlabError(code, message);
}
