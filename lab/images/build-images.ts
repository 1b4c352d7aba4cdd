/**
 * Builds swarmlab/tracker:latest and swarmlab/peer:latest through the Engine API (dockerode
 * `buildImage`), from a tar context holding only the Dockerfile, dist/swarmlab.js and docker/.
 *
 * An image is rebuilt only when its inputs changed: each image carries the bundle's SHA-256
 * (`swarmlab.bundle.sha256`) and a digest of every input (`swarmlab.inputs.sha256`: Dockerfile, docker/
 * files, bundle, base image id). Builds are serialised across processes (jest workers, the lab
 * controller) by a lock directory in the OS temp dir.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { sleep } from '../abort';
import type Docker from 'dockerode';
import { pack as createTarPack } from 'tar-stream';
import { createLogger, type Logger } from '../../src/shared/logger';
import { ensureNodeBaseImage, imageLabels, isNotFound } from './base-image';
import { followDockerStream } from './docker-stream';
import { BundleBuildError, ImageBuildError } from './errors';

export const TRACKER_IMAGE = 'swarmlab/tracker:latest';
export const PEER_IMAGE = 'swarmlab/peer:latest';
export const BUNDLE_RELATIVE_PATH = 'dist/swarmlab.js';
export const LABEL_BUNDLE_SHA256 = 'swarmlab.bundle.sha256';
export const LABEL_INPUTS_SHA256 = 'swarmlab.inputs.sha256';
export const LABEL_BASE_IMAGE = 'swarmlab.base.image';
export const BUILD_TIMEOUT_MS = 300_000;
export const BUNDLE_BUILD_TIMEOUT_MS = 180_000;
const LOCK_WAIT_MS = 600_000;
const LOCK_STALE_MS = 900_000;
const LOCK_POLL_MS = 250;

export type ImageRole = 'tracker' | 'peer';

export interface ImageRefs {
  tracker: string;
  peer: string;
  /** The NODE_IMAGE both were built FROM. */
  base: string;
}

export interface EnsureImagesInit {
  /** Rebuild both images (and skip the layer cache) even when their inputs are unchanged. Default false. */
  rebuild?: boolean;
  /** Logger; default `createLogger('images')`. */
  log?: Logger;
  /** Repository root holding the Dockerfiles, docker/ and dist/. Default: found from this file upwards. */
  rootDir?: string;
  /** Bundle to put in the images. Default `<rootDir>/dist/swarmlab.js` (built by `npm run build` if missing). */
  bundlePath?: string;
  /** Passed to ensureNodeBaseImage (default `$NODE_IMAGE` or node:20-bookworm-slim). */
  nodeImage?: string;
  /** Passed to ensureNodeBaseImage. */
  pullTimeoutMs?: number;
  /** Tags to build; default TRACKER_IMAGE and PEER_IMAGE. */
  tags?: Partial<Record<ImageRole, string>>;
}

/** Builds or reuses the tracker and peer images; returns their references and the base they use. */
export async function ensureImages(docker: Docker, init: EnsureImagesInit = {}): Promise<ImageRefs> {
  const log = init.log ?? createLogger('images');
  const rootDir = init.rootDir ?? findRepoRoot();
  const bundlePath = init.bundlePath ?? (await ensureBundle({ rootDir, log }));
  const tags: Record<ImageRole, string> = {
    tracker: init.tags?.tracker ?? TRACKER_IMAGE,
    peer: init.tags?.peer ?? PEER_IMAGE,
  };

  return withImageLock(log, async () => {
    const baseInit = { log, ...(init.nodeImage !== undefined ? { nodeImage: init.nodeImage } : {}) };
    const base = await ensureNodeBaseImage(docker, {
      ...baseInit,
      ...(init.pullTimeoutMs !== undefined ? { pullTimeoutMs: init.pullTimeoutMs } : {}),
    });
    const baseId = (await docker.getImage(base).inspect()).Id;
    const bundle = readFileSync(bundlePath);
    const bundleSha256 = sha256(bundle);
    for (const role of ['tracker', 'peer'] as const) {
      const dockerfile = `Dockerfile.${role}`;
      const context = collectContext(rootDir, dockerfile, bundle);
      const inputsSha256 = digestContext(context, base, baseId);
      const labels = await imageLabels(docker, tags[role]);
      if (
        init.rebuild !== true &&
        labels?.[LABEL_BUNDLE_SHA256] === bundleSha256 &&
        labels[LABEL_INPUTS_SHA256] === inputsSha256
      ) {
        log.debug('Image up to date', { image: tags[role], bundleSha256 });
        continue;
      }
      await removeDanglingImages(docker, role, log);
      await buildImage(docker, {
        tag: tags[role],
        dockerfile,
        context,
        buildargs: { NODE_IMAGE: base },
        labels: {
          [LABEL_BUNDLE_SHA256]: bundleSha256,
          [LABEL_INPUTS_SHA256]: inputsSha256,
          [LABEL_BASE_IMAGE]: base,
        },
        noCache: init.rebuild === true,
        log,
      });
    }
    return { ...tags, base };
  });
}

