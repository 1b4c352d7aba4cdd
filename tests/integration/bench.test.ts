/**
 * `swarmlab bench --quick --json` end to end: real tracker and peer processes on 127.0.0.1. Checks
 * only the shape of the JSON line; a bench reports figures, it never asserts on timing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

jest.setTimeout(180_000);

const cliPath = path.resolve(__dirname, '../../dist/swarmlab.js');

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const number = expect.any(Number) as unknown;

/** Debian's python3-libtorrent, which .ci/run installs: with it the libtorrent fields must be measured. */
const hasLibtorrent = spawnSync('/usr/bin/python3', ['-c', 'import libtorrent']).status === 0;

describe('swarmlab bench --quick --json', () => {
  beforeAll(() => {
    if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first`);
  });

  it('prints a table and, as its last line, one JSON object of the documented shape', async () => {
    const { code, stdout, stderr } = await runCli(['bench', '--quick', '--json']);
    if (code !== 0) throw new Error(`bench exited with ${code}\n${stderr}`);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.some((line) => line.startsWith('pair'))).toBe(true);
    const json = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    expect(json).toMatchObject({
      ceiling: {
        tcpMBps: number,
        sha256MBps: number,
        limitMBps: number,
        // Linux has /proc, so the floor is measured here.
        cpuFloor: {
          cores: number,
          cpuSPerGB: { tcp: number, sha256: number, fileWrite: number, fileRead: number, total: number },
          pairMBps: number,
          demoLeecherMBps: number,
        },
      },
      pair: { MBps: number, ratio: number, ofCpuFloor: number, verified: true },
      demo: {
        leechers: [
          { MBps: number, ratio: number, verified: true },
          { MBps: number, ratio: number, verified: true },
        ],
      },
      swarm: [
        { n: 4, measuredS: number, minimumS: number, ratio: number, verified: true },
        { n: 8, measuredS: number, minimumS: number, ratio: number, verified: true },
      ],
      tracker: { lookupsPerS: number, bytesPerPeer: number, errors: 0 },
      footprint: { peerRssMB: number },
    });
    const bittorrent = json['bittorrent'] as Record<string, unknown>;
    expect(Object.keys(bittorrent)).toEqual(expect.arrayContaining(['pairSpeedup', 'demoSpeedup']));
    for (const key of ['pairSpeedup', 'demoSpeedup'])
      expect(bittorrent[key] === null || typeof bittorrent[key] === 'number').toBe(true);

    expect(json['warmedUp']).toMatchObject({ bytes: 2 * 64 * 1024 * 1024 });
    const pair = json['pair'] as Record<string, unknown>;
    expect(pair['leecherCpuSPerGB']).toBeGreaterThan(0);
    const libtorrentKeys = [
      'libtorrentPairMBps',
      'libtorrentPairSpeedup',
      'libtorrentDemoSpeedup',
      'libtorrentLeecherCpuSPerGB',
    ] as const;
    // CI (.ci/run) installs it and sets REQUIRE_LIBTORRENT=1: there a missing libtorrent fails instead of skipping.
    if (process.env['REQUIRE_LIBTORRENT'] === '1') expect(hasLibtorrent).toBe(true);
    if (hasLibtorrent) {
      // Measured, and each leecher's file compared with the seeder's before any rate was reported.
      expect(bittorrent['libtorrentNote']).toMatch(/^libtorrent 2\./);
      for (const key of libtorrentKeys) expect(bittorrent[key]).toBeGreaterThan(0);
      const demo = bittorrent['libtorrentDemoMBps'] as number[];
      expect(demo).toHaveLength(2);
      for (const value of demo) expect(value).toBeGreaterThan(0);
    } else {
      for (const key of [...libtorrentKeys, 'libtorrentDemoMBps']) expect(bittorrent[key]).toBeNull();
      expect(bittorrent['libtorrentNote']).toMatch(/^skipped: /);
    }
  });
});
