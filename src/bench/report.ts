/**
 * Turns a bench run into a table for people and one JSON object for machines. Pure functions.
 * Targets are the ones in issue 4; a row's verdict compares the figure with its target.
 */
import { table } from '../cli/format';
import type { BenchResult, CpuFloorResult, DistributionResult, TrackerLoadResult, TransferResult } from './types';

export const TARGETS = {
  pairRatio: 0.6,
  demoRatio: 0.3,
  swarmRatio: 1.15,
  lookupsPerS: 50_000,
  bytesPerPeer: 1024,
  peerRssMB: 120,
  bittorrentSpeedup: 4,
  libtorrentSpeedup: 1.5,
  // The lab at 100 peers on 2 cores (`bench --lab-leechers 99`): its distribution, and its own cost.
  labRatio: 1.3,
  labUpS: 60,
  labDownS: 20,
  labControllerCpuCores: 0.2,
  labPeerIdleRssMB: 30,
} as const;

/** Rounds to 3 decimals so the JSON stays readable; NaN and Infinity become null. */
function round(value: number | null | undefined): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  return Math.round(value * 1000) / 1000;
}

function roundAll(values: Record<string, number | null>): Record<string, number | null> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, round(value)]));
}

/** LOCATEs per second of tracker CPU: what a tracker with a whole core to itself would answer. */
export function lookupsPerTrackerCpuS(tracker: TrackerLoadResult): number | null {
  return tracker.trackerCpuCores ? tracker.lookupsPerS / tracker.trackerCpuCores : null;
}

/** The one JSON object: the shape of issue 4, plus detail fields. */
/** The fields every swarm distribution row shares, rounded for the JSON line. */
function distributionJson(s: DistributionResult): Record<string, unknown> {
  return {
    n: s.n,
    measuredS: round(s.measuredS),
    minimumS: round(s.minimumS),
    ratio: round(s.ratio),
    fileBytes: s.fileBytes,
    uploadBytesPerS: s.uploadBytesPerS,
    verified: s.verified,
    seederCopies: round(s.seederCopies),
  };
}

export function benchJson(result: BenchResult): Record<string, unknown> {
  const { ceiling, pair, demo, swarm, tracker, footprint, bittorrent } = result;
  return {
    warmedUp: result.warmedUp && { bytes: result.warmedUp.bytes, seconds: round(result.warmedUp.seconds) },
    ceiling: {
      tcpMBps: round(ceiling.tcpMBps),
      sha256MBps: round(ceiling.sha256MBps),
      limitMBps: round(ceiling.limitMBps),
      tcpBytes: ceiling.tcpBytes,
      sha256Bytes: ceiling.sha256Bytes,
      cpuFloor: ceiling.cpuFloor && {
        cores: ceiling.cpuFloor.cores,
        cpuSPerGB: roundAll(ceiling.cpuFloor.cpuSPerGB),
        sha256Passes: ceiling.cpuFloor.sha256Passes,
        pairMBps: round(ceiling.cpuFloor.pairMBps),
        demoLeecherMBps: round(ceiling.cpuFloor.demoLeecherMBps),
      },
    },
    pair: {
      MBps: round(pair.MBps),
      ratio: round(pair.ratio),
      ofCpuFloor: round(pair.ofCpuFloor),
      bytes: pair.bytes,
      wallS: round(pair.wallS),
      schedulerS: round(pair.schedulerS),
      verified: pair.verified,
      cpuCores: roundAll(pair.cpuCores),
      leecherCpuSPerGB: round(pair.leecherCpuSPerGB),
    },
    demo: {
      leechers: demo.leechers.map((l) => ({
        MBps: round(l.MBps),
        ratio: round(l.ratio),
        ofCpuFloor: round(l.ofCpuFloor),
        bytes: l.bytes,
        wallS: round(l.wallS),
        schedulerS: round(l.schedulerS),
        verified: l.verified,
      })),
      cpuCores: roundAll(demo.cpuCores),
    },
    swarm: swarm.map((s) => ({
      ...distributionJson(s),
      receivedCopies: round(s.receivedCopies),
      leecherUploadUse: round(s.leecherUploadUse),
    })),
    tracker: {
      lookupsPerS: round(tracker.lookupsPerS),
      bytesPerPeer: round(tracker.bytesPerPeer),
      heapBytesPerPeer: round(tracker.heapBytesPerPeer),
      bytesPerConnectedPeer: round(tracker.bytesPerConnectedPeer),
      heapBytesPerConnectedPeer: round(tracker.heapBytesPerConnectedPeer),
      havesPerS: round(tracker.havesPerS),
      peers: tracker.peers,
      files: tracker.files,
      registerS: round(tracker.registerS),
      errors: tracker.errors,
      trackerCpuCores: round(tracker.trackerCpuCores),
      lookupsPerTrackerCpuS: round(lookupsPerTrackerCpuS(tracker)),
      generatorCpuCores: round(tracker.generatorCpuCores),
    },
    footprint: {
      peerRssMB: round(footprint.peerRssMB),
      images: footprint.images,
      ...(footprint.note ? { note: footprint.note } : {}),
    },
    bittorrent: {
      pairSpeedup: round(bittorrent.pairSpeedup),
      demoSpeedup: round(bittorrent.demoSpeedup),
      aria2PairMBps: round(bittorrent.aria2PairMBps),
      aria2DemoMBps: bittorrent.aria2DemoMBps?.map((value) => round(value)) ?? null,
      note: bittorrent.note,
      libtorrentPairMBps: round(bittorrent.libtorrentPairMBps),
      libtorrentDemoMBps: bittorrent.libtorrentDemoMBps?.map((value) => round(value)) ?? null,
      libtorrentPairSpeedup: round(bittorrent.libtorrentPairSpeedup),
      libtorrentDemoSpeedup: round(bittorrent.libtorrentDemoSpeedup),
      libtorrentLeecherCpuSPerGB: round(bittorrent.libtorrentLeecherCpuSPerGB),
      libtorrentNote: bittorrent.libtorrentNote,
    },
    lab: result.lab,
    swarmLab:
      result.swarmLab?.map((s) => ({
        ...distributionJson(s),
        leechersFromPeers: s.leechersFromPeers,
        runS: round(s.runS),
        upS: round(s.upS),
        downS: round(s.downS),
        controllerCpuCores: round(s.controllerCpuCores),
        peerIdleRssMB: round(s.peerIdleRssMB),
      })) ?? null,
    quick: result.quick,
    totalS: round(result.totalS),
  };
}

