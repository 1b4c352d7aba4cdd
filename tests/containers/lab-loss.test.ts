/**
 * Kernel loss, measured: `lossPercent: 5` on the link peer-1 <-> peer-2 makes each end's packet filter
 * drop about 5 % of what it receives from the other (its own counters say so), and the file still
 * verifies byte for byte (TCP retransmits). Skips with a notice without root/nsenter/iptables. Needs Docker.
 */
import { replayScenario } from '../../lab/commands';
import { LABEL_RUN } from '../../lab/engine/lab-docker';
import { CHAIN, hostIptables, kernelFilterAvailable } from '../../lab/network/packet-filter';
import { validateScenario } from '../../lab/scenario/load';
import { setLogLevel } from '../../src/shared/logger';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 240_000;

const SCENARIO = {
  name: 'loss-test',
  peers: 2,
  chunkSize: 262144,
  timeoutSeconds: 120,
  network: { links: [{ between: ['peer-1', 'peer-2'], lossPercent: 5 }] },
  steps: [
    { action: 'connect', peers: 'all' },
    { action: 'generate', peer: 'peer-1', file: 'lossy.bin', size: 33554432, seed: 'loss', text: false },
    { action: 'publish', peer: 'peer-1' },
    { action: 'download', peer: 'peer-2', file: 'lossy.bin' },
    { action: 'assert', peer: 'peer-2', file: 'lossy.bin', verified: true },
  ],
};

describe('lab kernel loss (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const { labDocker, controller, abort, ctx } = createLabTestContext();
  const run = `loss-test-${process.pid}`;

  afterAll(async () => {
    abort.abort();
    await controller.down(run);
  });

  it('drops about 5 % of the packets on the link, and the file verifies', async () => {
    if (!(await kernelFilterAvailable())) {
      process.stderr.write('SKIP lab-loss: the packet filter needs root on the Docker host, nsenter and iptables\n');
      return;
    }
    const report = await replayScenario(ctx, validateScenario(SCENARIO), { run, printChunks: false, keep: true });
    expect(report.error).toBeUndefined();
    expect(report.network?.enforcement.loss).toBe('kernel');

    let seen = 0;
    let dropped = 0;
    for (const container of await labDocker.listContainers({ [LABEL_RUN]: run })) {
      if (container.role !== 'peer') continue;
      const { pid } = await labDocker.inspect(container.id);
      if (pid === undefined) throw new Error(`no pid for ${container.name}`);
      const listing = await hostIptables(pid, ['-L', CHAIN, '-v', '-x', '-n'], abort.signal);
      // Rule 1 counts every packet from the remote, rule 2 is the statistic DROP.
      const rows = listing
        .split('\n')
        .slice(2)
        .filter((line) => line.trim() !== '');
      expect(rows).toHaveLength(2);
      expect(rows[1]).toMatch(/DROP .*statistic mode random probability 0\.0(5|49)/);
      seen += Number(rows[0]?.trim().split(/\s+/)[0]);
      dropped += Number(rows[1]?.trim().split(/\s+/)[0]);
    }
    process.stderr.write(
      `lab-loss: ${dropped} of ${seen} packets dropped (${((100 * dropped) / seen).toFixed(2)} %)\n`,
    );
    // veth coalesces segments (GRO), so 32 MiB is only ~1000 packets: 2..8 % is about 3 standard deviations.
    expect(seen).toBeGreaterThan(400);
    expect(dropped / seen).toBeGreaterThan(0.02);
    expect(dropped / seen).toBeLessThan(0.08);
  });
});
