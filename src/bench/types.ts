/**
 * The shape of one bench run. `report.ts` turns it into the table and the single JSON line; every
 * rate is in MB/s with MB = 10^6 bytes, every time in seconds.
 */

export interface BenchInit {
  /** The bundled CLI (dist/swarmlab.js) that LocalSwarm spawns. */
  cliPath: string;
  /** Writes a V8 CPU profile of every peer process of the pair run into this directory. */
  profileDir?: string;
}

/** How much each section of a run moves: FULL_SIZES and QUICK_SIZES in run-bench.ts. */
export interface BenchSizes {
  tcpBytes: number;
  sha256Bytes: number;
  pairBytes: number;
  demoBytes: number;
  swarmNs: number[];
  swarmFileBytes: number;
  swarmUploadBytesPerS: number;
  trackerPeers: number;
  trackerFiles: number;
  trackerRequests: number;
  trackerConnections: number;
  trackerWindow: number;
  /** `--lab`: leechers per run, file and upload limit of the container runs. */
  labSwarmNs: number[];
  labSwarmFileBytes: number;
  labSwarmUploadBytesPerS: number;
  /** `--lab-tmpfs`: every lab peer's data directory on a tmpfs instead of the container's overlay. */
  labSwarmDataTmpfs?: boolean;
  /** `--chunk-kib K`: the chunk size of the container runs' file (default lab-swarm.ts LAB_CHUNK_BYTES). */
  labSwarmChunkBytes?: number;
}

export interface CeilingResult {
  tcpMBps: number;
  sha256MBps: number;
  limitMBps: number;
  tcpBytes: number;
  sha256Bytes: number;
  /** What the steps of a verified pair cost on all cores (cpu-floor.ts); null where /proc is missing. */
  cpuFloor: CpuFloorResult | null;
}

export interface CpuFloorResult {
  cores: number;
  /** CPU seconds per GB (10^9 bytes) of each step, and of a whole verified transfer (`total`). */
  cpuSPerGB: { tcp: number; sha256: number; fileWrite: number; fileRead: number; total: number };
  /** SHA-256 passes a received byte gets (`total` counts `sha256` this many times). */
  sha256Passes: number;
  /** A pair with every core busy doing those steps and nothing else. */
  pairMBps: number;
  /** Each of the demo topology's two leechers, likewise. */
  demoLeecherMBps: number;
}

export interface TransferResult {
  MBps: number;
  ratio: number;
  /** MBps over the CPU floor of its topology (ceiling.cpuFloor); null without one. */
  ofCpuFloor: number | null;
  bytes: number;
  /** Wall clock around the control `download` call, including the peer's final whole-file hash. */
  wallS: number;
  /** The scheduler's own time (`ms` in the download result), without the final whole-file hash. */
  schedulerS: number;
  verified: boolean;
}

export interface PairResult extends TransferResult {
  /** Peak RSS (VmHWM) of the leecher process, read when its download ended. */
  leecherPeakRssMB: number | null;
  /** CPU used per process during the download, in cores (1 = one core busy all the time). */
  cpuCores: Record<string, number | null>;
  /** The leecher process's CPU-seconds per GB (10^9 bytes) during the download; null where /proc is missing. */
  leecherCpuSPerGB: number | null;
}

export interface DemoResult {
  leechers: TransferResult[];
  /** CPU used per process while both downloads ran, in cores. */
  cpuCores: Record<string, number | null>;
}

/** What every swarm distribution run reports, with processes (swarm.ts) or containers (lab-swarm.ts). */
export interface DistributionResult {
  n: number;
  fileBytes: number;
  uploadBytesPerS: number;
  measuredS: number;
  /** The theoretical minimum max(F/u_s, N·F/(u_s + N·u)); `ratio` is measuredS over it. */
  minimumS: number;
  ratio: number;
  verified: boolean;
  /** What the seeder uploaded over one copy of the file: 1 is ideal, each extra copy delays the swarm. */
  seederCopies: number;
}

export interface SwarmRunResult extends DistributionResult {
  /** Bytes uploaded by everyone over N copies of the file: above 1 is duplicates (endgame). */
  receivedCopies: number;
  /** The leechers' upload over what they could have uploaded (N · u · measured time). */
  leecherUploadUse: number;
}

