/**
 * `swarmlab bench --local-leechers N [--local-mib M]`: the swarm at scale as local processes. Its
 * arguments are checked before any process starts.
 */
import { runBench } from '../../src/bench/run-bench';
import { LOCAL_LEECHERS_CHUNK_BYTES, LOCAL_LEECHERS_UPLOAD_BYTES_PER_S, minimumDistributionS } from '../../src/bench/swarm';

describe('bench --local-leechers', () => {
  let stderr: jest.SpyInstance;
  beforeEach(() => {
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterEach(() => stderr.mockRestore());

  it.each([
    [['--local-leechers', '0']],
    [['--local-leechers', '200']],
    [['--local-leechers', 'many']],
    [['--local-leechers', '49', '--local-mib', '0']],
    [['--local-leechers', '49', '--local-mib', '8.5']],
    [['--lab-tmpfs']],
    [['--quick', '--lab-tmpfs', '--only', 'pair']],
    [['--local-leechers', '49', '--chunk-kib', '8']],
    [['--local-leechers', '49', '--chunk-kib', '2048']],
    [['--lab-leechers', '99', '--chunk-kib', 'big']],
    [['--quick', '--chunk-kib', '256']],
  ])('refuses %j with exit code 2 before starting anything', async (args) => {
    await expect(runBench(args, { cliPath: '/nonexistent/swarmlab.js' })).resolves.toBe(2);
  });

  it("runs the lab swarm at the lab run's 256 KiB chunks and 512 KiB/s: 8 MiB to 49 leechers has a minimum of 16 s", () => {
    expect(LOCAL_LEECHERS_CHUNK_BYTES).toBe(256 * 1024);
    const rate = LOCAL_LEECHERS_UPLOAD_BYTES_PER_S;
    expect(minimumDistributionS(8 * 1024 * 1024, 49, rate, rate)).toBeCloseTo(16);
  });
});
