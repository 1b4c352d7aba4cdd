/**
 * The last `maxBytes` of a stream's output. A long-running exec whose lines are handled as they arrive
 * (`lab up --dashboard` follows each peer's `ctl watch` for as long as it runs) needs only the end of
 * its output, for an error message; keeping every chunk grew with the session.
 */
export class OutputTail {
  private chunks: Buffer[] = [];
  private bytes = 0;
  /** Bytes dropped from the front so far. */
  dropped = 0;

  constructor(private readonly maxBytes: number = Number.POSITIVE_INFINITY) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.bytes > this.maxBytes && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const excess = this.bytes - this.maxBytes;
      if (first.length <= excess) {
        this.chunks.shift();
        this.bytes -= first.length;
        this.dropped += first.length;
      } else {
        // Copied, so that the rest of a large chunk does not keep all of it alive.
        this.chunks[0] = Buffer.from(first.subarray(excess));
        this.bytes -= excess;
        this.dropped += excess;
      }
    }
  }

  /** Bytes held now (at most `maxBytes`). */
  get length(): number {
    return this.bytes;
  }

  toString(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
