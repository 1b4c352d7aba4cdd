/**
 * The lab on Docker Swarm mode (issue 7), on a single-node swarm that the test starts when the daemon is
 * not in one and leaves again afterwards (tests/helpers/swarm.ts):
 * - `--engine swarm`: the demo scenario through the lab's command functions on Swarm services (one per
 *   node, on an overlay network); `status` lists the services' tasks; a killed peer comes back through
 *   `start` with its directory, and so does a tracker started at once after its kill; `down` leaves no
 *   service, network, volume or container of the run.
 * - `docker stack deploy -c compose.yaml`: a tracker and 3 peer replicas that get healthy and see each
 *   other's files, then `docker stack rm` until the stack's network is gone. The stack is deployed in
 *   beforeAll, so that Swarm starts it while the lab's tests run.
 * Both share one file so that one swarm lease covers them. Needs Docker; images are built in beforeAll.
 */
import { join } from 'node:path';

import Docker from 'dockerode';
import YAML from 'yaml';

import {
  downCommand,
  replayScenario,
  shippedScenarioPath,
  statusCommand,
  type CommandContext,
} from '../../lab/commands';
import { LabController } from '../../lab/controller';
import { ensureImages } from '../../lab/images/build-images';
import { Printer } from '../../lab/print';
import { loadScenario } from '../../lab/scenario/load';
import { SwarmLabDocker } from '../../lab/engine/swarm-lab-docker';
import { ENGINE_SWARM, LABEL_ENGINE } from '../../lab/engine/swarm-service-spec';
// Importing the docker helpers also disables Ryuk.
import {
  ctlResult,
  execInContainer,
  expectSuccess,
  runCommand,
  uniqueRunId,
  waitFor,
  waitForHealthyContainers,
  type CommandResult,
} from '../helpers/docker';
import { useSingleNodeSwarm, type SwarmLease } from '../helpers/swarm';

const ROOT = join(__dirname, '..', '..');
const COMPOSE_FILE = join(ROOT, 'compose.yaml');
const TEST_TIMEOUT_MS = 150_000;
const SETUP_TIMEOUT_MS = 300_000;
const TEARDOWN_TIMEOUT_MS = 120_000;
const STACK_PEERS = 3;

interface ServiceSummary {
  Spec: {
    Name: string;
    Mode?: { Replicated?: { Replicas?: number } };
    EndpointSpec?: { Mode?: string };
  };
}

interface StackConfig {
  services: Record<string, { deploy?: { replicas?: number; endpoint_mode?: string }; image?: string }>;
  networks: Record<string, { attachable?: boolean; labels?: Record<string, string> } | null>;
}

interface FileEntry {
  name: string;
  holders: number;
}

