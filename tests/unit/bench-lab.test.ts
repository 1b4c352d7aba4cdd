/** The pure parts of `swarmlab bench --lab`: the scenario it hands the lab, and its row from the lab's report. */
import { validateScenario } from '../../lab/scenario/load';
import {
  LAB_BENCH_FILE,
  LAB_CHUNK_BYTES,
  LAB_SEEDER,
  LAB_TMPFS_HEADROOM_BYTES,
  labBundlePath,
  labSwarmResult,
  labSwarmScenario,
} from '../../src/bench/lab-swarm';
import { benchJson, benchTable } from '../../src/bench/report';
import {
  FULL_SIZES,
  MAX_LAB_LEECHERS,
  QUICK_SIZES,
  labLeechersSizes,
  parseLabLeechers,
} from '../../src/bench/run-bench';
import { minimumDistributionS } from '../../src/bench/swarm';
import type { BenchResult } from '../../src/bench/types';

const MIB = 1024 * 1024;
const init = { cliPath: '/x/dist/swarmlab.js', n: 3, fileBytes: 4 * MIB, uploadBytesPerS: MIB };

function report(overrides: Partial<Parameters<typeof labSwarmResult>[1]> = {}): Parameters<typeof labSwarmResult>[1] {
  return {
    ok: true,
    steps: [
      { action: 'rate', startedAtMs: 0, ok: true },
      { action: 'generate', startedAtMs: 1_000, ok: true },
      { action: 'publish', startedAtMs: 2_000, ok: true },
      { action: 'download', startedAtMs: 3_000, ok: true, ms: 8_500, cpuMs: 850 },
    ],
    downloads: [
      {
        peer: 'peer-2',
        bytes: 4 * MIB,
        verified: true,
        chunksBySource: { 'peer-1': 10, 'peer-3': 6 },
        finishedAtMs: 9_000,
      },
      {
        peer: 'peer-3',
        bytes: 4 * MIB,
        verified: true,
        chunksBySource: { 'peer-1': 8, 'peer-2': 8 },
        finishedAtMs: 11_000,
      },
      { peer: 'peer-4', bytes: 4 * MIB, verified: true, chunksBySource: { 'peer-1': 16 }, finishedAtMs: 10_000 },
    ],
    costs: { upS: 42.5, downS: 7.25, peerIdleRssMB: 28.4 },
    ...overrides,
  };
}

describe('labSwarmScenario', () => {
  it('is a valid lab scenario: N + 1 peers, every upload at u, the seeder publishes, the N others download', () => {
    const scenario = labSwarmScenario({ ...init, name: 'benchlab-n3-1' });
    expect(() => validateScenario(scenario, 'bench')).not.toThrow();
    expect(scenario['peers']).toBe(4);
    const steps = scenario['steps'] as Record<string, unknown>[];
    expect(steps[0]).toMatchObject({ action: 'rate', peers: 'all', upload: MIB });
    expect(steps[1]).toMatchObject({ action: 'generate', peer: LAB_SEEDER, file: LAB_BENCH_FILE, size: 4 * MIB });
    expect(steps[3]).toMatchObject({ action: 'download', peers: ['peer-2', 'peer-3', 'peer-4'] });
  });

  it("puts every peer's data directory on a tmpfs that holds the file when asked (dataTmpfs)", () => {
    const scenario = labSwarmScenario({ ...init, name: 'benchlab-n3-2', dataTmpfs: true });
    const valid = validateScenario(scenario, 'bench');
    expect(valid.peers).toEqual(
      ['peer-1', 'peer-2', 'peer-3', 'peer-4'].map((name) => ({
        name,
        dataTmpfsBytes: 4 * MIB + LAB_TMPFS_HEADROOM_BYTES,
      })),
    );
    // The 100-peer run fits the schema's tmpfs bound too.
    const big = labSwarmScenario({ ...init, n: 99, fileBytes: 64 * MIB, name: 'x', dataTmpfs: true });
    expect(() => validateScenario(big, 'bench')).not.toThrow();
  });
});

