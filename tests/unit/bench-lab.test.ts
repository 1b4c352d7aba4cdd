/** The pure parts of `swarmlab bench --lab`: the scenario it hands the lab, and its row from the lab's report. */
import { validateScenario } from '../../lab/scenario/load';
import { LAB_BENCH_FILE, LAB_SEEDER, labBundlePath, labSwarmResult, labSwarmScenario } from '../../src/bench/lab-swarm';
import { benchJson } from '../../src/bench/report';
import { MAX_LAB_LEECHERS, parseLabLeechers } from '../../src/bench/run-bench';
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
      { action: 'download', startedAtMs: 3_000, ok: true },
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
});

describe('labSwarmResult', () => {
  it('measures from the download step to the last answer, against max(F/u_s, N·F/(u_s + N·u))', () => {
    const row = labSwarmResult(init, report(), 120);
    expect(row.measuredS).toBe(8);
    expect(row.minimumS).toBe(4); // F/u_s = 4 s > 3·4/(1 + 3) = 3 s
    expect(row.ratio).toBe(2);
    expect(row.verified).toBe(true);
    expect(row.seederCopies).toBe(34 / 64); // 4 MiB in 64 KiB chunks
    expect(row.leechersFromPeers).toBe(2);
    expect(row.runS).toBe(120);
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
    expect(json['swarmLab']).toEqual([expect.objectContaining({ n: 3, measuredS: 8, minimumS: 4, ratio: 2 })]);
  });
});

describe('--lab-leechers', () => {
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
