/**
 * The pure parts of `swarmlab bench`: the swarm's theoretical minimum, the load generator's frame
 * counter, /proc parsing and the JSON report's shape.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLibtorrentComparison } from '../../src/bench/bittorrent';
import { cpuFloor } from '../../src/bench/cpu-floor';
import { FrameCounter } from '../../src/bench/tracker-load';
import { parseProcStat, parseProcStatus } from '../../src/bench/footprint';
import { LibtorrentNode, sameBytes } from '../../src/bench/libtorrent';
import { benchJson, benchTable } from '../../src/bench/report';
import { minimumDistributionS } from '../../src/bench/swarm';
import type { BenchResult, BittorrentResult } from '../../src/bench/types';
import { warmUp } from '../../src/bench/warm-up';
import { BenchErrorCode } from '../../src/bench/errors';
import { SwarmlabError } from '../../src/shared/errors';
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
  const transfer = {
    MBps: 100,
    ratio: 0.5,
    ofCpuFloor: 0.25,
    bytes: 64 * MIB,
    wallS: 0.67,
    schedulerS: 0.6,
    verified: true,
  };
  const result: BenchResult = {
    quick: true,
    warmedUp: { bytes: 128 * MIB, seconds: 0.4 },
    ceiling: {
      tcpMBps: 2000,
      sha256MBps: 200,
      limitMBps: 200,
      tcpBytes: MIB,
      sha256Bytes: MIB,
      cpuFloor: cpuFloor({ tcp: 1, sha256: 0.5, fileWrite: 0.3, fileRead: 0.2 }, 2),
    },
    pair: { ...transfer, leecherPeakRssMB: 90, cpuCores: { 'seed-1': 0.4, 'leech-1': 0.9 }, leecherCpuSPerGB: 2.25 },
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
    bittorrent: {
      pairSpeedup: null,
      demoSpeedup: null,
      aria2PairMBps: null,
      aria2DemoMBps: null,
      note: 'skipped',
      libtorrentPairMBps: null,
      libtorrentDemoMBps: null,
      libtorrentPairSpeedup: null,
      libtorrentDemoSpeedup: null,
      libtorrentLeecherCpuSPerGB: null,
      libtorrentNote: 'skipped: python3-libtorrent is not installed',
    },
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

  it('says that the run warmed up, and reports the leecher CPU per GB', () => {
    const json = JSON.parse(JSON.stringify(benchJson(result))) as Record<string, Record<string, unknown>>;
    expect(json['warmedUp']).toEqual({ bytes: 128 * MIB, seconds: 0.4 });
    expect(json['pair']).toMatchObject({ leecherCpuSPerGB: 2.25 });
    expect(benchTable(result)).toMatch(/warm-up\s+wrote and deleted 128 MiB before the transfers/);
    const cold = JSON.parse(JSON.stringify(benchJson({ ...result, warmedUp: null }))) as Record<string, unknown>;
    expect(cold['warmedUp']).toBeNull();
  });

  it('leaves the libtorrent fields null with the reason when libtorrent did not run', () => {
    const json = JSON.parse(JSON.stringify(benchJson(result))) as Record<string, Record<string, unknown>>;
    expect(json['bittorrent']).toMatchObject({
      libtorrentPairMBps: null,
      libtorrentDemoMBps: null,
      libtorrentPairSpeedup: null,
      libtorrentDemoSpeedup: null,
      libtorrentLeecherCpuSPerGB: null,
      libtorrentNote: 'skipped: python3-libtorrent is not installed',
    });
    expect(benchTable(result)).toContain('note: libtorrent: skipped: python3-libtorrent is not installed');
  });

  it('reports libtorrent beside swarmlab, in the JSON and in the table', () => {
    const bittorrent: BittorrentResult = {
      ...result.bittorrent,
      libtorrentPairMBps: 260.12345,
      libtorrentDemoMBps: [210, 220],
      libtorrentPairSpeedup: 2.3,
      libtorrentDemoSpeedup: 1.2,
      libtorrentLeecherCpuSPerGB: 2.5,
      libtorrentNote: 'libtorrent 2.0.8.0',
    };
    const withLibtorrent: BenchResult = { ...result, bittorrent };
    const json = JSON.parse(JSON.stringify(benchJson(withLibtorrent))) as Record<string, Record<string, unknown>>;
    expect(json['bittorrent']).toMatchObject({
      libtorrentPairMBps: 260.123,
      libtorrentDemoMBps: [210, 220],
      libtorrentPairSpeedup: 2.3,
      libtorrentDemoSpeedup: 1.2,
      libtorrentLeecherCpuSPerGB: 2.5,
    });
    const lines = benchTable(withLibtorrent).split('\n');
    expect(lines.find((line) => line.includes('libtorrent pair / demo per leecher'))).toContain(
      '260.1 / 210.0, 220.0 MB/s',
    );
    // The demo misses 1.5, so the row misses, though the pair met it.
    expect(lines.find((line) => line.includes('speed-up over libtorrent'))).toMatch(/2\.30 \/ 1\.20.*>= 1\.5 MISSED/);
    expect(lines.find((line) => line.includes('leecher CPU-s per GB'))).toMatch(
      /2\.25 \(libtorrent 2\.50\).*<= libtorrent met/,
    );
  });

  it('prints one table row per leecher and per swarm size', () => {
    const lines = benchTable(result).split('\n');
    expect(lines.filter((line) => line.startsWith('demo') && line.includes(': leecher'))).toHaveLength(2);
    expect(lines.filter((line) => line.startsWith('swarm') && line.includes('leechers'))).toHaveLength(1);
  });

  it('shows the CPU floor and each transfer against it', () => {
    const lines = benchTable(result).split('\n');
    expect(lines.find((line) => line.includes('CPU floor on 2 cores'))).toContain(
      '800.0 MB/s pair, 400.0 per demo leecher',
    );
    expect(lines.find((line) => line.startsWith('pair') && line.includes('1 leecher'))).toContain(
      '0.50 of limit (0.25 of CPU floor)',
    );
  });

  it('leaves the floor out where it was not measured', () => {
    const withoutFloor: BenchResult = { ...result, ceiling: { ...result.ceiling, cpuFloor: null } };
    expect(benchJson(withoutFloor)['ceiling']).toMatchObject({ cpuFloor: null });
    expect(benchTable(withoutFloor)).not.toContain('CPU floor on');
  });
});

describe('runLibtorrentComparison', () => {
  const init = { pairBytes: MIB, demoBytes: MIB, swarmlabPairMBps: 600, swarmlabDemoMBps: [250, 270] };

  it('gives swarmlab over libtorrent from the same run, and the pair leecher CPU per GB', async () => {
    const runs: Array<[number, number]> = [];
    const fields = await runLibtorrentComparison(init, {
      version: () => Promise.resolve({ version: '2.0.8.0' }),
      run: (_bytes, seeders, leechers) => {
        runs.push([seeders, leechers]);
        return Promise.resolve(
          seeders === 1 ? { MBps: [250], leecherCpuSPerGB: [2.4] } : { MBps: [200, 200], leecherCpuSPerGB: [2.6, 2.7] },
        );
      },
    });
    expect(runs).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(fields).toMatchObject({
      libtorrentPairMBps: 250,
      libtorrentDemoMBps: [200, 200],
      libtorrentPairSpeedup: 2.4,
      libtorrentDemoSpeedup: 1.3,
      libtorrentLeecherCpuSPerGB: 2.4,
    });
    expect(fields.libtorrentNote).toContain('libtorrent 2.0.8.0');
  });

  it('is null with the reason when libtorrent is missing', async () => {
    const fields = await runLibtorrentComparison(init, {
      version: () => Promise.resolve({ missing: 'python3-libtorrent is not installed' }),
      run: () => Promise.reject(new Error('must not run')),
    });
    expect(fields).toEqual({
      libtorrentPairMBps: null,
      libtorrentDemoMBps: null,
      libtorrentPairSpeedup: null,
      libtorrentDemoSpeedup: null,
      libtorrentLeecherCpuSPerGB: null,
      libtorrentNote: 'skipped: python3-libtorrent is not installed',
    });
  });

  it("is null with the reason when the run fails (a file that differs from the seeder's), without a rerun", async () => {
    let runs = 0;
    const fields = await runLibtorrentComparison(init, {
      version: () => Promise.resolve({ version: '2.0.8.0' }),
      run: () => {
        runs += 1;
        return Promise.reject(
          new SwarmlabError(BenchErrorCode.Libtorrent, "libtorrent leecher 1's file differs from the seeder's"),
        );
      },
    });
    expect(runs).toBe(1);
    expect(fields.libtorrentPairMBps).toBeNull();
    expect(fields.libtorrentNote).toBe(
      "the libtorrent run failed: libtorrent leecher 1's file differs from the seeder's",
    );
  });

  // A node that dies by a signal (libtorrent's own crash), as LibtorrentNode reports it.
  const crash = (): Promise<never> =>
    Promise.reject(
      new SwarmlabError(
        BenchErrorCode.LibtorrentCrashed,
        'libtorrent leecher 1 exited (SIGSEGV) before "finished": Segmentation fault',
      ),
    );

  it('reruns that swarm once and says so in the note', async () => {
    let demoRuns = 0;
    const fields = await runLibtorrentComparison(init, {
      version: () => Promise.resolve({ version: '2.0.8.0' }),
      run: (_bytes, seeders) => {
        if (seeders === 1) return Promise.resolve({ MBps: [250], leecherCpuSPerGB: [2.4] });
        demoRuns += 1;
        return demoRuns === 1 ? crash() : Promise.resolve({ MBps: [200, 200], leecherCpuSPerGB: [2.6, 2.7] });
      },
    });
    expect(demoRuns).toBe(2);
    expect(fields).toMatchObject({ libtorrentPairMBps: 250, libtorrentDemoMBps: [200, 200] });
    expect(fields.libtorrentNote).toContain(
      'demo rerun once after libtorrent leecher 1 exited (SIGSEGV) before "finished"',
    );
  });

  it('gives up with the reason when the rerun crashes too', async () => {
    let runs = 0;
    const fields = await runLibtorrentComparison(init, {
      version: () => Promise.resolve({ version: '2.0.8.0' }),
      run: () => {
        runs += 1;
        return crash();
      },
    });
    expect(runs).toBe(2);
    expect(fields.libtorrentPairMBps).toBeNull();
    expect(fields.libtorrentNote).toMatch(/^the libtorrent run failed: libtorrent leecher 1 exited \(SIGSEGV\)/);
  });
});

describe('LibtorrentNode', () => {
  // Stand-in node scripts run by the same /usr/bin/python3: one crashes, one fails in its own code.
  const nodeDying = async (python: string): Promise<unknown> => {
    const dir = await mkdtemp(join(tmpdir(), 'swarmlab-lt-node-'));
    const script = join(dir, 'node.py');
    await writeFile(script, python);
    const node = new LibtorrentNode(script, []);
    try {
      return await node.next('ready', 10_000, 'libtorrent node 1').catch((error: unknown) => error);
    } finally {
      await node.stop();
      await rm(dir, { recursive: true, force: true });
    }
  };

  it('names a death by signal a crash, which the comparison reruns', async () => {
    const error = await nodeDying('import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n');
    expect(error).toMatchObject({ code: BenchErrorCode.LibtorrentCrashed });
    expect((error as Error).message).toMatch(/^libtorrent node 1 exited \(SIGSEGV\) before "ready"/);
  });

  it('names an exit with a code a plain failure, which is not rerun', async () => {
    const error = await nodeDying('import sys\nsys.exit(3)\n');
    expect(error).toMatchObject({ code: BenchErrorCode.Libtorrent });
    expect((error as Error).message).toMatch(/^libtorrent node 1 exited \(3\) before "ready"/);
  });
});

describe('sameBytes', () => {
  it('tells equal files from files that differ in one byte or in length', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'swarmlab-same-'));
    try {
      const bytes = Buffer.alloc(5 * MIB, 7);
      await writeFile(join(dir, 'a'), bytes);
      await writeFile(join(dir, 'b'), bytes);
      expect(await sameBytes(join(dir, 'a'), join(dir, 'b'))).toBe(true);
      bytes[5 * MIB - 1] = 8;
      await writeFile(join(dir, 'c'), bytes);
      expect(await sameBytes(join(dir, 'a'), join(dir, 'c'))).toBe(false);
      await writeFile(join(dir, 'd'), bytes.subarray(0, MIB));
      expect(await sameBytes(join(dir, 'a'), join(dir, 'd'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('warmUp', () => {
  it('writes the bytes it reports and leaves nothing behind', async () => {
    const before = (await readdir(tmpdir())).filter((name) => name.startsWith('swarmlab-warm-'));
    const warmed = await warmUp(3 * MIB + 5);
    expect(warmed.bytes).toBe(3 * MIB + 5);
    expect(warmed.seconds).toBeGreaterThan(0);
    const after = (await readdir(tmpdir())).filter((name) => name.startsWith('swarmlab-warm-'));
    expect(after).toEqual(before);
  });
});
