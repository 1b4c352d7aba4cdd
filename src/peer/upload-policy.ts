/**
 * Which interested requesters a peer serves (`--uploader`): the choking decision of BitTorrent-style
 * swarms, as one function over per-peer statistics (docs/strategies.md).
 *
 * Every UNCHOKE_INTERVAL_MS the peer's Choker (choker.ts) hands the policy the requesters it has seen
 * lately and what passed between them and this peer; the policy answers the ids of those to serve.
 * A requester left out is choked: its requests are refused with REJECT `busy` until a later round
 * serves it (the downloader asks again shortly, or asks someone else). `default` serves everyone,
 * which is the behaviour without a policy; `tit-for-tat` serves those who upload to this peer.
 */

/** One requester as the policy sees it. */
export interface UploadCandidate {
  /** Its tracker id (or address when it gave none): what the answer names. */
  peer: string;
  /** The name it gave in HELLO. */
  name: string;
  /** Bytes this peer received from it, in total and over the last round. */
  receivedBytes: number;
  receivedRecentBytes: number;
  /** Bytes this peer sent it, in total and over the last round. */
  sentBytes: number;
  sentRecentBytes: number;
  /** Whether the previous round served it. */
  unchoked: boolean;
}

export interface UploadInput {
  /** Rounds so far (0 first): a policy that rotates an optimistic unchoke counts with it. */
  round: number;
  /** The length of a round, ms. */
  intervalMs: number;
  /** Whether this peer is downloading something (a seeder receives from nobody). */
  downloading: boolean;
  /** How many requesters a tit-for-tat policy should serve for what they give. */
  slots: number;
  candidates: UploadCandidate[];
}

/** The ids of the candidates to serve; anyone else is choked this round. */
export type UploadPolicyFunction = (input: UploadInput) => string[];

export const BUILT_IN_UPLOADERS = ['default', 'tit-for-tat'] as const;
export type BuiltInUploaderName = (typeof BUILT_IN_UPLOADERS)[number];

/** Requesters served for what they give (the optimistic unchoke comes on top). */
export const UPLOAD_SLOTS = 3;
/** Rounds an optimistic unchoke lasts: long enough for the peer it serves to answer in kind. */
export const OPTIMISTIC_ROUNDS = 3;
/**
 * A requester that took this much from us and never gave a byte back gets no more optimistic unchokes
 * (BitTorrent's anti-snubbing, in short): otherwise, in a small swarm where every contributor is
 * already served for what it gives, the optimistic slot would be a free rider's for good.
 */
export const SNUB_AFTER_BYTES = 256 * 1024;

/** `default`: everyone who asks is served (the peer's behaviour without a policy). */
export function serveEveryone(input: UploadInput): string[] {
  return input.candidates.map((candidate) => candidate.peer);
}

/**
 * `tit-for-tat`: while downloading, serve the `slots` requesters that sent this peer the most over
 * the last round (only those that sent anything), plus one optimistic unchoke among the others, drawn
 * at random and kept for OPTIMISTIC_ROUNDS rounds, so that a newcomer can prove itself. (Drawn at
 * random: peers that all picked the same one would hand a free rider several slots at once.) Who took
 * SNUB_AFTER_BYTES and gave nothing is not drawn. Regular slots no giver earned (the first rounds,
 * before anyone has given) go to the others, so that trading starts at once rather than one
 * optimistic unchoke at a time. A peer that downloads nothing has nobody to reward and serves everyone.
 */
export function createTitForTat(random: () => number = Math.random): UploadPolicyFunction {
  let optimistic: string | undefined;
  let drawnRound = -Infinity;
  return (input) => {
    if (!input.downloading) return serveEveryone(input);
    const givers = input.candidates
      .filter((candidate) => candidate.receivedRecentBytes > 0)
      .sort((a, b) => b.receivedRecentBytes - a.receivedRecentBytes || b.receivedBytes - a.receivedBytes)
      .slice(0, input.slots)
      .map((candidate) => candidate.peer);
    const others = input.candidates
      .filter((candidate) => !givers.includes(candidate.peer))
      .filter((candidate) => candidate.receivedBytes > 0 || candidate.sentBytes < SNUB_AFTER_BYTES)
      .map((candidate) => candidate.peer);
    if (optimistic === undefined || !others.includes(optimistic) || input.round - drawnRound >= OPTIMISTIC_ROUNDS) {
      optimistic = others[Math.floor(random() * others.length)];
      drawnRound = input.round;
    }
    const serve = optimistic === undefined ? givers : [...givers, optimistic];
    // Slots nobody earned yet (the first rounds) go to newcomers, so that trading starts at once.
    for (const peer of others) {
      if (serve.length > input.slots) break;
      if (!serve.includes(peer)) serve.push(peer);
    }
    return serve;
  };
}

/** Built-in policies by name; each call makes a fresh one (tit-for-tat keeps its optimistic unchoke). */
export const UPLOADERS: Record<BuiltInUploaderName, () => UploadPolicyFunction> = {
  default: () => serveEveryone,
  'tit-for-tat': () => createTitForTat(),
};

export function isBuiltInUploader(name: string): name is BuiltInUploaderName {
  return (BUILT_IN_UPLOADERS as readonly string[]).includes(name);
}
