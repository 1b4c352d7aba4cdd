/**
 * The whole-file digest only for callers that need it. `download` with `digest: false` answers without
 * `sha256` (the peer skips the second SHA-256 pass; every chunk is still checked), and every answer
 * that does carry `sha256` carries the digest of the file on disk: a caller that joins a download
 * started without the digest gets it hashed from the finished file. The bench times its transfers
 * without the peers' digest and then hashes each file on disk (`checkOnDisk`), which must catch a file
 * changed on disk. Real tracker and peer processes on 127.0.0.1, driven through their control sockets.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { checkOnDisk } from '../../src/bench/transfer';
import type { TimedDownload } from '../../src/bench/transfer';
import { createSwarm, sha256, sha256File } from '../helpers/local';

jest.setTimeout(90_000);

const SIZE = 3 * 1024 * 1024 + 12_345;

async function seeded(swarm: LocalSwarm): Promise<string> {
  await swarm.startTracker();
  for (const name of ['seed', 'leech']) {
    await swarm.startPeer(name);
    await swarm.control(name, 'connect');
  }
  const generated = await swarm.control('seed', 'generate', { name: 'f.bin', size: SIZE, seed: 'lazy-digest' });
  await swarm.control('seed', 'upload');
  return String(generated['sha256']);
}

describe('issue 17: the whole-file digest is computed only when asked for', () => {
  let swarm: LocalSwarm | undefined;
  let logs: string[] = [];

  afterEach(async () => {
    await swarm?.stop();
    swarm = undefined;
  });

  it('`digest: false` answers without sha256, and the file on disk is the published one', async () => {
    ({ swarm, logs } = await createSwarm());
    const published = await seeded(swarm);
    const result = await swarm.control('leech', 'download', { name: 'f.bin', chunkEvents: false, digest: false });
    expect(result).toMatchObject({ verified: true, bytes: SIZE });
    expect(result).not.toHaveProperty('sha256');
    expect(await sha256File(String(result['path']))).toBe(published);
    // Asked again, with the digest: hashed from the file the peer now holds.
    const again = await swarm.control('leech', 'download', { name: 'f.bin' });
    expect(again).toMatchObject({ verified: true, sha256: published, keptChunks: expect.any(Number) as unknown });
    expect(logs.some((line) => line.includes('"level":"error"'))).toBe(false);
  });

  it('a download that joins one started with `digest: false` still answers the digest of the file on disk', async () => {
    ({ swarm, logs } = await createSwarm());
    const published = await seeded(swarm);
    // Slow enough (about 3 s) that the second request joins the running download.
    await swarm.control('seed', 'rate', { upload: 1024 * 1024 });
    const first = swarm.control('leech', 'download', { name: 'f.bin', chunkEvents: false, digest: false });
    let joined = false;
    const second = swarm.control('leech', 'download', { name: 'f.bin' }, (line) => {
      if ('event' in line && line.event === 'progress') joined = true;
    });
    const [withoutDigest, withDigest] = await Promise.all([first, second]);
    // Both answers are one download's: the second request joined the first (no second transfer).
    expect(joined).toBe(true);
    expect(withDigest['ms']).toBe(withoutDigest['ms']);
    expect(withDigest['chunksBySource']).toEqual(withoutDigest['chunksBySource']);
    expect(withoutDigest).not.toHaveProperty('sha256');
    expect(withDigest['sha256']).toBe(await sha256File(String(withDigest['path'])));
    expect(withDigest['sha256']).toBe(published);
  });
});

describe("the bench's check of downloaded files on disk", () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-check-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function timed(path: string, peerVerified = true): TimedDownload {
    return { name: 'leech', wallS: 1, schedulerS: 1, bytes: 0, verified: false, chunksBySource: {}, peerVerified, path };
  }

  it('verifies a file whose bytes hash to the published digest, and catches one changed on disk', async () => {
    const data = Buffer.alloc(5 * 1024 * 1024 + 7, 0x5a);
    const good = join(dir, 'good.bin');
    const bad = join(dir, 'bad.bin');
    await writeFile(good, data);
    const corrupt = Buffer.from(data);
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 3) ^ 0x01, corrupt.length - 3);
    await writeFile(bad, corrupt);
    const expected = sha256(await readFile(good));
    const checked = await checkOnDisk([timed(good), timed(bad), timed(join(dir, 'missing.bin')), timed(good, false)], expected);
    expect(checked.map((download) => download.verified)).toEqual([true, false, false, false]);
  });
});
