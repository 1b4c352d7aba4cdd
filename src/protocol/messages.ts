/**
 * Every message on the wire, as a discriminated union on `type` (docs/protocol.md, "Messages").
 *
 * Control messages carry a JSON body validated by a schema per type (schemas.ts). The data path
 * (REQUEST, CHUNK, REJECT, CANCEL, HAVE_CHUNK) is binary: a 32-byte file id, a u32 chunk index, and for
 * CHUNK the raw bytes, so no chunk is ever JSON- or base64-encoded.
 */

export enum MessageType {
  // peer -> tracker
  Register = 0x01,
  Registered = 0x02,
  Unregister = 0x03,
  Heartbeat = 0x04,
  Publish = 0x05,
  Published = 0x06,
  List = 0x07,
  Files = 0x08,
  Locate = 0x09,
  Peers = 0x0a,
  Have = 0x0b,
  Ok = 0x0c,
  Error = 0x0d,
  Withdraw = 0x0e,
  // peer <-> peer
  Hello = 0x20,
  Interested = 0x21,
  Bitfield = 0x22,
  Request = 0x23,
  Chunk = 0x24,
  Reject = 0x25,
  Cancel = 0x26,
  HaveChunk = 0x27,
  /** Measures a link's round trip through the same connection layer as chunks (docs/protocol.md, PING). */
  Ping = 0x28,
  Pong = 0x29,
  /** Source → downloader: the upload that refused it with REJECT `busy` has room now (HELLO feature `room`). */
  Room = 0x2a,
}

/** The manifest of a file: the file id is the SHA-256 of its canonical encoding. */
export interface Manifest {
  name: string;
  size: number;
  chunkSize: number;
  /** Hex SHA-256 of every chunk, in order. */
  chunks: string[];
}

export interface RegisterBody {
  version: number;
  name: string;
  /** The peer's data port; the tracker pairs it with the address it sees the peer connect from. */
  port: number;
  /** An address to advertise instead of the one the tracker sees (e.g. behind NAT). */
  host?: string;
  /**
   * The registration outlives this connection (like a BitTorrent announce): the peer stays listed until
   * it sends UNREGISTER or the tracker hears nothing from it, on any connection, for three heartbeats.
   */
  lease?: boolean;
  /** Binds this connection to a leased registration made earlier (and renews it); name, port and host are kept from it. */
  resume?: LeaseCredentials;
}
export interface LeaseCredentials {
  peerId: string;
  /** The secret REGISTERED gave the leased peer: no one else can speak for it. */
  key: string;
}
export interface RegisteredBody {
  peerId: string;
  heartbeatMs: number;
  /** The address the tracker sees this peer at. */
  host: string;
  /** Leased registrations only: what RESUME must show. */
  key?: string;
  /**
   * Optional behaviours this tracker understands beyond version 1's (TRACKER_FEATURES): a peer uses
   * one only when listed, so a peer newer than its tracker still speaks what the tracker accepts.
   */
  features?: string[];
}
export type EmptyBody = Record<string, never>;
export interface PublishBody {
  manifest: Manifest;
}
export interface PublishedBody {
  fileId: string;
}
export interface FileSummary {
  fileId: string;
  name: string;
  size: number;
  chunkSize: number;
  chunks: number;
  /** Peers holding at least one chunk. */
  holders: number;
  /** Peers holding every chunk. */
  seeders: number;
}
/** LIST: one page of the catalogue (docs/protocol.md, LIST); both fields are optional, so `{}` is the first page. */
export interface ListBody {
  /** Files to skip, in the catalogue's order (the `next` of the previous page). */
  offset?: number;
  /** Most files wanted; capped to MAX_LIST_PAGE. */
  limit?: number;
}
export interface FilesBody {
  files: FileSummary[];
  /** The `offset` of the next page; absent on the last page. */
  next?: number;
}
export interface LocateBody {
  fileId: string;
  /** Most holders wanted (default DEFAULT_NUMWANT, capped to MAX_NUMWANT). */
  numwant?: number;
  /**
   * false: answer with the holders only, no manifest (a refresh of a download that has it already).
   * Only to a tracker whose REGISTERED lists TRACKER_FEATURE_LOCATE_HOLDERS.
   */
  manifest?: boolean;
}
export interface PeerLocation {
  peerId: string;
  name: string;
  host: string;
  port: number;
  complete: boolean;
  /** Base64 bitfield of the chunks this peer holds, most significant bit first. */
  bitfield: string;
}
export interface PeersBody {
  fileId: string;
  manifest: Manifest;
  peers: PeerLocation[];
}
/** PEERS in answer to LOCATE `{manifest: false}`: the holders without the manifest. */
export type HoldersBody = Omit<PeersBody, 'manifest'> & { manifest?: Manifest };
/** A peer stops offering a file (e.g. its copy changed on disk). */
export interface WithdrawBody {
  fileId: string;
}
export interface HaveBody {
  fileId: string;
  /** The manifest travels with the first announcement of a file the tracker may not know yet. */
  manifest?: Manifest;
  indices: number[];
}
export interface ErrorBody {
  code: string;
  message: string;
}
export interface HelloBody {
  version: number;
  peerId: string;
  name: string;
  /** Optional behaviours the connecting peer understands (PEER_FEATURES): the source uses one only when listed. */
  features?: string[];
}
export interface InterestedBody {
  fileId: string;
}
export interface BitfieldBody {
  fileId: string;
  bitfield: string;
  /** The HELLO features this source will use on the connection (absent: none, an older source). */
  features?: string[];
}