function fixed(value: number | null, digits = 1): string {
  return value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

function verdict(ok: boolean | null): string {
  return ok === null ? '-' : ok ? 'met' : 'MISSED';
}

function cpuSummary(cores: Record<string, number | null>): string {
  return Object.entries(cores)
    .map(([name, value]) => `${name} ${fixed(value, 2)}`)
    .join(', ');
}

/** "0.19 of limit (0.55 of CPU floor)": the target is against the limit, the floor says what this machine allows. */
function transferRatio(transfer: TransferResult): string {
  const floor = transfer.ofCpuFloor === null ? '' : ` (${fixed(transfer.ofCpuFloor, 2)} of CPU floor)`;
  return `${fixed(transfer.ratio, 2)} of limit${floor}`;
}

function cpuFloorRow(floor: CpuFloorResult): Array<string | number> {
  const { tcp, sha256, fileWrite, fileRead } = floor.cpuSPerGB;
  return [
    'ceiling',
    `CPU floor on ${floor.cores} cores: TCP ${fixed(tcp, 2)} + SHA-256 ${floor.sha256Passes} x ${fixed(sha256, 2)} + write ${fixed(fileWrite, 2)} + read ${fixed(fileRead, 2)} CPU-s/GB`,
    `${fixed(floor.pairMBps)} MB/s pair, ${fixed(floor.demoLeecherMBps)} per demo leecher`,
    '',
    '',
  ];
}

function mib(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MiB`;
}

/** Both speed-ups against the one target; '-' when libtorrent did not run. */
function libtorrentVerdict(pairSpeedup: number | null, demoSpeedup: number | null): string {
  if (pairSpeedup === null || demoSpeedup === null) return '-';
  const met = pairSpeedup >= TARGETS.libtorrentSpeedup && demoSpeedup >= TARGETS.libtorrentSpeedup;
  return `>= ${TARGETS.libtorrentSpeedup} ${verdict(met)}`;
}

/** A `swarm lab` row of the lab's own cost: at most `target`. */
function labCostRow(n: number, what: string, value: number | null, unit: string, target: number, digits = 1): string[] {
  return [
    'swarm lab',
    `N = ${n}: ${what}`,
    value === null ? '-' : `${fixed(value, digits)} ${unit}`,
    '',
    value === null ? '' : `<= ${target} ${verdict(value <= target)}`,
  ];
}

/** The table printed to stdout. MB = 10^6 bytes. */
export function benchTable(result: BenchResult): string {
  const { ceiling, pair, demo, swarm, tracker, footprint, bittorrent } = result;
  const rows: Array<Array<string | number>> = [
    [
      'warm-up',
      result.warmedUp ? `wrote and deleted ${mib(result.warmedUp.bytes)} before the transfers` : 'not run',
      result.warmedUp ? `${fixed(result.warmedUp.seconds, 2)} s` : '-',
      '',
      '',
    ],
    ['ceiling', `raw TCP, 1 MiB writes (${mib(ceiling.tcpBytes)})`, `${fixed(ceiling.tcpMBps)} MB/s`, '', ''],
    ['ceiling', 'SHA-256, one core', `${fixed(ceiling.sha256MBps)} MB/s`, '', ''],
    ['ceiling', 'limit = min(tcp, sha256)', `${fixed(ceiling.limitMBps)} MB/s`, '', ''],
    ...(ceiling.cpuFloor ? [cpuFloorRow(ceiling.cpuFloor)] : []),
    [
      'pair',
      `1 seeder -> 1 leecher, ${mib(pair.bytes)}${pair.verified ? '' : ' NOT VERIFIED'}`,
      `${fixed(pair.MBps)} MB/s (${fixed(pair.wallS, 2)} s)`,
      transferRatio(pair),
      `>= ${TARGETS.pairRatio} ${verdict(pair.ratio >= TARGETS.pairRatio)}`,
    ],
    ['pair', 'CPU during the download, in cores', cpuSummary(pair.cpuCores), '', ''],
    [
      'pair',
      'leecher CPU-s per GB (libtorrent leecher in the same run)',
      `${fixed(pair.leecherCpuSPerGB, 2)} (libtorrent ${fixed(bittorrent.libtorrentLeecherCpuSPerGB, 2)})`,
      '',
      pair.leecherCpuSPerGB === null || bittorrent.libtorrentLeecherCpuSPerGB === null
        ? '-'
        : `<= libtorrent ${verdict(pair.leecherCpuSPerGB <= bittorrent.libtorrentLeecherCpuSPerGB)}`,
    ],
    ...demo.leechers.map((l, i) => [
      'demo',
      `2 seeders, 2 leechers: leecher ${i + 1}${l.verified ? '' : ' NOT VERIFIED'}`,
      `${fixed(l.MBps)} MB/s (${fixed(l.wallS, 2)} s)`,
      transferRatio(l),
      `>= ${TARGETS.demoRatio} ${verdict(l.ratio >= TARGETS.demoRatio)}`,
    ]),
    ['demo', 'CPU while both downloads ran, in cores', cpuSummary(demo.cpuCores), '', ''],
    ...swarm.map((s) => [
      'swarm',
      `1 seeder + ${s.n} leechers, ${mib(s.fileBytes)}, u = ${mib(s.uploadBytesPerS)}/s${s.verified ? '' : ' NOT VERIFIED'}`,
      `${fixed(s.measuredS, 2)} s (min ${fixed(s.minimumS, 2)} s)`,
      `${fixed(s.ratio, 2)} x minimum`,
      `<= ${TARGETS.swarmRatio} ${verdict(s.ratio <= TARGETS.swarmRatio)}`,
    ]),
    ...swarm.map((s) => [
      'swarm',
      `N = ${s.n}: copies of the file the seeder uploaded (1 is ideal)`,
      fixed(s.seederCopies, 2),
      '',
      '',
    ]),
    ...(result.swarmLab ?? []).map((s) => [
      'swarm lab',
      `containers: 1 seeder + ${s.n} leechers, ${mib(s.fileBytes)}, u = ${fixed(s.uploadBytesPerS / 1024, 0)} KiB/s${s.verified ? '' : ' NOT VERIFIED'}`,
      `${fixed(s.measuredS, 2)} s (min ${fixed(s.minimumS, 2)} s)`,
      `${fixed(s.ratio, 2)} x minimum`,
      `<= ${TARGETS.labRatio} ${verdict(s.ratio <= TARGETS.labRatio)}`,
    ]),
    ...(result.swarmLab ?? []).map((s) => [
      'swarm lab',
      `N = ${s.n}: seeder copies; leechers fed by other peers; whole lab run`,
      `${fixed(s.seederCopies, 2)}; ${s.leechersFromPeers}/${s.n}; ${fixed(s.runS, 0)} s`,
      '',
      '',
    ]),
    ...(result.swarmLab ?? []).flatMap((s) => [
      labCostRow(s.n, 'up: first container to every peer ready', s.upS, 's', TARGETS.labUpS),
      labCostRow(s.n, 'down: teardown', s.downS, 's', TARGETS.labDownS),
      labCostRow(
        s.n,
        'lab controller CPU during the distribution',
        s.controllerCpuCores,
        'cores',
        TARGETS.labControllerCpuCores,
        2,
      ),
      labCostRow(s.n, 'idle peer container memory (median)', s.peerIdleRssMB, 'MB', TARGETS.labPeerIdleRssMB),
    ]),
    [
      'tracker',
      `LOCATE, ${tracker.peers} peers, ${tracker.files} files`,
      `${fixed(tracker.lookupsPerS, 0)} /s`,
      '',
      `>= ${TARGETS.lookupsPerS} ${verdict(tracker.lookupsPerS >= TARGETS.lookupsPerS)}`,
    ],
    [
      'tracker',
      'CPU during LOCATE, in cores',
      `tracker ${fixed(tracker.trackerCpuCores, 2)}, load generator ${fixed(tracker.generatorCpuCores, 2)}`,
      `${fixed(lookupsPerTrackerCpuS(tracker), 0)} per tracker CPU-s`,
      '',
    ],
    ['tracker', 'HAVE', `${fixed(tracker.havesPerS, 0)} /s`, '', ''],
    [
      'tracker',
      `memory per registered peer, leased (no socket)${tracker.errors > 0 ? ` (${tracker.errors} errors)` : ''}`,
      `${fixed(tracker.bytesPerPeer, 0)} B`,
      `heap ${fixed(tracker.heapBytesPerPeer, 0)} B`,
      `<= ${TARGETS.bytesPerPeer} ${verdict(Number.isFinite(tracker.bytesPerPeer) ? tracker.bytesPerPeer <= TARGETS.bytesPerPeer : null)}`,
    ],
    [
      'tracker',
      'memory per registered peer, connection open',
      `${fixed(tracker.bytesPerConnectedPeer, 0)} B`,
      `heap ${fixed(tracker.heapBytesPerConnectedPeer, 0)} B`,
      '',
    ],
    [
      'footprint',
      `leecher peak RSS (${mib(pair.bytes)} download)`,
      `${fixed(footprint.peerRssMB)} MB`,
      '',
      `<= ${TARGETS.peerRssMB} ${verdict(footprint.peerRssMB === null ? null : footprint.peerRssMB <= TARGETS.peerRssMB)}`,
    ],
    ...Object.entries(footprint.images ?? {}).map(([image, size]) => [
      'footprint',
      `image ${image}`,
      size === null ? 'not built' : `${fixed(size / 1e6)} MB`,
      '',
      '',
    ]),
    [
      'bittorrent',
      'pair / demo speed-up over aria2',
      `${fixed(bittorrent.pairSpeedup)} / ${fixed(bittorrent.demoSpeedup)}`,
      '',
      bittorrent.pairSpeedup === null
        ? '-'
        : `>= ${TARGETS.bittorrentSpeedup} ${verdict(bittorrent.pairSpeedup >= TARGETS.bittorrentSpeedup)}`,
    ],
    [
      'bittorrent',
      'libtorrent pair / demo per leecher',
      `${fixed(bittorrent.libtorrentPairMBps)} / ${bittorrent.libtorrentDemoMBps?.map((v) => fixed(v)).join(', ') ?? '-'} MB/s`,
      '',
      '',
    ],
    [
      'bittorrent',
      'pair / demo speed-up over libtorrent',
      `${fixed(bittorrent.libtorrentPairSpeedup, 2)} / ${fixed(bittorrent.libtorrentDemoSpeedup, 2)}`,
      '',
      libtorrentVerdict(bittorrent.libtorrentPairSpeedup, bittorrent.libtorrentDemoSpeedup),
    ],
  ];
  const notes = [
    footprint.note,
    `bittorrent: ${bittorrent.note}`,
    `libtorrent: ${bittorrent.libtorrentNote}`,
    result.lab?.note,
  ].filter((note): note is string => note !== undefined);
  return [
    table(['BENCH', 'WHAT', 'RESULT', 'RATIO', 'TARGET'], rows),
    '',
    ...notes.map((note) => `note: ${note}`),
    `MB = 10^6 bytes; total ${fixed(result.totalS)} s${result.quick ? ' (--quick)' : ''}`,
  ].join('\n');
}
