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
 * DEV DOCS: why exactly one peer holds it. Only two steps ever change the lock path:
 * - take: a peer listens on a name of its own, `path.f<random>`, then link()s that socket to `path`.
 *   link() creates the name only when nothing is there, and the socket is listening before it appears,
 *   so a probe never finds a live peer's lock refusing (binding at `path` itself would show a refusing
 *   socket between bind() and listen()).
 * - remove a dead socket: only by the peer that holds its claim, `path.t<id of that socket>`, made with
 *   link() to the peer's own listening socket (so one peer at a time). Under the claim the peer checks
 *   that `path` still is that socket, then that it refuses, then unlinks it. Nobody else can remove or
 *   replace the socket meanwhile (that takes the same claim; a link() cannot replace it), so the socket
 *   found dead is the one removed. Judging "dead" and "which socket" in two unguarded steps is what let
 *   two peers win: one found the dead lock refusing, another replaced it with its live socket, and the
 *   first then took that live socket for the dead one.
 * A claim whose peer died refuses in turn and is removed the same way, under a claim of its own. A peer
 * unlinks its claim before it stops listening, and its lock at release before it stops listening, so
 * nothing that accepts is ever unlinked by anyone but its own peer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, lstat, mkdir, realpath, unlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../shared/errors';
import { DirInUseError, PeerError, PeerErrorCode } from './errors';

export const LOCK_FILE_NAME = 'peer.lock';
/** Linux keeps 108 bytes for a socket path, the terminating NUL included. */
const MAX_SOCKET_PATH_BYTES = 107;
/**
 * A peer's own socket, `path.f<hex>`, and a claim, `path.t<hex>`, sit next to the lock; both must fit
 * in a socket address (the one to be bound, the other to be probed).
 */
const SUFFIX_HEX = 10;
const SUFFIX_BYTES = 2 + SUFFIX_HEX;
/** A path that keeps changing this long (peers starting and dying around it) is given up on. */
const LOCK_TIMEOUT_MS = 5_000;
/** How long a peer waits while another one removes a dead lock, before it looks again. */
const TAKEOVER_WAIT_MS = 20;
/** A holder that accepted but says nothing (a stopped process) is still a holder. */
const PROBE_ANSWER_MS = 1_000;
/**
 * Claims of claims followed when claimants died one after another; each level takes a peer dying in
 * the few milliseconds it holds a claim, so this bound is never reached in practice.
 */
const MAX_CLAIM_DEPTH = 4;

/** What the holder tells a peer that finds DIR locked. */
export interface DirLockHolder {
  pid: number;
  /** The holder's control socket path, when it has one. */
  control?: string;
}

/** What bind() or link() answer on a file system that has no Unix sockets (or no hard links). */
const SOCKETS_UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EPERM', 'EINVAL']);

class SocketsUnsupported extends Error {}

/**
 * What connecting to a socket name says. Only a refusal means that nothing listens there; a full
 * backlog (EAGAIN) is a live holder too busy to accept.
 */
type Probe = { state: 'alive'; holder: DirLockHolder | undefined } | { state: 'dead' } | { state: 'gone' };

