/**
 * The netem path, measured: where the kernel has netem, a 50 ms link is enforced by netem qdiscs in the
 * containers' namespaces (the peers' emulator keeps no delay) and gives a 100 ms ± 15 % ping round trip;
 * a `link` step moves it to 300 ms. Where the kernel has no netem (or the lab cannot enter namespaces:
 * not root), the whole file is skipped with a notice. Needs Docker.
 */
import { execFileSync } from 'node:child_process';

import { PEER_PORT } from '../../lab/constants';
import type { LabRun } from '../../lab/controller';
import { ScenarioRunner } from '../../lab/scenario/runner';
import { validateScenario } from '../../lab/scenario/load';
import { setLogLevel } from '../../src/shared/logger';
import { createLabTestContext, htbOnHost } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 240_000;

/** netem in this kernel, tried in a namespace of its own (the module is the kernel's, shared by all). */
function netemOnHost(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('unshare', ['-n', 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '0ms'], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

const NETEM = netemOnHost();
if (!NETEM) {
  process.stderr.write(
    'SKIP lab-netem: this host has no netem qdisc (or the tests do not run as root); the netem path is untested here\n',
  );
}

(NETEM ? describe : describe.skip)(
  `lab netem path (containers)${NETEM ? '' : ' [SKIPPED: no netem in this kernel]'}`,
  () => {
    jest.setTimeout(TIMEOUT_MS);
    const { labDocker, controller, abort, ctx } = createLabTestContext();
    const runName = `netem-test-${process.pid}`;
    let run: LabRun | undefined;

    afterAll(async () => {
      abort.abort();
      await controller.down(runName);
    });

    async function exec(from: string, argv: string[]): Promise<string> {
      if (run === undefined) throw new Error('no run');
      const result = await labDocker.exec(run.container(from).id, ['swarmlab', 'ctl', '--json', ...argv], {});
      return result.stdout.trim().split('\n').pop() ?? '';
    }

    async function medianRtt(from: string, to: string): Promise<number> {
      const address = `${run?.container(to).ip ?? '?'}:${PEER_PORT}`;
      return (JSON.parse(await exec(from, ['ping', address, '--count', '9'])) as { medianMs: number }).medianMs;
    }

    async function replay(scenario: unknown): Promise<ReturnType<ScenarioRunner['replay']>> {
      if (run === undefined) throw new Error('no run');
      const runner = new ScenarioRunner({ run, docker: labDocker, printer: ctx.printer }, validateScenario(scenario), {
        signal: abort.signal,
        printChunks: false,
      });
      return runner.replay();
    }

    it('a 50 ms link in netem gives a 100 ms round trip, and a link step moves it to 300 ms', async () => {
      run = await controller.up({ run: runName, peers: [{ name: 'peer-1' }, { name: 'peer-2' }, { name: 'peer-3' }] });
      const report = await replay({
        name: 'netem',
        peers: 3,
        network: { links: [{ between: ['peer-1', 'peer-2'], latencyMs: 50 }] },
        steps: [{ action: 'link', between: ['peer-1', 'peer-3'], latencyMs: 0 }],
      });
      expect(report.ok).toBe(true);
      expect(report.network?.enforcement).toMatchObject({
        latency: 'netem',
        jitter: 'netem',
        bandwidth: htbOnHost() ? 'kernel' : 'app',
      });
      // The peers' emulator holds no delay: netem alone makes the round trip.
      const shown = JSON.parse(await exec('peer-1', ['link', 'show'])) as { links: { latencyMs: number }[] };
      expect(shown.links.every((link) => link.latencyMs === 0)).toBe(true);
      const slow = await medianRtt('peer-2', 'peer-1');
      expect(slow).toBeGreaterThanOrEqual(85);
      expect(slow).toBeLessThanOrEqual(115);
      expect(await medianRtt('peer-2', 'peer-3')).toBeLessThan(10);

      const changed = await replay({
        name: 'netem-step',
        peers: 3,
        steps: [{ action: 'link', between: ['peer-1', 'peer-2'], latencyMs: 150 }],
      });
      expect(changed.ok).toBe(true);
      const slower = await medianRtt('peer-2', 'peer-1');
      expect(slower).toBeGreaterThanOrEqual(255);
      expect(slower).toBeLessThanOrEqual(345);
    });
  },
);
