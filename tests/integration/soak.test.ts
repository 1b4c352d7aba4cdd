/**
 * `swarmlab soak --minutes 1 --peers 12`: the CI version of the soak (the full run is 10 minutes with
 * 30 peers). Every churn action happens at least once, every finished download matches its publisher's
 * bytes as the soak read them from disk, nothing is lost and no process crashes. Memory flatness is
 * reported but not asserted here: a 1-minute run judges it on 15-second windows, too short to tell a
 * leak from a garbage collection; the 10-minute run is where it counts.
 */
import { assertBuilt, runCli } from '../helpers/local';

jest.setTimeout(300_000);

interface SoakLine {
  minutes: number;
  peers: number;
  downloads: number;
  verified: number;
  corrupt: number;
  lost: number;
  started: number;
  peerKills: number;
  joins: number;
  trackerRestarts: number;
  trackerRssMB: { start: number; end: number; max: number };
  peerRssMB: { start: number; end: number; max: number };
  flat: boolean;
  crashes: string[];
  errors: Record<string, number>;
  hostile: { neverReaderTracker: { framesSent: number }; neverReaderPeer: { framesSent: number }; tricklers: Array<{ connections: number }> };
  ok: boolean;
  failures: string[];
}

describe('swarmlab soak', () => {
  beforeAll(assertBuilt);

  it('one minute of churn: every finished download verifies on disk, nothing lost, no crash', async () => {
    const run = await runCli(['soak', '--minutes', '1', '--peers', '12', '--seed', '20261203'], { timeoutMs: 280_000 });
    const lines = run.stdout.trimEnd().split('\n');
    const last = lines[lines.length - 1] ?? '';
    if (!last.startsWith('{"soak":')) throw new Error(`no soak line (exit ${run.code})\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    const soak = (JSON.parse(last) as { soak: SoakLine }).soak;
    expect(soak).toMatchObject({ minutes: 1, peers: 12, corrupt: 0, lost: 0, crashes: [] });
    expect(soak.downloads).toBeGreaterThan(0);
    expect(soak.verified).toBe(soak.downloads);
    // The churn really happened.
    expect(soak.peerKills).toBeGreaterThan(0);
    expect(soak.joins).toBeGreaterThan(0);
    expect(soak.trackerRestarts).toBe(1);
    expect(soak.hostile.neverReaderTracker.framesSent).toBeGreaterThan(0);
    expect(soak.hostile.neverReaderPeer.framesSent).toBeGreaterThan(0);
    expect(soak.hostile.tricklers.every((t) => t.connections > 0)).toBe(true);
    // Memory was measured after warm-up and at the end, for both sides.
    for (const rss of [soak.trackerRssMB, soak.peerRssMB]) {
      expect(rss.start).toBeGreaterThan(0);
      expect(rss.end).toBeGreaterThan(0);
      expect(rss.max).toBeGreaterThanOrEqual(Math.max(rss.start, rss.end));
    }
    expect(typeof soak.flat).toBe('boolean');
    // The exit code is the verdict, and the only failure a 1-minute run may have is memory.
    expect(run.code).toBe(soak.ok ? 0 : 1);
    expect(soak.failures.filter((failure) => !/memory grew/.test(failure))).toEqual([]);
  });

  it('refuses bad options before starting anything', async () => {
    for (const args of [['--minutes', '0'], ['--peers', '3'], ['--seed', '-1']]) {
      const run = await runCli(['soak', ...args]);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
    }
  });
});
