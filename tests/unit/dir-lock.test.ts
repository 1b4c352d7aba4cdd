/**
 * DirLock: one peer per directory. A second taker is refused with DirInUseError naming the holder; a
 * released lock can be taken again; a DIR too deep for a socket address is locked all the same.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirLock } from '../../src/peer/dir-lock';
import { DirInUseError } from '../../src/peer/errors';

describe('DirLock', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'swarmlab-lock-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const expectRefused = async (dir: string, control: string): Promise<void> => {
    const refusal = await DirLock.acquire(dir, join(dir, '.swarmlab'), { pid: 1 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(DirInUseError);
    expect(refusal).toMatchObject({ code: 'ERR_DIR_IN_USE', holder: { pid: process.pid, control } });
  };

  test.each([
    ['a short path', (base: string) => join(base, 'peer')],
    ['a path too long for a socket address', (base: string) => join(base, 'd'.repeat(60), 'e'.repeat(60))],
  ])('%s: a second taker is refused, naming the holder; released, it can be taken again', async (_, dirOf) => {
    const dir = dirOf(root);
    await mkdir(dir, { recursive: true });
    const lock = await DirLock.acquire(dir, join(dir, '.swarmlab'), { pid: process.pid, control: '/run/first.sock' });
    try {
      await expectRefused(dir, '/run/first.sock');
    } finally {
      await lock.release();
    }
    const again = await DirLock.acquire(dir, join(dir, '.swarmlab'), { pid: process.pid });
    await again.release();
  });
});
