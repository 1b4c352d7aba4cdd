/**
 * Deterministic file contents for demos, labs and benchmarks: the same (seed, size) gives the same
 * bytes on every host, so two publishers can create the same file independently.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const WORDS = [
  'swarm', 'peer', 'chunk', 'tracker', 'replica', 'verify', 'hash', 'frame', 'seed', 'leech',
  'bitfield', 'rarest', 'endgame', 'pipeline', 'socket', 'network', 'bridge', 'container', 'lab', 'file',
];

/** Writes `size` bytes to `path`, streamed in 1 MiB blocks; `text` makes readable lines. */
export async function generateFile(path: string, size: number, seed: string, text: boolean): Promise<string> {
  const handle = await open(path, 'w');
  const hash = createHash('sha256');
  try {
    const blockBytes = 1024 * 1024;
    // AES-CTR over zeros: a fast, seeded, deterministic byte stream.
    const key = createHash('sha256').update(seed).digest().subarray(0, 16);
    const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
    const zeros = Buffer.alloc(blockBytes);
    let line = 0;
    let carry = Buffer.alloc(0);
    for (let written = 0; written < size; ) {
      let block: Buffer;
      if (text) {
        const lines: string[] = [];
        let length = carry.length;
        while (length < blockBytes && length < size - written) {
          const digest = createHash('sha256').update(`${seed}:${line}`).digest();
          const words = Array.from({ length: 8 }, (_, i) => WORDS[(digest[i] ?? 0) % WORDS.length]);
          const next = `${String(line).padStart(7, '0')} ${words.join(' ')}\n`;
          lines.push(next);
          length += next.length;
          line++;
        }
        block = Buffer.concat([carry, Buffer.from(lines.join(''))]);
      } else {
        block = cipher.update(zeros);
      }
      const take = Math.min(block.length, size - written, blockBytes);
      const out = block.subarray(0, take);
      carry = Buffer.from(block.subarray(take));
      await handle.write(out, 0, out.length, written);
      hash.update(out);
      written += take;
    }
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}
