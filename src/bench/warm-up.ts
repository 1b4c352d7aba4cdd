/**
 * The warm-up before the transfer sections: write a file of twice the largest transfer and delete it.
 * On a fresh VM the first write into memory the guest has never touched costs about ten times a later
 * one (the hypervisor backs each page on first use), so a bench on a fresh machine would report half of
 * what the same code does later. After this, every transfer, swarmlab's and the anchors', finds the
 * page cache's memory already backed.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WarmUpResult } from './types';

const BLOCK_BYTES = 8 * 1024 * 1024;

export async function warmUp(bytes: number): Promise<WarmUpResult> {
  const startMs = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'swarmlab-warm-'));
  try {
    const handle = await open(join(dir, 'warm-up.bin'), 'w');
    try {
      // Non-zero bytes: nothing on the way may treat the block as a hole.
      const block = Buffer.alloc(BLOCK_BYTES, 0xa5);
      for (let written = 0; written < bytes;) {
        const length = Math.min(BLOCK_BYTES, bytes - written);
        const { bytesWritten } = await handle.write(block, 0, length, written);
        written += bytesWritten;
      }
    } finally {
      await handle.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { bytes, seconds: (performance.now() - startMs) / 1000 };
}
