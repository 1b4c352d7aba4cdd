/**
 * A partial partition, measured: while [peer-1, peer-3] and [peer-2] are apart (the tracker in no side,
 * so both reach it), a download on peer-3 of a file peer-1 and peer-2 both hold takes chunks from peer-1
 * only; after `heal`, from both. The packet filter needs root on the Docker host (nsenter + iptables):
 * without it the test says so and skips. Needs Docker.
 */
import { replayScenario } from '../../lab/commands';
import { kernelFilterAvailable } from '../../lab/network/packet-filter';
import { validateScenario } from '../../lab/scenario/load';
import { setLogLevel } from '../../src/shared/logger';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 240_000;

const file = (name: string): Record<string, unknown>[] => [
  { action: 'generate', peers: ['peer-1', 'peer-2'], file: name, size: 1048576, seed: 'partial', text: false },
];

const SCENARIO = {
  name: 'partial-partition-test',
  peers: 3,
  chunkSize: 65536,
  timeoutSeconds: 180,
  network: { peers: { 'peer-1': { up: '256K' }, 'peer-2': { up: '256K' } } },
  steps: [
    { action: 'connect', peers: 'all' },
    ...file('during.bin'),
    ...file('after.bin'),
    { action: 'publish', peers: ['peer-1', 'peer-2'] },
    { action: 'partition', groups: [['peer-1', 'peer-3'], ['peer-2']], fault: true },
    { action: 'download', peer: 'peer-3', file: 'during.bin' },
    {
      action: 'assert',
      peer: 'peer-3',
      file: 'during.bin',
      verified: true,
      sourcesInclude: ['peer-1'],
      sourcesExclude: ['peer-2'],
    },
    { action: 'heal' },
    { action: 'download', peer: 'peer-3', file: 'after.bin' },
    { action: 'assert', peer: 'peer-3', file: 'after.bin', verified: true, sourcesInclude: ['peer-1', 'peer-2'] },
  ],
};

describe('lab partial partition (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const { controller, abort, ctx, lines } = createLabTestContext();
  const run = `partition-test-${process.pid}`;

  afterAll(async () => {
    abort.abort();
    await controller.down(run);
  });

  it('a download inside one side takes no chunk from the other side, and after heal from both', async () => {
    if (!(await kernelFilterAvailable())) {
      process.stderr.write(
        'SKIP lab-partition: the packet filter needs root on the Docker host, nsenter and iptables\n',
      );
      return;
    }
    // The kernel path on its own: refuse to run rather than fall back to leaving the partition unenforced.
    const before = process.env['SWARMLAB_LINK_ENFORCEMENT'];
    process.env['SWARMLAB_LINK_ENFORCEMENT'] = 'kernel';
    const report = await replayScenario(ctx, validateScenario(SCENARIO), { run, printChunks: false }).finally(() => {
      if (before === undefined) delete process.env['SWARMLAB_LINK_ENFORCEMENT'];
      else process.env['SWARMLAB_LINK_ENFORCEMENT'] = before;
    });
    if (!report.ok) process.stderr.write(`${lines.join('')}\n`);
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.network?.enforcement).toMatchObject({ partition: 'kernel', loss: 'kernel', latency: 'app' });
  });
});
