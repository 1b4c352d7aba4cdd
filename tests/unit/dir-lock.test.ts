/**
 * DirLock: one peer per directory. A second taker is refused with DirInUseError naming the holder; a
 * released lock can be taken again; a DIR too deep for a socket address is locked all the same; a dead
 * peer's lock goes to exactly one of the peers that find it, and a live one is never taken.
 */
import fsPromises, { lstat, mkdir, mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { claimPath, DirLock, LOCK_FILE_NAME } from '../../src/peer/dir-lock';
import { DirInUseError } from '../../src/peer/errors';
import { staleSocket } from '../helpers/stale-socket';

describe('DirLock', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'swarmlab-lock-'));
  });

  afterEach(async () => {
    jest.restoreAllMocks();
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

  test('a stale lock is taken over by exactly one of several peers starting at once', async () => {
    const ROUNDS = 100;
    const TAKERS = 5;
    for (let round = 0; round < ROUNDS; round++) {
      const dir = join(root, `race-${round}`);
      const stateDir = join(dir, '.swarmlab');
      await mkdir(stateDir, { recursive: true });
      await staleSocket(join(stateDir, LOCK_FILE_NAME));
      // Staggered by 0 to 9 ms between takers, so that one taker's check can fall anywhere in another's takeover.
      const staggerMs = round % 10;
      const outcomes = await Promise.allSettled(
        Array.from({ length: TAKERS }, async (_, i) => {
          await sleep(i * staggerMs);
          return DirLock.acquire(dir, stateDir, { pid: 1000 + i });
        }),
      );
      const won = outcomes.filter((outcome): outcome is PromiseFulfilledResult<DirLock> => outcome.status === 'fulfilled').map((outcome) => outcome.value);
      const refusals = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected').map((outcome) => outcome.reason as unknown);
      try {
        expect({ round, winners: won.length }).toEqual({ round, winners: 1 });
        for (const refusal of refusals) expect(refusal).toBeInstanceOf(DirInUseError);
        // The winner is the one a newcomer finds.
        const newcomer = await DirLock.acquire(dir, stateDir, { pid: 1 }).then(
          (lock) => lock,
          (error: unknown) => error,
        );
        expect(newcomer).toMatchObject({ code: 'ERR_DIR_IN_USE', holder: { pid: won[0]!.holder.pid } });
      } finally {
        for (const lock of won) await lock.release();
      }
      // Nothing left behind but the lock itself.
      expect((await readdir(stateDir)).filter((name) => name !== LOCK_FILE_NAME)).toEqual([]);
    }
  }, 60_000);

  /** A live peer's lock at `path`, answering like one. */
  async function liveSocket(path: string, pid: number): Promise<Server> {
    const server = createServer((socket) => socket.end(`${JSON.stringify({ pid })}\n`));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return server;
  }

  // Issue 18, the interleaving that let two peers win a stale lock: a taker found the dead lock
  // refusing; before it looked at which socket sat there, another peer had replaced it with its own live
  // one, and the taker took that live socket for the dead one and replaced it too. The other peer's
  // step is made here, deterministically, at the moment the taker looks.
  test('a dead lock replaced by a live peer between the probe and the look is left to that peer', async () => {
    const dir = join(root, 'peer');
    const stateDir = join(dir, '.swarmlab');
    const lockPath = join(stateDir, LOCK_FILE_NAME);
    await mkdir(stateDir, { recursive: true });
    await staleSocket(lockPath);
    let other: Server | undefined;
    const realLstat = fsPromises.lstat.bind(fsPromises);
    jest.spyOn(fsPromises, 'lstat').mockImplementation((async (path: string, options?: { bigint?: boolean }) => {
      if (other === undefined && path === lockPath) {
        await unlink(lockPath);
        other = await liveSocket(lockPath, 4242);
      }
      return realLstat(path, options);
    }) as typeof fsPromises.lstat);
    const outcome = await DirLock.acquire(dir, stateDir, { pid: 1 }).then(
      (lock) => lock,
      (error: unknown) => error,
    );
    try {
      expect(other).toBeDefined();
      expect(outcome).toMatchObject({ code: 'ERR_DIR_IN_USE', holder: { pid: 4242 } });
      // The other peer's socket is still the lock: a newcomer finds it.
      await expect(DirLock.acquire(dir, stateDir, { pid: 2 })).rejects.toMatchObject({ code: 'ERR_DIR_IN_USE', holder: { pid: 4242 } });
    } finally {
      if (outcome instanceof DirLock) await outcome.release();
      await new Promise<void>((resolve) => other?.close(() => resolve()) ?? resolve());
    }
  });

  // A peer that died while it held the claim on a dead lock leaves that claim behind, refusing; it must
  // not keep the directory locked for good.
  test('a claim left by a peer that died during a takeover is removed, and the lock taken', async () => {
    const dir = join(root, 'peer');
    const stateDir = join(dir, '.swarmlab');
    const lockPath = join(stateDir, LOCK_FILE_NAME);
    await mkdir(stateDir, { recursive: true });
    await staleSocket(lockPath);
    const deadClaim = claimPath(lockPath, await lstat(lockPath, { bigint: true }));
    await staleSocket(deadClaim);
    // And the claim on that claim, left by a second peer that died removing it.
    await staleSocket(claimPath(lockPath, await lstat(deadClaim, { bigint: true })));
    const lock = await DirLock.acquire(dir, stateDir, { pid: process.pid, control: '/run/after.sock' });
    try {
      await expectRefused(dir, '/run/after.sock');
      expect(await readdir(stateDir)).toEqual([LOCK_FILE_NAME]);
    } finally {
      await lock.release();
    }
  });

  // The lock's socket was bound under another name; closing the server removes only that one, so the
  // lock itself must be unlinked by release().
  test('a released lock leaves nothing behind', async () => {
    const dir = join(root, 'peer');
    const stateDir = join(dir, '.swarmlab');
    await mkdir(dir, { recursive: true });
    const lock = await DirLock.acquire(dir, stateDir, { pid: process.pid });
    expect(await readdir(stateDir)).toEqual([LOCK_FILE_NAME]);
    await lock.release();
    expect(await readdir(stateDir)).toEqual([]);
  });
});