export class DirLock {
  private constructor(
    readonly path: string,
    /** What this lock answers to a peer that finds DIR locked. */
    readonly holder: DirLockHolder,
    private readonly server: Server,
    /** Our socket at `path` (the name it was bound to is gone). */
    private readonly socket: { dev: bigint; ino: bigint },
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
    if (!writable || Buffer.byteLength(inState) + SUFFIX_BYTES > MAX_SOCKET_PATH_BYTES) return DirLock.acquireAt(dir, await inTemp(), holder);
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
    const own = `${path}.f${randomBytes(SUFFIX_HEX / 2).toString('hex')}`;
    const listened = await listen(server, own);
    if (listened !== undefined) {
      if (SOCKETS_UNSUPPORTED.has(listened)) throw new SocketsUnsupported(`cannot lock ${dir} (${path}): ${listened}`);
      throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir} (${path}): ${listened}`);
    }
    server.unref();
    try {
      const socket = await DirLock.take(dir, path, own);
      // From now on `path` is its only name: a peer that dies leaves nothing but the lock behind.
      await unlink(own).catch(() => undefined);
      return new DirLock(path, holder, server, socket);
    } catch (error) {
      // Closing removes `own`; no claim of ours is left (see removeDead).
      await closeServer(server);
      throw error;
    }
  }

  /** Links our listening socket `own` to `path`, removing a dead lock first; throws DirInUseError if a live one is there. */
  private static async take(dir: string, path: string, own: string): Promise<{ dev: bigint; ino: bigint }> {
    for (const deadline = Date.now() + LOCK_TIMEOUT_MS; Date.now() < deadline; ) {
      if (await linkOnce(own, path, dir)) {
        const { dev, ino } = await lstat(own, { bigint: true });
        return { dev, ino };
      }
      const found = await probe(path, dir);
      if (found.state === 'alive') throw new DirInUseError(dir, found.holder);
      if (found.state === 'gone') continue;
      const stale = await lstat(path, { bigint: true }).catch(() => undefined);
      if (!stale) continue;
      // Left by a peer that died. Only a socket is ours to remove.
      if (!stale.isSocket()) throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir}: ${path} is not a socket`);
      if (await removeDead(path, path, stale, own, dir, 0)) continue;
      // Another peer is removing it: the next round finds the lock gone, or taken by whoever linked first.
      await sleep(TAKEOVER_WAIT_MS);
    }
    throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir}: ${path} keeps changing`);
  }

  /** Lets the next peer take the directory. */
  async release(): Promise<void> {
    // Unlinked while still listening, so that no peer finds it refusing and removes it under a claim.
    const now = await lstat(this.path, { bigint: true }).catch(() => undefined);
    if (now?.dev === this.socket.dev && now.ino === this.socket.ino) await unlink(this.path).catch(() => undefined);
    await closeServer(this.server);
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A name for one socket file: its inode and when it was made (an inode number alone is reused at once). */
function socketId(stats: BigIntStats): string {
  return createHash('sha256').update(`${stats.dev}:${stats.ino}:${stats.birthtimeNs}:${stats.ctimeNs}`).digest('hex').slice(0, SUFFIX_HEX);
}

/** The name whose link() gives the right to remove the dead socket `stale` (the lock at `path`, or a claim). */
export function claimPath(path: string, stale: BigIntStats): string {
  return `${path}.t${socketId(stale)}`;
}

/** link(): true when `name` was created, false when something is there already. */
async function linkOnce(own: string, name: string, dir: string): Promise<boolean> {
  try {
    await link(own, name);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? errorMessage(error);
    if (code === 'EEXIST') return false;
    if (SOCKETS_UNSUPPORTED.has(code)) throw new SocketsUnsupported(`cannot lock ${dir} (${name}): ${code}`);
    throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir} (${name}): ${code}`);
  }
}

/**
 * Unlinks `stale`, a socket at `name` (the lock, or the claim of a peer that died) found refusing,
 * under its claim `path.t<id>`. Returns false when another peer holds the claim; that peer removes it,
 * or, if it died holding the claim, its claim is removed the same way and the next round tries again.
 * The checks made under the claim are the ones that count: the caller's were made without it.
 */
async function removeDead(path: string, name: string, stale: BigIntStats, own: string, dir: string, depth: number): Promise<boolean> {
  const claim = claimPath(path, stale);
  if (!(await linkOnce(own, claim, dir))) {
    if (depth < MAX_CLAIM_DEPTH && (await probe(claim, dir)).state === 'dead') {
      const deadClaim = await lstat(claim, { bigint: true }).catch(() => undefined);
      if (deadClaim) await removeDead(path, claim, deadClaim, own, dir, depth + 1);
    }
    return false;
  }
  try {
    const now = await lstat(name, { bigint: true }).catch(() => undefined);
    if (!now || socketId(now) !== socketId(stale)) return true;
    if ((await probe(name, dir)).state !== 'dead') return true;
    await unlink(name).catch((error: unknown) => {
      throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir}: ${errorMessage(error)}`);
    });
    return true;
  } finally {
    // Before our socket stops listening (see acquireAt): a claim that refuses is taken for a dead one.
    await unlink(claim).catch(() => undefined);
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

/** Connects to a lock or a claim: a refusal means its peer died; an answer says who holds it. */
function probe(path: string, dir: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let text = '';
    let connected = false;
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      try {
        const parsed = JSON.parse(text) as DirLockHolder;
        resolve({ state: 'alive', holder: { pid: parsed.pid, ...(typeof parsed.control === 'string' ? { control: parsed.control } : {}) } });
      } catch {
        resolve({ state: 'alive', holder: undefined });
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
      if (error.code === 'ECONNREFUSED') resolve({ state: 'dead' });
      else if (error.code === 'ENOENT') resolve({ state: 'gone' });
      else if (error.code === 'EAGAIN') resolve({ state: 'alive', holder: undefined });
      else reject(new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir}: ${path}: ${error.code ?? errorMessage(error)}`));
    });
  });
}
