/**
 * Unlimited transfers against the ceiling: one seeder and one leecher (pair), then two seeders and two
 * leechers of the same file at once (the demo topology). Peers run with the default chunk size.
 *
 * The peers compute no whole-file digest while they are timed (every chunk is still checked against
 * the manifest, as a BitTorrent client checks pieces); each file is hashed on disk after the timing and
 * must match the publisher's, as the BitTorrent side by side checks libtorrent's files.
 */
import { procCpuSeconds, procStatusBytes } from './footprint';
import {
  checkOnDisk,
  createBenchSwarm,
  publishBenchFile,
  startCpuMeter,
  startPeers,
  stopBenchSwarm,
  timedDownload,
  transferResult,
} from './transfer';
import { BYTES_PER_GB, BYTES_PER_MB } from './types';
import type { CpuFloorResult, DemoResult, PairResult } from './types';

export interface TransferBenchInit {
  cliPath: string;
  fileBytes: number;
  limitMBps: number;
  /** The ceiling's CPU floor, if measured: each result's `ofCpuFloor` is against it. */
  cpuFloor: CpuFloorResult | null;
  env?: NodeJS.ProcessEnv;
}

export async function runPair(init: TransferBenchInit): Promise<PairResult> {
  const swarm = await createBenchSwarm(init);
  try {
    await startPeers(swarm, ['seed-1', 'leech-1']);
    const sha256 = await publishBenchFile(swarm, ['seed-1'], init.fileBytes);
    const leecherPid = swarm.peer('leech-1').process.pid;
    const meter = await startCpuMeter(swarm, ['seed-1', 'leech-1']);
    const cpuBeforeS = await procCpuSeconds(leecherPid);
    const timed = await timedDownload(swarm, 'leech-1', sha256, performance.now(), { peerDigest: false });
    const cpuAfterS = await procCpuSeconds(leecherPid);
    const cpuCores = await meter.stop();
    const download = (await checkOnDisk([timed], sha256))[0]!;
    // VmHWM is the process's peak RSS so far: read it before the process goes away.
    const peak = await procStatusBytes(leecherPid, 'VmHWM');
    return {
      ...transferResult(download, init.limitMBps, init.cpuFloor?.pairMBps ?? null),
      leecherPeakRssMB: peak === null ? null : peak / BYTES_PER_MB,
      cpuCores,
      leecherCpuSPerGB:
        cpuBeforeS === null || cpuAfterS === null ? null : (cpuAfterS - cpuBeforeS) / (download.bytes / BYTES_PER_GB),
    };
  } finally {
    await stopBenchSwarm(swarm);
  }
}

export async function runDemoTopology(init: TransferBenchInit): Promise<DemoResult> {
  const swarm = await createBenchSwarm(init);
  try {
    await startPeers(swarm, ['seed-1', 'seed-2', 'leech-1', 'leech-2']);
    const sha256 = await publishBenchFile(swarm, ['seed-1', 'seed-2'], init.fileBytes);
    const meter = await startCpuMeter(swarm, ['seed-1', 'seed-2', 'leech-1', 'leech-2']);
    const startedAtMs = performance.now();
    const timed = await Promise.all(
      ['leech-1', 'leech-2'].map((name) => timedDownload(swarm, name, sha256, startedAtMs, { peerDigest: false })),
    );
    const cpuCores = await meter.stop();
    const downloads = await checkOnDisk(timed, sha256);
    return {
      leechers: downloads.map((download) =>
        transferResult(download, init.limitMBps, init.cpuFloor?.demoLeecherMBps ?? null),
      ),
      cpuCores,
    };
  } finally {
    await stopBenchSwarm(swarm);
  }
}
