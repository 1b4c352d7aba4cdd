/**
 * The CPU floor of a verified download on this machine: the steps no protocol can skip, priced in CPU
 * seconds per GB, spread over every core.
 *
 * Why the bench needs it: `limitMBps` (min of raw TCP and SHA-256) is what one stream could reach if
 * each step had a core of its own. A pair on a 2-core machine has two processes and five steps that
 * each want a core: the seeder reads the file and sends it, the leecher receives it, checks each chunk,
 * writes it and hashes the whole file. When their CPU adds up to more than the cores can give, the
 * floor, not the limit, bounds the download, and this module measures it with no protocol at all:
 * - raw TCP, both ends (from the ceiling's TCP run);
 * - SHA-256, twice: each chunk's check and the whole-file digest;
 * - writing the file into the page cache, and the seeder reading it back, 256 KiB at a time.
 * The floor leaves out everything a real peer adds (framing, the event loop, threads handing chunks to
 * each other, GC) and prices each step alone on an idle core, so no real download reaches it; the bench
 * reports each transfer's share of it (`ofCpuFloor`) beside its share of the limit.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_CHUNK_BYTES } from '../protocol';
import { cpuUsageSeconds } from './footprint';
import { BYTES_PER_GB, BYTES_PER_MB } from './types';
import type { CpuFloorResult } from './types';

/** Files are written and read one chunk of the peers' default size at a time. */
const FILE_IO_BYTES = DEFAULT_CHUNK_BYTES;

/** SHA-256 passes of every received byte: the chunk's check and the whole-file digest (the download's `sha256`). */
export const SHA256_PASSES = 2;

/** CPU seconds of this process (all threads) while `work` runs. */
function cpuSecondsOf(work: () => void): number {
  const before = process.cpuUsage();
  work();
  return cpuUsageSeconds(process.cpuUsage(before));
}

/**
 * CPU seconds per GB to write `totalBytes` into a new file and read them back, 256 KiB at a time. The
 * read comes straight from the page cache, as a seeder's reads of a file it just wrote or hashed do.
 * The file lives in a new folder inside `parent`, removed before returning.
 */
export function measureFileCpuSPerGB(totalBytes: number, parent = tmpdir()): { write: number; read: number } {
  const dir = mkdtempSync(path.join(parent, 'swarmlab-bench-io-'));
  const file = path.join(dir, 'floor.bin');
  const block = Buffer.alloc(FILE_IO_BYTES, 0x5a);
  const count = Math.max(1, Math.floor(totalBytes / FILE_IO_BYTES));
  const bytes = count * FILE_IO_BYTES;
  try {
    const fd = openSync(file, 'w+');
    try {
      const write = cpuSecondsOf(() => {
        for (let i = 0; i < count; i++) writeAll(fd, block, i * FILE_IO_BYTES);
      });
      const read = cpuSecondsOf(() => {
        for (let i = 0; i < count; i++) readSync(fd, block, 0, FILE_IO_BYTES, i * FILE_IO_BYTES);
      });
      return { write: (write * BYTES_PER_GB) / bytes, read: (read * BYTES_PER_GB) / bytes };
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeAll(fd: number, block: Buffer, position: number): void {
  for (let done = 0; done < block.length;) done += writeSync(fd, block, done, block.length - done, position + done);
}

/** The floor from the measured steps: all cores busy with nothing else. */
export function cpuFloor(
  steps: { tcp: number; sha256: number; fileWrite: number; fileRead: number },
  cores: number,
): CpuFloorResult {
  const perGB = steps.tcp + SHA256_PASSES * steps.sha256 + steps.fileWrite + steps.fileRead;
  const pairMBps = (cores * BYTES_PER_GB) / perGB / BYTES_PER_MB;
  return {
    cores,
    cpuSPerGB: { ...steps, total: perGB },
    sha256Passes: SHA256_PASSES,
    pairMBps,
    // The demo's two leechers receive the file twice over on the same cores: each byte costs the same
    // steps whichever peer sends it.
    demoLeecherMBps: pairMBps / 2,
  };
}
