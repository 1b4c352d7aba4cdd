/**
 * The soak's hostile clients, in the soak's own process, each aimed at a buffer the remote side might
 * let grow:
 * - NeverReader pipelines requests whose answers are larger than the requests (LIST to the tracker,
 *   INTERESTED to a peer) and never reads a byte, so every answer piles up at the remote end;
 * - Trickler announces a large frame, sends part of it, then one byte now and then, so the remote holds
 *   a partial frame for as long as it lets the connection live.
 * Both reconnect when the remote closes them (a restart, or the remote defending itself) and count what
 * they did. Neither lets its own memory grow: the never-reader stops writing while its own socket has
 * unsent bytes, which is exactly when a remote that stopped reading it is doing its job.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { encode, encodeJson, FRAME_HEADER_BYTES, MessageType, PROTOCOL_VERSION } from '../protocol';

export interface HostileTarget {
  host: string;
  port: number;
}

/** Where to connect now (undefined while the target is down); asked again at each reconnection. */
export type TargetLookup = () => HostileTarget | undefined;

export interface HostileStats {
  connections: number;
  closedByRemote: number;
  framesSent: number;
  bytesSent: number;
}

const RECONNECT_MS = 1_000;
/** The never-reader's own cap on unsent bytes: past it the remote is not reading us, and we wait. */
const OWN_UNSENT_CAP_BYTES = 256 * 1024;

abstract class HostileClient {
  readonly stats: HostileStats = { connections: 0, closedByRemote: 0, framesSent: 0, bytesSent: 0 };
  protected socket: Socket | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(protected readonly target: TargetLookup) {}

  start(): void {
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.onStop();
    this.socket?.destroy();
  }

  protected abstract onConnected(socket: Socket): void;
  protected abstract onStop(): void;

  protected send(socket: Socket, bytes: Buffer, frames: number): void {
    socket.write(bytes);
    this.stats.framesSent += frames;
    this.stats.bytesSent += bytes.length;
  }

  private open(): void {
    if (this.stopped) return;
    const target = this.target();
    if (!target) {
      this.retry = setTimeout(() => this.open(), RECONNECT_MS);
      return;
    }
    const socket = connect({ host: target.host, port: target.port });
    this.socket = socket;
    // Never read: paused from the start, so the kernel's receive buffer fills and then the remote's own.
    socket.pause();
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      this.stats.connections++;
      this.onConnected(socket);
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (connected && !this.stopped) this.stats.closedByRemote++;
      this.onStop();
      if (this.socket === socket) this.socket = undefined;
      if (!this.stopped) this.retry = setTimeout(() => this.open(), RECONNECT_MS);
    });
  }
}

export interface NeverReaderInit {
  /** The frames to pipeline, as one buffer (e.g. HELLO then INTERESTED for a peer): first the opening, then `repeat` over and over. */
  opening?: () => Buffer;
  repeat: () => Buffer;
  /** Frames per burst and time between bursts. */
  burst: number;
  everyMs: number;
}

export class NeverReader extends HostileClient {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    target: TargetLookup,
    private readonly init: NeverReaderInit,
  ) {
    super(target);
  }

  protected onConnected(socket: Socket): void {
    const opening = this.init.opening?.();
    if (opening) this.send(socket, opening, 1);
    this.timer = setInterval(() => {
      if (socket.destroyed || socket.writableLength > OWN_UNSENT_CAP_BYTES) return;
      const frame = this.init.repeat();
      this.send(socket, Buffer.concat(Array.from({ length: this.init.burst }, () => frame)), this.init.burst);
    }, this.init.everyMs);
  }

  protected onStop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

export interface TricklerInit {
  /** The length the frame announces (after its prefix), its first burst, then one byte every `everyMs`. */
  frameBytes: number;
  burstBytes: number;
  everyMs: number;
}

export class Trickler extends HostileClient {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    target: TargetLookup,
    private readonly init: TricklerInit,
  ) {
    super(target);
  }

  protected onConnected(socket: Socket): void {
    // A PUBLISH whose JSON body never ends: the remote cannot judge it before the last byte.
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32BE(this.init.frameBytes, 0);
    header.writeUInt8(MessageType.Publish, 4);
    header.writeUInt32BE(1, 5);
    const bodyBytes = this.init.frameBytes - (FRAME_HEADER_BYTES - 4);
    const burst = Buffer.alloc(Math.min(this.init.burstBytes, bodyBytes - 1), 0x20);
    this.send(socket, Buffer.concat([header, burst]), 1);
    let sent = burst.length;
    this.timer = setInterval(() => {
      if (socket.destroyed || sent >= bodyBytes - 1) return;
      this.send(socket, Buffer.from(' '), 0);
      sent++;
    }, this.init.everyMs);
  }

  protected onStop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** LIST: 13 bytes on the wire, answered with the whole catalogue. */
export function listFrame(): Buffer {
  return encodeJson(MessageType.List, 0, {});
}

/** HELLO then INTERESTED in `fileId`, which the target peer answers with a BITFIELD each time. */
export function helloFrame(name: string): Buffer {
  return encode({ type: MessageType.Hello, requestId: 0, body: { version: PROTOCOL_VERSION, peerId: `never-reader-${name}`, name } });
}

export function interestedFrame(fileId: string): Buffer {
  return encodeJson(MessageType.Interested, 1, { fileId });
}
