/**
 * One peer per directory. Two peers on one DIR would rewrite each other's download sidecars and
 * partial files, so a peer takes this lock before it touches anything in DIR, and holds it while it
 * runs.
 *
 * The lock is a Unix socket the peer listens on, DIR/.swarmlab/peer.lock. The kernel says whether its
 * holder lives: a socket that accepts belongs to a running peer, which answers with its pid and
 * control path; one that refuses was left by a peer that died, and is replaced. A lock file holding a
 * pid could not tell a dead peer from a new process that got the same pid (a restarted container
 * often does). A DIR whose lock path would not fit in a socket address, that cannot be written, or
 * whose file system has no Unix sockets, locks a socket in the temp directory named after DIR's real path instead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, realpath, unlink } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { errorMessage } from '../shared/errors';
import { DirInUseError, PeerError, PeerErrorCode } from './errors';

export const LOCK_FILE_NAME = 'peer.lock';
/** Linux keeps 108 bytes for a socket path, the terminating NUL included. */
const MAX_SOCKET_PATH_BYTES = 107;
/** A holder that accepted but says nothing (a stopped process) is still a holder. */
const PROBE_ANSWER_MS = 1_000;

/** What the holder tells a peer that finds DIR locked. */
export interface DirLockHolder {
  pid: number;
  /** The holder's control socket path, when it has one. */
  control?: string;
}

/** What bind() answers on a file system that has no Unix sockets. */
const SOCKETS_UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EPERM', 'EINVAL']);

class SocketsUnsupported extends Error {}

type Probe = { alive: false; code: string } | { alive: true; holder: DirLockHolder | undefined; nonce?: string };

export class DirLock {
  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  /**
   * Takes the lock on `dir` (whose state directory is `stateDir`) or throws DirInUseError naming the
   * peer that holds it.
   */
  static async acquire(dir: string, stateDir: string, holder: DirLockHolder): Promise<DirLock> {
    const inState = join(stateDir, LOCK_FILE_NAME);
    const inTemp = async (): Promise<string> => {
      const real = await realpath(dir).catch(() => resolve(dir));
      const id = createHash('sha256').update(real).digest('hex').slice(0, 32);
      return join(tmpdir(), `swarmlab-${id}.lock`);
    };
    // A DIR that cannot be written (under a regular file, read-only) still gets its lock: the peer
    // starts and reports the problem when it first writes there.
    const writable = await mkdir(stateDir, { recursive: true, mode: 0o700 }).then(() => true, () => false);
    if (!writable || Buffer.byteLength(inState) > MAX_SOCKET_PATH_BYTES) return DirLock.acquireAt(dir, await inTemp(), holder);
    try {
      return await DirLock.acquireAt(dir, inState, holder);
    } catch (error) {
      // A file system without Unix sockets (some bind mounts): lock in the temp directory instead.
      if (error instanceof SocketsUnsupported) return DirLock.acquireAt(dir, await inTemp(), holder);
      throw error;
    }
  }

  private static async acquireAt(dir: string, path: string, holder: DirLockHolder): Promise<DirLock> {
    const nonce = randomBytes(16).toString('hex');
    const answer = `${JSON.stringify({ ...holder, nonce })}\n`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const server = createServer((socket) => {
        socket.on('error', () => socket.destroy());
        socket.end(answer);
      });
      // A lock that hits EMFILE on accept must not bring the peer down.
      server.on('error', () => undefined);
      const listened = await listen(server, path);
      if (listened === undefined) {
        server.unref();
        // Someone who judged the old socket stale at the same moment may have replaced ours: only
        // the peer whose nonce answers holds the lock.
        const self = await probe(path);
        if (self.alive && self.nonce === nonce) return new DirLock(path, server);
        await new Promise<void>((resolve) => server.close(() => resolve()));
        if (self.alive) throw new DirInUseError(dir, self.holder);
        continue;
      }
      if (listened !== undefined && SOCKETS_UNSUPPORTED.has(listened)) {
        throw new SocketsUnsupported(`cannot lock ${dir} (${path}): ${listened}`);
      }
      if (listened !== 'EADDRINUSE') throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir} (${path}): ${listened}`);
      const found = await probe(path);
      if (found.alive) throw new DirInUseError(dir, found.holder);
      if (found.code === 'ENOENT') continue;
      // Left by a peer that died. Only a socket is ours to remove.
      const stats = await lstat(path).catch(() => undefined);
      if (stats && !stats.isSocket()) throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir}: ${path} is not a socket`);
      await unlink(path).catch(() => undefined);
    }
    throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir}: ${path} keeps changing`);
  }

  /** Lets the next peer take the directory. */
  async release(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Listens on `path`; resolves undefined once listening, or with the error code. */
function listen(server: Server, path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException): void => resolve(error.code ?? errorMessage(error));
    server.once('error', onError);
    // Only the owner may connect: the socket is created 0600 (bind creates it with the umask).
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', onError);
        resolve(undefined);
      });
    } finally {
      process.umask(umask);
    }
  });
}

/** Connects to the lock: a refusal means its holder died; an answer says who holds it. */
function probe(path: string): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = connect(path);
    let text = '';
    let connected = false;
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      try {
        const parsed = JSON.parse(text) as DirLockHolder & { nonce?: string };
        const holder: DirLockHolder = { pid: parsed.pid, ...(typeof parsed.control === 'string' ? { control: parsed.control } : {}) };
        resolve({ alive: true, holder, ...(typeof parsed.nonce === 'string' ? { nonce: parsed.nonce } : {}) });
      } catch {
        resolve({ alive: true, holder: undefined });
      }
    };
    const timer = setTimeout(done, PROBE_ANSWER_MS);
    socket.setEncoding('utf8');
    socket.on('connect', () => (connected = true));
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 4096) done();
    });
    socket.on('end', done);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (connected) return done();
      clearTimeout(timer);
      resolve({ alive: false, code: error.code ?? 'EIO' });
    });
  });
}
