/**
 * Replays lab/scenarios/seeder-killed.yaml through the controller API: one of two sources is killed
 * mid-download and the download still completes, verified, from the other. Also checks that an invalid
 * scenario is refused before any container exists. Needs Docker.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { replayScenario, runCommand, shippedScenarioPath } from '../../lab/commands';
import { ScenarioInvalidError } from '../../lab/errors';
import { LABEL_RUN } from '../../lab/engine/lab-docker';
import { loadScenario } from '../../lab/scenario/load';
import { setLogLevel } from '../../src/shared/logger';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 180_000;

describe('lab scenarios (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const { labDocker, controller, lines, abort, ctx } = createLabTestContext();
  const run = `seeder-killed-test-${process.pid}`;

  afterAll(async () => {
    abort.abort();
    await controller.down(run);
    await controller.down(`${run}-invalid`);
  });

  it('seeder-killed: the download completes from the surviving source', async () => {
    const scenario = await loadScenario(shippedScenarioPath('seeder-killed.yaml'));
    const report = await replayScenario(ctx, scenario, { run });
    if (!report.ok) throw new Error(`scenario failed: ${report.error?.message}\n${lines.join('\n')}`);

    const download = report.downloads.find((d) => d.peer === 'peer-3');
    expect(download).toBeDefined();
    expect(download?.verified).toBe(true);
    expect(download?.bytes).toBe(1024 * 1024);
    expect(download?.chunksBySource['peer-1'] ?? 0).toBeGreaterThan(0);
    const kill = report.steps.find((s) => s.action === 'kill');
    expect(kill?.ok).toBe(true);
    expect(lines.some((l) => /peer-3 \(.*\) <- chunk \d+\/64 of payload\.bin from peer-1/.test(l))).toBe(true);

    const left = await labDocker.listContainers({ [LABEL_RUN]: run });
    expect(left).toEqual([]);
    expect(await labDocker.listNetworks({ [LABEL_RUN]: run })).toEqual([]);
  });

  it('an invalid scenario is rejected before anything starts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swarmlab-scenario-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: bad\npeers: 2\nsteps:\n  - action: download\n    peer: peer-9\n    file: x.txt\n');
    await expect(runCommand(ctx, file, { run: `${run}-invalid` })).rejects.toBeInstanceOf(ScenarioInvalidError);
    await expect(runCommand(ctx, file, { run: `${run}-invalid` })).rejects.toMatchObject({
      code: 'ERR_LAB_SCENARIO_INVALID',
      issues: [{ instancePath: '/steps/0/peer' }],
    });
    expect(await labDocker.listContainers({ [LABEL_RUN]: `${run}-invalid` })).toEqual([]);
  });
});
