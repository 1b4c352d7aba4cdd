/**
 * The pure parts of `swarmlab bench`: the swarm's theoretical minimum, the load generator's frame
 * counter, /proc parsing and the JSON report's shape.
 */
import { cpuFloor } from '../../src/bench/cpu-floor';
import { FrameCounter } from '../../src/bench/tracker-load';
import { parseProcStat, parseProcStatus } from '../../src/bench/footprint';
import { benchJson, benchTable } from '../../src/bench/report';
import { minimumDistributionS } from '../../src/bench/swarm';
import type { BenchResult } from '../../src/bench/types';
import { encodeJson, MessageType } from '../../src/protocol';

const MIB = 1024 * 1024;

describe('minimumDistributionS', () => {
  it('is bound by the seeder when the swarm uploads faster than it needs to', () => {
    expect(minimumDistributionS(32 * MIB, 8, 4 * MIB, 4 * MIB)).toBeCloseTo(8);
  });

  it('is bound by the swarm when leechers upload slowly', () => {
    // N·F/(u_s + N·u) = 10·10/(10 + 10·1) = 5 > F/u_s = 1
    expect(minimumDistributionS(10, 10, 10, 1)).toBeCloseTo(5);
  });
});

describe('cpuFloor', () => {
  it('spreads the steps of a verified transfer, SHA-256 twice, over every core', () => {
    // 1 + 2·0.5 + 0.3 + 0.2 = 2.5 CPU-s per GB; 2 cores give 2 CPU-s per second: 0.8 GB/s.
    const floor = cpuFloor({ tcp: 1, sha256: 0.5, fileWrite: 0.3, fileRead: 0.2 }, 2);
    expect(floor.cpuSPerGB.total).toBeCloseTo(2.5);
    expect(floor.pairMBps).toBeCloseTo(800);
    expect(floor.demoLeecherMBps).toBeCloseTo(400);
  });
});

describe('FrameCounter', () => {
  const frames = Buffer.concat([
    encodeJson(MessageType.Ok, 1, {}),
    encodeJson(MessageType.Error, 2, { code: 'ERR_X', message: 'x' }),
    encodeJson(MessageType.Published, 3, { fileId: 'a'.repeat(64) }),
  ]);

  it('counts whole frames and ERROR frames in one push', () => {
    expect(new FrameCounter().push(frames)).toEqual({ frames: 3, errors: 1 });
  });

  it('counts the same when the stream is split at every byte boundary', () => {
    for (let split = 0; split <= frames.length; split++) {
      const counter = new FrameCounter();
      const a = counter.push(frames.subarray(0, split));
      const b = counter.push(frames.subarray(split));
      expect({ frames: a.frames + b.frames, errors: a.errors + b.errors }).toEqual({ frames: 3, errors: 1 });
    }
  });

  it('counts byte by byte', () => {
    const counter = new FrameCounter();
    let total = 0;
    for (const byte of frames) total += counter.push(Buffer.from([byte])).frames;
    expect(total).toBe(3);
  });
});

describe('parseProcStat', () => {
  it('adds utime and stime, counting fields after a command name with spaces', () => {
    const stat = '4242 (node (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 11';
    expect(parseProcStat(stat)).toBeCloseTo(3);
  });
});

describe('parseProcStatus', () => {
  const status = 'Name:\tnode\nVmHWM:\t  123456 kB\nVmRSS:\t   65432 kB\n';

  it('reads a kB field as bytes', () => {
    expect(parseProcStatus(status, 'VmHWM')).toBe(123456 * 1024);
    expect(parseProcStatus(status, 'VmRSS')).toBe(65432 * 1024);
  });

  it('returns null for a missing field', () => {
    expect(parseProcStatus(status, 'VmSwap')).toBeNull();
  });
});

