/**
 * The scenario's network, measured: a link's latency set by the lab shows in the ping round trip between
 * two peers (twice the one-way latency), other links stay fast, and a `link` step moves it. Needs Docker.
 */
import { statusCommand } from '../../lab/commands';
import { PEER_PORT } from '../../lab/constants';
import type { LabRun } from '../../lab/controller';
import { ScenarioRunner } from '../../lab/scenario/runner';
import { validateScenario } from '../../lab/scenario/load';
import { setLogLevel } from '../../src/shared/logger';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 240_000;

describe('lab network (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const { labDocker, controller, abort, ctx, lines } = createLabTestContext();
  const runName = `network-test-${process.pid}`;
  let run: LabRun | undefined;

  afterAll(async () => {
    abort.abort();
    await controller.down(runName);
  });

  async function medianRtt(from: string, to: string): Promise<number> {
    if (run === undefined) throw new Error('no run');
    const address = `${run.container(to).ip ?? '?'}:${PEER_PORT}`;
    const result = await labDocker.exec(
      run.container(from).id,
      ['swarmlab', 'ctl', '--json', 'ping', address, '--count', '9'],
      {},
    );
    const line = result.stdout.trim().split('\n').pop() ?? '';
    const parsed = JSON.parse(line) as { target: string; rttMs: number[]; medianMs: number };
    expect(parsed.target).toBe(address);
    expect(parsed.rttMs).toHaveLength(9);
    return parsed.medianMs;
  }

  async function replay(scenario: unknown): Promise<ReturnType<ScenarioRunner['replay']>> {
    if (run === undefined) throw new Error('no run');
    const runner = new ScenarioRunner({ run, docker: labDocker, printer: ctx.printer }, validateScenario(scenario), {
      signal: abort.signal,
      printChunks: false,
    });
    return runner.replay();
  }

  it('a link of 50 ms gives a 100 ms round trip, and a link step moves it to 300 ms', async () => {
    run = await controller.up({ run: runName, peers: [{ name: 'peer-1' }, { name: 'peer-2' }, { name: 'peer-3' }] });
    const report = await replay({
      name: 'latency',
      peers: 3,
      network: { links: [{ between: ['peer-1', 'peer-2'], latencyMs: 50 }] },
      steps: [{ action: 'sleep', seconds: 0 }],
    });
    expect(report.ok).toBe(true);
    expect(report.network?.enforcement).toMatchObject({ latency: 'app', jitter: 'app', bandwidth: 'app' });
    expect(report.network?.links).toContainEqual({
      between: ['peer-1', 'peer-2'],
      latencyMs: 50,
      jitterMs: 0,
      lossPercent: 0,
      bandwidth: null,
    });

    const slow = await medianRtt('peer-2', 'peer-1');
    expect(slow).toBeGreaterThanOrEqual(85);
    expect(slow).toBeLessThanOrEqual(115);
    expect(await medianRtt('peer-2', 'peer-3')).toBeLessThan(10);

    const changed = await replay({
      name: 'latency-step',
      peers: 3,
      steps: [{ action: 'link', between: ['peer-1', 'peer-2'], latencyMs: 150, fault: true }],
    });
    expect(changed.ok).toBe(true);
    const slower = await medianRtt('peer-2', 'peer-1');
    expect(slower).toBeGreaterThanOrEqual(255);
    expect(slower).toBeLessThanOrEqual(345);
    expect(await medianRtt('peer-2', 'peer-3')).toBeLessThan(10);

    await statusCommand(ctx, runName);
    expect(lines.join('')).toMatch(
      /links enforced by: latency app, jitter app, bandwidth app, loss (kernel|unsupported), partition (kernel|unsupported)/,
    );
  });
});
