/**
 * When a download asks a source again after it answered REJECT busy (its upload queue is full).
 *
 * A busy source frees a slot only as its upload sends a chunk (half a second for 256 KiB at 512 KiB/s),
 * and in a big swarm every downloader connected to it is refused at once. Asking again after a fixed
 * short pause made each refused downloader re-ask ten times a second: a REQUEST and a REJECT, two
 * wake-ups and a top-up on each side, several times per chunk actually delivered, and at the start all
 * of it lands on the one seeder. So the pause doubles with each round of refusals in a row from the
 * same source, up to BUSY_RETRY_MAX_MS, and is spread at random (half to one and a half times) so the
 * refused downloaders do not come back together; a chunk from the source ends the streak.
 *
 * A source that understands ROOM (docs/protocol.md) says when it has room instead, and the download
 * waits for that: ROOM_WAIT_MS is only how long it waits for a ROOM that does not come.
 */

/** The first pause after a source answers busy. */
export const BUSY_RETRY_BASE_MS = 100;
/**
 * The longest pause: a few slots' worth at a 512 KiB/s upload, well under the source's queue bound
 * (MAX_UPLOAD_QUEUE_MS), so a source that frees up is asked again long before the swarm misses it.
 */
export const BUSY_RETRY_MAX_MS = 1_600;

/**
 * The pause before asking a source again after the `streak`-th round of REJECT busy in a row (1 for
 * the first), with `random` in [0, 1).
 */
export function busyRetryMs(streak: number, random: () => number = Math.random): number {
  const doublings = Math.max(0, Math.min(Math.floor(streak) - 1, Math.log2(BUSY_RETRY_MAX_MS / BUSY_RETRY_BASE_MS)));
  const pause = Math.min(BUSY_RETRY_MAX_MS, BUSY_RETRY_BASE_MS * 2 ** doublings);
  return Math.round(pause * (0.5 + random()));
}

/**
 * How long a download waits for ROOM from a source that sends it before asking again anyway: the
 * source's queue bound (MAX_UPLOAD_QUEUE_MS), by which everything it had accepted has been sent, so a
 * ROOM not sent by then is one an upload policy withholds (a choked downloader) or one that was lost.
 */
export const ROOM_WAIT_MS = 4_000;
