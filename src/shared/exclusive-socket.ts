/**
 * A Unix socket path that exactly one live process listens on: the peer's directory lock and its
 * control socket. Whoever finds a socket there that refuses connections may remove it (its process
 * died), but several processes starting at once after a crash all find it, and none may remove the
 * socket another one has just put in its place.
 *
 * DEV DOCS: why exactly one process holds the path. Only two steps ever change it:
 * - take: a process listens on a name of its own, `path.f<random>` (mode 0600 from bind on), then
 *   link()s that socket to `path`. link() creates the name only when nothing is there, and the socket is
 *   listening before it appears, so a probe never finds a live process's socket refusing (binding at
 *   `path` itself would show a refusing socket between bind() and listen()).
 * - remove a dead socket: only by the process that holds its claim, `path.t<id of that socket>`, made
 *   with link() to the process's own listening socket (so one process at a time). Under the claim it
 *   checks that `path` still is that socket, then that it refuses, then unlinks it. Nobody else can
 *   remove or replace the socket meanwhile (that takes the same claim; a link() cannot replace it), so
 *   the socket found dead is the one removed. Judging "dead" and "which socket" in two unguarded steps is
 *   what let two processes win: one found the dead socket refusing, another replaced it with its live
 *   one, and the first then took that live socket for the dead one.
 * A claim whose process died refuses in turn and is removed the same way, under a claim of its own. A
 * process unlinks its claim before it stops listening, and `path` at release before it stops listening
 * (and only while `path` is still its socket), so nothing that accepts is ever unlinked by anyone but
 * its own process. Only ECONNREFUSED counts as dead: EAGAIN (a full backlog) is a live process too busy
 * to accept.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, lstat, unlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { connect } from 'node:net';
import type { Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from './errors';

/** Linux keeps 108 bytes for a socket path, the terminating NUL included. */
export const MAX_SOCKET_PATH_BYTES = 107;
/**
 * A process's own socket, `path.f<hex>`, and a claim, `path.t<hex>`, sit next to the path; both must
 * fit in a socket address (the one to be bound, the other to be probed), so `path` may have at most
 * MAX_SOCKET_PATH_BYTES - SOCKET_SUFFIX_BYTES bytes.
 */
const SUFFIX_HEX = 10;
export const SOCKET_SUFFIX_BYTES = 2 + SUFFIX_HEX;
/** A path that keeps changing this long (processes starting and dying around it) is given up on. */
const TAKE_TIMEOUT_MS = 5_000;
/** How long a process waits while another one removes a dead socket, before it looks again. */
const TAKEOVER_WAIT_MS = 20;
/**
 * Claims of claims followed when claimants died one after another; each level takes a process dying in
 * the few milliseconds it holds a claim, so this bound is never reached in practice.
 */
const MAX_CLAIM_DEPTH = 4;
/** The most of a holder's answer a probe reads. */
const MAX_ANSWER_CHARS = 4096;

/** Which socket file sits at a path: a link() or a rename() keeps it, a new bind() does not. */
export interface SocketIdentity {
  dev: bigint;
  ino: bigint;
}

/**
 * What connecting to a socket path says. Only a refusal means that nothing listens there; `answer` is
 * what the holder wrote before it closed (read only when the probe is asked to).
 */
export type SocketProbe = { state: 'alive'; answer: string | undefined } | { state: 'dead' } | { state: 'gone' };

/** Why taking a path failed, for the caller to turn into its own error. */
export type TakeProblem =
  /** link() or connect() on `name` (the path, or a claim) failed with `code`, not EEXIST, ECONNREFUSED, ENOENT or EAGAIN. */
  | { kind: 'link' | 'probe'; name: string; code: string }
  /** A dead socket could not be unlinked. */
  | { kind: 'unlink'; error: unknown }
  /** Something that is not a socket sits at the path: it is never removed. */
  | { kind: 'not-socket' }
  /** The path changed for TAKE_TIMEOUT_MS without our link() getting in. */
  | { kind: 'changing' };

export interface TakeSocketPathInit {
  /** The error thrown when a live process listens on the path; `answer` is what it wrote, if read. */
  inUse(answer: string | undefined): Error;
  failed(problem: TakeProblem): Error;
  /** When set, a live holder's answer is read for up to this long (it is passed to inUse). */
  answerMs?: number;
}

/** A fresh name next to `path` to listen on before linking the socket into place. */
export function privateSocketName(path: string): string {
  return `${path}.f${randomBytes(SUFFIX_HEX / 2).toString('hex')}`;
}

/** Listens on `name` with mode 0600; resolves undefined once listening, or with the error code. */
export function listenPrivate(server: Server, name: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException): void => resolve(error.code ?? errorMessage(error));
    server.once('error', onError);
    // bind() creates the socket file with the umask: 0600 from the first moment, not chmod'ed after
    // (a client could connect in between). The bind happens inside listen(), synchronously.
    const umask = process.umask(0o177);
    try {
      server.listen(name, () => {
        server.off('error', onError);
        resolve(undefined);
      });
    } finally {
      process.umask(umask);
    }
  });
}

/**
 * Links our listening socket `own` to `path`, removing a dead socket first. Returns the socket's
 * identity (for releaseSocketPath); throws init.inUse() when a live one is there. `own` stays linked:
 * the caller unlinks it (closing the server does, too).
 */
