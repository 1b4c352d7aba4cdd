import { SwarmlabError } from '../shared/errors';

/**
 * The codes of a peer's errors, stable and reported to its user or control client. Values that travel
 * in ERROR frames or JSON outputs are contracts: keep them.
 */
export const PeerErrorCode = {
  // peer-side codes (peer-node, connections, downloads, chunk store, hashing thread)
  Aborted: 'ERR_ABORTED',
  Ambiguous: 'ERR_AMBIGUOUS',
  BadName: 'ERR_BAD_NAME',
  CannotWrite: 'ERR_CANNOT_WRITE',
  ChunkLent: 'ERR_CHUNK_LENT',
  ChunkMissing: 'ERR_CHUNK_MISSING',
  ChunkReleased: 'ERR_CHUNK_RELEASED',
  ConnectFailed: 'ERR_CONNECT_FAILED',
  ConnectTimeout: 'ERR_CONNECT_TIMEOUT',
  DirInUse: 'ERR_DIR_IN_USE',
  DirLock: 'ERR_DIR_LOCK',
  DirUnreadable: 'ERR_DIR_UNREADABLE',
  DiskFull: 'ERR_DISK_FULL',
  HashThread: 'ERR_HASH_THREAD',
  NameTaken: 'ERR_NAME_TAKEN',
  NoDir: 'ERR_NO_DIR',
  NoTracker: 'ERR_NO_TRACKER',
  NotConnected: 'ERR_NOT_CONNECTED',
  NotFound: 'ERR_NOT_FOUND',
  NotHeld: 'ERR_NOT_HELD',
  Picker: 'ERR_PICKER',
  NothingToPublish: 'ERR_NOTHING_TO_PUBLISH',
  Protocol: 'ERR_PROTOCOL',
  ReadFailed: 'ERR_READ_FAILED',
  ShortRead: 'ERR_SHORT_READ',
  Stalled: 'ERR_STALLED',
  TooManyConnections: 'ERR_TOO_MANY_CONNECTIONS',
  UnexpectedMessage: 'ERR_UNEXPECTED_MESSAGE',
  Uploader: 'ERR_UPLOADER',
  /** The tracker's answer to a HAVE without manifest for a file it forgot. */
  UnknownFile: 'ERR_UNKNOWN_FILE',
  UnknownDigest: 'ERR_UNKNOWN_DIGEST',
  WrongChunk: 'ERR_WRONG_CHUNK',
  WriteFailed: 'ERR_WRITE_FAILED',
  // end of peer-side codes
} as const;
export type PeerErrorCode = (typeof PeerErrorCode)[keyof typeof PeerErrorCode];

/** Errors a peer reports to its user or its control client; `code` is stable. */
export class PeerError extends SwarmlabError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'PeerError';
  }
}

/**
 * Codes of the peer's tracker link (tracker-client.ts). Stable: a control client sees them in
 * `{ error: { code } }`, so each keeps its exact string.
 */
export const TrackerClientErrorCode = {
  BadAddress: 'ERR_BAD_ADDRESS',
  AlreadyConnected: 'ERR_ALREADY_CONNECTED',
  NotConnected: 'ERR_NOT_CONNECTED',
  TrackerUnavailable: 'ERR_TRACKER_UNAVAILABLE',
  TrackerUnreachable: 'ERR_TRACKER_UNREACHABLE',
  Protocol: 'ERR_PROTOCOL',
  /** The tracker's answer to a lease it no longer knows (docs/protocol.md); a peer never imports the tracker. */
  UnknownPeer: 'ERR_UNKNOWN_PEER',
  /** A bug: the link was asked to go where its state machine has no edge (tracker-link.ts). */
  IllegalTransition: 'ERR_ILLEGAL_TRANSITION',
} as const;
export type TrackerClientErrorCode = (typeof TrackerClientErrorCode)[keyof typeof TrackerClientErrorCode];

/** Another running peer holds the directory's lock; `holder` says which one (when it answered). */
export class DirInUseError extends PeerError {
  constructor(
    readonly dir: string,
    readonly holder: { pid: number; control?: string } | undefined,
  ) {
    const who = holder ? `pid ${holder.pid}${holder.control ? `, control ${holder.control}` : ''}` : 'it did not say who it is';
    super(PeerErrorCode.DirInUse, `another peer already runs on ${dir} (${who}): stop it, or give this peer its own --dir`);
    this.name = 'DirInUseError';
  }
}
