/**
 * One peer per directory. Two peers on one DIR would rewrite each other's download sidecars and
 * partial files, so a peer takes this lock before it touches anything in DIR, and holds it while it
 * runs.
 *
 * The lock is a Unix socket the peer listens on, DIR/.swarmlab/peer.lock. The kernel says whether its
 * holder lives: a socket that accepts belongs to a running peer, which answers with its pid and
 * control path; one that refuses was left by a peer that died, and is replaced by exactly one of the peers that
 * find it so (takeOver: a link()ed claim, then rename() over the dead socket; nothing is unlinked). A lock file holding a
 * pid could not tell a dead peer from a new process that got the same pid (a restarted container
 * often does). A DIR whose lock path would not fit in a socket address, that cannot be written, or
 * whose file system has no Unix sockets, locks a socket in the temp directory named after DIR's real path instead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, lstat, mkdir, realpath, rename, unlink } from 'node:fs/promises';
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
 * A takeover works with names next to the lock, `path` plus `.f<hex>` (a new socket), `.t<hex>` (the
 * claim) or `.d<hex>` (a dead claim moved aside); all must fit in a socket address to be probed.
 */
const SUFFIX_HEX = 10;
const SUFFIX_BYTES = 2 + SUFFIX_HEX;
/** A path that keeps changing this long (peers starting and dying around it) is given up on. */
const LOCK_TIMEOUT_MS = 5_000;
/** How long a peer that lost a takeover waits before it asks who won. */
const TAKEOVER_WAIT_MS = 20;
/** A holder that accepted but says nothing (a stopped process) is still a holder. */
const PROBE_ANSWER_MS = 1_000;
/** Probes of a lock just bound that may go unanswered before the silence counts (see acquireAt). */
const SELF_PROBE_RETRIES = 3;

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
    /** What this lock answers to a peer that finds DIR locked. */
    readonly holder: DirLockHolder,
    private readonly server: Server,
    /** Set when the socket was renamed into place after a takeover: its inode at `path`. */
    private readonly renamedIno: bigint | undefined,
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
    const nonce = randomBytes(16).toString('hex');
    const answer = `${JSON.stringify({ ...holder, nonce })}\n`;
    const newServer = (): Server => {
      const server = createServer((socket) => {
        socket.on('error', () => socket.destroy());
        socket.end(answer);
      });
      // A lock that hits EMFILE on accept must not bring the peer down.
      server.on('error', () => undefined);
      return server;
    };
    for (const deadline = Date.now() + LOCK_TIMEOUT_MS; Date.now() < deadline; ) {
      // bind() creates the name only if nothing is there: on a free path this is the whole claim.
      const server = newServer();
      const listened = await listen(server, path);
      if (listened === undefined) {
        server.unref();
        let self = await probe(path);
        // Our own socket answers as soon as our event loop runs, but on a starved machine (a hundred lab
        // containers starting on two cores) the probe's timer can fire before the loop accepts: a silent
        // answer is asked again before it counts as another peer's.
        for (let retry = 0; self.alive && self.holder === undefined && retry < SELF_PROBE_RETRIES; retry++) {
          self = await probe(path);
        }
        if (self.alive && self.nonce === nonce) return new DirLock(path, holder, server, undefined);
        await closeServer(server);
        if (self.alive) throw new DirInUseError(dir, self.holder);
        continue;
      }
      if (SOCKETS_UNSUPPORTED.has(listened)) throw new SocketsUnsupported(`cannot lock ${dir} (${path}): ${listened}`);
      if (listened !== 'EADDRINUSE') throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir} (${path}): ${listened}`);
      const found = await probe(path);
      if (found.alive) throw new DirInUseError(dir, found.holder);
      if (found.code === 'ENOENT') continue;
      const stale = await lstat(path, { bigint: true }).catch(() => undefined);
      if (!stale) continue;
      // Left by a peer that died. Only a socket is ours to replace.
      if (!stale.isSocket()) throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir}: ${path} is not a socket`);
      const taken = await DirLock.takeOver(path, stale, nonce, newServer);
      if (taken) return new DirLock(path, holder, taken.server, taken.ino);
      // Another peer is taking it over: its socket answers in a moment, and the next round says who it is.
      await sleep(TAKEOVER_WAIT_MS);
    }
    throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${dir}: ${path} keeps changing`);
  }

  /**
   * Replaces the dead socket `stale` at `path` with a live one of ours, or returns undefined when
   * another peer has the right to. Removing a stale lock and binding a new one are two steps, and a
   * peer that judged the lock stale a moment ago could remove a successor's live socket between them
   * (then both peers believe they hold DIR). So nothing is removed: the right to replace this one dead
   * socket is a name of its own, `path.t<id of the dead socket>`, made with link(), which
   * only one peer can create; the winner checks that `path` still is that dead socket (only a holder
   * of the name could have changed it) and rename()s its own socket, listening already under a
   * temporary name, over it in one step. A peer that judged the lock stale too late finds the claim
   * taken or `path` changed, and backs off.
   */
  private static async takeOver(
    path: string,
    stale: BigIntStats,
    nonce: string,
    newServer: () => Server,
  ): Promise<{ server: Server; ino: bigint } | undefined> {
    const claim = `${path}.t${socketId(stale)}`;
    const fresh = `${path}.f${nonce.slice(0, SUFFIX_HEX)}`;
    const server = newServer();
    const listened = await listen(server, fresh);
    if (listened !== undefined) throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${path}: ${listened}`);
    server.unref();
    const giveUp = async (): Promise<undefined> => {
      await closeServer(server);
      await unlink(fresh).catch(() => undefined);
      return undefined;
    };
    try {
      await link(fresh, claim);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        await giveUp();
        throw new PeerError(PeerErrorCode.DirLock, `cannot lock ${path}: ${errorMessage(error)}`);
      }
      // Claimed by another peer: fine while it lives; a claimant that died leaves a claim that refuses.
      if ((await probe(claim)).alive === false) await removeIfDead(claim);
      return giveUp();
    }
    try {
      const now = await lstat(path, { bigint: true }).catch(() => undefined);
      if (!now || socketId(now) !== socketId(stale)) return await giveUp();
      await rename(fresh, path);
      const ino = (await lstat(path, { bigint: true })).ino;
      return { server, ino };
    } finally {
      await unlink(claim).catch(() => undefined);
    }
  }

  /** Lets the next peer take the directory. */
  async release(): Promise<void> {
    // A socket renamed into place keeps its first name for close(), which removes that one, not `path`.
    if (this.renamedIno !== undefined) {
      const now = await lstat(this.path, { bigint: true }).catch(() => undefined);
      if (now?.ino === this.renamedIno) await unlink(this.path).catch(() => undefined);
    }
    await closeServer(this.server);
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A name for one socket file: its inode and when it was made (an inode number alone is reused). */
function socketId(stats: BigIntStats): string {
  return createHash('sha256').update(`${stats.dev}:${stats.ino}:${stats.birthtimeNs}:${stats.ctimeNs}`).digest('hex').slice(0, SUFFIX_HEX);
}

/**
 * Removes a takeover claim whose peer died in the middle of its takeover (rare: it lasts a few
 * milliseconds). Renamed aside first, so that of several peers finding it dead one removes it; if
 * what was moved aside answers after all, it was a live claim made meanwhile and goes back.
 */
async function removeIfDead(claim: string): Promise<void> {
  const aside = `${claim.slice(0, claim.lastIndexOf('.'))}.d${randomBytes(SUFFIX_HEX / 2).toString('hex')}`;
  if (!(await rename(claim, aside).then(() => true, () => false))) return;
  if ((await probe(aside)).alive) await link(aside, claim).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
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
