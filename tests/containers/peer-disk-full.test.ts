/**
 * A peer whose data directory is a small tmpfs (testcontainers): a download that cannot start, or
 * that fills the disk halfway, fails with ERR_DISK_FULL; the peer keeps running and answers status;
 * a start that failed leaves no file in its downloads directory; once space is freed the download
 * resumes from the chunks it kept and the bytes on its disk hash to the publisher's bytes (both
 * hashed with sha256sum in their containers).
 * Needs Docker; the images are built (offline if need be) in beforeAll.
 */
import Docker from 'dockerode';
import type { StartedTestContainer } from 'testcontainers';
import { ensureImages } from '../../lab/images/build-images';
import { containerSwarm, ctlIn, execIn } from '../helpers/container-swarm';
import { ctlResult, expectSuccess, parseCtlLines, waitFor } from '../helpers/docker';

const TIMEOUT_MS = 180_000;
const IMAGES_TIMEOUT_MS = 300_000;
/** The image's user (lab/images/base-image.ts), so that the peer can write to its tmpfs. */
const IMAGE_UID = 1000;
const DISK_BYTES = 4 * 1024 * 1024;
const FILE_NAME = 'big.bin';
const FILE_SIZE = '3M';
const FILE_SIZE_BYTES = 3 * 1024 * 1024;
/** Leaves 2 MiB of the 4 MiB disk for a 3 MiB file: the download fills it about two thirds of the way. */
const FILLER_MIB = 2;
const FILLER = '/data/.filler';
const DOWNLOADS_DIR = '/data/.swarmlab/downloads';

describe('a peer on a small disk (testcontainers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const docker = new Docker();
  const swarm = containerSwarm(docker, 'disk-full-test');
  const exec = execIn;
  const ctl = ctlIn;
  const sh = async (container: StartedTestContainer, script: string): Promise<string> =>
    expectSuccess(await exec(container, ['sh', '-c', script]), script);
  /** The error of a `ctl download` expected to fail. */
  const failedDownload = async (
    container: StartedTestContainer,
  ): Promise<{ code: string; message: string } | undefined> => {
    const result = await exec(container, ['swarmlab', 'ctl', '--json', 'download', FILE_NAME]);
    const response = parseCtlLines(result.stdout)
      .filter((line) => line.ok !== undefined)
      .pop();
    expect(response?.ok).toBe(false);
    return response?.error;
  };
  const sha256sum = async (container: StartedTestContainer, path: string): Promise<string> =>
    (await sh(container, `sha256sum ${path}`)).split(/\s+/)[0] ?? '';

  beforeAll(async () => {
    const images = await ensureImages(docker);
    const tmpfs = { '/data': `rw,size=${DISK_BYTES},uid=${IMAGE_UID},gid=${IMAGE_UID},mode=0755` };
    await swarm.start(images, [{}, { customize: (container) => container.withTmpFs(tmpfs) }]);
  }, IMAGES_TIMEOUT_MS);

  afterAll(async () => swarm.stop(), 60_000);

  it('fails with ERR_DISK_FULL at the start and midway, stays up, leaves no orphan, then resumes and verifies', async () => {
    const [source, small] = swarm.peers;
    if (source === undefined || small === undefined) throw new Error('peers did not start');
    try {
      ctlResult(await ctl(source, ['generate', FILE_NAME, FILE_SIZE, '--seed', 'disk-full-test']));
      ctlResult(await ctl(source, ['upload']));
      const published = await sha256sum(source, `/data/${FILE_NAME}`);
      await waitFor(
        async () => {
          const { files } = ctlResult<{ files: Array<{ name: string; holders: number }> }>(await ctl(small, ['files']));
          return files.find((f) => f.name === FILE_NAME && f.holders === 1);
        },
        { timeoutMs: 30_000, what: `${FILE_NAME} published` },
      );

      // A disk already full when the download starts: no room for its manifest.
      await sh(small, `dd if=/dev/zero of=${FILLER} bs=64k 2>/dev/null; test -s ${FILLER}`);
      expect((await failedDownload(small))?.code).toBe('ERR_DISK_FULL');
      expect(ctlResult(await ctl(small, ['status']))).toBeDefined();
      expect(await sh(small, `ls -A ${DOWNLOADS_DIR} 2>/dev/null || true`)).toBe('');

      // Room for two thirds of the file: the download fills the disk halfway through and keeps its chunks.
      await sh(small, `rm -f ${FILLER} && dd if=/dev/zero of=${FILLER} bs=1M count=${FILLER_MIB} 2>/dev/null`);
      expect((await failedDownload(small))?.code).toBe('ERR_DISK_FULL');
      expect(ctlResult(await ctl(small, ['status']))).toBeDefined();
      const partial = (await sh(small, `ls -A ${DOWNLOADS_DIR}`)).split('\n').filter(Boolean);
      expect(partial.some((name) => name.endsWith('.part'))).toBe(true);
      expect(partial.some((name) => name.endsWith('.json'))).toBe(true);

      // Space freed: the same download resumes from what it kept and completes.
      await sh(small, `rm -f ${FILLER}`);
      const result = ctlResult<{ bytes: number; keptChunks: number; verified: boolean }>(
        await ctl(small, ['download', FILE_NAME]),
      );
      expect(result).toMatchObject({ bytes: FILE_SIZE_BYTES, verified: true });
      expect(result.keptChunks).toBeGreaterThan(0);
      expect(await sha256sum(small, `/data/${FILE_NAME}`)).toBe(published);
      expect(await sh(small, `ls -A ${DOWNLOADS_DIR}`)).toBe('');
    } catch (err) {
      throw swarm.withLogs(err);
    }
  });
});
