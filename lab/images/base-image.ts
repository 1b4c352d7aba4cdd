/**
 * Provides the image that Dockerfile.tracker and Dockerfile.peer start FROM (`NODE_IMAGE`).
 *
 * In order: the requested image if the engine already has it; else a pull of it, bounded in time (it
 * fails on a machine without a registry, and that is expected); else a local base assembled from the
 * host's own Node runtime and imported through the Engine API (no docker CLI, no registry):
 *
 *   /usr/local/bin/node            the host's node binary (same place as in the official image)
 *   <each library ldd lists>       at the path ldd prints, plus the dynamic loader
 *   /bin/busybox + applet links    sh, mkdir, chown, env (/usr/bin/env), sha256sum, wget, nc, ip, ...
 *   /etc/passwd, /etc/group        root and node (1000:1000, home /home/node), as in node:*-slim
 *   /tmp (1777), /home/node, /root, /run
 *
 * The result is tagged `swarmlab/node-base:<node version>-local` and labelled with the Node version and
 * the recipe version, so a second call reuses it.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, realpathSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import { pack as createTarPack, type Pack } from 'tar-stream';
import { createLogger, type Logger } from '../../src/shared/logger';
import { followDockerStream } from './docker-stream';
import { BaseImageError } from './errors';

export const DEFAULT_NODE_IMAGE = 'node:20-bookworm-slim';
export const LOCAL_BASE_REPOSITORY = 'swarmlab/node-base';
export const PULL_TIMEOUT_MS = 20_000;
export const IMPORT_TIMEOUT_MS = 300_000;
/** Bump when the file layout below changes, so existing local bases are rebuilt. */
export const BASE_RECIPE_VERSION = '1';
export const LABEL_NODE_VERSION = 'swarmlab.base.node-version';
export const LABEL_RECIPE = 'swarmlab.base.recipe';

const NODE_UID = 1000;
const NODE_GID = 1000;
const BUSYBOX_PATH = '/bin/busybox';
const IMAGE_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Busybox applets linked into the local base, at the directory each one has on Debian. */
// prettier-ignore
const BUSYBOX_APPLETS: Readonly<Record<string, readonly string[]>> = {
  '/bin': [
    'sh', 'ash', 'cat', 'chgrp', 'chmod', 'chown', 'cp', 'date', 'dd', 'df', 'echo', 'egrep', 'false', 'fgrep', 'grep',
    'gunzip', 'gzip', 'hostname', 'ip', 'kill', 'ln', 'ls', 'mkdir', 'mknod', 'mktemp', 'more', 'mv', 'nc', 'netstat',
    'pidof', 'ping', 'ping6', 'ps', 'pwd', 'readlink', 'rm', 'rmdir', 'sed', 'sleep', 'stty', 'sync', 'tar', 'touch',
    'true', 'uname', 'usleep', 'zcat',
  ],
  '/sbin': ['ifconfig', 'route', 'tc', 'arp'],
  '/usr/bin': [
    '[', 'awk', 'basename', 'cut', 'diff', 'dirname', 'du', 'env', 'expr', 'find', 'free', 'head', 'hexdump', 'id',
    'killall', 'less', 'md5sum', 'nl', 'nproc', 'nslookup', 'od', 'printf', 'realpath', 'seq', 'sha1sum',
    'sha256sum', 'sort', 'stat', 'tail', 'tee', 'telnet', 'test', 'time', 'timeout', 'top', 'tr', 'traceroute',
    'truncate', 'uniq', 'uptime', 'vi', 'watch', 'wc', 'wget', 'which', 'whoami', 'xargs', 'xxd', 'yes',
  ],
};

/** Images whose pull failed in this process: not retried, so repeated calls stay fast offline. */
const failedPulls = new Set<string>();

const ETC_PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  `node:x:${NODE_UID}:${NODE_GID}::/home/node:/bin/sh`,
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  '',
].join('\n');
const ETC_GROUP = ['root:x:0:', `node:x:${NODE_GID}:`, 'nogroup:x:65534:', ''].join('\n');
const ETC_NSSWITCH = ['passwd: files', 'group: files', 'hosts: files dns', ''].join('\n');

export interface EnsureNodeBaseImageInit {
  /** Image to use when present or pullable. Default: `$NODE_IMAGE`, else `node:20-bookworm-slim`. */
  nodeImage?: string;
  /** Logger; default `createLogger('images')`. */
  log?: Logger;
  /** Upper bound for the pull attempt. Default PULL_TIMEOUT_MS. */
  pullTimeoutMs?: number;
  /** Skip the pull attempt entirely (e.g. known offline). Default false. */
  skipPull?: boolean;
  /** Rebuild the local base even if a matching one exists. Default false. */
  rebuild?: boolean;
  /** Node binary copied into the local base. Default `process.execPath`. */
  nodeBinary?: string;
}

