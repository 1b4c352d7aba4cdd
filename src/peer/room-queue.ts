/**
 * Who a source tells, with ROOM, that its upload has room again (docs/protocol.md, ROOM).
 *
 * A rate-limited source refuses a REQUEST with REJECT `busy` once the requests it has accepted would
 * take longer than its queue bound to send. Without ROOM the refused downloader can only ask again
 * later, on a timer, and in a big swarm most of those asks are refused again: a REQUEST, a REJECT and a
 * wake-up on both sides, many times per chunk actually sent. With ROOM, a downloader that listed the
 * feature in HELLO waits, and the source wakes the waiters in the order it refused them, as many as its
 * queue has room for, when a chunk leaves (BitTorrent's UNCHOKE plays this part).
 *
 * A woken waiter holds its place in the queue until it asks (`answered`) or ROOM_OFFER_HOLD_MS pass,
 * so one freed slot wakes one waiter, not all of them at once to be refused again. A hold that ends
 * unanswered (the waiter found nothing to ask, or is slow) frees its slot for the next waiter: the
 * source wakes again then (`nextHoldEndMs`), or its upload would idle while others wait.
 */

/** How long a ROOM holds a queue slot for the downloader it woke, waiting for its REQUEST. */
export const ROOM_OFFER_HOLD_MS = 1_000;

export class RoomQueue<C> {
  /** Waiters, in the order they were refused, with the chunk size they asked for. */
  private readonly waiting = new Map<C, number>();
  /** Woken and not answered yet: when, and the chunk size they will ask for. */
  private readonly offered = new Map<C, { atMs: number; chunkBytes: number }>();

  get waiters(): number {
    return this.waiting.size;
  }

  /** The waiters, first refused first. */
  waitingNow(): IterableIterator<C> {
    return this.waiting.keys();
  }

  /** `waiter` was refused for a full queue when asking for a chunk of `chunkBytes`; a waiter keeps its place. */
  wait(waiter: C, chunkBytes: number): void {
    this.offered.delete(waiter);
    if (!this.waiting.has(waiter)) this.waiting.set(waiter, chunkBytes);
  }

  /** `waiter` asked again (accepted or not): a slot held for it is free again. */
  answered(waiter: C): void {
    this.offered.delete(waiter);
  }

  /**
   * Queue slots held now for woken waiters other than `asking`: a request from anyone else counts them
   * as taken, or another downloader asking at the right moment would take the slot a ROOM promised.
   */
  held(nowMs: number, asking: C): number {
    this.expireOffers(nowMs);
    return this.offered.size - (this.offered.has(asking) ? 1 : 0);
  }

  /** When the first slot held now stops being held (epoch of `nowMs`), or undefined when none is. */
  nextHoldEndMs(): number | undefined {
    let first: number | undefined;
    for (const offer of this.offered.values()) if (first === undefined || offer.atMs < first) first = offer.atMs;
    return first === undefined ? undefined : first + ROOM_OFFER_HOLD_MS;
  }

  /** Ends the holds of woken waiters that did not ask within ROOM_OFFER_HOLD_MS. */
  private expireOffers(nowMs: number): void {
    for (const [waiter, offer] of this.offered) if (nowMs - offer.atMs > ROOM_OFFER_HOLD_MS) this.offered.delete(waiter);
  }

  /** `waiter` is gone (its connection closed). */
  forget(waiter: C): void {
    this.waiting.delete(waiter);
    this.offered.delete(waiter);
  }

  /**
   * The waiters to wake now, first refused first: each while its chunk still fits under
   * `capacityBytes` with the `acceptedChunks` already queued (counted at the waiter's chunk size) and
   * the slots held for waiters woken earlier. A waiter `eligible` refuses (an upload policy choking it)
   * keeps its place.
   */
  wake(nowMs: number, acceptedChunks: number, capacityBytes: number, eligible: (waiter: C) => boolean = () => true): C[] {
    if (this.waiting.size === 0) return [];
    this.expireOffers(nowMs);
    let queuedBytes = 0;
    for (const offer of this.offered.values()) queuedBytes += offer.chunkBytes;
    const woken: C[] = [];
    for (const [waiter, chunkBytes] of this.waiting) {
      // The accepted requests are counted at the waiter's own chunk size, as the queue bound counts them.
      if (queuedBytes + (acceptedChunks + 1) * chunkBytes > capacityBytes) break;
      if (!eligible(waiter)) continue;
      this.waiting.delete(waiter);
      this.offered.set(waiter, { atMs: nowMs, chunkBytes });
      queuedBytes += chunkBytes;
      woken.push(waiter);
    }
    return woken;
  }
}