/**
 * Removes a superseded image only if no tag points at it any more (another tag, e.g. a test tag built
 * from the same inputs, may share its id), and not while a container uses it (409).
 */
async function removeIfUntagged(docker: Docker, imageId: string, log: Logger): Promise<void> {
  try {
    const tags = ((await docker.getImage(imageId).inspect()).RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    if (tags.length > 0) return;
    await docker.getImage(imageId).remove();
    log.debug('Removed superseded image', { imageId });
  } catch {
    // gone already, or still used by a container
  }
}

/**
 * Removes untagged images of `role` left by earlier builds (a superseded image that a container still
 * used could not be removed when it was replaced). Images still in use stay (409).
 */
async function removeDanglingImages(docker: Docker, role: ImageRole, log: Logger): Promise<void> {
  const dangling = await docker.listImages({ filters: { dangling: ['true'], label: [`swarmlab.image=${role}`] } });
  for (const image of dangling) {
    await docker
      .getImage(image.Id)
      .remove()
      .then(() => log.debug('Removed superseded image', { role, imageId: image.Id }))
      .catch(() => undefined);
  }
}

/**
 * Returns the path of dist/swarmlab.js, running `npm run build` first only when it is missing
 * (a stale bundle is the caller's business: `npm run build` or scripts/ensure-built.mjs).
 */
export async function ensureBundle(init: { rootDir?: string; log?: Logger } = {}): Promise<string> {
  const log = init.log ?? createLogger('images');
  const rootDir = init.rootDir ?? findRepoRoot();
  const bundlePath = join(rootDir, BUNDLE_RELATIVE_PATH);
  if (existsSync(bundlePath)) return bundlePath;

  log.info('Bundle missing; running npm run build', { rootDir });
  const output: string[] = [];
  const code = await new Promise<number | null>((resolvePromise, reject) => {
    const child = spawn('npm', ['run', 'build'], {
      cwd: rootDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: AbortSignal.timeout(BUNDLE_BUILD_TIMEOUT_MS),
    });
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.once('error', reject);
    child.once('close', resolvePromise);
  }).catch((err: unknown) => {
    throw new BundleBuildError(`npm run build could not run: ${String(err)}`, { cause: err });
  });
  if (code !== 0 || !existsSync(bundlePath)) {
    throw new BundleBuildError(`npm run build exited with ${String(code)}: ${output.join('').trim().slice(-2000)}`);
  }
  log.info('Built bundle', { bundlePath });
  return bundlePath;
}

/** Size in bytes of each image (null when absent). Default: the tracker and peer images. */
export async function getImageSizes(
  docker: Docker,
  refs: readonly string[] = [TRACKER_IMAGE, PEER_IMAGE],
): Promise<Record<string, number | null>> {
  const sizes: Record<string, number | null> = {};
  for (const ref of refs) {
    try {
      sizes[ref] = (await docker.getImage(ref).inspect()).Size;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      sizes[ref] = null;
    }
  }
  return sizes;
}

/** The directory holding package.json and Dockerfile.peer, searched upwards from this file and from cwd. */
export function findRepoRoot(): string {
  for (const start of [__dirname, process.cwd()]) {
    let dir = resolve(start);
    for (;;) {
      if (existsSync(join(dir, 'Dockerfile.peer')) && existsSync(join(dir, 'package.json'))) return dir;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new ImageBuildError(`cannot find the swarmlab repository root (Dockerfile.peer) from ${__dirname}`);
}

interface ContextFile {
  /** Path inside the build context, with forward slashes. */
  name: string;
  content: Buffer;
  mode: number;
}

function collectContext(rootDir: string, dockerfile: string, bundle: Buffer): ContextFile[] {
  const files: ContextFile[] = [
    { name: dockerfile, content: readFileSync(join(rootDir, dockerfile)), mode: 0o644 },
    { name: BUNDLE_RELATIVE_PATH, content: bundle, mode: 0o644 },
  ];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const mode = statSync(path).mode & 0o111 ? 0o755 : 0o644;
        files.push({ name: relative(rootDir, path).split('\\').join('/'), content: readFileSync(path), mode });
      }
    }
  };
  walk(join(rootDir, 'docker'));
  return files;
}

