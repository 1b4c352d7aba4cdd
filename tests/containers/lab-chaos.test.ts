/**
 * `npm run lab -- chaos` through its command function: the network-partition and lying-peer scenarios
 * (all six with SWARMLAB_CHAOS_ALL=1) on real containers. Every fault must be survived, the `--json`
 * record must say so, and nothing labelled with the runs may be left afterwards. Needs Docker.
 */
import { chaosCommand, CHAOS_FAULTS, scenarioNameOf, type chaosJson } from '../../lab/chaos';
import { LABEL_RUN } from '../../lab/engine/lab-docker';
import { setLogLevel } from '../../src/shared/logger';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 300_000;
/** The two container-only faults; the others also run as processes in the integration suite. */
const DEFAULT_FAULTS = ['partition', 'lying-peer'];

describe('lab chaos (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const { labDocker, controller, lines, abort, ctx } = createLabTestContext();
  const prefix = `chaos-test-${process.pid}`;
  const only = process.env['SWARMLAB_CHAOS_ALL'] === '1' ? CHAOS_FAULTS.map(scenarioNameOf) : DEFAULT_FAULTS;
  const runs = only.map((name) => `${prefix}-${name}`);

  afterAll(async () => {
    abort.abort();
    for (const run of runs) await controller.down(run);
  });

  it(`survives ${only.join(', ')} and leaves nothing behind`, async () => {
    const code = await chaosCommand(ctx, { only, runPrefix: prefix, json: true });
    const record = JSON.parse(lines.at(-1) ?? '{}') as ReturnType<typeof chaosJson>;
    if (code !== 0) throw new Error(`chaos failed (exit ${code}):\n${lines.join('\n')}`);

    expect(record.chaos.map((r) => r.scenario)).toEqual(only);
    for (const result of record.chaos) {
      expect(result).toMatchObject({ survived: true });
      expect(result.bytesVerified).toBeGreaterThanOrEqual(1024 * 1024);
      expect(result.recoverS).toBeGreaterThan(0);
    }
    // The partition lasts until the tracker has expired the peer: three missed 5 s heartbeats.
    const partition = record.chaos.find((r) => r.scenario === 'partition');
    expect(partition?.recoverS).toBeGreaterThanOrEqual(10);
    expect(lines).toContainEqual(expect.stringMatching(/^FAULT\s+SURVIVED\s+BYTES VERIFIED\s+TIME TO RECOVER$/));
    expect(lines).toContainEqual(expect.stringMatching(/^network partition\s+yes\s+2097152\s+\d+\.\d s$/));

    for (const run of runs) {
      expect(await labDocker.listContainers({ [LABEL_RUN]: run })).toEqual([]);
      expect(await labDocker.listNetworks({ [LABEL_RUN]: run })).toEqual([]);
    }
  });
});
