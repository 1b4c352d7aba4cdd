/**
 * The control socket's file, in-process: it is 0600 from the moment it exists (not chmod'ed after
 * listen, when a client could already connect), it refuses a directory others can write to or own, it
 * replaces only a socket, and an error on the listening server after start is logged, not thrown.
 * Peers started at once on one path left by a crashed peer: exactly one listens there, the others are
 * refused; a live socket is never removed, neither at start (a full backlog is alive) nor at stop.
 * The modes are read with fs.stat, so the checks hold when the tests run as root too.
 */
import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { connect, Server } from 'node:net';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlServer } from '../../src/control/control-server';
import type { PeerNode } from '../../src/peer/peer-node';
import { createLogger, setLogLevel } from '../../src/shared/logger';
import { staleSocket } from '../helpers/stale-socket';

const logger = createLogger('test');
/** start() and stop() never reach the node. */
const node = {} as PeerNode;

describe('control socket file', () => {
  let root: string;
  const servers: ControlServer[] = [];

  beforeAll(() => setLogLevel('silent'));

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'swarmlab-control-'));
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    for (const server of servers.splice(0)) await server.stop();
    await rm(root, { recursive: true, force: true });
  });

  const start = async (path: string): Promise<ControlServer> => {
    const server = new ControlServer(node, { path }, logger);
    await server.start();
    servers.push(server);
    return server;
  };

  test('issue 18 hole 10: the socket is 0600 the moment bind creates it, whatever the umask', async () => {
    const path = join(root, 'peer.sock');
    const bound: Array<{ name: string; mode: number; ino: number }> = [];
    const realListen = Server.prototype.listen;
    // listen(name) binds synchronously: the file's mode right after it is the mode it was created with.
    // The socket is bound under a private name next to the path, then linked into place.
    jest.spyOn(Server.prototype, 'listen').mockImplementation(function (this: Server, ...args: unknown[]) {
      const server = (realListen as (...a: unknown[]) => Server).apply(this, args);
      if (typeof args[0] === 'string') {
        const info = statSync(args[0]);
        bound.push({ name: args[0], mode: info.mode & 0o777, ino: info.ino });
      }
      return server;
    });
    const umask = process.umask(0o022);
    try {
      await start(path);
    } finally {
      process.umask(umask);
    }
    expect(bound.map(({ name, mode }) => ({ name, mode: mode.toString(8) }))).toEqual([{ name: expect.stringMatching(/\.f[0-9a-f]{10}$/) as unknown, mode: '600' }]);
    expect(bound[0]!.name.startsWith(`${path}.f`)).toBe(true);
    // The path is that very socket file, not one made after it.
    const info = await stat(path);
    expect({ ino: info.ino, mode: (info.mode & 0o777).toString(8) }).toEqual({ ino: bound[0]!.ino, mode: '600' });
    // The private name is gone: the path is the socket's only name.
    expect(await readdir(root)).toEqual(['peer.sock']);
    // The umask is the process's again.
    expect(process.umask()).toBe(umask);
  });

  test('a directory others can write to (no sticky bit) is refused with ERR_CONTROL_DIR_UNSAFE', async () => {
    const open = join(root, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    await expect(start(join(open, 'peer.sock'))).rejects.toMatchObject({ code: 'ERR_CONTROL_DIR_UNSAFE' });
    // Sticky, like /tmp: others cannot remove or replace our socket.
    await chmod(open, 0o1777);
    await start(join(open, 'peer.sock'));
  });

  // Whoever owns the directory can replace the socket with their own. Only root can give a directory
  // away, so this runs where the tests run as root (CI's containers); elsewhere it is skipped.
  (process.getuid?.() === 0 ? test : test.skip)('a directory that belongs to another user is refused with ERR_CONTROL_DIR_UNSAFE', async () => {
    const theirs = join(root, 'theirs');
    await mkdir(theirs, { mode: 0o700 });
    await chown(theirs, 4242, 4242);
    await expect(start(join(theirs, 'peer.sock'))).rejects.toMatchObject({ code: 'ERR_CONTROL_DIR_UNSAFE' });
    // Given back, it is accepted.
    await chown(theirs, 0, 0);
    await start(join(theirs, 'peer.sock'));
  });

  test('a regular file at the path is left alone (ERR_CONTROL_PATH_TAKEN); a dead socket is replaced', async () => {
    const file = join(root, 'notes.txt');
    await writeFile(file, 'mine');
    await expect(start(file)).rejects.toMatchObject({ code: 'ERR_CONTROL_PATH_TAKEN' });
    expect(await readFile(file, 'utf8')).toBe('mine');

    // A socket nobody listens on any more: its process was killed.
    const stale = join(root, 'stale.sock');
    const holder = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`]);
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    expect((await stat(stale)).isSocket()).toBe(true);
    await start(stale);
  });

  test('a path too long for the private name next to it is refused with ERR_CONFIG, before anything is made', async () => {
    // 95 bytes is the most: the socket is bound first under path.f<10 hex>, which must fit in 107.
    const longest = join(root, 'p'.repeat(95 - root.length - 1));
    expect(Buffer.byteLength(longest)).toBe(95);
    await start(longest);
    const tooLong = `${longest}x`;
    await expect(start(tooLong)).rejects.toMatchObject({ code: 'ERR_CONFIG' });
    expect(await readdir(root)).toEqual([longest.slice(root.length + 1)]);
  });

  test('issue 18 hole 9: an error on the listening server (EMFILE on accept) is logged, not thrown', async () => {
    await start(join(root, 'peer.sock'));
    const listening = servers[0] as unknown as { server: Server };
    const error = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
    expect(() => listening.server.emit('error', error)).not.toThrow();
  });
  /** Resolves once a client gets through to `path` (rejects with the connect error). */
  const reach = (path: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const client = connect(path);
      client.once('connect', () => {
        client.destroy();
        resolve();
      });
      client.once('error', reject);
    });

  test('peers started at once on a dead socket\'s path: exactly one listens there, the others get ERR_CONTROL_IN_USE', async () => {
    const ROUNDS = 60;
    const PEERS = 5;
    for (let round = 0; round < ROUNDS; round++) {
      const dir = join(root, `race-${round}`);
      await mkdir(dir, { mode: 0o700 });
      const path = join(dir, 'peer.sock');
      await staleSocket(path);
      // Staggered by 0 to 9 ms between peers, so that one peer's check can fall anywhere in another's takeover.
      const staggerMs = round % 10;
      const racers = Array.from({ length: PEERS }, () => new ControlServer(node, { path }, logger));
      const outcomes = await Promise.allSettled(
        racers.map(async (server, i) => {
          await sleep(i * staggerMs);
          await server.start();
          return server;
        }),
      );
      const won = outcomes.filter((outcome): outcome is PromiseFulfilledResult<ControlServer> => outcome.status === 'fulfilled').map((outcome) => outcome.value);
      servers.push(...won);
      const refusals = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected').map((outcome) => outcome.reason as unknown);
      expect({ round, winners: won.length }).toEqual({ round, winners: 1 });
      for (const refusal of refusals) expect(refusal).toMatchObject({ code: 'ERR_CONTROL_IN_USE', message: `another peer already listens on ${path}` });
      // The winner's socket is the one at the path: a client reaches it, and a newcomer is refused.
      const winner = won[0]! as unknown as { server: Server };
      const connections = (): Promise<number> =>
        new Promise<number>((resolve) => winner.server.getConnections((_, count) => resolve(count)));
      // The others found the winner alive by connecting to it: let their probes close before counting.
      for (let tick = 0; tick < 200 && (await connections()) > 0; tick++) await sleep(1);
      expect({ round, probesLeft: await connections() }).toEqual({ round, probesLeft: 0 });
      const client = connect(path);
      await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
      let accepted = 0;
      for (let tick = 0; tick < 100 && accepted === 0; tick++) {
        accepted = await connections();
        if (accepted === 0) await sleep(1);
      }
      client.destroy();
      expect({ round, accepted }).toEqual({ round, accepted: 1 });
      await expect(start(path)).rejects.toMatchObject({ code: 'ERR_CONTROL_IN_USE' });
      // Nothing left behind but the socket itself (no private names, no claims).
      expect(await readdir(dir)).toEqual(['peer.sock']);
    }
  }, 60_000);

  test('a socket whose peer is alive but not accepting (full backlog, EAGAIN) is not taken for a dead one', async () => {
    const path = join(root, 'busy.sock');
    // A peer that listens with a backlog of 1 and then never accepts: its event loop is blocked.
    const busy = spawn(process.execPath, [
      '-e',
      `require('node:net').createServer().listen({ path: ${JSON.stringify(path)}, backlog: 1 }, () => { console.log('up'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000); })`,
    ]);
    try {
      await new Promise<void>((resolve) => busy.stdout.once('data', () => resolve()));
      // Fill the backlog until connecting says EAGAIN.
      const queued: Array<ReturnType<typeof connect>> = [];
      let full = false;
      while (!full && queued.length < 64) {
        const client = connect(path);
        queued.push(client);
        full = await new Promise<boolean>((resolve) => {
          client.once('connect', () => resolve(false));
          client.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EAGAIN'));
        });
      }
      expect(full).toBe(true);
      const before = await stat(path);
      await expect(start(path)).rejects.toMatchObject({ code: 'ERR_CONTROL_IN_USE' });
      for (const client of queued) client.destroy();
      // The busy peer's socket is still the one at the path.
      expect((await stat(path)).ino).toBe(before.ino);
    } finally {
      busy.kill('SIGKILL');
      await new Promise((resolve) => busy.once('exit', resolve));
    }
  });

  test('stop() leaves alone a live socket that another peer put at the path since', async () => {
    const path = join(root, 'peer.sock');
    const first = new ControlServer(node, { path }, logger);
    await first.start();
    // The first peer's socket was removed (by hand, or by a peer that took it for dead) and a second
    // peer now listens at the path.
    await unlink(path);
    const second = await start(path);
    const theirs = await stat(path);
    await first.stop();
    expect((await stat(path)).ino).toBe(theirs.ino);
    await reach(path);
    await second.stop();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
