/**
 * A tracker and a few peers started with testcontainers on a network of their own, for the container
 * tests that need no lab controller. Every container carries `swarmlab.run=<run>`; `stop()` removes
 * them (and any a failed start left behind) and the network, then checks nothing of the run is left.
 * A container that fails to start is reported with every container's output so far.
 */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { GenericContainer, Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import type { ImageRefs } from '../../lab/images/build-images';
// Importing the helpers also disables Ryuk (read when the first container starts).
import { expectSuccess, leftovers, uniqueRunId, type CommandResult } from './docker';

const STARTUP_TIMEOUT_MS = 60_000;
const LOG_TAIL_CHARS = 3_000;

export interface ContainerPeerSpec {
  /** Environment on top of the tracker address, the name `peer-N`, autoconnect and JSON logs. */
  env?: Record<string, string>;
  /** Anything else the test needs of this peer's container (a tmpfs, say). */
  customize?: (container: GenericContainer) => GenericContainer;
}

export interface ContainerSwarm {
  readonly run: string;
  readonly networkName: string;
  /** The peers that started, in the order of the specs (`peer-1` first). */
  readonly peers: StartedTestContainer[];
  /** Starts the network, the tracker (alias `tracker`) and one healthy peer per spec. */
  start(images: Pick<ImageRefs, 'tracker' | 'peer'>, peers: readonly ContainerPeerSpec[]): Promise<void>;
  /** Removes every container and the network of the run, then expects nothing of it left. */
  stop(): Promise<void>;
  /** `err` with every container's output so far appended, for a step that failed. */
  withLogs(err: unknown): Error;
}

export function containerSwarm(docker: Docker, prefix: string): ContainerSwarm {
  const run = uniqueRunId(prefix);
  const networkName = `swarmlab-${run}`;
  const labels = (role: string): Record<string, string> => ({ 'swarmlab.run': run, 'swarmlab.role': role });
  const logs = new Map<string, string>();
  const keepLogs =
    (name: string) =>
    (stream: Readable): void => {
      stream.on('data', (line: Buffer | string) => logs.set(name, `${logs.get(name) ?? ''}${String(line)}`));
    };
  const withLogs = (err: unknown): Error =>
    new Error(
      `${err instanceof Error ? err.message : String(err)}\n${[...logs]
        .map(([name, text]) => `--- ${name}\n${text.slice(-LOG_TAIL_CHARS)}`)
        .join('\n')}`,
    );
  let network: StartedNetwork | undefined;
  let tracker: StartedTestContainer | undefined;
  const peers: StartedTestContainer[] = [];

  return {
    run,
    networkName,
    peers,
    withLogs,
    async start(images, specs) {
      // testcontainers' Network takes no labels; its name carries the run id instead.
      const started = await new Network({ nextUuid: () => networkName }).start();
      network = started;
      tracker = await new GenericContainer(images.tracker)
        .withNetwork(started)
        .withNetworkAliases('tracker')
        .withLabels(labels('tracker'))
        .withLogConsumer(keepLogs('tracker'))
        .withWaitStrategy(Wait.forHealthCheck())
        .withStartupTimeout(STARTUP_TIMEOUT_MS)
        .start()
        .catch((err: unknown) => {
          throw withLogs(err);
        });
      const results = await Promise.allSettled(
        specs.map(async (spec, i) => {
          const name = `peer-${i + 1}`;
          const container = new GenericContainer(images.peer)
            .withNetwork(started)
            .withNetworkAliases(name)
            .withLabels(labels('peer'))
            .withEnvironment({
              SWARMLAB_TRACKER: 'tracker:7070',
              SWARMLAB_NAME: name,
              SWARMLAB_AUTOCONNECT: '1',
              LOG_FORMAT: 'json',
              ...spec.env,
            })
            .withLogConsumer(keepLogs(name))
            .withWaitStrategy(Wait.forHealthCheck())
            .withStartupTimeout(STARTUP_TIMEOUT_MS);
          return (spec.customize?.(container) ?? container).start();
        }),
      );
      // Keep every peer that started so stop() removes it, even when another one failed.
      for (const result of results) if (result.status === 'fulfilled') peers.push(result.value);
      const failed = results.find((result) => result.status === 'rejected');
      if (failed !== undefined) throw withLogs(failed.reason);
    },
    async stop() {
      await Promise.allSettled(peers.map(async (peer) => peer.stop()));
      await tracker?.stop().catch(() => undefined);
      // Anything of this run that testcontainers did not hand back (a failed start) goes too.
      const stray = await docker.listContainers({ all: true, filters: { label: [`swarmlab.run=${run}`] } });
      await Promise.allSettled(stray.map(async (c) => docker.getContainer(c.Id).remove({ force: true })));
      await network?.stop().catch(() => undefined);
      expect(await leftovers(docker, [`swarmlab.run=${run}`])).toEqual({ containers: 0, networks: 0 });
      expect(await docker.listNetworks({ filters: { name: [networkName] } })).toEqual([]);
    },
  };
}

/** Runs `cmd` in a started container. */
export async function execIn(container: StartedTestContainer, cmd: string[]): Promise<CommandResult> {
  const result = await container.exec(cmd);
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

/** `swarmlab ctl --json ARGS` in a started peer container; its stdout, or a thrown error on failure. */
export async function ctlIn(container: StartedTestContainer, args: string[]): Promise<string> {
  return expectSuccess(
    await execIn(container, ['swarmlab', 'ctl', '--json', ...args]),
    `swarmlab ctl ${args.join(' ')}`,
  );
}
