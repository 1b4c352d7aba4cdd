/**
 * An access link, measured: `network.peers.peer-1.up: 2M` on the only seeder makes a 16 MiB download take
 * 8 s ± 15 %. Needs Docker.
 */
import { replayScenario } from '../../lab/commands';
import { validateScenario } from '../../lab/scenario/load';
import { setLogLevel } from '../../src/shared/logger';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 180_000;

describe('lab access link (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const { controller, abort, ctx } = createLabTestContext();
  const run = `bandwidth-test-${process.pid}`;

  afterAll(async () => {
    abort.abort();
    await controller.down(run);
  });

  it('up: 2M on the only seeder makes 16 MiB take 8 s', async () => {
    const scenario = validateScenario({
      name: 'bandwidth-test',
      peers: 2,
      chunkSize: 262144,
      timeoutSeconds: 120,
      network: { peers: { 'peer-1': { up: '2M' } } },
      steps: [
        { action: 'connect', peers: 'all' },
        { action: 'generate', peer: 'peer-1', file: 'big.bin', size: 16777216, seed: 'bw', text: false },
        { action: 'publish', peer: 'peer-1' },
        { action: 'download', peer: 'peer-2', file: 'big.bin' },
        { action: 'assert', peer: 'peer-2', file: 'big.bin', verified: true },
      ],
    });
    const report = await replayScenario(ctx, scenario, { run, printChunks: false });
    expect(report.error).toBeUndefined();
    const ms = report.downloads.find((d) => d.peer === 'peer-2')?.ms ?? 0;
    process.stderr.write(`lab-bandwidth: 16 MiB at up 2M took ${ms} ms\n`);
    expect(ms).toBeGreaterThanOrEqual(8000 * 0.85);
    expect(ms).toBeLessThanOrEqual(8000 * 1.15);
  });
});