/** Swarm distribution with the peers as lab containers (`bench --lab`, src/bench/lab-swarm.ts). */
export interface LabSwarmRunResult extends DistributionResult {
  /** Leechers that received chunks from peers other than the seeder (N when the swarm spread). */
  leechersFromPeers: number;
  /** The whole lab run: images, network, containers, the scenario and the teardown. */
  runS: number;
  /** From the first container created to every peer ready, in s (null when the lab did not report it). */
  upS: number | null;
  /** The run's teardown, in s. */
  downS: number | null;
  /** The lab controller's average CPU during the distribution (its CPU time over the download step's wall time). */
  controllerCpuCores: number | null;
  /** Median memory of an idle peer container right after start-up (cgroup usage without page cache), MB. */
  peerIdleRssMB: number | null;
  /** The peers' data directories were tmpfs (`--lab-tmpfs`), not the overlay on the host's disk. */
  dataTmpfs: boolean;
  /** The file's chunk size, bytes. */
  chunkBytes: number;
}

export interface TrackerLoadResult {
  peers: number;
  files: number;
  /** LOCATE requests answered per second. */
  lookupsPerS: number;
  /** HAVE messages acknowledged per second. */
  havesPerS: number;
  /**
   * Tracker RSS growth per registered peer, from a fifth of the peers to all of them, each read after a
   * full GC (the marginal cost: one-offs such as V8's young generation are left out, see tracker-load.ts).
   * The peers register with a lease and hang up, as an idle BitTorrent peer between announces: the
   * tracker holds their records and no socket. Never below the live heap's growth (heapBytesPerPeer):
   * malloc giving back the closed connections' pages can shrink RSS meanwhile.
   */
  bytesPerPeer: number;
  /** The live JS heap's share of bytesPerPeer; the rest is native (malloc). */
  heapBytesPerPeer: number;
  /** The same for peers that keep their connection open (the default `swarmlab peer`): Node's socket is most of it. */
  bytesPerConnectedPeer: number;
  heapBytesPerConnectedPeer: number;
  registerS: number;
  errors: number;
  /** CPU of the tracker process during the LOCATE phase, in cores: near 1 means the tracker was the bound. */
  trackerCpuCores: number | null;
  /** CPU of the load generator (this process) during the LOCATE phase, in cores. */
  generatorCpuCores: number;
}

export interface FootprintResult {
  peerRssMB: number | null;
  images: Record<string, number | null> | null;
  note?: string;
}

export interface BittorrentResult {
  pairSpeedup: number | null;
  demoSpeedup: number | null;
  /** aria2c's MB/s in the same pair and demo topology (per leecher), when the tools are installed. */
  aria2PairMBps: number | null;
  aria2DemoMBps: number[] | null;
  note: string;
  /** libtorrent's MB/s in the same pair and demo topology (per leecher), when python3-libtorrent is installed. */
  libtorrentPairMBps: number | null;
  libtorrentDemoMBps: number[] | null;
  /** swarmlab's MB/s over libtorrent's in the same run (the demo: the mean leecher of each). */
  libtorrentPairSpeedup: number | null;
  libtorrentDemoSpeedup: number | null;
  /** CPU-seconds per GB of libtorrent's pair leecher, beside `pair.leecherCpuSPerGB`. */
  libtorrentLeecherCpuSPerGB: number | null;
  /** What libtorrent ran with, or why its fields are null. */
  libtorrentNote: string;
}

/** The warm-up before the transfers: a file of this size written and deleted (warm-up.ts). */
export interface WarmUpResult {
  bytes: number;
  seconds: number;
}

export interface BenchResult {
  quick: boolean;
  /** The page-cache warm-up every transfer section and anchor ran after; null when it did not run. */
  warmedUp: WarmUpResult | null;
  ceiling: CeilingResult;
  pair: PairResult;
  demo: DemoResult;
  swarm: SwarmRunResult[];
  tracker: TrackerLoadResult;
  footprint: FootprintResult;
  bittorrent: BittorrentResult;
  /** With --lab: why the lab rows are missing (no Docker, a failed run); null otherwise. */
  lab: { note: string } | null;
  /** With --lab: the swarm distribution rows measured with the peers as containers. */
  swarmLab?: LabSwarmRunResult[];
  totalS: number;
}

/** Bytes per MB in every rate this bench prints (decimal, like iperf and aria2). */
export const BYTES_PER_MB = 1e6;
export const BYTES_PER_GB = 1e9;
export const MIB = 1024 * 1024;