describe('labSwarmResult', () => {
  it('measures from the download step to the last answer, against max(F/u_s, N·F/(u_s + N·u))', () => {
    const row = labSwarmResult(init, report(), 120);
    expect(row.measuredS).toBe(8);
    expect(row.minimumS).toBe(4); // F/u_s = 4 s > 3·4/(1 + 3) = 3 s
    expect(row.ratio).toBe(2);
    expect(row.verified).toBe(true);
    expect(row.seederCopies).toBe(34 / 16); // 4 MiB in 256 KiB chunks: 16 a copy
    expect(row.leechersFromPeers).toBe(2);
    expect(row.runS).toBe(120);
  });

  it("takes the lab's own costs from its report: up, down, idle peer memory, controller CPU over the download step", () => {
    const row = labSwarmResult(init, report(), 120);
    expect(row.upS).toBe(42.5);
    expect(row.downS).toBe(7.25);
    expect(row.peerIdleRssMB).toBe(28.4);
    expect(row.controllerCpuCores).toBeCloseTo(0.1, 10); // 850 CPU-ms over 8,500 ms
  });

  it('says in each row whether the peers wrote to tmpfs (--lab-tmpfs) or to the host disk', () => {
    expect(labSwarmResult(init, report(), 1).dataTmpfs).toBe(false);
    expect(labSwarmResult({ ...init, dataTmpfs: true }, report(), 1).dataTmpfs).toBe(true);
  });

  it('publishes the file in the chunk size asked for (--chunk-kib), and says it in each row', () => {
    expect(labSwarmScenario({ ...init, name: 'b' })).toMatchObject({ chunkSize: LAB_CHUNK_BYTES });
    expect(labSwarmScenario({ ...init, name: 'b', chunkBytes: 256 * 1024 })).toMatchObject({ chunkSize: 256 * 1024 });
    expect(labSwarmResult(init, report(), 1).chunkBytes).toBe(LAB_CHUNK_BYTES);
    expect(labSwarmResult({ ...init, chunkBytes: 256 * 1024 }, report(), 1).chunkBytes).toBe(256 * 1024);
  });

  it('leaves the costs null when the lab did not report them', () => {
    const steps = report().steps.map((s) => ({ action: s.action, startedAtMs: s.startedAtMs, ok: s.ok }));
    const bare = { ...report(), steps };
    delete bare.costs;
    const row = labSwarmResult(init, bare, 1);
    expect(row).toMatchObject({ upS: null, downS: null, peerIdleRssMB: null, controllerCpuCores: null });
  });

  it('is not verified when a download did not verify or is short', () => {
    const downloads = report().downloads.map((d, i) => (i === 0 ? { ...d, bytes: MIB } : d));
    expect(labSwarmResult(init, report({ downloads }), 1).verified).toBe(false);
  });

  it('throws with the lab error when the run failed, and when downloads are missing', () => {
    const failed = report({ ok: false, error: { code: 'ERR_LAB_TIMEOUT', message: 'scenario did not finish' } });
    expect(() => labSwarmResult(init, failed, 1)).toThrow(expect.objectContaining({ code: 'ERR_BENCH_LAB' }));
    expect(() => labSwarmResult(init, report({ downloads: report().downloads.slice(1) }), 1)).toThrow(
      expect.objectContaining({ code: 'ERR_BENCH_LAB' }),
    );
  });

  it('finds the lab bundle beside the CLI bundle', () => {
    expect(labBundlePath('/repo/dist/swarmlab.js')).toBe('/repo/dist/lab.js');
  });
});

