/**
 * Applies an upload policy (upload-policy.ts): counts what passes between this peer and each
 * requester, asks the policy every round which requesters to serve, and answers the data server's
 * question "serve this request?" from the last answer.
 *
 * A requester counts as a candidate for CANDIDATE_ROUNDS rounds after its last request. One the
 * policy has not seen yet waits for the next round (at most one interval). The policy may answer
 * later (an isolated module): the previous round's answer holds meanwhile, and a round whose answer
 * failed serves everyone. Requesters are named by tracker id, the same id the downloads know their
 * sources by, so that bytes received and bytes sent meet on one entry.
 */
import type { UploadCandidate, UploadInput } from './upload-policy';
import { UPLOAD_SLOTS } from './upload-policy';

/** A round's length: short, as lab downloads last seconds to minutes. */
export const UNCHOKE_INTERVAL_MS = 1_000;
/** Rounds a requester stays a candidate after its last request. */
export const CANDIDATE_ROUNDS = 3;
/** Rounds after which a peer neither asking nor giving is forgotten (bounds the tallies). */
export const FORGET_ROUNDS = 60;

/** A policy's answer: the ids to serve, or undefined when it failed (then everyone is served this round). */
export type ChokerPolicy = (input: UploadInput) => string[] | undefined | Promise<string[] | undefined>;

export interface ChokerInit {
  policy: ChokerPolicy;
  /** Whether this peer downloads something now. */
  downloading: () => boolean;
  intervalMs?: number;
  slots?: number;
  /** Each round's input and answer (debug logs). */
  onRound?: (input: UploadInput, serve: string[] | undefined) => void;
}

interface PeerTally {
  name: string;
  receivedBytes: number;
  receivedRecentBytes: number;
  sentBytes: number;
  sentRecentBytes: number;
  lastRequestRound: number;
  lastSeenRound: number;
}

export class Choker {
  private readonly tallies = new Map<string, PeerTally>();
  /** undefined: serve everyone (no answer yet, or the last one failed). */
  private unchoked: Set<string> | undefined = new Set();
  private round = 0;
  private deciding = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;
  private roundListener: (() => void) | undefined;

  constructor(private readonly init: ChokerInit) {
    this.intervalMs = init.intervalMs ?? UNCHOKE_INTERVAL_MS;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.decide(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Calls `listener` after every round (the upload server: who it unchoked may be waiting for ROOM). */
  afterRound(listener: () => void): void {
    this.roundListener = listener;
  }

  /** A request from `peer` arrived: whether to serve it. */
  admits(peer: string, name: string): boolean {
    const tally = this.tally(peer, name);
    tally.lastRequestRound = this.round;
    tally.lastSeenRound = this.round;
    return this.unchoked === undefined || this.unchoked.has(peer);
  }

  sent(peer: string, bytes: number): void {
    const tally = this.tallies.get(peer);
    if (!tally) return;
    tally.sentBytes += bytes;
    tally.sentRecentBytes += bytes;
  }

  received(peer: string, name: string, bytes: number): void {
    const tally = this.tally(peer, name);
    tally.lastSeenRound = this.round;
    tally.receivedBytes += bytes;
    tally.receivedRecentBytes += bytes;
  }

  /** One round: ask the policy, then start counting the next round's bytes. */
  async decide(): Promise<void> {
    if (this.deciding) return;
    this.deciding = true;
    try {
      const candidates: UploadCandidate[] = [];
      for (const [peer, tally] of this.tallies) {
        if (this.round - tally.lastRequestRound >= CANDIDATE_ROUNDS) continue;
        candidates.push({
          peer,
          name: tally.name,
          receivedBytes: tally.receivedBytes,
          receivedRecentBytes: tally.receivedRecentBytes,
          sentBytes: tally.sentBytes,
          sentRecentBytes: tally.sentRecentBytes,
          unchoked: this.unchoked === undefined || this.unchoked.has(peer),
        });
      }
      const input: UploadInput = {
        round: this.round,
        intervalMs: this.intervalMs,
        downloading: this.init.downloading(),
        slots: this.init.slots ?? UPLOAD_SLOTS,
        candidates,
      };
      for (const [peer, tally] of this.tallies) {
        if (this.round - tally.lastSeenRound > FORGET_ROUNDS) this.tallies.delete(peer);
        tally.receivedRecentBytes = 0;
        tally.sentRecentBytes = 0;
      }
      this.round++;
      const answer = await this.init.policy(input);
      this.unchoked = answer === undefined ? undefined : new Set(answer);
      this.init.onRound?.(input, answer);
      this.roundListener?.();
    } finally {
      this.deciding = false;
    }
  }

  private tally(peer: string, name: string): PeerTally {
    let tally = this.tallies.get(peer);
    if (!tally) {
      tally = { name, receivedBytes: 0, receivedRecentBytes: 0, sentBytes: 0, sentRecentBytes: 0, lastRequestRound: -Infinity, lastSeenRound: this.round };
      this.tallies.set(peer, tally);
    }
    return tally;
  }
}
