/**
 * A swarm in containers (testcontainers): one tracker and three peers on their own network. Peers 1
 * and 2 generate the same file (same seed) and publish it; peer 3 downloads it through
 * `swarmlab ctl --json download`. The bytes on peer 3's disk must hash to the published SHA-256, and
 * the chunk events must name both sources. The sources' uploads are rate-limited so that neither can
 * serve the whole file before the other is asked.
 * Needs Docker; the images are built (offline if need be) in beforeAll.
 */
import { createHash } from 'node:crypto';
import Docker from 'dockerode';
import { extract } from 'tar-stream';
import { ensureImages } from '../../lab/images/build-images';
import type { ChunkTransferEvent } from '../../src/peer/download-scheduler';
import { containerSwarm, ctlIn, execIn } from '../helpers/container-swarm';
import { ctlResult, expectSuccess, parseCtlLines, waitFor } from '../helpers/docker';

const TIMEOUT_MS = 180_000;
const IMAGES_TIMEOUT_MS = 300_000;
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
  const swarm = containerSwarm(docker, 'swarm-test');
  const exec = execIn;
  const ctl = ctlIn;

  beforeAll(async () => {
    const images = await ensureImages(docker);
    const source = { SWARMLAB_AUTOPUBLISH: '1', SWARMLAB_UPLOAD_RATE: SOURCE_UPLOAD_RATE };
    await swarm.start(images, [{ env: source }, { env: source }, { env: { SWARMLAB_AUTOPUBLISH: '1' } }]);
  }, IMAGES_TIMEOUT_MS);

  afterAll(async () => swarm.stop(), 60_000);

  it('downloads a file published by two peers from both, and the bytes on disk hash to the published SHA-256', async () => {
    const [peer1, peer2, peer3] = swarm.peers;
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
