/** Splits a byte stream into lines, refusing any line longer than `maxLineBytes`. */
export class LineSplitter {
  private buffered = '';

  constructor(private readonly maxLineBytes: number) {}

  /** Returns the complete lines; throws when a line grows past the limit. */
  push(chunk: string): string[] {
    this.buffered += chunk;
    const lines = this.buffered.split('\n');
    this.buffered = lines.pop() ?? '';
    if (this.buffered.length > this.maxLineBytes || lines.some((line) => line.length > this.maxLineBytes)) {
      throw new Error(`line longer than ${this.maxLineBytes} bytes`);
    }
    return lines.filter((line) => line.trim() !== '');
  }
}
