/**
 * Every shipped scenario (lab/scenarios), in full, on the bridge engine: `chaos` with all its faults, then
 * each other scenario through `replayScenario`. Left out: `fifty` (50 peers, 64 MiB: a machine with more
 * than 2 cores) and `demo`, which lab-demo.test.ts runs in full through the CLI. A scenario added to
 * lab/scenarios is run here without a change to this file.
 *
 * SWARMLAB_TEST_LOAD=1 runs the same scenarios while one busy process per core keeps every core full
 * (SWARMLAB_TEST_LOAD=N: N busy processes): a scenario that only passes at one speed is a broken one.
 * Needs Docker.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';

import { chaosCommand, CHAOS_FAULTS, scenarioNameOf, type chaosJson } from '../../lab/chaos';
import { replayScenario, shippedScenarioPath } from '../../lab/commands';
import { LABEL_RUN } from '../../lab/engine/lab-docker';
import { loadScenario } from '../../lab/scenario/load';
import { setLogLevel } from '../../src/shared/logger';
import { requestedBurners, startCpuLoad, type CpuLoad } from '../helpers/cpu-load';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

/** Shipped scenarios this file does not run, and why. */
const RUN_ELSEWHERE: Readonly<Record<string, string>> = {
  fifty: '50 peers and 64 MiB: a machine with more than 2 cores (npm run lab -- run fifty)',
  demo: 'lab-demo.test.ts runs it in full through the CLI',
};
const CHAOS_SCENARIOS = CHAOS_FAULTS.map(scenarioNameOf);
const SHIPPED = readdirSync(dirname(shippedScenarioPath('demo.yaml')))
  .filter((file) => /\.ya?ml$/.test(file))
  .map((file) => file.replace(/\.ya?ml$/, ''))
  .sort();
const OTHERS = SHIPPED.filter((name) => !CHAOS_SCENARIOS.includes(name) && RUN_ELSEWHERE[name] === undefined);

const BURNERS = requestedBurners();
// Quiet, chaos takes about a minute and each other scenario 5 to 15 s plus its containers' start; a
// loaded host can take several times that.
const CHAOS_TIMEOUT_MS = BURNERS > 0 ? 900_000 : 400_000;
const SCENARIO_TIMEOUT_MS = BURNERS > 0 ? 360_000 : 180_000;

describe(`every shipped scenario (containers${BURNERS > 0 ? `, ${BURNERS} busy processes` : ''})`, () => {
  const { labDocker, controller, lines, abort, ctx } = createLabTestContext();
  const prefix = `all-test-${process.pid}`;
  const runs = [...CHAOS_SCENARIOS, ...OTHERS].map((name) => `${prefix}-${name}`);
  let load: CpuLoad | undefined;

  beforeAll(() => {
    if (BURNERS > 0) load = startCpuLoad(BURNERS);
  });

  afterAll(async () => {
    await load?.stop();
    abort.abort();
    for (const run of runs) await controller.down(run);
  });

  beforeEach(() => {
    lines.length = 0;
  });

  it('runs every shipped scenario: chaos, the others here, fifty and demo where RUN_ELSEWHERE says', () => {
    expect(SHIPPED).toEqual([...CHAOS_SCENARIOS, ...OTHERS, ...Object.keys(RUN_ELSEWHERE)].sort());
    expect(OTHERS.length).toBeGreaterThan(0);
  });

  it(
    'chaos in full: every fault survived, the --json record and the table say so, nothing left behind',
    async () => {
      const code = await chaosCommand(ctx, { runPrefix: prefix, json: true, printChunks: true });
      const record = JSON.parse(lines.at(-1) ?? '{}') as ReturnType<typeof chaosJson>;
      if (code !== 0) throw new Error(`chaos failed (exit ${code}):\n${lines.join('\n')}`);

      expect(record.chaos.map((r) => r.scenario)).toEqual(CHAOS_SCENARIOS);
      for (const result of record.chaos) {
        expect(result).toMatchObject({ survived: true });
        expect(result.bytesVerified).toBeGreaterThanOrEqual(1024 * 1024);
        expect(result.recoverS).toBeGreaterThan(0);
      }
      // The partition lasts until the tracker has expired the peer: three missed 5 s heartbeats.
      const partition = record.chaos.find((r) => r.scenario === 'partition');
      expect(partition?.recoverS).toBeGreaterThanOrEqual(10);
      expect(record.chaos.find((r) => r.scenario === 'seeder-killed')?.bytesVerified).toBe(1024 * 1024);
      expect(lines).toContainEqual(expect.stringMatching(/^FAULT\s+SURVIVED\s+BYTES VERIFIED\s+TIME TO RECOVER$/));
      expect(lines).toContainEqual(expect.stringMatching(/^network partition\s+yes\s+2097152\s+\d+\.\d s$/));
      // seeder-killed: the surviving source's chunks, a line each.
      expect(lines.some((l) => /peer-3 \(.*\) <- chunk \d+\/64 of payload\.bin from peer-1/.test(l))).toBe(true);

      for (const name of CHAOS_SCENARIOS) {
        expect(await labDocker.listContainers({ [LABEL_RUN]: `${prefix}-${name}` })).toEqual([]);
        expect(await labDocker.listNetworks({ [LABEL_RUN]: `${prefix}-${name}` })).toEqual([]);
      }
    },
    CHAOS_TIMEOUT_MS,
  );

  it.each(OTHERS)(
    '%s: every step and every download verified, nothing left behind',
    async (name) => {
      const run = `${prefix}-${name}`;
      const scenario = await loadScenario(shippedScenarioPath(`${name}.yaml`));
      const report = await replayScenario(ctx, scenario, { run, printChunks: false });
      if (!report.ok) throw new Error(`${name} failed: ${report.error?.message}\n${lines.join('\n')}`);

      expect(report.steps).toHaveLength(scenario.steps.length);
      expect(report.steps.every((step) => step.ok)).toBe(true);
      expect(report.downloads.length).toBeGreaterThan(0);
      for (const download of report.downloads) expect(download).toMatchObject({ verified: true });
      expect(await labDocker.listContainers({ [LABEL_RUN]: run })).toEqual([]);
      expect(await labDocker.listNetworks({ [LABEL_RUN]: run })).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );
});