function digestContext(files: readonly ContextFile[], base: string, baseId: string): string {
  const hash = createHash('sha256').update(`base ${base} ${baseId}\n`);
  for (const file of files) hash.update(`${file.name} ${file.mode.toString(8)} ${sha256(file.content)}\n`);
  return hash.digest('hex');
}

async function contextTar(files: readonly ContextFile[]): Promise<Buffer> {
  const tar = createTarPack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolvePromise, reject) => {
    tar.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    tar.once('end', () => resolvePromise(Buffer.concat(chunks)));
    tar.once('error', reject);
  });
  const mtime = new Date(0);
  for (const file of files) tar.entry({ name: file.name, mode: file.mode, mtime, uid: 0, gid: 0 }, file.content);
  tar.finalize();
  return done;
}

interface BuildImageInit {
  tag: string;
  dockerfile: string;
  context: ContextFile[];
  buildargs: Record<string, string>;
  labels: Record<string, string>;
  noCache: boolean;
  log: Logger;
}

async function buildImage(docker: Docker, init: BuildImageInit): Promise<void> {
  const { log, tag } = init;
  log.info('Building image', { image: tag, dockerfile: init.dockerfile, base: init.buildargs['NODE_IMAGE'] });
  const startedAtMs = Date.now();
  const signal = AbortSignal.timeout(BUILD_TIMEOUT_MS);
  const previousId = await docker
    .getImage(tag)
    .inspect()
    .then((info) => info.Id)
    .catch(() => undefined);
  try {
    const stream = await docker.buildImage(Readable.from([await contextTar(init.context)]), {
      t: tag,
      dockerfile: init.dockerfile,
      buildargs: init.buildargs,
      labels: init.labels,
      rm: true,
      forcerm: true,
      nocache: init.noCache,
      abortSignal: signal,
    });
    await followDockerStream(
      stream as unknown as Readable,
      (event) => {
        const line = event.stream?.trim();
        if (line) log.debug('build', { image: tag, line });
      },
      signal,
    );
  } catch (err) {
    throw new ImageBuildError(`building ${tag} failed: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  const info = await docker.getImage(tag).inspect();
  log.info('Built image', { image: tag, sizeBytes: info.Size, ms: Date.now() - startedAtMs });
  if (previousId !== undefined && previousId !== info.Id) await removeIfUntagged(docker, previousId, log);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Runs `fn` holding a cross-process lock, so concurrent callers don't build the same tags twice. */
async function withImageLock<T>(log: Logger, fn: () => Promise<T>): Promise<T> {
  const lockDir = join(tmpdir(), 'swarmlab-images.lock');
  const ownerFile = join(lockDir, 'owner');
  const deadlineMs = Date.now() + LOCK_WAIT_MS;
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(ownerFile, `${process.pid} ${hostname()}\n`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (isStaleLock(lockDir, ownerFile)) {
        log.warn('Removing a stale image lock', { lockDir });
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadlineMs) throw new ImageBuildError(`timed out waiting for the image lock ${lockDir}`);
      if (!announced) log.info('Waiting for another image build to finish', { lockDir });
      announced = true;
      await sleep(LOCK_POLL_MS);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/** A lock is stale when its owner process is gone (same host) or it is older than LOCK_STALE_MS. */
function isStaleLock(lockDir: string, ownerFile: string): boolean {
  try {
    if (Date.now() - statSync(lockDir).mtimeMs > LOCK_STALE_MS) return true;
    const [pid, host] = readFileSync(ownerFile, 'utf8').trim().split(' ');
    if (host !== hostname() || pid === undefined) return false;
    try {
      process.kill(Number(pid), 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  } catch {
    // Owner file not written yet (lock just taken) or lock just released: not stale.
    return false;
  }
}
