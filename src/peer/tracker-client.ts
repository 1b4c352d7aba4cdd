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
 *
 * The link is a state machine (tracker-link.ts): every change goes through `enter`, which refuses a
 * transition the table does not list and releases what the state left behind held (its heartbeat, its
 * connection, its retry timer). Work that awaits (registering, renewing, reopening) remembers the state
 * it started in and gives up when the link has moved on meanwhile.
 */
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { MessageType, PROTOCOL_VERSION, TRACKER_FEATURE_LOCATE_HOLDERS } from '../protocol';
import type { FileSummary, HoldersBody, Manifest, PeersBody } from '../protocol';
import { errorCode, errorMessage } from '../shared/errors';
import { FramedConnection } from '../shared/framed-connection';
import type { LinkTable } from '../shared/link-emulator';
import type { Logger } from '../shared/logger';
import { PeerError, TrackerClientErrorCode as Code } from './errors';
import { checkTransition } from './tracker-link';
import type { TrackerAddress, TrackerLinkKind, TrackerLinkState, TrackerSession } from './tracker-link';

export const TRACKER_CONNECT_TIMEOUT_MS = 5_000;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 2_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** A leased peer's connection that carried no request for this many heartbeats is closed. */
export const PARK_AFTER_IDLE_HEARTBEATS = 2;
/** Most LIST pages `list()` fetches (MAX_LIST_PAGE files each). */
export const MAX_LIST_PAGES = 100;

export type { TrackerAddress } from './tracker-link';

export function parseHostPort(value: string, defaultPort = 7070): TrackerAddress {
  const match = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(value.trim());
  const host = match?.[1] ?? '';
  const port = match?.[2] === undefined ? defaultPort : Number(match[2]);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PeerError(Code.BadAddress, `"${value}" is not HOST:PORT`);
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
  /** This peer's emulated links (link-emulator.ts): the tracker connection goes through them too. */
  links?: LinkTable;
}

interface Registration {
  peerId: string;
  host: string;
  heartbeatMs: number;
  /** A new registration, not a resumed lease: the tracker knows nothing we announced. */
  fresh: boolean;
}

type LinkState = TrackerLinkState<FramedConnection, NodeJS.Timeout>;
type Registered = Extract<LinkState, { kind: 'registered' }>;
type Parked = Extract<LinkState, { kind: 'parked' }>;
type Connecting = Extract<LinkState, { kind: 'connecting' }>;
type Reconnecting = Extract<LinkState, { kind: 'reconnecting' }>;

export class TrackerClient extends EventEmitter<TrackerClientEvents> {
  private state: LinkState = { kind: 'idle' };
  /** What the tracker's last REGISTERED said it understands beyond version 1 (its `features`). */
  private trackerFeatures: readonly string[] = [];

  constructor(
    private readonly init: TrackerClientInit,
    private readonly logger: Logger,
  ) {
    super();
  }

  /** Which state the link is in (tracker-link.ts). */
  get linkState(): TrackerLinkKind {
    return this.state.kind;
  }

  /** Registered with the tracker (a parked leased peer is registered without a connection). */
  get connected(): boolean {
    const state = this.state;
    return state.kind === 'parked' || (state.kind === 'registered' && !state.connection.isClosed);
  }

  get wantsConnection(): boolean {
    return this.state.kind !== 'idle';
  }

  get peerId(): string | undefined {
    const state = this.state;
    return state.kind === 'registered' || state.kind === 'parked' ? state.peerId : undefined;
  }

  get trackerAddress(): TrackerAddress | undefined {
    return this.state.kind === 'idle' ? this.state.address : this.state.session.address;
  }

  /** The address the tracker sees us at. */
  get host(): string | undefined {
    return this.state.kind === 'idle' ? this.state.host : this.state.session.host;
  }

  /** Leased mode, registered, with the connection closed until the next request. */
  get isParked(): boolean {
    return this.state.kind === 'parked';
  }

  /** Connects and registers; throws a clear PeerError when the tracker cannot be reached. */
  async connect(address: TrackerAddress): Promise<string> {
    const state = this.state;
    if (state.kind !== 'idle') {
      const current = `${state.session.address.host}:${state.session.address.port}`;
      throw new PeerError(Code.AlreadyConnected, `already connected to ${current}`);
    }
    const session: TrackerSession = { address, lease: undefined, host: state.host, reconnectDelayMs: RECONNECT_MIN_MS };
    const connecting = this.enter({ kind: 'connecting', session });
    try {
      return await this.establish(connecting);
    } catch (error) {
      if (this.state === connecting) this.end();
      throw error;
    }
  }