describe('benchJson', () => {
  const transfer = { MBps: 100, ratio: 0.5, ofCpuFloor: 0.25, bytes: 64 * MIB, wallS: 0.67, schedulerS: 0.6, verified: true };
  const result: BenchResult = {
    quick: true,
    ceiling: {
      tcpMBps: 2000,
      sha256MBps: 200,
      limitMBps: 200,
      tcpBytes: MIB,
      sha256Bytes: MIB,
      cpuFloor: cpuFloor({ tcp: 1, sha256: 0.5, fileWrite: 0.3, fileRead: 0.2 }, 2),
    },
    pair: { ...transfer, leecherPeakRssMB: 90, cpuCores: { 'seed-1': 0.4, 'leech-1': 0.9 } },
    demo: { leechers: [transfer, transfer], cpuCores: {} },
    swarm: [
      {
        n: 8,
        fileBytes: MIB,
        uploadBytesPerS: MIB,
        measuredS: 1.1,
        minimumS: 1,
        ratio: 1.1,
        verified: true,
        seederCopies: 1,
        receivedCopies: 1.05,
        leecherUploadUse: 0.9,
      },
    ],
    tracker: {
      peers: 10,
      files: 1,
      lookupsPerS: 1000,
      havesPerS: 1000,
      bytesPerPeer: Number.NaN,
      heapBytesPerPeer: Number.NaN,
      bytesPerConnectedPeer: 2000,
      heapBytesPerConnectedPeer: 1200,
      registerS: 0.1,
      errors: 0,
      trackerCpuCores: 1,
      generatorCpuCores: 0.3,
    },
    footprint: { peerRssMB: 90, images: null, note: 'no Docker' },
    bittorrent: { pairSpeedup: null, demoSpeedup: null, aria2PairMBps: null, aria2DemoMBps: null, note: 'skipped' },
    lab: null,
    totalS: 10,
  };

  it('has the shape of issue 4, with null for what was not measured', () => {
    const json = JSON.parse(JSON.stringify(benchJson(result))) as Record<string, Record<string, unknown>>;
    expect(json['ceiling']).toMatchObject({
      tcpMBps: 2000,
      sha256MBps: 200,
      limitMBps: 200,
      cpuFloor: { cores: 2, pairMBps: 800, demoLeecherMBps: 400, sha256Passes: 2 },
    });
    expect(json['pair']).toMatchObject({ MBps: 100, ratio: 0.5, ofCpuFloor: 0.25 });
    expect(json['demo']!['leechers']).toHaveLength(2);
    expect(json['swarm']).toEqual([expect.objectContaining({ n: 8, measuredS: 1.1, minimumS: 1, ratio: 1.1 })]);
    expect(json['tracker']).toMatchObject({ lookupsPerS: 1000, bytesPerPeer: null, bytesPerConnectedPeer: 2000 });
    expect(json['footprint']).toMatchObject({ peerRssMB: 90 });
    expect(json['bittorrent']).toMatchObject({ pairSpeedup: null, demoSpeedup: null });
  });

  it('prints one table row per leecher and per swarm size', () => {
    const lines = benchTable(result).split('\n');
    expect(lines.filter((line) => line.startsWith('demo') && line.includes(': leecher'))).toHaveLength(2);
    expect(lines.filter((line) => line.startsWith('swarm') && line.includes('leechers'))).toHaveLength(1);
  });

  it('shows the CPU floor and each transfer against it', () => {
    const lines = benchTable(result).split('\n');
    expect(lines.find((line) => line.includes('CPU floor on 2 cores'))).toContain('800.0 MB/s pair, 400.0 per demo leecher');
    expect(lines.find((line) => line.startsWith('pair') && line.includes('1 leecher'))).toContain('0.50 of limit (0.25 of CPU floor)');
  });

  it('leaves the floor out where it was not measured', () => {
    const withoutFloor: BenchResult = { ...result, ceiling: { ...result.ceiling, cpuFloor: null } };
    expect(benchJson(withoutFloor)['ceiling']).toMatchObject({ cpuFloor: null });
    expect(benchTable(withoutFloor)).not.toContain('CPU floor on');
  });
});
