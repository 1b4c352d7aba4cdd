/**
 * Issue 4: a rate-limited swarm distributes a file with the seeder sending it about once. One seeder
 * and four leechers, every upload limited to the same rate: the seeder refuses chunks it already
 * gave another leecher while its upload is busy (super-seeding, REJECT elsewhere), and leechers ask
 * for duplicates only in their endgame. Asserted on bytes counted by the peers (status
 * `uploadedBytes`), never on time: before this policy the seeder sent ~1.5 copies of this file and the
 * swarm uploaded ~1.3 copies per leecher; now about 1.05 and 1.0.
 */
import path from 'node:path';
import { BENCH_FILE, publishBenchFile, startPeers, timedDownload } from '../../src/bench/transfer';
import { hashFile } from '../../src/shared/files';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { createSwarm, dumpLogs } from '../helpers/local';

jest.setTimeout(90_000);

const LEECHERS = ['leech-1', 'leech-2', 'leech-3', 'leech-4'];
const CHUNK = 64 * 1024;
const FILE_BYTES = 48 * CHUNK;
const UPLOAD_BYTES_PER_S = 1024 * 1024;

async function uploaded(swarm: LocalSwarm, name: string): Promise<number> {
  return Number((await swarm.control(name, 'status'))['uploadedBytes']);
}

describe('swarm distribution (issue 4)', () => {
  let swarm: LocalSwarm;
  let logs: string[];

  beforeAll(async () => {
    ({ swarm, logs } = await createSwarm());
    await swarm.startTracker();
  });

  afterAll(async () => {
    dumpLogs(logs);
    await swarm.stop();
  });

  test('1 seeder + 4 leechers at the same upload rate: every copy verifies, the seeder sends the file about once', async () => {
    await startPeers(swarm, ['seed-1', ...LEECHERS], { uploadRate: UPLOAD_BYTES_PER_S, chunkSize: CHUNK });
    const sha256 = await publishBenchFile(swarm, ['seed-1'], FILE_BYTES);
    const downloads = await Promise.all(LEECHERS.map((name) => timedDownload(swarm, name, sha256)));
    expect(downloads.map((download) => download.verified)).toEqual(LEECHERS.map(() => true));
    // The digest a download reports is computed from the chunks in memory: the bytes on disk must match too.
    const onDisk = await Promise.all(LEECHERS.map((name) => hashFile(path.join(swarm.peer(name).dir, BENCH_FILE))));
    expect(onDisk).toEqual(LEECHERS.map(() => sha256));

    const seederBytes = await uploaded(swarm, 'seed-1');
    const leecherBytes = (await Promise.all(LEECHERS.map((name) => uploaded(swarm, name)))).reduce((a, b) => a + b, 0);
    // Each leecher got every byte once from somebody.
    expect(seederBytes + leecherBytes).toBeGreaterThanOrEqual(LEECHERS.length * FILE_BYTES);
    // The seeder sent each chunk about once (it may help at the end, once every chunk is out)...
    expect(seederBytes / FILE_BYTES).toBeLessThan(1.3);
    // ...and the leechers exchanged the rest with few duplicates.
    expect((seederBytes + leecherBytes) / (LEECHERS.length * FILE_BYTES)).toBeLessThan(1.15);
  });
});
