/**
 * A swarm in containers (testcontainers): one tracker and three peers on their own network. Peers 1
 * and 2 generate the same file (same seed) and publish it; peer 3 downloads it through
 * `swarmlab ctl --json download`. The bytes on peer 3's disk must hash to the published SHA-256, and
 * the chunk events must name both sources. The sources' uploads are rate-limited so that neither can
 * serve the whole file before the other is asked.
 * Needs Docker; the images are built (offline if need be) in beforeAll.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { GenericContainer, Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { extract } from 'tar-stream';
import { ensureImages } from '../../lab/images/build-images';
import type { ChunkTransferEvent } from '../../src/peer/download-scheduler';
// Importing the helpers also disables Ryuk (read when the first container starts).
import {
  ctlResult,
  expectSuccess,
  leftovers,
  parseCtlLines,
  uniqueRunId,
  waitFor,
  type CommandResult,
} from '../helpers/docker';

const TIMEOUT_MS = 180_000;
const IMAGES_TIMEOUT_MS = 300_000;
const STARTUP_TIMEOUT_MS = 60_000;
const FILE_NAME = 'swarm-shared.bin';
const FILE_SIZE = '4M';
const FILE_SIZE_BYTES = 4 * 1024 * 1024;
const SEED = 'swarmlab-swarm-test';
/** Per source: the 4 MiB file takes ~2 s from one source, ~1 s from both. */
const SOURCE_UPLOAD_RATE = '2M';

/** A `chunk` line of `ctl --json download`: the scheduler's transfer event. */
type ChunkEvent = ChunkTransferEvent & { event: 'chunk' };

