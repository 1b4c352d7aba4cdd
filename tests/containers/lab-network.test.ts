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
import { createLabTestContext, htbOnHost } from '../helpers/lab';

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

  async function pings(from: string, to: string, count: number): Promise<{ rttMs: number[]; medianMs: number }> {
    if (run === undefined) throw new Error('no run');
    const address = `${(await run.refresh(to)).ip ?? '?'}:${PEER_PORT}`;
    const result = await labDocker.exec(
      run.container(from).id,
      ['swarmlab', 'ctl', '--json', 'ping', address, '--count', String(count)],
      {},
    );
    const line = result.stdout.trim().split('\n').pop() ?? '';
    const parsed = JSON.parse(line) as { target: string; rttMs: number[]; medianMs: number };
    expect(parsed.target).toBe(address);
    expect(parsed.rttMs).toHaveLength(count);
    return parsed;
  }

  async function medianRtt(from: string, to: string): Promise<number> {
    return (await pings(from, to, 9)).medianMs;
  }

  /** The run the tests share, started by whichever runs first (so each can run alone with -t). */
  async function ensureRun(): Promise<void> {
    run ??= await controller.up({ run: runName, peers: [{ name: 'peer-1' }, { name: 'peer-2' }, { name: 'peer-3' }] });
  }

  async function replay(scenario: unknown): Promise<ReturnType<ScenarioRunner['replay']>> {
    if (run === undefined) throw new Error('no run');
    const runner = new ScenarioRunner(
      {
        run,
        docker: labDocker,
        printer: ctx.printer,
        waitReady: async (labRun, name, signal) => {
          await controller.waitReady(labRun.container(name), labRun.peer(name).control, signal);
        },
      },
      validateScenario(scenario),
      { signal: abort.signal, printChunks: false },
    );
    return runner.replay();
  }

  it('a link of 50 ms gives a 100 ms round trip, and a link step moves it to 300 ms', async () => {
    await ensureRun();
    const report = await replay({
      name: 'latency',
      peers: 3,
      network: { links: [{ between: ['peer-1', 'peer-2'], latencyMs: 50 }] },
      steps: [{ action: 'sleep', seconds: 0 }],
    });
    expect(report.ok).toBe(true);
    // Bandwidth goes to the kernel (htb) wherever the lab can enter a namespace and the kernel has htb.
    const bandwidth = htbOnHost() ? 'kernel' : 'app';
    expect(report.network?.enforcement).toMatchObject({ latency: 'app', jitter: 'app', bandwidth });
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
    // In force from the step's end: the very first round trips after it are already 300 ms.
    const first = await pings('peer-2', 'peer-1', 3);
    for (const rtt of first.rttMs) {
      expect(rtt).toBeGreaterThanOrEqual(255);
      expect(rtt).toBeLessThanOrEqual(345);
    }
    // The step itself is two `docker exec ... ctl link set` run at once: about a second on a loaded host.
    expect(changed.steps[0]?.ms).toBeLessThan(1000);
    process.stderr.write(`lab-network: the link step took ${changed.steps[0]?.ms ?? '?'} ms\n`);
    const slower = await medianRtt('peer-2', 'peer-1');
    expect(slower).toBeGreaterThanOrEqual(255);
    expect(slower).toBeLessThanOrEqual(345);
    expect(await medianRtt('peer-2', 'peer-3')).toBeLessThan(10);

    await statusCommand(ctx, runName);
    expect(lines.join('')).toMatch(
      /links enforced by: latency app, jitter app, bandwidth app, loss (kernel|unsupported), partition (kernel|unsupported)/,
    );
  });

  it('a restarted peer gets its links back (its new process, and the others for its address)', async () => {
    await ensureRun();
    const report = await replay({
      name: 'latency-restart',
      peers: 3,
      network: { links: [{ between: ['peer-1', 'peer-2'], latencyMs: 50 }] },
      steps: [
        { action: 'kill', peer: 'peer-1' },
        { action: 'start', peer: 'peer-1' },
      ],
    });
    expect(report.ok).toBe(true);
    for (const [from, to] of [
      ['peer-2', 'peer-1'],
      ['peer-1', 'peer-2'],
    ] as const) {
      const rtt = await medianRtt(from, to);
      expect(rtt).toBeGreaterThanOrEqual(85);
      expect(rtt).toBeLessThanOrEqual(115);
    }
    expect(await medianRtt('peer-1', 'peer-3')).toBeLessThan(10);
  });

  it('SWARMLAB_LINK_ENFORCEMENT=app: the peers alone carry the latency, and a partition is refused', async () => {
    const before = process.env['SWARMLAB_LINK_ENFORCEMENT'];
    process.env['SWARMLAB_LINK_ENFORCEMENT'] = 'app';
    try {
      await ensureRun();
      const report = await replay({
        name: 'app-only',
        peers: 3,
        network: { links: [{ between: ['peer-1', 'peer-3'], latencyMs: 50, lossPercent: 5 }] },
        steps: [{ action: 'partition', groups: [['peer-1'], ['peer-2']] }],
      });
      expect(report.network?.enforcement).toEqual({
        latency: 'app',
        jitter: 'app',
        bandwidth: 'app',
        loss: 'unsupported',
        partition: 'unsupported',
      });
      expect(report.ok).toBe(false);
      expect(report.steps[0]?.error).toMatch(/packet filter/);
      const rtt = await medianRtt('peer-3', 'peer-1');
      expect(rtt).toBeGreaterThanOrEqual(85);
      expect(rtt).toBeLessThanOrEqual(115);
    } finally {
      if (before === undefined) delete process.env['SWARMLAB_LINK_ENFORCEMENT'];
      else process.env['SWARMLAB_LINK_ENFORCEMENT'] = before;
    }
  });
});
