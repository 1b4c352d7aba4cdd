/**
 * The body of a PEERS answer (docs/protocol.md, LOCATE), encoded once per state of a file and reused
 * for every LOCATE until the file changes: peers of a swarm ask every few hundred milliseconds, and
 * re-encoding the manifest and every holder's bitfield each time was most of the tracker's work.
 *
 * The bytes are exactly those of `JSON.stringify({ fileId, manifest, peers })`. The asking peer is
 * left out of its own answer, so the holders are kept as separately encoded entries and the answer
 * without one of them is spliced from those.
 */
import type { Manifest, PeerLocation } from '../protocol';

const COMMA = Buffer.from(',');
const TAIL = Buffer.from(']}');

interface EncodedHolder {
  peerId: string;
  json: Buffer;
}

export class LocateAnswer {
  private whole: Buffer | undefined;

  private constructor(
    /** `{"fileId":...,"manifest":{...},"peers":[` */
    private readonly head: Buffer,
    private readonly holders: readonly EncodedHolder[],
  ) {}

  static encode(fileId: string, manifest: Manifest, peers: Iterable<PeerLocation>): LocateAnswer {
    const head = Buffer.from(`{"fileId":${JSON.stringify(fileId)},"manifest":${JSON.stringify(manifest)},"peers":[`);
    const holders: EncodedHolder[] = [];
    for (const peer of peers) holders.push({ peerId: peer.peerId, json: Buffer.from(JSON.stringify(peer)) });
    return new LocateAnswer(head, holders);
  }

  /** The PEERS body for a LOCATE from `askingPeerId` (undefined: from a connection with no peer). */
  body(askingPeerId?: string): Buffer {
    const asking = askingPeerId === undefined ? -1 : this.holders.findIndex((h) => h.peerId === askingPeerId);
    if (asking < 0) {
      this.whole ??= this.splice(-1);
      return this.whole;
    }
    // Not cached: one per holder would cost the tracker a copy of the answer for every holder.
    return this.splice(asking);
  }

  private splice(skip: number): Buffer {
    const parts: Buffer[] = [this.head];
    for (let i = 0; i < this.holders.length; i++) {
      if (i === skip) continue;
      if (parts.length > 1) parts.push(COMMA);
      parts.push(this.holders[i]!.json);
    }
    parts.push(TAIL);
    return Buffer.concat(parts);
  }
}
