import { SwarmlabError } from '../shared/errors';

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