/** Why a source declined a REQUEST. */
export enum RejectReason {
  NotHeld = 1,
  Busy = 2,
  Unavailable = 3,
  /** Super-seeding: the chunk is already in the swarm and this seeder's upload is busy; ask the others. */
  Elsewhere = 4,
}

interface Frame<T extends MessageType, B> {
  type: T;
  requestId: number;
  body: B;
}

/** A chunk address on the data path. */
export interface ChunkRef {
  fileId: string;
  index: number;
}

export type RegisterMsg = Frame<MessageType.Register, RegisterBody>;
export type RegisteredMsg = Frame<MessageType.Registered, RegisteredBody>;
export type UnregisterMsg = Frame<MessageType.Unregister, EmptyBody>;
export type HeartbeatMsg = Frame<MessageType.Heartbeat, EmptyBody>;
export type PublishMsg = Frame<MessageType.Publish, PublishBody>;
export type PublishedMsg = Frame<MessageType.Published, PublishedBody>;
export type ListMsg = Frame<MessageType.List, ListBody>;
export type FilesMsg = Frame<MessageType.Files, FilesBody>;
export type LocateMsg = Frame<MessageType.Locate, LocateBody>;
export type PeersMsg = Frame<MessageType.Peers, HoldersBody>;
export type HaveMsg = Frame<MessageType.Have, HaveBody>;
export type WithdrawMsg = Frame<MessageType.Withdraw, WithdrawBody>;
export type OkMsg = Frame<MessageType.Ok, EmptyBody>;
export type ErrorMsg = Frame<MessageType.Error, ErrorBody>;
export type HelloMsg = Frame<MessageType.Hello, HelloBody>;
export type InterestedMsg = Frame<MessageType.Interested, InterestedBody>;
export type BitfieldMsg = Frame<MessageType.Bitfield, BitfieldBody>;
export type RequestMsg = Frame<MessageType.Request, ChunkRef>;
export type ChunkMsg = Frame<MessageType.Chunk, ChunkRef & { data: Buffer }>;
export type RejectMsg = Frame<MessageType.Reject, ChunkRef & { reason: RejectReason }>;
export type CancelMsg = Frame<MessageType.Cancel, ChunkRef>;
export type HaveChunkMsg = Frame<MessageType.HaveChunk, ChunkRef>;
export type PingMsg = Frame<MessageType.Ping, EmptyBody>;
export type PongMsg = Frame<MessageType.Pong, EmptyBody>;
export type RoomMsg = Frame<MessageType.Room, EmptyBody>;

