/**
 * One peer per directory. Two peers on one DIR would rewrite each other's download sidecars and
 * partial files, so a peer takes this lock before it touches anything in DIR, and holds it while it
 * runs.
 *
 * The lock is a Unix socket the peer listens on, DIR/.swarmlab/peer.lock. The kernel says whether its
 * holder lives: a socket that accepts belongs to a running peer, which answers with its pid and
 * control path; one that refuses was left by a peer that died. A lock file holding a pid could not
 * tell a dead peer from a new process that got the same pid (a restarted container often does). A DIR
 * whose lock path would not fit in a socket address, that cannot be written, or whose file system has
 * no Unix sockets, locks a socket in the temp directory named after DIR's real path instead.
 *
 * Exactly one peer holds the lock, and a dead peer's lock is removed by exactly one of the peers that
 * find it, by the scheme of ../shared/exclusive-socket.ts (the DEV DOCS there): the peer listens under
 * a name of its own, link()s it into place, and removes a dead lock only under a claim on it.
 */
import { createHash } from 'node:crypto';
import { mkdir, realpath, unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { errorMessage } from '../shared/errors';
import { listenPrivate, MAX_SOCKET_PATH_BYTES, privateSocketName, releaseSocketPath, SOCKET_SUFFIX_BYTES, takeSocketPath } from '../shared/exclusive-socket';
import type { SocketIdentity, TakeSocketPathInit } from '../shared/exclusive-socket';
import { DirInUseError, PeerError, PeerErrorCode } from './errors';

export { claimPath } from '../shared/exclusive-socket';

export const LOCK_FILE_NAME = 'peer.lock';
/** A holder that accepted but says nothing (a stopped process) is still a holder. */
const PROBE_ANSWER_MS = 1_000;

/** What the holder tells a peer that finds DIR locked. */
export interface DirLockHolder {
  pid: number;
  /** The holder's control socket path, when it has one. */
  control?: string;
}

/** What bind() or link() answer on a file system that has no Unix sockets (or no hard links). */
const SOCKETS_UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EPERM', 'EINVAL']);

class SocketsUnsupported extends Error {}

export class DirLock {
  private constructor(
    readonly path: string,
    /** What this lock answers to a peer that finds DIR locked. */
    readonly holder: DirLockHolder,
    private readonly server: Server,
    /** Our socket at `path` (the name it was bound to is gone). */
    private readonly socket: SocketIdentity,
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
    if (!writable || Buffer.byteLength(inState) + SOCKET_SUFFIX_BYTES > MAX_SOCKET_PATH_BYTES) return DirLock.acquireAt(dir, await inTemp(), holder);
    try {
      return await DirLock.acquireAt(dir, inState, holder);
    } catch (error) {
      // A file system without Unix sockets (some bind mounts): lock in the temp directory instead.
      if (error instanceof SocketsUnsupported) return DirLock.acquireAt(dir, await inTemp(), holder);
      throw error;
    }
  }

  private static async acquireAt(dir: string, path: string, holder: DirLockHolder): Promise<DirLock> {
    const answer = `${JSON.stringify(holder)}\n`;
    const server = createServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.end(answer);
    });
    // A lock that hits EMFILE on accept must not bring the peer down.
    server.on('error', () => undefined);
    const own = privateSocketName(path);
    const listened = await listenPrivate(server, own);
    if (listened !== undefined) {
      if (SOCKETS_UNSUPPORTED.has(listened)) throw new SocketsUnsupported(`cannot lock ${dir} (${path}): ${listened}`);
      throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir} (${path}): ${listened}`);
    }
    server.unref();
    try {
      const socket = await takeSocketPath(path, own, lockInit(dir, path));
      // From now on `path` is its only name: a peer that dies leaves nothing but the lock behind.
      await unlink(own).catch(() => undefined);
      return new DirLock(path, holder, server, socket);
    } catch (error) {
      // Closing removes `own`; no claim of ours is left (takeSocketPath unlinks them first).
      await closeServer(server);
      throw error;
    }
  }

  /** Lets the next peer take the directory. */
  async release(): Promise<void> {
    // Unlinked while still listening, so that no peer finds it refusing and removes it under a claim.
    await releaseSocketPath(this.path, this.socket);
    await closeServer(this.server);
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

/** What a failed take means for DIR's lock: the messages and codes the lock always gave. */
function lockInit(dir: string, path: string): TakeSocketPathInit {
  return {
    answerMs: PROBE_ANSWER_MS,
    inUse: (answer) => new DirInUseError(dir, holderOf(answer)),
    failed: (problem) => {
      switch (problem.kind) {
        case 'link':
          if (SOCKETS_UNSUPPORTED.has(problem.code)) return new SocketsUnsupported(`cannot lock ${dir} (${problem.name}): ${problem.code}`);
          return new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir} (${problem.name}): ${problem.code}`);
        case 'probe':
          return new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir}: ${problem.name}: ${problem.code}`);
        case 'unlink':
          return new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir}: ${errorMessage(problem.error)}`);
        case 'not-socket':
          return new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir}: ${path} is not a socket`);
        case 'changing':
          return new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir}: ${path} keeps changing`);
        default: {
          const unreachable: never = problem;
          throw new Error(`unknown problem ${String(unreachable)}`);
        }
      }
    },
  };
}

/** The holder a live lock answered with: its pid and control path. */
function holderOf(answer: string | undefined): DirLockHolder | undefined {
  try {
    const parsed = JSON.parse(answer ?? '') as DirLockHolder;
    return { pid: parsed.pid, ...(typeof parsed.control === 'string' ? { control: parsed.control } : {}) };
  } catch {
    return undefined;
  }
}
