/**
 * A bigger swarm in the lab, small enough for CI: 1 seeder and 11 leechers in 12 containers, every
 * upload limited to 512 KiB/s, a 4 MiB file downloaded by the 11 at once (the scenario `bench --lab`
 * runs, src/bench/lab-swarm.ts). Checks that every leecher verified the file, that the chunks spread
 * (the seeder did not send every copy; leechers fed each other), that the run's healthchecks were spaced
 * out, and that the tracker's metrics count the swarm's requests. lab/scenarios/fifty.yaml is the
 * 50-peer version (`npm run lab -- run fifty`), too long for CI here. Needs Docker.
 */
import { replayScenario } from '../../lab/commands';
import { TRACKER_CPU_SHARES, TRACKER_METRICS_PORT } from '../../lab/constants';
import { peerHealthcheck } from '../../lab/controller';
import { LABEL_ROLE, LABEL_RUN } from '../../lab/engine/lab-docker';
import { validateScenario } from '../../lab/scenario/load';
import { LAB_SEEDER, labSwarmResult, labSwarmScenario } from '../../src/bench/lab-swarm';
import { setLogLevel } from '../../src/shared/logger';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 300_000;
const LEECHERS = 11;
const FILE_BYTES = 4 * 1024 * 1024;
const UPLOAD_BYTES_PER_S = 512 * 1024;

describe('lab at scale (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const { docker, labDocker, controller, lines, abort, ctx } = createLabTestContext();
  const run = `scale-test-${process.pid}`;
  const init = { cliPath: 'dist/swarmlab.js', n: LEECHERS, fileBytes: FILE_BYTES, uploadBytesPerS: UPLOAD_BYTES_PER_S };

  afterAll(async () => {
    abort.abort();
    await controller.down(run);
  });

  it('1 seeder distributes a file to 11 peers: every copy verified, chunks traded among the leechers', async () => {
    const scenario = validateScenario(labSwarmScenario({ ...init, name: run }), 'lab-scale');
    const report = await replayScenario(ctx, scenario, { run, keep: true, printChunks: false });
    if (!report.ok) throw new Error(`scenario failed: ${report.error?.message}\n${lines.join('\n')}`);

    expect(report.downloads).toHaveLength(LEECHERS);
    for (const download of report.downloads) {
      expect(download).toMatchObject({ verified: true, bytes: FILE_BYTES });
    }
    const row = labSwarmResult(init, report, 0);
    expect(row.verified).toBe(true);
    // Swarming: the seeder sent fewer than one copy per leecher, and most leechers got chunks from peers.
    expect(row.seederCopies).toBeLessThan(LEECHERS);
    expect(row.leechersFromPeers).toBeGreaterThan(LEECHERS / 2);
    const fromPeers = report.downloads.reduce(
      (sum, d) =>
        sum +
        Object.entries(d.chunksBySource)
          .filter(([source]) => source !== LAB_SEEDER)
          .reduce((n, [, count]) => n + count, 0),
      0,
    );
    expect(fromPeers).toBeGreaterThan(0);
  });

  it('spaces the peers’ healthchecks out and counts the swarm at the tracker', async () => {
    const peers = await labDocker.listContainers({ [LABEL_RUN]: run, [LABEL_ROLE]: 'peer' });
    expect(peers).toHaveLength(LEECHERS + 1);
    const inspected = await docker.getContainer(peers[0]!.id).inspect();
    const healthcheck = peerHealthcheck(LEECHERS + 1);
    if (healthcheck === undefined || healthcheck === 'none')
      throw new Error(`${LEECHERS + 1} peers keep a spaced-out healthcheck`);
    expect(inspected.Config.Healthcheck?.Interval).toBe(healthcheck.intervalMs * 1_000_000);

    const [tracker] = await labDocker.listContainers({ [LABEL_RUN]: run, [LABEL_ROLE]: 'tracker' });
    expect(tracker?.ip).toBeDefined();
    // A hundred busy peers must not starve the tracker of CPU (lab/constants.ts TRACKER_CPU_SHARES).
    expect((await docker.getContainer(tracker!.id).inspect()).HostConfig.CpuShares).toBe(TRACKER_CPU_SHARES);
    expect(inspected.HostConfig.CpuShares ?? 0).toBeLessThan(TRACKER_CPU_SHARES);
    const metrics = await (await fetch(`http://${tracker!.ip}:${TRACKER_METRICS_PORT}/metrics`)).text();
    const count = (type: string): number =>
      Number(new RegExp(`^swarmlab_tracker_requests_total\\{type="${type}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
    expect(count('Register')).toBeGreaterThanOrEqual(LEECHERS + 1);
    expect(count('Locate')).toBeGreaterThanOrEqual(LEECHERS);
    expect(count('Have')).toBeGreaterThan(0);
  });
});