/** Returns the image reference to pass as the NODE_IMAGE build argument. */
export async function ensureNodeBaseImage(docker: Docker, init: EnsureNodeBaseImageInit = {}): Promise<string> {
  const log = init.log ?? createLogger('images');
  const nodeImage = init.nodeImage ?? process.env['NODE_IMAGE'] ?? DEFAULT_NODE_IMAGE;

  if (await imageExists(docker, nodeImage)) {
    log.debug('Using Node base image present locally', { image: nodeImage });
    return nodeImage;
  }
  // A local base named explicitly (e.g. NODE_IMAGE=swarmlab/node-base:...-local) is never pulled.
  if (init.skipPull !== true && !failedPulls.has(nodeImage) && !nodeImage.startsWith(`${LOCAL_BASE_REPOSITORY}:`)) {
    const pullTimeoutMs = init.pullTimeoutMs ?? PULL_TIMEOUT_MS;
    log.info('Pulling Node base image', { image: nodeImage, pullTimeoutMs });
    try {
      await pullImage(docker, nodeImage, AbortSignal.timeout(pullTimeoutMs));
      log.info('Pulled Node base image', { image: nodeImage });
      return nodeImage;
    } catch (err) {
      failedPulls.add(nodeImage);
      log.info('Pull failed; building a local base from the host Node runtime', {
        image: nodeImage,
        reason: err instanceof Error ? err.message : String(err),
      });
    }
  }
  return ensureLocalNodeBaseImage(docker, { ...init, log });
}

