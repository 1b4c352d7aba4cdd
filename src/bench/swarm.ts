/**
 * Swarm distribution against its theoretical bound: one seeder and N leechers, every upload limited to
 * the same rate u with swarmlab's own limiter, downloads unlimited. With server upload u_s, the
 * fastest any scheme can give F to N peers is max(F/u_s, N·F/(u_s + N·u)) (the server must send every
 * byte once; the swarm as a whole must upload N·F).
 */
import { createBenchSwarm, publishBenchFile, startPeers, timedDownload } from './transfer';
import type { SwarmRunResult } from './types';

export interface SwarmBenchInit {
  cliPath: string;
  n: number;
  fileBytes: number;
  uploadBytesPerS: number;
  env?: NodeJS.ProcessEnv;
}

/** Seconds; `seederUploadBytesPerS` is u_s, `peerUploadBytesPerS` is every leecher's u. */
export function minimumDistributionS(fileBytes: number, n: number, seederUploadBytesPerS: number, peerUploadBytesPerS: number): number {
  return Math.max(fileBytes / seederUploadBytesPerS, (n * fileBytes) / (seederUploadBytesPerS + n * peerUploadBytesPerS));
}

export async function runSwarmDistribution(init: SwarmBenchInit): Promise<SwarmRunResult> {
  const swarm = await createBenchSwarm(init);
  try {
    const leechers = Array.from({ length: init.n }, (_, i) => `leech-${i + 1}`);
    await startPeers(swarm, ['seed-1', ...leechers], { uploadRate: init.uploadBytesPerS });
    const sha256 = await publishBenchFile(swarm, ['seed-1'], init.fileBytes);
    const startedAtMs = performance.now();
    const downloads = await Promise.all(leechers.map((name) => timedDownload(swarm, name, sha256, startedAtMs)));
    const measuredS = Math.max(...downloads.map((download) => download.wallS));
    const minimumS = minimumDistributionS(init.fileBytes, init.n, init.uploadBytesPerS, init.uploadBytesPerS);
    return {
      n: init.n,
      fileBytes: init.fileBytes,
      uploadBytesPerS: init.uploadBytesPerS,
      measuredS,
      minimumS,
      ratio: measuredS / minimumS,
      verified: downloads.every((download) => download.verified),
    };
  } finally {
    await swarm.stop();
  }
}
