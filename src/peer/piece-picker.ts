/**
 * Chunk selection, pure: which chunk should a source be asked for next?
 *
 * Rarest first among the chunks nobody was asked for yet. Ties are broken by scanning from an offset
 * picked at random, either anywhere in the file or, when `front` is given, among the `spread` chunks
 * from the first one not held yet: chunks then arrive close to file order, so the whole-file SHA-256
 * can be computed from memory as they come (it is sequential), while two downloaders asking the same
 * source still pick different chunks most of the time. A chunk only this source holds (a seeder's chunk
nobody has yet) is the exception: it is picked from anywhere past the front (`anySoleChunk`). When every chunk the source holds
 * is already asked for elsewhere and the download is in its endgame (`endgame()`: every missing chunk
 * is asked for somewhere), a duplicate request: the chunk with the fewest requesters, below
 * `maxRequesters`. Before the endgame a source with nothing new to give is left idle rather than asked
 * for duplicates: on rate-limited links a duplicate costs a source's upload that another downloader
 * needed, and the copy that loses the race often cannot be cancelled in time.
 */
import type { Bitfield } from '../protocol';

/**
 * Once a candidate is found, at most this many more chunks are looked at for a rarer one. Rarest first
 * is then exact within a window rather than over the whole file: a full scan per pick made picking
 * O(chunks²) per download (1.8 s of a 1 GiB download's event loop with four sources, where no chunk
 * is rare enough to stop early).
 */
export const PICK_LOOKAHEAD = 256;

export interface PickInput {
  chunks: number;
  have: Bitfield;
  /** Chunks verified and being written: as good as held. */
  writing?: ReadonlySet<number>;
  sourceHas: Bitfield;
  /** Chunks already requested from this source. */
  askedOfSource: ReadonlySet<number> | ReadonlyMap<number, unknown>;
  /** How many sources are asked for each chunk right now. */
  requesters: (index: number) => number;
  /** How many known sources hold each chunk. */
  availability: (index: number) => number;
  maxRequesters: number;
  /** Whether duplicate requests are allowed now; asked only when a duplicate is the one choice. Default: yes. */
  endgame?: () => boolean;
  /** The first chunk not held yet: ties are broken near it (see `spread`). Default: anywhere. */
  front?: number;
  /** How many chunks from `front` the random scan may start at. */
  spread?: number;
  /** 0 <= random < 1; injectable for tests. */
  random?: () => number;
}

/**
 * A piece-selection policy: the chunk to ask this source for next, or undefined to leave it idle for
 * now. Built-in policies and custom picker modules (`--picker PATH`, docs/strategies.md) share it.
 */
export type PickFunction = (input: PickInput) => number | undefined;

/** The `rarest` policy (the default). */
export function pickChunk(input: PickInput): number | undefined {
  const { chunks, have, sourceHas, askedOfSource } = input;
  const random = (input.random ?? Math.random)();
  const offset =
    input.front === undefined
      ? Math.floor(random * chunks)
      : input.front + Math.floor(random * Math.max(1, Math.min(input.spread ?? 1, chunks - input.front)));
  let best: number | undefined;
  let bestAvailability = Infinity;
  let endgame: number | undefined;
  let endgameRequesters = Infinity;
  let lastStep = chunks;
  for (let step = 0; step < lastStep; step++) {
    const index = (offset + step) % chunks;
    if (have.has(index) || !sourceHas.has(index) || askedOfSource.has(index) || input.writing?.has(index)) continue;
    const requesters = input.requesters(index);
    if (requesters === 0) {
      const availability = input.availability(index);
      if (availability < bestAvailability) {
        if (best === undefined) lastStep = Math.min(chunks, step + 1 + PICK_LOOKAHEAD);
        best = index;
        bestAvailability = availability;
        // Nothing is rarer than a chunk only this source holds.
        if (availability <= 1) break;
      }
    } else if (requesters < input.maxRequesters && requesters < endgameRequesters) {
      endgame = index;
      endgameRequesters = requesters;
    }
  }
  if (best !== undefined && bestAvailability <= 1 && input.front !== undefined) return anySoleChunk(input, best);
  if (best !== undefined) return best;
  return endgame !== undefined && (input.endgame?.() ?? true) ? endgame : undefined;
}

/**
 * A chunk only this source holds (as far as we know), from anywhere past `front`, not only near it:
 * those are a seeder's chunks nobody has yet, and every downloader asks the seeder for them. Near the
 * front they all ask for the same few, a super-seeder refuses all but the first (REJECT elsewhere), and
 * its upload waits while the refused ask again; spread over the file, their requests rarely meet. The
 * digest reads such chunks back from the file if they come too far ahead (file-digest.ts): cheaper than
 * the seeder's idle upload, the one resource every downloader waits for. `found` is one such chunk.
 */
function anySoleChunk(input: PickInput, found: number): number {
  const { chunks, have, sourceHas, askedOfSource } = input;
  const front = input.front ?? 0;
  const span = chunks - front;
  if (span <= 1) return found;
  const offset = front + Math.floor((input.random ?? Math.random)() * span);
  for (let step = 0; step < span; step++) {
    const index = front + ((offset - front + step) % span);
    if (have.has(index) || !sourceHas.has(index) || askedOfSource.has(index) || input.writing?.has(index)) continue;
    if (input.requesters(index) === 0 && input.availability(index) <= 1) return index;
  }
  return found;
}