export async function takeSocketPath(path: string, own: string, init: TakeSocketPathInit): Promise<SocketIdentity> {
  for (const deadline = Date.now() + TAKE_TIMEOUT_MS; Date.now() < deadline; ) {
    if (await linkOnce(own, path, init)) {
      const { dev, ino } = await lstat(own, { bigint: true });
      return { dev, ino };
    }
    const found = await probeSocket(path, init.answerMs).catch((error: unknown) => {
      throw init.failed({ kind: 'probe', name: path, code: errnoOf(error) });
    });
    if (found.state === 'alive') throw init.inUse(found.answer);
    if (found.state === 'gone') continue;
    const stale = await lstat(path, { bigint: true }).catch(() => undefined);
    if (!stale) continue;
    // Left by a process that died. Only a socket is ours to remove.
    if (!stale.isSocket()) throw init.failed({ kind: 'not-socket' });
    if (await removeDead(path, path, stale, own, init, 0)) continue;
    // Another process is removing it: the next round finds the path free, or taken by whoever linked first.
    await sleep(TAKEOVER_WAIT_MS);
  }
  throw init.failed({ kind: 'changing' });
}

/**
 * Unlinks `path` if it still is our socket `socket`. Call it before the server stops listening: a
 * socket found refusing is taken for a dead one, and after close() the path may hold another's.
 */
export async function releaseSocketPath(path: string, socket: SocketIdentity): Promise<void> {
  const now = await lstat(path, { bigint: true }).catch(() => undefined);
  if (now?.dev === socket.dev && now.ino === socket.ino) await unlink(path).catch(() => undefined);
}

/** A name for one socket file: its inode and when it was made (an inode number alone is reused at once). */
function socketId(stats: BigIntStats): string {
  return createHash('sha256').update(`${stats.dev}:${stats.ino}:${stats.birthtimeNs}:${stats.ctimeNs}`).digest('hex').slice(0, SUFFIX_HEX);
}

/** The name whose link() gives the right to remove the dead socket `stale` (the one at `path`, or a claim). */
export function claimPath(path: string, stale: BigIntStats): string {
  return `${path}.t${socketId(stale)}`;
}

/** link(): true when `name` was created, false when something is there already. */
async function linkOnce(own: string, name: string, init: TakeSocketPathInit): Promise<boolean> {
  try {
    await link(own, name);
    return true;
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EEXIST') return false;
    throw init.failed({ kind: 'link', name, code });
  }
}

/**
 * Unlinks `stale`, a socket at `name` (the path, or the claim of a process that died) found refusing,
 * under its claim `path.t<id>`. Returns false when another process holds the claim; that one removes
 * it, or, if it died holding the claim, its claim is removed the same way and the next round tries
 * again. The checks made under the claim are the ones that count: the caller's were made without it.
 */
async function removeDead(path: string, name: string, stale: BigIntStats, own: string, init: TakeSocketPathInit, depth: number): Promise<boolean> {
  const claim = claimPath(path, stale);
  const probe = async (at: string): Promise<SocketProbe> =>
    // Read like the first probe: a holder that writes an answer is not cut off mid-write.
    probeSocket(at, init.answerMs).catch((error: unknown) => {
      throw init.failed({ kind: 'probe', name: at, code: errnoOf(error) });
    });
  if (!(await linkOnce(own, claim, init))) {
    if (depth < MAX_CLAIM_DEPTH && (await probe(claim)).state === 'dead') {
      const deadClaim = await lstat(claim, { bigint: true }).catch(() => undefined);
      if (deadClaim) await removeDead(path, claim, deadClaim, own, init, depth + 1);
    }
    return false;
  }
  try {
    const now = await lstat(name, { bigint: true }).catch(() => undefined);
    if (!now || socketId(now) !== socketId(stale)) return true;
    if ((await probe(name)).state !== 'dead') return true;
    await unlink(name).catch((error: unknown) => {
      throw init.failed({ kind: 'unlink', error });
    });
    return true;
  } finally {
    // Before our socket stops listening: a claim that refuses is taken for a dead one.
    await unlink(claim).catch(() => undefined);
  }
}

function errnoOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? errorMessage(error);
}

/**
 * Connects to `path`: a refusal means its process died. With `answerMs`, what the holder writes is read
 * until it ends the connection (or answerMs pass); otherwise the connection is dropped once made.
 * Rejects with the socket error for anything but ECONNREFUSED, ENOENT and EAGAIN.
 */
export function probeSocket(path: string, answerMs?: number): Promise<SocketProbe> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let text = '';
    let connected = false;
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ state: 'alive', answer: answerMs === undefined ? undefined : text });
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      connected = true;
      if (answerMs === undefined) done();
    });
    if (answerMs !== undefined) timer = setTimeout(done, answerMs);
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > MAX_ANSWER_CHARS) done();
    });
    socket.on('end', done);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (connected) return done();
      clearTimeout(timer);
      if (error.code === 'ECONNREFUSED') resolve({ state: 'dead' });
      else if (error.code === 'ENOENT') resolve({ state: 'gone' });
      else if (error.code === 'EAGAIN') resolve({ state: 'alive', answer: undefined });
      else reject(error);
    });
  });
}
