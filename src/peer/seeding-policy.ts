/**
 * Which requests a seeder serves when its upload is the bottleneck: super-seeding, the idea of BEP 16.
 *
 * A swarm cannot finish before its seeder has sent every chunk once (F/u_s), so each second the seeder
 * spends sending a chunk the swarm already has is a second added to everyone's download. Downloaders
 * pick the rarest chunks they know of, but several of them ask the seeder for the same chunk before
 * any of them has it (they cannot see each other's requests). The seeder can: the first connection
 * to ask for a chunk claims it; while the seeder's upload has other work waiting, another connection
 * asking for a claimed chunk is refused with REJECT `elsewhere` and fetches it from the other
 * downloaders instead (it drops the chunk from this source until its next LOCATE refresh).
 *
 * It never idles the upload or strands a downloader: with nothing else waiting, every request is
 * served; once every chunk has been sent at least once, the seeder's upload is spare capacity and
 * serves anyone;
 * a claim by a connection that has closed lapses; and a connection refused the same chunk
 * MAX_DEFERRALS times gets it on its next request once the claim is CLAIM_PATIENCE_MS old (it may not
 * reach the peers that hold it; the claimant had time to receive the chunk and pass it on).
 * It applies only to files this peer holds whole; a downloader's own upload is never held back.
 *
 * Its state lives only as long as what it describes: the server calls `forget` when a connection
 * closes (its claims go, so a closed connection is not kept reachable) and `drop` when a file is no
 * longer offered (a withdrawn file's claims and sent-once record go), so a long-lived seeder's maps
 * hold at most the open connections' claims on the files it offers.
 */

/**
 * When super-seeding applies (`--super-seed`): `auto` while the upload is rate-limited (on an unlimited
 * link the CPU, not the upload, is scarce), `on` always, `off` never.
 */
export const SUPER_SEED_MODES = ['auto', 'on', 'off'] as const;
export type SuperSeedMode = (typeof SUPER_SEED_MODES)[number];

export function superSeedEnabled(mode: SuperSeedMode, uploadRateLimited: boolean): boolean {
  return mode === 'on' || (mode === 'auto' && uploadRateLimited);
}

/** A data connection as the policy sees it: identity plus whether it is still open. */
export interface SeedingRequester {
  readonly isClosed: boolean;
}

export interface SeedingPolicyInit {
  /** The number of chunks of `fileId` when this peer holds all of them, else undefined. */
  wholeFileChunks: (fileId: string) => number | undefined;
  /** Whether the policy applies now (e.g. only while the upload is rate-limited). */
  enabled?: () => boolean;
  /** Refusals of one chunk to one connection before it is served anyway... */
  maxDeferrals?: number;
  /** ...once its claim is this old. */
  claimPatienceMs?: number;
  now?: () => number;
}

export const MAX_DEFERRALS = 4;
/**
 * A claimed chunk reaches its claimant after the seeder's queue (about a second in a busy swarm) and
 * the other downloaders after one more hop; refusing it for a few seconds costs nothing while the
 * seeder has other chunks to send, and a second copy sent sooner would be the one that delays the swarm.
 */
export const CLAIM_PATIENCE_MS = 4_000;

interface Claim {
  requester: SeedingRequester;
  atMs: number;
}

export class SeedingPolicy {
  /** fileId -> chunk index -> the connection that first asked for it, and when. */
  private readonly claims = new Map<string, Map<number, Claim>>();
  /** fileId -> the chunks sent at least once. */
  private readonly sentOnce = new Map<string, Set<number>>();
  /** Refusals so far, per connection, keyed `fileId:index`. */
  private readonly deferrals = new WeakMap<SeedingRequester, Map<string, number>>();
  private readonly maxDeferrals: number;
  private readonly claimPatienceMs: number;
  private readonly now: () => number;

  constructor(private readonly init: SeedingPolicyInit) {
    this.maxDeferrals = init.maxDeferrals ?? MAX_DEFERRALS;
    this.claimPatienceMs = init.claimPatienceMs ?? CLAIM_PATIENCE_MS;
    this.now = init.now ?? ((): number => performance.now());
  }

  /**
   * Decides a REQUEST as it arrives: true to queue it, false to refuse it (REJECT elsewhere).
   * `uploadBusy` says whether other requests are waiting for this peer's upload.
   */
  admit(fileId: string, index: number, requester: SeedingRequester, uploadBusy: boolean): boolean {
    if (this.init.enabled?.() === false) return true;
    const chunks = this.init.wholeFileChunks(fileId);
    if (chunks === undefined) {
      // No longer held whole (withdrawn between events): whatever was recorded for it is stale.
      this.drop(fileId);
      return true;
    }
    let claims = this.claims.get(fileId);
    if (!claims) this.claims.set(fileId, (claims = new Map()));
    const claim = claims.get(index);
    if (claim === undefined || claim.requester === requester || claim.requester.isClosed) {
      claims.set(index, { requester, atMs: this.now() });
      return true;
    }
    if (!uploadBusy || (this.sentOnce.get(fileId)?.size ?? 0) >= chunks) return true;
    let refused = this.deferrals.get(requester);
    if (!refused) this.deferrals.set(requester, (refused = new Map()));
    const key = `${fileId}:${index}`;
    const count = refused.get(key) ?? 0;
    if (count >= this.maxDeferrals && this.now() - claim.atMs >= this.claimPatienceMs) {
      refused.delete(key);
      return true;
    }
    refused.set(key, count + 1);
    return false;
  }

  /** A connection closed: its claims lapse now instead of waiting for the next asker. */
  forget(requester: SeedingRequester): void {
    for (const [fileId, claims] of this.claims) {
      for (const [index, claim] of claims) if (claim.requester === requester) claims.delete(index);
      if (claims.size === 0) this.claims.delete(fileId);
    }
    this.deferrals.delete(requester);
  }

  /** `fileId` is no longer offered whole (withdrawn, changed): nothing about it is kept. */
  drop(fileId: string): void {
    this.claims.delete(fileId);
    this.sentOnce.delete(fileId);
  }

  /** Claims held, over every file (what `forget` and `drop` keep bounded). */
  get claimCount(): number {
    let count = 0;
    for (const claims of this.claims.values()) count += claims.size;
    return count;
  }

  /** Files with a claim or a sent-once record. */
  get fileCount(): number {
    return new Set([...this.claims.keys(), ...this.sentOnce.keys()]).size;
  }

  /** A chunk of `fileId` left through the upload (claims count requests; this counts what went out). */
  sent(fileId: string, index: number): void {
    if (this.init.enabled?.() === false || this.init.wholeFileChunks(fileId) === undefined) return;
    let sent = this.sentOnce.get(fileId);
    if (!sent) this.sentOnce.set(fileId, (sent = new Set()));
    sent.add(index);
  }
}