export type JsonMessage =
  | RegisterMsg
  | RegisteredMsg
  | UnregisterMsg
  | HeartbeatMsg
  | PublishMsg
  | PublishedMsg
  | ListMsg
  | FilesMsg
  | LocateMsg
  | PeersMsg
  | HaveMsg
  | WithdrawMsg
  | OkMsg
  | ErrorMsg
  | HelloMsg
  | InterestedMsg
  | BitfieldMsg
  | PingMsg
  | PongMsg
  | RoomMsg;

export type BinaryMessage = RequestMsg | ChunkMsg | RejectMsg | CancelMsg | HaveChunkMsg;

export type Message = JsonMessage | BinaryMessage;

export type JsonMessageType = JsonMessage['type'];
export type BinaryMessageType = BinaryMessage['type'];

/** The body type for a message type, e.g. `BodyOf<MessageType.Locate>` is `LocateBody`. */
export type BodyOf<T extends MessageType> = Extract<Message, { type: T }>['body'];

const BINARY_TYPES: ReadonlySet<number> = new Set([
  MessageType.Request,
  MessageType.Chunk,
  MessageType.Reject,
  MessageType.Cancel,
  MessageType.HaveChunk,
]);

export function isBinaryType(type: number): type is BinaryMessageType {
  return BINARY_TYPES.has(type);
}

export function isKnownType(type: number): type is MessageType {
  return typeof MessageType[type as MessageType] === 'string';
}

/** Who receives a message, and whether it answers a request (matched to it by request id). */
interface MessageRole {
  to: 'tracker' | 'peer';
  response: boolean;
}

/** Every message type's role: the one table the lists below (and so the transports) derive from. */
const MESSAGE_ROLES: { readonly [T in MessageType]: MessageRole } = {
  [MessageType.Register]: { to: 'tracker', response: false },
  [MessageType.Registered]: { to: 'peer', response: true },
  [MessageType.Unregister]: { to: 'tracker', response: false },
  [MessageType.Heartbeat]: { to: 'tracker', response: false },
  [MessageType.Publish]: { to: 'tracker', response: false },
  [MessageType.Published]: { to: 'peer', response: true },
  [MessageType.List]: { to: 'tracker', response: false },
  [MessageType.Files]: { to: 'peer', response: true },
  [MessageType.Locate]: { to: 'tracker', response: false },
  [MessageType.Peers]: { to: 'peer', response: true },
  [MessageType.Have]: { to: 'tracker', response: false },
  [MessageType.Ok]: { to: 'peer', response: true },
  [MessageType.Error]: { to: 'peer', response: true },
  [MessageType.Withdraw]: { to: 'tracker', response: false },
  [MessageType.Hello]: { to: 'peer', response: false },
  [MessageType.Interested]: { to: 'peer', response: false },
  [MessageType.Bitfield]: { to: 'peer', response: true },
  [MessageType.Request]: { to: 'peer', response: false },
  [MessageType.Chunk]: { to: 'peer', response: true },
  [MessageType.Reject]: { to: 'peer', response: true },
  [MessageType.Cancel]: { to: 'peer', response: false },
  [MessageType.HaveChunk]: { to: 'peer', response: false },
  [MessageType.Ping]: { to: 'peer', response: false },
  [MessageType.Pong]: { to: 'peer', response: true },
  [MessageType.Room]: { to: 'peer', response: false },
};

const ALL_TYPES = Object.values(MessageType).filter((value): value is MessageType => typeof value === 'number');

/** Messages that answer a request: a transport hands them to the request with the same id. */
export const RESPONSE_TYPES: ReadonlySet<MessageType> = new Set(ALL_TYPES.filter((type) => MESSAGE_ROLES[type].response));

/** The JSON messages a peer receives (from the tracker, then from other peers). */
export const PEER_INBOUND_JSON_TYPES: readonly JsonMessageType[] = ALL_TYPES.filter(
  (type): type is JsonMessageType => MESSAGE_ROLES[type].to === 'peer' && !isBinaryType(type),
);
