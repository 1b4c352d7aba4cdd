/**
 * The states of a peer's link to the tracker (tracker-client.ts) and the transitions between them.
 * Pure: no sockets, no timers; the client owns those and keeps them inside the state that uses them,
 * so leaving a state is what stops its heartbeat, closes its connection or cancels its retry.
 *
 *   idle         → connecting     connect()
 *   connecting   → registered     the first registration
 *   registered   → parked         leased, and idle for PARK_AFTER_IDLE_HEARTBEATS heartbeats
 *   parked       → registered     a request reopened the connection
 *   registered,
 *   parked       → reconnecting   the connection dropped, or a renewal or reopening failed
 *   reconnecting → reconnecting   an attempt failed: wait twice as long (up to a maximum)
 *   reconnecting → registered     an attempt succeeded
 *   any but idle → idle           disconnect(), close(), or the first connect failed
 */
import type { LeaseCredentials } from '../protocol';
import { PeerError, TrackerClientErrorCode } from './errors';

export interface TrackerAddress {
  host: string;
  port: number;
}

/** One connect() until disconnect() or close(): what survives a lost connection. */
export interface TrackerSession {
  readonly address: TrackerAddress;
  /** Leased mode: what the tracker gave us to resume the registration; kept across a lost connection. */
  lease: LeaseCredentials | undefined;
  /** The address the tracker saw us at in the last registration. */
  host: string | undefined;
  /** The wait before the next reconnection attempt, doubled after each failed one. */
  reconnectDelayMs: number;
}

/**
 * - `idle`: not wanted; keeps the last tracker and host for the status.
 * - `connecting`: connect() is opening and registering its first connection.
 * - `registered`: one open connection carries the registration and the heartbeats.
 * - `parked`: leased only, registered with no connection open on purpose; `renewing` is a heartbeat's
 *   short resume connection in flight, `reopening` the connection being reopened for a request.
 * - `reconnecting`: the link was lost while wanted; `retry` fires the next attempt.
 */
export type TrackerLinkState<Connection, Timer> =
  | { readonly kind: 'idle'; readonly address?: TrackerAddress; readonly host?: string }
  | { readonly kind: 'connecting'; readonly session: TrackerSession }
  | {
      readonly kind: 'registered';
      readonly session: TrackerSession;
      readonly peerId: string;
      readonly connection: Connection;
      readonly heartbeat: Timer;
      /** When the last request went out: an idle leased connection is parked. */
      lastRequestMs: number;
    }
  | {
      readonly kind: 'parked';
      readonly session: TrackerSession;
      /** A fresh registration by a renewal (the tracker had forgotten us) changes it. */
      peerId: string;
      readonly heartbeat: Timer;
      renewing?: Promise<void> | undefined;
      reopening?: Promise<Connection> | undefined;
    }
  | { readonly kind: 'reconnecting'; readonly session: TrackerSession; retry?: Timer };

export type TrackerLinkKind = TrackerLinkState<unknown, unknown>['kind'];

/** Where each state may go. A state may go to itself only where it is listed (a new retry, a new park). */
export const TRACKER_LINK_TRANSITIONS: { readonly [From in TrackerLinkKind]: readonly TrackerLinkKind[] } = {
  idle: ['connecting'],
  connecting: ['registered', 'idle'],
  registered: ['parked', 'reconnecting', 'idle'],
  parked: ['registered', 'reconnecting', 'idle'],
  reconnecting: ['registered', 'reconnecting', 'idle'],
};

export class IllegalTransitionError extends PeerError {
  constructor(
    readonly from: TrackerLinkKind,
    readonly to: TrackerLinkKind,
  ) {
    super(TrackerClientErrorCode.IllegalTransition, `the tracker link cannot go from ${from} to ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

/** Throws IllegalTransitionError unless the link may go from `from` to `to`. */
export function checkTransition(from: TrackerLinkKind, to: TrackerLinkKind): void {
  if (!TRACKER_LINK_TRANSITIONS[from].includes(to)) throw new IllegalTransitionError(from, to);
}
