/**
 * Swarm distribution against its theoretical bound: one seeder and N leechers, every upload limited to
 * the same rate u with swarmlab's own limiter, downloads unlimited. With server upload u_s, the
 * fastest any scheme can give F to N peers is max(F/u_s, N·F/(u_s + N·u)) (the server must send every
 * byte once; the swarm as a whole must upload N·F).
 */
import type { LocalSwarm } from '../cli/local-swarm';
import { createBenchSwarm, publishBenchFile, startPeers, stopBenchSwarm, timedDownload } from './transfer';
import type { DistributionResult, SwarmRunResult } from './types';

const SEEDER = 'seed-1';

export interface SwarmBenchInit {
  cliPath: string;
  n: number;
  fileBytes: number;
  uploadBytesPerS: number;
  env?: NodeJS.ProcessEnv;
}

/** Seconds; `seederUploadBytesPerS` is u_s, `peerUploadBytesPerS` is every leecher's u. */
export function minimumDistributionS(
  fileBytes: number,
  n: number,
  seederUploadBytesPerS: number,
  peerUploadBytesPerS: number,
): number {
  return Math.max(
    fileBytes / seederUploadBytesPerS,
    (n * fileBytes) / (seederUploadBytesPerS + n * peerUploadBytesPerS),
  );
}

/** The fields of a run that follow from its size and its measured time. */
export function distributionTiming(
  init: { n: number; fileBytes: number; uploadBytesPerS: number },
  measuredS: number,
): Pick<DistributionResult, 'n' | 'fileBytes' | 'uploadBytesPerS' | 'measuredS' | 'minimumS' | 'ratio'> {
  const minimumS = minimumDistributionS(init.fileBytes, init.n, init.uploadBytesPerS, init.uploadBytesPerS);
  return {
    n: init.n,
    fileBytes: init.fileBytes,
    uploadBytesPerS: init.uploadBytesPerS,
    measuredS,
    minimumS,
    ratio: measuredS / minimumS,
  };
}

export async function runSwarmDistribution(init: SwarmBenchInit): Promise<SwarmRunResult> {
  const swarm = await createBenchSwarm(init);
  try {
    const leechers = Array.from({ length: init.n }, (_, i) => `leech-${i + 1}`);
    await startPeers(swarm, [SEEDER, ...leechers], { uploadRate: init.uploadBytesPerS });
    const sha256 = await publishBenchFile(swarm, [SEEDER], init.fileBytes);
    const startedAtMs = performance.now();
    const downloads = await Promise.all(leechers.map((name) => timedDownload(swarm, name, sha256, startedAtMs)));
    const measuredS = Math.max(...downloads.map((download) => download.wallS));
    // The F/u_s bound assumes the seeder sends each chunk once; every extra copy it sends costs time.
    const uploaded = await Promise.all([SEEDER, ...leechers].map((name) => uploadedBytes(swarm, name)));
    const seederBytes = uploaded[0] ?? 0;
    const leecherBytes = uploaded.slice(1).reduce((sum, bytes) => sum + bytes, 0);
    return {
      ...distributionTiming(init, measuredS),
      verified: downloads.every((download) => download.verified),
      seederCopies: seederBytes / init.fileBytes,
      // Every byte the leechers received beyond one copy each is waste (endgame duplicates).
      receivedCopies: (seederBytes + leecherBytes) / (init.n * init.fileBytes),
      leecherUploadUse: leecherBytes / (init.n * init.uploadBytesPerS * measuredS),
    };
  } finally {
    await stopBenchSwarm(swarm);
  }
}

/** Chunk bytes a peer has served since it started (duplicates included). */
async function uploadedBytes(swarm: LocalSwarm, name: string): Promise<number> {
  const status = await swarm.control(name, 'status');
  return Number(status['uploadedBytes'] ?? Number.NaN);
}
