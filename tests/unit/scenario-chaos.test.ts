/** `npm run lab -- chaos`: the fault list, its scenarios, and how a scenario's report is judged. No Docker. */
import { readFileSync } from 'node:fs';

import { CHAOS_FAULTS, chaosCommand, chaosJson, chaosResult, selectFaults, type ChaosFault } from '../../lab/chaos';
import { shippedScenarioPath, type CommandContext } from '../../lab/commands';
import { LabController } from '../../lab/controller';
import type { LabDocker } from '../../lab/engine/lab-docker';
import { Printer } from '../../lab/print';
import { parseScenario } from '../../lab/scenario/load';
import type { ScenarioReport } from '../../lab/report-types';

const PARTITION: ChaosFault = { fault: 'network partition', scenario: 'partition.yaml' };

function report(overrides: Partial<ScenarioReport> = {}): ScenarioReport {
  return {
    scenario: 'partition',
    ok: true,
    ms: 40_000,
    steps: [],
    downloads: [
      {
        peer: 'peer-3',
        file: 'p.bin',
        bytes: 2097152,
        sha256: 'a',
        verified: true,
        chunksBySource: {},
        finishedAtMs: 31_000,
      },
    ],
    fault: { index: 5, action: 'disconnect-network', atMs: 9_000 },
    recoverMs: 22_040,
    ...overrides,
  };
}

describe('the chaos fault list', () => {
  it.each(CHAOS_FAULTS.map((f) => [f.fault, f.scenario]))(
    '%s (%s) marks one fault step and ends by asserting a verified download',
    (_fault, file) => {
      const scenario = parseScenario(readFileSync(shippedScenarioPath(file), 'utf8'), file);
      const faultSteps = scenario.steps.filter((step) => 'fault' in step && step.fault === true);
      expect(faultSteps).toHaveLength(1);
      const verifies = scenario.steps.filter((step) => step.action === 'assert' && step.verified === true);
      expect(verifies.length).toBeGreaterThan(0);
      const faultIndex = scenario.steps.indexOf(faultSteps[0]!);
      expect(scenario.steps.indexOf(verifies.at(-1)!)).toBeGreaterThan(faultIndex);
      // Small files keep each scenario within seconds (CI runs some of them).
      for (const step of scenario.steps) if (step.action === 'generate') expect(step.size).toBeLessThanOrEqual(4 << 20);
    },
  );

  it('covers kill, pause, tracker restart, partition, lying peer, disk full, partial partition and a flaky link', () => {
    expect(CHAOS_FAULTS.map((f) => f.scenario)).toEqual([
      'seeder-killed.yaml',
      'source-paused.yaml',
      'tracker-restart.yaml',
      'partition.yaml',
      'lying-peer.yaml',
      'disk-full.yaml',
      'partial-partition.yaml',
      'flaky-link.yaml',
    ]);
  });
});

describe('selectFaults', () => {
  it('takes every fault by default, or the named ones in list order', () => {
    expect(selectFaults(undefined)).toEqual(CHAOS_FAULTS);
    expect(selectFaults([]).length).toBe(CHAOS_FAULTS.length);
    expect(selectFaults(['lying-peer', 'partition.yaml']).map((f) => f.scenario)).toEqual([
      'partition.yaml',
      'lying-peer.yaml',
    ]);
  });

  it('refuses an unknown name as a usage error', () => {
    expect(() => selectFaults(['partition', 'meteor'])).toThrow(expect.objectContaining({ code: 'ERR_LAB_USAGE' }));
  });
});

describe('chaosResult', () => {
  it('survived: bytes of the download that ended the recovery, recovery in seconds', () => {
    expect(chaosResult(PARTITION, 'chaos-partition', report())).toEqual({
      fault: 'network partition',
      scenario: 'partition',
      run: 'chaos-partition',
      survived: true,
      bytesVerified: 2097152,
      recoverS: 22,
    });
  });

  it('not survived when the scenario failed, or when no verified download finished after the fault', () => {
    const failed = chaosResult(
      PARTITION,
      'r',
      report({ ok: false, error: { code: 'ERR_LAB_STEP_FAILED', message: 'step 7 (assert) failed' } }),
    );
    expect(failed).toMatchObject({ survived: false, recoverS: null, error: 'step 7 (assert) failed' });
    const before = report({ fault: { index: 5, action: 'kill', atMs: 35_000 }, recoverMs: undefined });
    expect(chaosResult(PARTITION, 'r', before)).toMatchObject({
      survived: false,
      bytesVerified: 0,
      error: 'no download finished verified after the fault',
    });
    expect(chaosResult(PARTITION, 'r', report({ fault: undefined }))).toMatchObject({ survived: false });
  });

  it('gives the --json record the documented shape', () => {
    const json = chaosJson([chaosResult(PARTITION, 'chaos-partition', report())]);
    expect(json).toEqual({
      chaos: [
        { fault: 'network partition', scenario: 'partition', survived: true, bytesVerified: 2097152, recoverS: 22 },
      ],
    });
  });
});

describe('chaosCommand', () => {
  it('starts nothing once interrupted, reports every fault as not survived, and exits 1', async () => {
    const touched: string[] = [];
    const docker = new Proxy({} as LabDocker, {
      get: (_target, property) => () => {
        touched.push(String(property));
        return Promise.reject(new Error('no docker in this test'));
      },
    });
    const lines: string[] = [];
    const abort = new AbortController();
    abort.abort();
    const ctx: CommandContext = {
      controller: new LabController({ docker, ensureImages: async () => ({ tracker: 't', peer: 'p' }) }),
      printer: new Printer({ out: { write: (line) => lines.push(line) } }),
      signal: abort.signal,
    };
    expect(await chaosCommand(ctx, { only: ['partition', 'lying-peer'], json: true })).toBe(1);
    expect(touched).toEqual([]);
    const last = JSON.parse(lines.at(-1)!) as ReturnType<typeof chaosJson>;
    expect(last.chaos.map((r) => [r.scenario, r.survived, r.error])).toEqual([
      ['partition', false, 'not run (interrupted)'],
      ['lying-peer', false, 'not run (interrupted)'],
    ]);
    expect(lines).toContainEqual(expect.stringMatching(/^FAULT\s+SURVIVED\s+BYTES VERIFIED\s+TIME TO RECOVER$/));
  });
});
