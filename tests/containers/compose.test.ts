/**
 * compose.yaml: accepted by `docker-compose config`, and a smoke run of the project scaled to four
 * peers: two peers publish a file each, another peer lists both and downloads one, then `down -v`
 * leaves nothing behind. Uses Compose v1 (`docker-compose`); set SWARMLAB_COMPOSE="docker compose"
 * to run it with Compose v2. Needs Docker; the images are built (offline if need be) in beforeAll.
 */
import { join } from 'node:path';
import Docker from 'dockerode';
import YAML from 'yaml';
import { ensureImages } from '../../lab/images/build-images';
import {
  ctlResult,
  execInContainer,
  expectSuccess,
  leftovers,
  runCommand,
  uniqueRunId,
  waitFor,
  waitForHealthyContainers,
  type CommandResult,
} from '../helpers/docker';

const ROOT = join(__dirname, '..', '..');
const COMPOSE_FILE = join(ROOT, 'compose.yaml');
const COMPOSE_COMMAND = (process.env['SWARMLAB_COMPOSE'] ?? 'docker-compose').split(' ');
const TIMEOUT_MS = 180_000;
const IMAGES_TIMEOUT_MS = 300_000;
const PEERS = 4;

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  environment?: Record<string, string>;
  labels?: Record<string, string>;
  networks?: Record<string, unknown> | string[];
}

interface FileEntry {
  name: string;
  size: number;
  holders: number;
}

describe('compose.yaml (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const docker = new Docker();
  const project = uniqueRunId('swarmlab-compose-test');
  const env: NodeJS.ProcessEnv = { ...process.env, SWARMLAB_RUN: project };
  const projectLabel = `com.docker.compose.project=${project}`;

  const compose = async (args: readonly string[], timeoutMs = 120_000): Promise<CommandResult> => {
    const [command = 'docker-compose', ...prefix] = COMPOSE_COMMAND;
    return runCommand(command, [...prefix, '-f', COMPOSE_FILE, '-p', project, ...args], { cwd: ROOT, env, timeoutMs });
  };
  const ctl = async (containerId: string, args: readonly string[]): Promise<Record<string, unknown>> => {
    const result = await execInContainer(docker, containerId, ['swarmlab', 'ctl', '--json', ...args]);
    return ctlResult(expectSuccess(result, `swarmlab ctl ${args.join(' ')}`));
  };

  beforeAll(async () => {
    const images = await ensureImages(docker);
    env['NODE_IMAGE'] = images.base;
  }, IMAGES_TIMEOUT_MS);

  afterAll(async () => {
    await compose(['down', '-v', '--remove-orphans', '--timeout', '5']);
  }, 60_000);

  it('is accepted by docker-compose config with the services, environment and labels the lab relies on', async () => {
    const config = YAML.parse(expectSuccess(await compose(['config']), 'docker-compose config')) as {
      services: Record<string, ComposeService>;
      networks: Record<string, { labels?: Record<string, string> } | null>;
    };

    expect(Object.keys(config.services).sort()).toEqual(['peer', 'tracker']);
    const { tracker, peer } = config.services as { tracker: ComposeService; peer: ComposeService };
    expect(tracker.image).toBe('swarmlab/tracker:latest');
    expect(peer.image).toBe('swarmlab/peer:latest');
    expect(tracker.build?.dockerfile).toBe('Dockerfile.tracker');
    expect(peer.build?.dockerfile).toBe('Dockerfile.peer');
    expect(peer.build?.args?.['NODE_IMAGE']).toBe(env['NODE_IMAGE']);
    expect(peer.environment).toMatchObject({
      SWARMLAB_TRACKER: 'tracker:7070',
      SWARMLAB_DIR: '/data',
      SWARMLAB_CONTROL: '/run/swarmlab/peer.sock',
      SWARMLAB_AUTOCONNECT: '1',
      SWARMLAB_AUTOPUBLISH: '1',
      LOG_FORMAT: 'json',
    });
    expect(tracker.labels).toEqual({ 'swarmlab.run': project, 'swarmlab.role': 'tracker' });
    expect(peer.labels).toEqual({ 'swarmlab.run': project, 'swarmlab.role': 'peer' });
    expect(config.networks['swarmlab']?.labels).toEqual({ 'swarmlab.run': project });
    for (const service of [tracker, peer]) {
      const networks = Array.isArray(service.networks) ? service.networks : Object.keys(service.networks ?? {});
      expect(networks).toEqual(['swarmlab']);
    }
  });

  it(`runs a tracker and ${PEERS} peers that share files, and down -v removes everything`, async () => {
    expectSuccess(await compose(['up', '-d', '--no-build', '--scale', `peer=${PEERS}`]), 'docker-compose up');
    const containers = await waitForHealthyContainers(docker, [projectLabel], PEERS + 1, 90_000).catch(
      async (err: unknown) => {
        const logs = await compose(['logs', '--no-color', '--tail', '40']);
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n${logs.stdout.slice(-6000)}`);
      },
    );

    const byRole = (role: string): Docker.ContainerInfo[] =>
      containers
        .filter((c) => c.Labels['swarmlab.role'] === role)
        .sort(
          (a, b) =>
            Number(a.Labels['com.docker.compose.container-number']) -
            Number(b.Labels['com.docker.compose.container-number']),
        );
    expect(byRole('tracker')).toHaveLength(1);
    const peers = byRole('peer');
    expect(peers).toHaveLength(PEERS);
    for (const container of containers) expect(container.Labels['swarmlab.run']).toBe(project);
    const [first, second, , last] = peers.map((c) => c.Id);
    if (first === undefined || second === undefined || last === undefined) throw new Error('missing peers');

    const generatedA = await ctl(first, ['generate', 'compose-a.bin', '1M', '--seed', 'compose-a']);
    await ctl(first, ['upload']);
    await ctl(second, ['generate', 'compose-b.txt', '300K', '--seed', 'compose-b', '--text']);
    await ctl(second, ['upload']);

    const files = await waitFor(
      async () => {
        const listed = (await ctl(last, ['files']))['files'] as FileEntry[];
        const names = listed.map((f) => f.name);
        return names.includes('compose-a.bin') && names.includes('compose-b.txt') ? listed : undefined;
      },
      { timeoutMs: 30_000, what: 'both published files in `ctl files` on the last peer' },
    );
    expect(files.find((f) => f.name === 'compose-a.bin')).toMatchObject({ size: 1024 * 1024, holders: 1 });
    expect(files.find((f) => f.name === 'compose-b.txt')).toMatchObject({ size: 300 * 1024, holders: 1 });

    const downloaded = await ctl(last, ['download', 'compose-a.bin']);
    expect(downloaded).toMatchObject({ verified: true, sha256: generatedA['sha256'] });
    const sum = expectSuccess(await execInContainer(docker, last, ['sha256sum', '/data/compose-a.bin']), 'sha256sum');
    expect(sum.split(/\s+/)[0]).toBe(generatedA['sha256']);

    expectSuccess(await compose(['down', '-v', '--remove-orphans', '--timeout', '5']), 'docker-compose down');
    expect(await leftovers(docker, [`swarmlab.run=${project}`])).toEqual({ containers: 0, networks: 0 });
    expect(await leftovers(docker, [projectLabel])).toEqual({ containers: 0, networks: 0 });
  });
});
