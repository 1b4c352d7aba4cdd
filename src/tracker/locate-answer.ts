/**
 * The body of a PEERS answer (docs/protocol.md, LOCATE), encoded once per state of a file and reused
 * for every LOCATE until the file changes: peers of a swarm ask every few hundred milliseconds, and
 * re-encoding the manifest and every holder's bitfield each time was most of the tracker's work.
 *
 * The bytes are exactly those of `JSON.stringify({ fileId, manifest, peers })`, or of
 * `JSON.stringify({ fileId, peers })` for LOCATE `{manifest: false}` (a download's refresh, which has
 * the manifest: for 1 GiB it is ~270 KB of JSON the asker would parse and validate every time). The
 * asking peer is left out of its own answer, so the holders are kept as separately encoded entries and
 * the answer without one of them is spliced from those.
 *
 * An answer lists at most `numwant` holders (BitTorrent's numwant; docs/protocol.md, LOCATE), so a large
 * swarm cannot grow it past what a client accepts. When there are more, up to half the answer goes to
 * holders of the file's rarest chunks (seeders among them), so every chunk stays reachable, and the
 * rest is drawn at random, so the askers spread over the swarm (a downloader adds every source it is
 * shown, and asks again often).
 */
import type { Bitfield, Manifest, PeerLocation } from '../protocol';
import { shuffle } from '../shared/shuffle';

const COMMA = Buffer.from(',');
const TAIL = Buffer.from(']}');

interface EncodedHolder {
  peerId: string;
  json: Buffer;
  /** What it holds: the registry's own bitfield, which does not change while this answer lives. */
  chunks: Bitfield;
}

/** One holder of the file and the chunks it holds. */
export interface HolderEntry {
  location: PeerLocation;
  chunks: Bitfield;
}

export class LocateAnswer {
  private whole: Buffer | undefined;
  private wholeHolders: Buffer | undefined;
  /** `{"fileId":...,"peers":[`, made on the first answer without the manifest. */
  private holdersHead: Buffer | undefined;
  /** Which holders hold one of the rarest chunks; worked out on the first answer that must leave holders out. */
  private rare: boolean[] | undefined;

  private constructor(
    private readonly fileId: string,
    /** `{"fileId":...,"manifest":{...},"peers":[` */
    private readonly head: Buffer,
    private readonly chunkCount: number,
    private readonly holders: readonly EncodedHolder[],
  ) {}

  static encode(fileId: string, manifest: Manifest, entries: readonly HolderEntry[]): LocateAnswer {
    const head = Buffer.from(`{"fileId":${JSON.stringify(fileId)},"manifest":${JSON.stringify(manifest)},"peers":[`);
    const holders: EncodedHolder[] = entries.map(({ location, chunks }) => ({
      peerId: location.peerId,
      json: Buffer.from(JSON.stringify(location)),
      chunks,
    }));
    return new LocateAnswer(fileId, head, manifest.chunks.length, holders);
  }

  /**
   * The PEERS body for a LOCATE from `askingPeerId` (undefined: from a connection with no peer), with at
   * most `numwant` holders; without the manifest when `withManifest` is false.
   */
  body(askingPeerId: string | undefined, numwant: number, withManifest = true): Buffer {
    const head = withManifest ? this.head : (this.holdersHead ??= Buffer.from(`{"fileId":${JSON.stringify(this.fileId)},"peers":[`));
    const asking = askingPeerId === undefined ? -1 : this.holders.findIndex((h) => h.peerId === askingPeerId);
    if (this.holders.length - (asking < 0 ? 0 : 1) > numwant) return this.sample(head, asking, numwant);
    if (asking < 0) {
      if (withManifest) return (this.whole ??= this.splice(head, -1));
      return (this.wholeHolders ??= this.splice(head, -1));
    }
    // Not cached: one per holder would cost the tracker a copy of the answer for every holder.
    return this.splice(head, asking);
  }

  /** `numwant` holders other than `skip`: holders of the rarest chunks first, then at random; not cached. */
  private sample(head: Buffer, skip: number, numwant: number): Buffer {
    this.rare ??= holdersOfRarestChunks(this.chunkCount, this.holders);
    const rare: number[] = [];
    const others: number[] = [];
    for (let i = 0; i < this.holders.length; i++) {
      if (i !== skip) (this.rare[i] ? rare : others).push(i);
    }
    // Up to half the answer for holders of the rarest chunks, so they stay reachable; the rest at
    // random, so peers also meet each other (and not only the seeders, who hold every chunk).
    shuffle(rare);
    const firstRare = rare.splice(0, Math.ceil(numwant / 2));
    const rest = rare.concat(others);
    shuffle(rest);
    const chosen = firstRare.concat(rest).slice(0, numwant);
    const parts: Buffer[] = [head];
    for (const i of chosen) {
      if (parts.length > 1) parts.push(COMMA);
      parts.push(this.holders[i]!.json);
    }
    parts.push(TAIL);
    return Buffer.concat(parts);
  }

  private splice(head: Buffer, skip: number): Buffer {
    const parts: Buffer[] = [head];
    for (let i = 0; i < this.holders.length; i++) {
      if (i === skip) continue;
      if (parts.length > 1) parts.push(COMMA);
      parts.push(this.holders[i]!.json);
    }
    parts.push(TAIL);
    return Buffer.concat(parts);
  }
}

/** For each entry, whether it is a seeder or holds one of the chunks the fewest partial holders hold. */
function holdersOfRarestChunks(chunks: number, entries: readonly { chunks: Bitfield }[]): boolean[] {
  const counts = new Uint32Array(chunks);
  for (const { chunks: held } of entries) {
    // A holder of every chunk adds one to each count: it cannot change which chunks are rarest.
    if (held.complete) continue;
    for (let i = 0; i < chunks; i++) if (held.has(i)) counts[i]!++;
  }
  // The rarest chunk some partial holder has (a chunk only seeders hold makes every seeder rare anyway).
  let fewest = Infinity;
  for (let i = 0; i < chunks; i++) if (counts[i]! > 0) fewest = Math.min(fewest, counts[i]!);
  return entries.map(({ chunks: held }) => {
    if (held.complete) return true;
    for (let i = 0; i < chunks; i++) if (counts[i] === fewest && held.has(i)) return true;
    return false;
  });
}