/** Builds (or reuses) `swarmlab/node-base:<version>-local` from the host's Node runtime. */
export async function ensureLocalNodeBaseImage(docker: Docker, init: EnsureNodeBaseImageInit = {}): Promise<string> {
  const log = init.log ?? createLogger('images');
  const nodeBinary = init.nodeBinary ?? process.execPath;
  const nodeVersion = readNodeVersion(nodeBinary);
  const ref = localBaseImageRef(nodeVersion);

  if (init.rebuild !== true) {
    const labels = await imageLabels(docker, ref);
    if (labels?.[LABEL_NODE_VERSION] === nodeVersion && labels[LABEL_RECIPE] === BASE_RECIPE_VERSION) {
      log.debug('Reusing local Node base image', { image: ref });
      return ref;
    }
  }

  const files = collectRuntimeFiles(nodeBinary);
  log.info('Building local Node base image', { image: ref, nodeVersion, libraries: files.libraries.length });
  const startedAtMs = Date.now();
  const tar = createTarPack();
  const [repo, tag] = splitRef(ref);
  const importOptions = {
    repo,
    tag,
    changes: [
      `ENV PATH=${IMAGE_PATH_ENV}`,
      `ENV NODE_VERSION=${nodeVersion}`,
      `LABEL ${LABEL_NODE_VERSION}=${nodeVersion}`,
      `LABEL ${LABEL_RECIPE}=${BASE_RECIPE_VERSION}`,
      'LABEL org.opencontainers.image.description="swarmlab offline Node base (host runtime + busybox)"',
      'CMD ["node"]',
    ],
    abortSignal: AbortSignal.timeout(IMPORT_TIMEOUT_MS),
  };
  // The engine answers only once it has read the whole tar, so the tar is written while the request runs.
  const writing = writeBaseTar(tar, files).catch((err: unknown) => {
    tar.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  });
  const importing = (async (): Promise<void> => {
    const stream = await docker.importImage(tar as unknown as NodeJS.ReadableStream, importOptions);
    await followDockerStream(stream as unknown as Readable);
  })();
  await Promise.all([writing, importing]).catch((err: unknown) => {
    throw new BaseImageError(`importing ${ref} failed: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  });

  const info = await docker.getImage(ref).inspect();
  log.info('Built local Node base image', { image: ref, sizeBytes: info.Size, ms: Date.now() - startedAtMs });
  return ref;
}

/** `swarmlab/node-base:20.20.2-local` for Node v20.20.2. */
export function localBaseImageRef(nodeVersion: string): string {
  return `${LOCAL_BASE_REPOSITORY}:${nodeVersion.replace(/^v/, '')}-local`;
}

/** True when the engine has `ref` locally. */
export async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  return (await imageLabels(docker, ref)) !== undefined;
}

/** Labels of a local image, `{}` when it has none, undefined when it is absent. */
export async function imageLabels(docker: Docker, ref: string): Promise<Record<string, string> | undefined> {
  try {
    const info = await docker.getImage(ref).inspect();
    return info.Config?.Labels ?? {};
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { statusCode?: number }).statusCode === 404;
}

async function pullImage(docker: Docker, ref: string, signal: AbortSignal): Promise<void> {
  const stream = (await docker.pull(ref, { abortSignal: signal })) as unknown as Readable;
  await followDockerStream(stream, undefined, signal);
}

function splitRef(ref: string): [string, string] {
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
}

function readNodeVersion(nodeBinary: string): string {
  if (nodeBinary === process.execPath) return process.versions.node;
  const result = spawnSync(nodeBinary, ['--version'], { encoding: 'utf8' });
  if (result.status !== 0) throw new BaseImageError(`cannot run ${nodeBinary} --version`);
  return result.stdout.trim().replace(/^v/, '');
}

interface RuntimeFiles {
  nodeBinary: string;
  busybox: string;
  /** Absolute paths inside the image; the host file at the same path is copied (symlinks resolved). */
  libraries: string[];
}

function collectRuntimeFiles(nodeBinary: string): RuntimeFiles {
  for (const path of [nodeBinary, BUSYBOX_PATH]) {
    try {
      statSync(path);
    } catch (err) {
      throw new BaseImageError(`${path} is missing on the host; cannot build a local Node base`, { cause: err });
    }
  }
  const libraries = new Set<string>([...sharedLibraries(nodeBinary), ...sharedLibraries(BUSYBOX_PATH)]);
  return { nodeBinary, busybox: BUSYBOX_PATH, libraries: [...libraries].sort() };
}

/** Libraries and loader that `ldd` lists for `binary`; empty for a static binary. */
export function sharedLibraries(binary: string): string[] {
  const result = spawnSync('ldd', [binary], { encoding: 'utf8' });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (/not a dynamic executable|statically linked/.test(output)) return [];
  if (result.status !== 0) throw new BaseImageError(`ldd ${binary} failed: ${output.trim()}`);
  const paths: string[] = [];
  for (const line of output.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match?.[1] !== undefined) paths.push(match[1]);
    else if (/=>\s*not found/.test(line)) throw new BaseImageError(`ldd ${binary}: ${line.trim()}`);
  }
  return paths;
}

interface TarOwner {
  uid: number;
  gid: number;
}
const ROOT: TarOwner = { uid: 0, gid: 0 };

async function writeBaseTar(tar: Pack, files: RuntimeFiles): Promise<void> {
  const mtime = new Date(0);
  const written = new Set<string>();
  const dir = async (path: string, mode = 0o755, owner: TarOwner = ROOT): Promise<void> => {
    if (written.has(path)) return;
    written.add(path);
    await addEntry(tar, { name: `${path.slice(1)}/`, type: 'directory', mode, mtime, ...owner });
  };
  const parents = async (path: string): Promise<void> => {
    const parts = path.split('/').slice(1, -1);
    for (let i = 1; i <= parts.length; i++) await dir(`/${parts.slice(0, i).join('/')}`);
  };
  const text = async (path: string, content: string, mode = 0o644): Promise<void> => {
    await parents(path);
    await addEntry(tar, { name: path.slice(1), type: 'file', mode, mtime, ...ROOT }, Buffer.from(content));
  };
  const hostFile = async (path: string, source: string, mode?: number): Promise<void> => {
    if (written.has(path)) return;
    written.add(path);
    await parents(path);
    const real = realpathSync(source);
    const stat = statSync(real);
    const entry = tar.entry({
      name: path.slice(1),
      type: 'file',
      size: stat.size,
      mode: mode ?? stat.mode & 0o7777,
      mtime,
      ...ROOT,
    });
    await pipeline(createReadStream(real), entry);
  };
  const symlink = async (path: string, target: string): Promise<void> => {
    if (written.has(path)) return;
    written.add(path);
    await parents(path);
    await addEntry(tar, { name: path.slice(1), type: 'symlink', linkname: target, mode: 0o777, mtime, ...ROOT });
  };

  for (const path of ['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/usr/local/bin', '/etc', '/root']) await dir(path);
  await dir('/tmp', 0o1777);
  await dir('/var/tmp', 0o1777);
  await dir('/run');
  await dir('/home');
  await dir('/home/node', 0o755, { uid: NODE_UID, gid: NODE_GID });

  await hostFile('/usr/local/bin/node', files.nodeBinary, 0o755);
  for (const library of files.libraries) await hostFile(library, library);
  await hostFile(BUSYBOX_PATH, files.busybox, 0o755);
  for (const [directory, applets] of Object.entries(BUSYBOX_APPLETS)) {
    for (const applet of applets) await symlink(`${directory}/${applet}`, BUSYBOX_PATH);
  }
  await symlink('/usr/sbin/nologin', '/bin/false');

  await text('/etc/passwd', ETC_PASSWD);
  await text('/etc/group', ETC_GROUP);
  await text('/etc/nsswitch.conf', ETC_NSSWITCH);
  await text('/etc/os-release', 'NAME="swarmlab node-base"\nID=swarmlab\n');
  tar.finalize();
}

async function addEntry(tar: Pack, header: Parameters<Pack['entry']>[0], body?: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const callback = (err?: Error | null): void => (err ? reject(err) : resolve());
    if (body === undefined) tar.entry(header, callback);
    else tar.entry(header, body, callback);
  });
}
