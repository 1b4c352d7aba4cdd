/**
 * The measurements behind the bench's CPU floor, on this machine's real file system and loopback:
 * they must price each step (a CPU cost above zero) and leave nothing behind.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { measureTcpMBps } from '../../src/bench/ceiling';
import { measureFileCpuSPerGB } from '../../src/bench/cpu-floor';

const MIB = 1024 * 1024;

describe('measureFileCpuSPerGB', () => {
  let scratch: string;

  beforeEach(() => {
    scratch = mkdtempSync(path.join(tmpdir(), 'swarmlab-floor-test-'));
  });

  afterEach(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it('prices writing and reading a file, then deletes it', () => {
    const cost = measureFileCpuSPerGB(32 * MIB, scratch);
    expect(cost.write).toBeGreaterThan(0);
    expect(cost.read).toBeGreaterThan(0);
    expect(readdirSync(scratch)).toEqual([]);
  });
});

describe('measureTcpMBps', () => {
  it('reports the CPU of both ends along with the rate', async () => {
    const tcp = await measureTcpMBps(256 * MIB);
    expect(tcp.MBps).toBeGreaterThan(0);
    // Linux has /proc: the sender's CPU is read there, so the cost is measured, not null.
    expect(tcp.cpuSPerGB).toBeGreaterThan(0);
  });
});