describe('the lab on Docker Swarm mode (containers)', () => {
  const docker = new Docker();
  const swarmDocker = new SwarmLabDocker({ docker });
  const controller = new LabController({ docker: swarmDocker, ensureImages: (init) => ensureImages(docker, init) });
  const lines: string[] = [];
  const ctx: CommandContext = {
    controller,
    printer: new Printer({ out: { write: (line) => lines.push(line) } }),
    signal: new AbortController().signal,
  };
  const run = uniqueRunId('swarm-engine');
  const stack = uniqueRunId('swarmlab-stack');
  const stackEnv: NodeJS.ProcessEnv = { ...process.env, SWARMLAB_RUN: stack, SWARMLAB_PEERS: String(STACK_PEERS) };
  let lease: SwarmLease | undefined;
  /** `docker stack deploy`, started in beforeAll so that the stack boots while the lab's demo runs. */
  let deployed: CommandResult | undefined;

  const dockerCli = async (args: readonly string[], timeoutMs = 90_000): Promise<CommandResult> =>
    runCommand('docker', args, { cwd: ROOT, env: stackEnv, timeoutMs });
  const stackNetworkGone = async (): Promise<boolean> =>
    (await docker.listNetworks({ filters: { name: [`${stack}_swarmlab`] } })).length === 0;
  /**
   * `docker stack rm` removes the services, then the network at once; while the services' tasks
   * are still stopping, Docker 20.10 refuses the network ("is in use by task") and exits 1, having
   * removed everything else. Running it again once the tasks are gone finishes the job, so the
   * assertion is that the stack goes away, not that the first call wins the race.
   */
  const removeStack = async (): Promise<void> => {
    let last = await dockerCli(['stack', 'rm', stack]);
    for (let attempt = 0; last.exitCode !== 0 && /in use by task/.test(last.stderr) && attempt < 10; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      last = await dockerCli(['stack', 'rm', stack]);
    }
    expectSuccess(last, 'docker stack rm');
  };
  const runLeftovers = async (): Promise<Record<string, number>> => {
    const label = { label: [`swarmlab.run=${run}`] };
    const [services, networks, volumes, containers] = await Promise.all([
      docker.listServices({ filters: label }),
      docker.listNetworks({ filters: label }),
      docker.listVolumes({ filters: label }),
      docker.listContainers({ all: true, filters: label }),
    ]);
    return {
      services: services.length,
      networks: networks.length,
      volumes: (volumes.Volumes ?? []).length,
      containers: containers.length,
    };
  };

  beforeAll(async () => {
    await ensureImages(docker);
    lease = await useSingleNodeSwarm(docker);
    deployed = await dockerCli(['stack', 'deploy', '-c', COMPOSE_FILE, '--resolve-image', 'never', stack]);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    try {
      await controller.down(run).catch(() => undefined);
      if (!(await stackNetworkGone())) {
        await removeStack().catch(() => undefined);
        await waitFor(async () => ((await stackNetworkGone()) ? true : undefined), {
          timeoutMs: 60_000,
          what: `network ${stack}_swarmlab to go`,
        }).catch(() => undefined);
      }
    } finally {
      await lease?.release();
    }
  }, TEARDOWN_TIMEOUT_MS);

  describe('--engine swarm', () => {
    it(
      'replays the demo on Swarm services: both downloads verify, with chunks from both publishers',
      async () => {
        const scenario = await loadScenario(shippedScenarioPath('demo.yaml'));
        const report = await replayScenario(ctx, scenario, { run, keep: true, printChunks: false });
        if (!report.ok) throw new Error(`demo failed: ${report.error?.message}\n${lines.slice(-40).join('\n')}`);

        expect(report.downloads.map((d) => d.peer).sort()).toEqual(['peer-3', 'peer-4']);
        for (const download of report.downloads) {
          expect(download).toMatchObject({ file: 'file1_dir1.txt', bytes: 512 * 1024, verified: true });
          expect(download.chunksBySource['peer-1'] ?? 0).toBeGreaterThan(0);
          expect(download.chunksBySource['peer-2'] ?? 0).toBeGreaterThan(0);
        }

        const services = (await docker.listServices({
          filters: { label: [`swarmlab.run=${run}`, `${LABEL_ENGINE}=${ENGINE_SWARM}`] },
        })) as unknown as ServiceSummary[];
        expect(services.map((s) => s.Spec.Name).sort()).toEqual(
          [1, 2, 3, 4].map((n) => `${run}-peer-${n}`).concat(`${run}-tracker`),
        );
        for (const service of services) {
          expect(service.Spec.EndpointSpec?.Mode).toBe('dnsrr');
          expect(service.Spec.Mode?.Replicated?.Replicas).toBe(1);
        }
        const networks = await docker.listNetworks({ filters: { label: [`swarmlab.run=${run}`] } });
        expect(networks.map((n) => [n.Driver, n.Attachable])).toEqual([['overlay', true]]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "status lists the services' running tasks with what each peer holds",
      async () => {
        const peerHolds = new RegExp(`^${run}-peer-3\\s.*connected.*file1_dir1\\.txt`, 'm');
        // status gives each peer's `ctl status` 5 s; on a loaded host an exec can take longer, so ask again.
        const table = await waitFor(
          async () => {
            lines.length = 0;
            expect(await statusCommand(ctx, run)).toBe(0);
            const printed = lines.join('\n');
            return peerHolds.test(printed) ? printed : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 1_000, what: 'a status table with what peer-3 holds' },
        );
        for (const name of ['tracker', 'peer-1', 'peer-2', 'peer-3', 'peer-4']) {
          expect(table).toMatch(new RegExp(`^${run}-${name}\\s+\\d+\\.\\d+\\.\\d+\\.\\d+\\s+\\w+\\s+running`, 'm'));
        }
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "a killed peer's task stays dead until start, and the new task finds the peer's files again",
      async () => {
        const labRun = await controller.attach(run);
        const peer = labRun.peer('peer-3');
        const before = await peer.control.sha256('/data/file1_dir1.txt');

        await swarmDocker.kill(peer.container.id);
        const killed = await waitFor(
          async () => {
            const node = await swarmDocker.inspect(peer.container.id);
            return node.state === 'exited' ? node : undefined;
          },
          { timeoutMs: 30_000, what: 'the killed task to end' },
        );
        expect(killed.ip).toBeUndefined();

        await swarmDocker.start(peer.container.id);
        const back = await controller.waitReady(await swarmDocker.inspect(peer.container.id), peer.control);
        expect(back.state).toBe('running');
        expect(await peer.control.sha256('/data/file1_dir1.txt')).toBe(before);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'a start right after a kill, before Swarm has noticed the death, brings up a new tracker task',
      async () => {
        const labRun = await controller.attach(run);
        const tracker = labRun.container('tracker');
        await swarmDocker.kill(tracker.id);
        await swarmDocker.start(tracker.id);
        const back = await controller.waitReady(await swarmDocker.inspect(tracker.id));
        expect(back.state).toBe('running');
        const tasks = (await docker.listTasks({ filters: { service: [tracker.id] } })) as { ID: string }[];
        expect(tasks).toHaveLength(2);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "down removes the run's services, network and volumes once their tasks are gone",
      async () => {
        lines.length = 0;
        expect(await downCommand(ctx, run, false)).toBe(0);
        expect(lines.join('\n')).toContain(`run ${run}: removed 5 container(s) and 1 network(s)`);
        expect(await runLeftovers()).toEqual({ services: 0, networks: 0, volumes: 0, containers: 0 });
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('docker stack deploy -c compose.yaml', () => {
    it(
      'is a stack of a dnsrr tracker and SWARMLAB_PEERS peer replicas on an attachable network',
      async () => {
        const config = YAML.parse(
          expectSuccess(await dockerCli(['stack', 'config', '-c', COMPOSE_FILE]), 'docker stack config'),
        ) as StackConfig;
        expect(config.services['tracker']?.deploy).toMatchObject({ replicas: 1, endpoint_mode: 'dnsrr' });
        expect(config.services['peer']?.deploy).toMatchObject({ replicas: STACK_PEERS, endpoint_mode: 'dnsrr' });
        expect(config.networks['swarmlab']).toMatchObject({ attachable: true, labels: { 'swarmlab.run': stack } });
      },
      TEST_TIMEOUT_MS,
    );

    it(
      `deploys a tracker and ${STACK_PEERS} peers that get healthy and share files, and stack rm removes them`,
      async () => {
        expectSuccess(deployed ?? { exitCode: null, stdout: '', stderr: 'not run' }, 'docker stack deploy');
        const containers = await waitForHealthyContainers(
          docker,
          [`com.docker.stack.namespace=${stack}`],
          STACK_PEERS + 1,
          90_000,
        ).catch(async (err: unknown) => {
          const ps = await dockerCli(['stack', 'ps', '--no-trunc', stack]);
          throw new Error(`${err instanceof Error ? err.message : String(err)}\n${ps.stdout}`);
        });
        const tasks = (await docker.listTasks({
          filters: { service: [`${stack}_tracker`, `${stack}_peer`], 'desired-state': ['running'] },
        })) as { Status: { State: string } }[];
        expect(tasks.map((t) => t.Status.State)).toEqual(Array.from({ length: STACK_PEERS + 1 }, () => 'running'));

        const peers = containers.filter((c) => c.Labels['swarmlab.role'] === 'peer').map((c) => c.Id);
        expect(peers).toHaveLength(STACK_PEERS);
        const [first, second, third] = peers as [string, string, string];
        const ctl = async (containerId: string, args: readonly string[]): Promise<Record<string, unknown>> => {
          const result = await execInContainer(docker, containerId, ['swarmlab', 'ctl', '--json', ...args]);
          if (result.exitCode !== 0) {
            // Say what Swarm did to the task (an exit 137 here is a task Swarm shut down).
            const ps = await dockerCli(['stack', 'ps', '--no-trunc', stack]);
            result.stderr += `\n--- docker stack ps\n${ps.stdout}${ps.stderr}`;
          }
          return ctlResult(expectSuccess(result, `ctl ${args.join(' ')}`));
        };
        // Autoconnect retries until the tracker's name resolves; wait for every peer to be connected.
        for (const peer of peers) {
          await waitFor(async () => ((await ctl(peer, ['status']))['connected'] === true ? true : undefined), {
            timeoutMs: 60_000,
            what: 'the peer to connect to the tracker',
          });
        }
        const generated = await ctl(first, ['generate', 'stack-a.bin', '1M', '--seed', 'stack-a']);
        await ctl(first, ['upload']);
        await ctl(second, ['generate', 'stack-b.txt', '200K', '--seed', 'stack-b', '--text']);
        await ctl(second, ['upload']);
        const files = await waitFor(
          async () => {
            const listed = (await ctl(third, ['files']))['files'] as FileEntry[];
            const names = listed.map((f) => f.name).sort();
            return names.includes('stack-a.bin') && names.includes('stack-b.txt') ? listed : undefined;
          },
          { timeoutMs: 30_000, what: "both published files in the third peer's `ctl files`" },
        );
        for (const file of files) expect(file.holders).toBe(1);
        expect(await ctl(third, ['download', 'stack-a.bin'])).toMatchObject({
          verified: true,
          sha256: generated['sha256'],
        });

        await removeStack();
        await waitFor(async () => ((await stackNetworkGone()) ? true : undefined), {
          timeoutMs: 60_000,
          what: `network ${stack}_swarmlab to go`,
        });
        await waitFor(
          async () => {
            const left = await docker.listContainers({
              all: true,
              filters: { label: [`com.docker.stack.namespace=${stack}`] },
            });
            return left.length === 0 ? true : undefined;
          },
          { timeoutMs: 60_000, what: "the stack's containers to go" },
        );
      },
      TEST_TIMEOUT_MS,
    );
  });
});
