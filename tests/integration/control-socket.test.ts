/**
 * The control socket's file, in-process: it is 0600 from the moment it exists (not chmod'ed after
 * listen, when a client could already connect), it refuses a directory others can write to or own, it
 * replaces only a socket, and an error on the listening server after start is logged, not thrown.
 * The modes are read with fs.stat, so the checks hold when the tests run as root too.
 */
import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { Server } from 'node:net';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer } from '../../src/control/control-server';
import type { PeerNode } from '../../src/peer/peer-node';
import { createLogger, setLogLevel } from '../../src/shared/logger';

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
    const modes: number[] = [];
    const realListen = Server.prototype.listen;
    // listen(path) binds synchronously: the file's mode right after it is the mode it was created with.
    jest.spyOn(Server.prototype, 'listen').mockImplementation(function (this: Server, ...args: unknown[]) {
      const server = (realListen as (...a: unknown[]) => Server).apply(this, args);
      if (args[0] === path) modes.push(statSync(path).mode & 0o777);
      return server;
    });
    const umask = process.umask(0o022);
    try {
      await start(path);
    } finally {
      process.umask(umask);
    }
    expect(modes.map((mode) => mode.toString(8))).toEqual(['600']);
    expect(((await stat(path)).mode & 0o777).toString(8)).toBe('600');
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

  test('issue 18 hole 9: an error on the listening server (EMFILE on accept) is logged, not thrown', async () => {
    await start(join(root, 'peer.sock'));
    const listening = servers[0] as unknown as { server: Server };
    const error = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
    expect(() => listening.server.emit('error', error)).not.toThrow();
  });
});