describe('benchJson swarmLab', () => {
  it('adds rows shaped like the swarm rows, and null without --lab', () => {
    const row = labSwarmResult(init, report(), 120);
    const base = { lab: null } as unknown as BenchResult;
    const stub = {
      ...base,
      ceiling: { tcpMBps: 1, sha256MBps: 1, limitMBps: 1, tcpBytes: 1, sha256Bytes: 1, cpuFloor: null },
      pair: {
        MBps: 1,
        ratio: 1,
        ofCpuFloor: null,
        bytes: 1,
        wallS: 1,
        schedulerS: 1,
        verified: true,
        leecherPeakRssMB: null,
        cpuCores: {},
      },
      demo: { leechers: [], cpuCores: {} },
      swarm: [],
      tracker: {
        peers: 1,
        files: 1,
        lookupsPerS: 1,
        havesPerS: 1,
        bytesPerPeer: 1,
        registerS: 1,
        errors: 0,
        trackerCpuCores: null,
        generatorCpuCores: 1,
      },
      footprint: { peerRssMB: null, images: null },
      bittorrent: { pairSpeedup: null, demoSpeedup: null, note: '' },
      quick: true,
      totalS: 1,
    } as unknown as BenchResult;
    expect(benchJson(stub)['swarmLab']).toBeNull();
    const json = benchJson({ ...stub, swarmLab: [row] });
    expect(json['swarmLab']).toEqual([
      expect.objectContaining({
        n: 3,
        measuredS: 8,
        minimumS: 4,
        ratio: 2,
        verified: true,
        upS: 42.5,
        downS: 7.25,
        controllerCpuCores: 0.1,
        peerIdleRssMB: 28.4,
      }),
    ]);
    // The contract's fields, every one present in each row.
    const fields = [
      'upS',
      'measuredS',
      'minimumS',
      'ratio',
      'downS',
      'controllerCpuCores',
      'peerIdleRssMB',
      'verified',
    ];
    for (const field of fields) expect(Object.keys((json['swarmLab'] as object[])[0]!)).toContain(field);
    const table = benchTable({ ...stub, swarmLab: [row] });
    expect(table).toMatch(/lab controller CPU during the distribution +0\.10 cores +<= 0\.2 met/);
    // The lab's distribution is held to the lab's target (1.3), not the local swarm's (1.15).
    expect(table).toMatch(/2\.00 x minimum +<= 1\.3 MISSED/);
    expect(benchTable({ ...stub, swarmLab: [{ ...row, ratio: 1.25 }] })).toMatch(/1\.25 x minimum +<= 1\.3 met/);
  });
});

describe('--lab-leechers', () => {
  it('runs the lab at scale: 64 MiB in 512 KiB chunks at 512 KiB/s per upload (a 128 s minimum for 99), the other sections unchanged', () => {
    for (const sizes of [FULL_SIZES, QUICK_SIZES]) {
      const scaled = labLeechersSizes(sizes, 99);
      expect(scaled).toEqual({
        ...sizes,
        labSwarmNs: [99],
        labSwarmFileBytes: 64 * MIB,
        labSwarmUploadBytesPerS: 512 * 1024,
        labSwarmChunkBytes: 512 * 1024,
      });
    }
    // Without --lab-leechers the lab's bench run keeps the protocol's chunk.
    expect(FULL_SIZES.labSwarmChunkBytes).toBeUndefined();
    const scenario = labSwarmScenario({ ...init, n: 99, fileBytes: 64 * MIB, uploadBytesPerS: 512 * 1024, name: 'x' });
    expect(() => validateScenario(scenario, 'bench')).not.toThrow();
    expect(minimumDistributionS(64 * MIB, 99, 512 * 1024, 512 * 1024)).toBe(128);
  });

  it('takes a whole number of downloaders that fits a lab scenario', () => {
    expect(parseLabLeechers('49')).toBe(49);
    expect(parseLabLeechers('1')).toBe(1);
    expect(parseLabLeechers(String(MAX_LAB_LEECHERS))).toBe(MAX_LAB_LEECHERS);
  });

  it('refuses zero, more than a scenario holds, and anything not a whole number', () => {
    for (const bad of ['0', String(MAX_LAB_LEECHERS + 1), '-3', '4.5', '', 'fifty', '1e2']) {
      expect(parseLabLeechers(bad)).toBeNull();
    }
  });
});