  async disconnect(): Promise<void> {
    const state = this.state;
    if (state.kind === 'idle') throw new PeerError(Code.NotConnected, 'not connected to a tracker');
    if (state.kind === 'registered' || state.kind === 'parked') {
      // A parked lease is reopened to end it now rather than let it run out.
      await this.live()
        .then((connection) => connection.request(MessageType.Unregister, {}, 2_000))
        .catch(() => undefined);
    }
    this.end();
  }

  async publish(manifest: Manifest): Promise<string> {
    const response = await (await this.live()).request(MessageType.Publish, { manifest });
    if (response.type !== MessageType.Published) throw unexpected(response.type);
    return response.body.fileId;
  }

  /**
   * The catalogue, page by page (docs/protocol.md, LIST), up to MAX_LIST_PAGES pages: a catalogue
   * larger than that (a hostile peer publishing junk) is cut there rather than fetched forever.
   */
  async list(): Promise<FileSummary[]> {
    const files: FileSummary[] = [];
    let offset: number | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const response = await (await this.live()).request(MessageType.List, offset === undefined ? {} : { offset });
      if (response.type !== MessageType.Files) throw unexpected(response.type);
      files.push(...response.body.files);
      offset = response.body.next;
      if (offset === undefined) break;
    }
    return files;
  }

  /** LOCATE: the file's manifest and its holders. */
  async locate(fileId: string): Promise<PeersBody> {
    const response = await (await this.live()).request(MessageType.Locate, { fileId });
    if (response.type !== MessageType.Peers) throw unexpected(response.type);
    const { manifest } = response.body;
    if (manifest === undefined) throw new PeerError(Code.Protocol, 'the tracker answered LOCATE without the manifest');
    return { ...response.body, manifest };
  }

  /**
   * LOCATE for a download that has the manifest already (its refresh): the holders only, when the
   * tracker said it can leave the manifest out (REGISTERED `features`); the whole answer otherwise.
   */
  async locateHolders(fileId: string): Promise<HoldersBody> {
    const connection = await this.live();
    const holdersOnly = this.trackerFeatures.includes(TRACKER_FEATURE_LOCATE_HOLDERS);
    const response = await connection.request(MessageType.Locate, holdersOnly ? { fileId, manifest: false } : { fileId });
    if (response.type !== MessageType.Peers) throw unexpected(response.type);
    return response.body;
  }

  async have(fileId: string, indices: number[], manifest?: Manifest): Promise<void> {
    await (await this.live()).request(MessageType.Have, manifest ? { fileId, indices, manifest } : { fileId, indices });
  }

  async withdraw(fileId: string): Promise<void> {
    await (await this.live()).request(MessageType.Withdraw, { fileId });
  }

  /** Ends the link from any state, at once: a lease is left to run out (disconnect() ends it). */
  close(): void {
    this.end();
  }

  /** The registered connection for a request, reopened when parked. */
  private live(): Promise<FramedConnection> {
    const state = this.state;
    if (state.kind === 'registered' && !state.connection.isClosed) {
      state.lastRequestMs = Date.now();
      return Promise.resolve(state.connection);
    }
    if (state.kind === 'parked') {
      state.reopening ??= this.unpark(state).finally(() => (state.reopening = undefined));
      return state.reopening;
    }
    return Promise.reject(this.notLive());
  }

  // ── Transitions ─────────────────────────────────────────────────────────────────────────────────

  /**
   * The one place the state changes: refuses an edge TRACKER_LINK_TRANSITIONS does not list, then
   * releases what the old state held and the new one does not keep.
   */
  private enter<Next extends LinkState>(next: Next): Next {
    const previous = this.state;
    checkTransition(previous.kind, next.kind);
    this.state = next;
    if ('heartbeat' in previous && !('heartbeat' in next && next.heartbeat === previous.heartbeat)) {
      clearInterval(previous.heartbeat);
    }
    if (previous.kind === 'registered' && !(next.kind === 'registered' && next.connection === previous.connection)) {
      previous.connection.close();
    }
    if (previous.kind === 'reconnecting' && previous.retry) clearTimeout(previous.retry);
    return next;
  }

  /** connecting or reconnecting → registered: always ends with `registered`. */
  private async establish(from: Connecting | Reconnecting): Promise<string> {
    const { session } = from;
    const connection = await this.open(session.address);
    const registration = await this.registerOn(connection, session);
    if (this.state !== from) {
      // Disconnected or closed while registering: this registration is nobody's.
      connection.close();
      throw this.notLive();
    }
    const heartbeat = this.startHeartbeats(registration.heartbeatMs);
    this.adopt(session, connection, registration, heartbeat);
    session.reconnectDelayMs = RECONNECT_MIN_MS;
    this.logger.info('registered with the tracker', {
      peerId: registration.peerId,
      tracker: `${session.address.host}:${session.address.port}`,
      host: session.host,
      leased: session.lease !== undefined,
      resumed: !registration.fresh,
    });
    // Even a resumed lease may have missed HAVEs sent while the link was down: re-announce all.
    this.emit('registered', registration.peerId);
    return registration.peerId;
  }

  /** registered → parked: a leased connection idle for PARK_AFTER_IDLE_HEARTBEATS heartbeats is closed. */
  private park(from: Registered): void {
    this.enter({ kind: 'parked', session: from.session, peerId: from.peerId, heartbeat: from.heartbeat });
    this.logger.debug('tracker connection parked while idle', { peerId: from.peerId });
  }

  /** parked → registered: reopens a parked lease for a request. */
  private async unpark(from: Parked): Promise<FramedConnection> {
    try {
      await from.renewing;
      if (this.state !== from) throw this.notLive();
      const connection = await this.open(from.session.address);
      const registration = await this.registerOn(connection, from.session);
      if (this.state !== from) {
        connection.close();
        throw this.notLive();
      }
      this.adopt(from.session, connection, registration, from.heartbeat);
      this.logger.debug('tracker connection reopened', { peerId: registration.peerId });
      if (registration.fresh) this.emit('registered', registration.peerId);
      return connection;
    } catch (error) {
      if (this.state === from) this.lose(from, error);
      throw error instanceof PeerError ? error : new PeerError(Code.TrackerUnavailable, errorMessage(error));
    }
  }

  /** parked, a heartbeat: resume the lease on a short connection of its own, then hang up. */
  private renew(from: Parked): void {
    if (from.renewing || from.reopening) return;
    const renewal = (async (): Promise<void> => {
      const connection = await this.open(from.session.address);
      try {
        const registration = await this.registerOn(connection, from.session);
        if (registration.fresh && this.state === from) {
          // The tracker had forgotten us: still parked, under the new registration.
          from.peerId = registration.peerId;
          from.session.host = registration.host;
          this.emit('registered', registration.peerId);
        }
      } finally {
        connection.close();
      }
    })();
    from.renewing = renewal
      .catch((error: unknown) => {
        if (this.state === from) this.lose(from, error);
      })
      .finally(() => (from.renewing = undefined));
  }

  /** registered or parked → reconnecting: the link dropped while wanted. */
  private lose(from: Registered | Parked, error: unknown): void {
    const reason = error === undefined ? 'connection closed' : errorMessage(error);
    this.logger.warn('lost the tracker; reconnecting', { reason, retryInMs: from.session.reconnectDelayMs });
    this.retryLater(from.session);
    this.emit('lost', reason);
  }

  /** → reconnecting: the next attempt after the session's delay; a failed one backs off and waits again. */
  private retryLater(session: TrackerSession): void {
    const reconnecting = this.enter<Reconnecting>({ kind: 'reconnecting', session });
    reconnecting.retry = setTimeout(() => {
      this.establish(reconnecting).catch((error: unknown) => {
        this.logger.debug('reconnect failed', { reason: errorMessage(error) });
        if (this.state !== reconnecting) return;
        session.reconnectDelayMs = Math.min(RECONNECT_MAX_MS, session.reconnectDelayMs * 2);
        this.retryLater(session);
      });
    }, session.reconnectDelayMs);
    reconnecting.retry.unref();
  }

  /** any → idle: keeps the tracker and host for the status; the lease goes with the session. */
  private end(): void {
    const state = this.state;
    if (state.kind === 'idle') return;
    this.enter({ kind: 'idle', address: state.session.address, ...hostOf(state.session) });
  }

  /** Makes `connection` the registered one. */
  private adopt(
    session: TrackerSession,
    connection: FramedConnection,
    registration: Registration,
    heartbeat: NodeJS.Timeout,
  ): void {
    session.host = registration.host;
    // Idle time counts from here: a new connection is not parked at the very next tick.
    const registered = this.enter({
      kind: 'registered',
      session,
      peerId: registration.peerId,
      connection,
      heartbeat,
      lastRequestMs: Date.now(),
    });
    connection.on('close', (error) => {
      if (this.state === registered) this.lose(registered, error);
    });
  }

  // ── Effects ─────────────────────────────────────────────────────────────────────────────────────

  /** Why no request can go now: the user is not connected, or the link is down (reconnecting). */
  private notLive(): PeerError {
    return this.state.kind === 'idle'
      ? new PeerError(Code.NotConnected, 'not connected to a tracker (use c to connect)')
      : new PeerError(Code.TrackerUnavailable, 'the tracker is unreachable right now; reconnecting');
  }

  private startHeartbeats(heartbeatMs: number): NodeJS.Timeout {
    const timer = setInterval(() => this.heartbeat(heartbeatMs), heartbeatMs);
    timer.unref();
    return timer;
  }

  private heartbeat(heartbeatMs: number): void {
    const state = this.state;
    if (state.kind === 'parked') {
      this.renew(state);
      return;
    }
    if (state.kind !== 'registered' || state.connection.isClosed) return;
    const { connection } = state;
    const idleMs = Date.now() - state.lastRequestMs;
    if (state.session.lease && connection.pendingRequests === 0 && idleMs >= PARK_AFTER_IDLE_HEARTBEATS * heartbeatMs) {
      // The previous tick's HEARTBEAT renewed the lease; the next tick renews it on a short connection.
      this.park(state);
      return;
    }
    connection.request(MessageType.Heartbeat, {}, heartbeatMs * 2).catch((error: unknown) => {
      this.logger.warn('heartbeat failed', { reason: errorMessage(error) });
      // A tracker that stopped answering (partitioned, paused) is dropped so we reconnect.
      if (!connection.isClosed) connection.close(error as Error);
    });
  }

  private async open(address: TrackerAddress): Promise<FramedConnection> {
    const socket = connect({ host: address.host, port: address.port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new PeerError(
            Code.TrackerUnreachable,
            `tracker ${address.host}:${address.port} did not answer in ${TRACKER_CONNECT_TIMEOUT_MS} ms`,
          ),
        );
      }, TRACKER_CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          new PeerError(
            Code.TrackerUnreachable,
            `cannot reach the tracker at ${address.host}:${address.port} (${error.code ?? error.message})`,
          ),
        );
      });
    });
    return new FramedConnection(socket, this.logger, { requestTimeoutMs: REQUEST_TIMEOUT_MS, ...(this.init.links ? { links: this.init.links } : {}) });
  }

  /**
   * REGISTER on a fresh connection: resumes the session's lease when it holds one (a fresh
   * registration when the tracker no longer knows it), or registers anew. Closes the connection when
   * it does not work out.
   */
  private async registerOn(connection: FramedConnection, session: TrackerSession): Promise<Registration> {
    const { address } = session;
    const base = {
      version: PROTOCOL_VERSION,
      name: this.init.name,
      port: this.init.dataPort(),
      ...(this.init.advertiseHost ? { host: this.init.advertiseHost } : {}),
    };
    try {
      if (session.lease) {
        const resumed = await connection
          .request(MessageType.Register, { ...base, resume: session.lease })
          .catch((error: unknown) => {
            // Expired while we were away, or a restarted tracker: register anew on this connection.
            if (errorCode(error) !== Code.UnknownPeer) throw error;
            this.logger.info('the tracker no longer knows our lease; registering anew', {
              peerId: session.lease?.peerId,
            });
            session.lease = undefined;
            return undefined;
          });
        if (resumed?.type === MessageType.Registered) {
          this.trackerFeatures = resumed.body.features ?? [];
          return { ...resumed.body, fresh: false };
        }
        if (resumed) throw unexpected(resumed.type);
      }
      const response = await connection.request(
        MessageType.Register,
        this.init.lease ? { ...base, lease: true } : base,
      );
      if (response.type !== MessageType.Registered) throw unexpected(response.type);
      this.trackerFeatures = response.body.features ?? [];
      if (this.init.lease) {
        if (response.body.key === undefined) throw new PeerError(Code.Protocol, 'the tracker gave no lease key');
        session.lease = { peerId: response.body.peerId, key: response.body.key };
      }
      return { ...response.body, fresh: true };
    } catch (error) {
      // Something that accepts but does not answer as a tracker: hang up rather than hold the socket.
      connection.close();
      throw error instanceof PeerError
        ? error
        : new PeerError(
            Code.TrackerUnreachable,
            `${address.host}:${address.port} did not register us: ${errorMessage(error)}`,
          );
    }
  }
}

function hostOf(session: TrackerSession): { host?: string } {
  return session.host === undefined ? {} : { host: session.host };
}

function unexpected(type: MessageType): PeerError {
  return new PeerError(Code.Protocol, `unexpected answer from the tracker: ${MessageType[type]}`);
}