describe('swarm of containers (testcontainers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const docker = new Docker();
  const run = uniqueRunId('swarm-test');
  const networkName = `swarmlab-${run}`;
  let network: StartedNetwork | undefined;
  let tracker: StartedTestContainer | undefined;
  const peers: StartedTestContainer[] = [];

  const exec = async (container: StartedTestContainer, cmd: string[]): Promise<CommandResult> => {
    const result = await container.exec(cmd);
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
  };
  const ctl = async (container: StartedTestContainer, args: string[]): Promise<string> =>
    expectSuccess(await exec(container, ['swarmlab', 'ctl', '--json', ...args]), `swarmlab ctl ${args.join(' ')}`);

  /** Each container's output, kept so that a container that fails to start can be diagnosed. */
  const containerLogs = new Map<string, string>();
  const keepLogs =
    (name: string) =>
    (stream: Readable): void => {
      stream.on('data', (line: Buffer | string) =>
        containerLogs.set(name, `${containerLogs.get(name) ?? ''}${String(line)}`),
      );
    };
  const withLogs = (err: unknown): Error =>
    new Error(
      `${err instanceof Error ? err.message : String(err)}\n${[...containerLogs]
        .map(([name, text]) => `--- ${name}\n${text.slice(-3000)}`)
        .join('\n')}`,
    );

  beforeAll(async () => {
    const images = await ensureImages(docker);
    // testcontainers' Network takes no labels; its name carries the run id instead.
    network = await new Network({ nextUuid: () => networkName }).start();
    tracker = await new GenericContainer(images.tracker)
      .withNetwork(network)
      .withNetworkAliases('tracker')
      .withLabels({ 'swarmlab.run': run, 'swarmlab.role': 'tracker' })
      .withLogConsumer(keepLogs('tracker'))
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(STARTUP_TIMEOUT_MS)
      .start()
      .catch((err: unknown) => {
        throw withLogs(err);
      });
    const started = await Promise.allSettled(
      [1, 2, 3].map(async (n) => {
        const source = n <= 2;
        return new GenericContainer(images.peer)
          .withNetwork(network as StartedNetwork)
          .withNetworkAliases(`peer-${n}`)
          .withLabels({ 'swarmlab.run': run, 'swarmlab.role': 'peer' })
          .withEnvironment({
            SWARMLAB_TRACKER: 'tracker:7070',
            SWARMLAB_NAME: `peer-${n}`,
            SWARMLAB_AUTOCONNECT: '1',
            SWARMLAB_AUTOPUBLISH: '1',
            LOG_FORMAT: 'json',
            ...(source ? { SWARMLAB_UPLOAD_RATE: SOURCE_UPLOAD_RATE } : {}),
          })
          .withLogConsumer(keepLogs(`peer-${n}`))
          .withWaitStrategy(Wait.forHealthCheck())
          .withStartupTimeout(STARTUP_TIMEOUT_MS)
          .start();
      }),
    );
    // Keep every peer that started so afterAll stops it, even when another one failed.
    for (const result of started) if (result.status === 'fulfilled') peers.push(result.value);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw withLogs(failed.reason);
  }, IMAGES_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.allSettled(peers.map(async (peer) => peer.stop()));
    await tracker?.stop().catch(() => undefined);
    // Anything of this run that testcontainers did not hand back (a failed start) goes too.
    const stray = await docker.listContainers({ all: true, filters: { label: [`swarmlab.run=${run}`] } });
    await Promise.allSettled(stray.map(async (c) => docker.getContainer(c.Id).remove({ force: true })));
    await network?.stop().catch(() => undefined);
    expect(await leftovers(docker, [`swarmlab.run=${run}`])).toEqual({ containers: 0, networks: 0 });
    expect(await docker.listNetworks({ filters: { name: [networkName] } })).toEqual([]);
  }, 60_000);

  it('downloads a file published by two peers from both, and the bytes on disk hash to the published SHA-256', async () => {
    const [peer1, peer2, peer3] = peers;
    if (peer1 === undefined || peer2 === undefined || peer3 === undefined) throw new Error('peers did not start');

    // Same seed, same bytes: both sources hold the same file id.
    const generated = await Promise.all(
      [peer1, peer2].map(async (peer) =>
        ctlResult<{ name: string; size: number; sha256: string }>(
          await ctl(peer, ['generate', FILE_NAME, FILE_SIZE, '--seed', SEED]),
        ),
      ),
    );
    const expectedSha256 = generated[0]?.sha256;
    expect(expectedSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(generated[1]?.sha256).toBe(expectedSha256);
    expect(generated[0]?.size).toBe(FILE_SIZE_BYTES);
    const onSource = expectSuccess(await exec(peer1, ['sha256sum', `/data/${FILE_NAME}`]), 'sha256sum on peer-1');
    expect(onSource.split(/\s+/)[0]).toBe(expectedSha256);

    for (const peer of [peer1, peer2]) ctlResult(await ctl(peer, ['upload']));
    await waitFor(
      async () => {
        const { files } = ctlResult<{ files: Array<{ name: string; holders: number }> }>(await ctl(peer3, ['files']));
        return files.find((f) => f.name === FILE_NAME && f.holders === 2);
      },
      { timeoutMs: 30_000, what: `${FILE_NAME} held by two peers` },
    );

    const output = await ctl(peer3, ['download', FILE_NAME]);
    const result = ctlResult<{
      sha256: string;
      bytes: number;
      verified: boolean;
      chunksBySource: Record<string, number>;
    }>(output);
    expect(result).toMatchObject({ sha256: expectedSha256, bytes: FILE_SIZE_BYTES, verified: true });

    const chunks = parseCtlLines(output).filter((line): line is ChunkEvent & typeof line => line.event === 'chunk');
    const sources = new Set(chunks.map((c) => c.from));
    expect([...sources].sort()).toEqual(['peer-1', 'peer-2']);
    expect(chunks.every((c) => c.to === 'peer-3')).toBe(true);
    // Every chunk of the file arrived (and was verified) at least once.
    const chunkCount = chunks[0]?.chunks ?? 0;
    expect(new Set(chunks.map((c) => c.index)).size).toBe(chunkCount);
    expect(chunkCount).toBeGreaterThan(1);
    expect(Object.keys(result.chunksBySource).sort()).toEqual(['peer-1', 'peer-2']);

    // The bytes on peer 3's disk, hashed inside the container.
    const sum = expectSuccess(await exec(peer3, ['sha256sum', `/data/${FILE_NAME}`]), 'sha256sum on peer-3');
    expect(sum.split(/\s+/)[0]).toBe(expectedSha256);
    // And hashed here, from the container's file read over the Engine API, as an independent check.
    const cat = await peer3.copyArchiveFromContainer(`/data/${FILE_NAME}`);
    expect(await tarredFileSha256(cat)).toBe(expectedSha256);
  });
});

/** SHA-256 of the single file inside a tar stream (what `docker cp` / copyArchiveFromContainer returns). */
async function tarredFileSha256(stream: NodeJS.ReadableStream): Promise<string> {
  const tar = extract();
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    tar.on('entry', (_header, entry, next) => {
      entry.on('data', (chunk: unknown) => hash.update(chunk as Buffer));
      entry.on('end', next);
      entry.resume();
    });
    tar.on('finish', resolve);
    tar.on('error', (err) => {
      // An unread archive stream keeps the container busy (stop would wait for it).
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      reject(err);
    });
    stream.pipe(tar);
  });
  return hash.digest('hex');
}
