/**
 * An invalid scenario is refused through the controller API before any container exists. The shipped
 * scenarios themselves run in lab-all-scenarios.test.ts. Needs Docker.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runCommand } from '../../lab/commands';
import { ScenarioInvalidError } from '../../lab/errors';
import { LABEL_RUN } from '../../lab/engine/lab-docker';
import { setLogLevel } from '../../src/shared/logger';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 180_000;

describe('lab scenarios (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const { labDocker, controller, abort, ctx } = createLabTestContext();
  const run = `scenario-test-${process.pid}`;

  afterAll(async () => {
    abort.abort();
    await controller.down(`${run}-invalid`);
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
