/**
 * A fixed-size set of chunk indices, most significant bit first (as in BitTorrent), with a count
 * kept alongside so "how many do I have" is O(1).
 */
export class Bitfield {
  readonly bytes: Buffer;
  private setCount = 0;

  constructor(
    readonly length: number,
    bytes?: Buffer,
  ) {
    this.bytes = Buffer.alloc(Math.ceil(length / 8));
    if (bytes) {
      bytes.copy(this.bytes, 0, 0, Math.min(bytes.length, this.bytes.length));
      this.clearPadding();
      for (let index = 0; index < length; index++) if (this.has(index)) this.setCount++;
    }
  }

  static full(length: number): Bitfield {
    const bitfield = new Bitfield(length);
    for (let index = 0; index < length; index++) bitfield.set(index);
    return bitfield;
  }

  static fromBase64(length: number, base64: string): Bitfield {
    return new Bitfield(length, Buffer.from(base64, 'base64'));
  }

  get count(): number {
    return this.setCount;
  }

  get complete(): boolean {
    return this.setCount === this.length;
  }

  has(index: number): boolean {
    if (index < 0 || index >= this.length) return false;
    return ((this.bytes[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0;
  }

  /** Returns true when the bit was not set before. */
  set(index: number): boolean {
    if (index < 0 || index >= this.length || this.has(index)) return false;
    this.bytes[index >> 3] = (this.bytes[index >> 3] ?? 0) | (0x80 >> (index & 7));
    this.setCount++;
    return true;
  }

  unset(index: number): void {
    if (!this.has(index)) return;
    this.bytes[index >> 3] = (this.bytes[index >> 3] ?? 0) & ~(0x80 >> (index & 7));
    this.setCount--;
  }

  toBase64(): string {
    return this.bytes.toString('base64');
  }

  indices(): number[] {
    const out: number[] = [];
    for (let index = 0; index < this.length; index++) if (this.has(index)) out.push(index);
    return out;
  }

  private clearPadding(): void {
    const spare = this.bytes.length * 8 - this.length;
    if (spare > 0) {
      const last = this.bytes.length - 1;
      this.bytes[last] = (this.bytes[last] ?? 0) & (0xff << spare) & 0xff;
    }
  }
}
