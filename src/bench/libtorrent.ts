/**
 * libtorrent side by side: the pair and the demo topology again with libtorrent (the engine of
 * qBittorrent and Deluge) through its Python bindings (Debian `python3-libtorrent`, run with
 * /usr/bin/python3). Each node is its own process running libtorrent-node.py, which prints JSON lines.
 *
 * Like for like with swarmlab's figures: the same file size, pieces the size of swarmlab's default
 * chunk, every piece hash-checked, and each leecher timed from the moment it is told to download (its
 * process already started, as swarmlab's peers are) until it reports every piece. TCP only: over
 * loopback uTP crawls at a few MB/s. No tracker, DHT, LSD or UPnP: the peers are connected directly,
 * leechers to every seeder and to each other. A rate is reported only after the leecher's file on disk
 * proved byte for byte equal to the seeder's. Every process is killed and the temp directory removed
 * in `finally`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { DEFAULT_CHUNK_BYTES } from '../protocol';
import { SwarmlabError } from '../shared/errors';
import { generateFile } from '../shared/generate';
import { procCpuSeconds } from './footprint';
import { registerTeardown } from './teardown';
import { BYTES_PER_GB, BYTES_PER_MB } from './types';
import { BenchErrorCode } from './errors';

/** Debian's bindings are built for the system Python, not whichever python3 is first on PATH. */
export const LIBTORRENT_PYTHON = '/usr/bin/python3';
const FILE_NAME = 'swarmlab-bench.bin';
const NODE_READY_MS = 20_000;
/** Milliseconds a leecher may take per MiB before it is killed, plus a fixed allowance. */
const TIMEOUT_MS_PER_MIB = 200;
const TIMEOUT_BASE_MS = 30_000;
const COMPARE_BLOCK_BYTES = 4 * 1024 * 1024;
const execFileAsync = promisify(execFile);

export interface LibtorrentSwarmResult {
  /** Each leecher's MB/s, from being told to download until it had every piece. */
  MBps: number[];
  /** Each leecher's CPU-seconds per GB (10^9 bytes) over the same span; null where /proc is missing. */
  leecherCpuSPerGB: Array<number | null>;
}

/**
 * The driver script: next to the bundle (dist/, the build copies it there) or next to this module
 * when it runs from source (tests).
 */
export function libtorrentScript(): string | null {
  for (const candidate of [
    join(__dirname, 'libtorrent-node.py'),
    join(__dirname, '..', 'src', 'bench', 'libtorrent-node.py'),
  ])
    if (existsSync(candidate)) return candidate;
  return null;
}

/** libtorrent's version, or why it cannot run here. */
export async function libtorrentVersion(): Promise<{ version: string } | { missing: string }> {
  if (!libtorrentScript()) return { missing: 'libtorrent-node.py is not next to the bundle (run `npm run build`)' };
  try {
    const { stdout } = await execFileAsync(LIBTORRENT_PYTHON, [
      '-c',
      'import libtorrent; print(libtorrent.__version__)',
    ]);
    return { version: stdout.trim() };
  } catch {
    return { missing: `python3-libtorrent is not installed (${LIBTORRENT_PYTHON} cannot import libtorrent)` };
  }
}

/** One JSON-lines node process; `next(event)` resolves with the next line of that event. */
export class LibtorrentNode {
  readonly child: ChildProcess;
  private readonly lines: Array<Record<string, unknown>> = [];
  private waiter: (() => void) | undefined;
  private stderr = '';

  constructor(script: string, args: string[]) {
    this.child = spawn(LIBTORRENT_PYTHON, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.on('error', () => undefined); // reported by next()
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-2_000)));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        return; // not one of the driver's lines
      }
      this.waiter?.();
    });
    this.child.once('exit', () => this.waiter?.());
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async next(event: string, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const line = this.lines.shift();
      if (line?.['event'] === 'error')
        throw new SwarmlabError(BenchErrorCode.Libtorrent, `${what}: ${String(line['message'])}`);
      if (line?.['event'] === event) return line;
      if (line) continue;
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new SwarmlabError(
          // Only stop() sends signals, and it never runs while next() waits: a signal here is a crash.
          this.child.signalCode === null ? BenchErrorCode.Libtorrent : BenchErrorCode.LibtorrentCrashed,
          `${what} exited (${this.child.exitCode ?? this.child.signalCode}) before "${event}": ${this.stderr.trim()}`,
        );
      const leftMs = deadline - performance.now();
      if (leftMs <= 0)
        throw new SwarmlabError(BenchErrorCode.Timeout, `${what} did not report "${event}" in ${timeoutMs / 1000} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, leftMs);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** The peers to connect to; the node adds the torrent on this line. */
  go(peers: number[]): void {
    this.child.stdin?.write(`${JSON.stringify({ peers: peers.map((port) => ['127.0.0.1', port]) })}\n`);
  }

  /** Closes stdin (the node exits on its own) and kills it if it lingers. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin?.end();
    const term = setTimeout(() => this.child.kill('SIGTERM'), 3_000);
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 6_000);
    await gone;
    clearTimeout(term);
    clearTimeout(kill);
  }
}

/**
 * One libtorrent swarm: `seeders` nodes seeding the file, then `leechers` nodes downloading it at
 * once from every seeder and from each other.
 */
export async function runLibtorrentSwarm(
  fileBytes: number,
  seeders: number,
  leechers: number,
): Promise<LibtorrentSwarmResult> {
  const script = libtorrentScript();
  if (!script) throw new SwarmlabError(BenchErrorCode.Libtorrent, 'libtorrent-node.py not found');
  const dir = await mkdtemp(join(tmpdir(), 'swarmlab-lt-'));
  const nodes: LibtorrentNode[] = [];
  const teardown = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  const unregister = registerTeardown(teardown);
  try {
    const seedDirs = Array.from({ length: seeders }, (_, i) => join(dir, `seed-${i + 1}`));
    const leechDirs = Array.from({ length: leechers }, (_, i) => join(dir, `leech-${i + 1}`));
    for (const d of [...seedDirs, ...leechDirs]) await mkdir(d);
    const original = join(seedDirs[0]!, FILE_NAME);
    await generateFile(original, fileBytes, 'swarmlab-bench', false);
    for (const seedDir of seedDirs.slice(1)) await link(original, join(seedDir, FILE_NAME));
    const torrent = join(dir, 'bench.torrent');
    await execFileAsync(LIBTORRENT_PYTHON, [script, 'make', original, torrent, String(DEFAULT_CHUNK_BYTES)]);

    const start = (role: 'seed' | 'leech', nodeDir: string): LibtorrentNode => {
      const node = new LibtorrentNode(script, [role, torrent, nodeDir]);
      nodes.push(node);
      return node;
    };
    const seedNodes = seedDirs.map((d) => start('seed', d));
    const leechNodes = leechDirs.map((d) => start('leech', d));
    const ports = await Promise.all(
      [...seedNodes, ...leechNodes].map(async (node, i) =>
        Number((await node.next('ready', NODE_READY_MS, `libtorrent node ${i + 1}`))['port']),
      ),
    );
    const seedPorts = ports.slice(0, seeders);
    for (const node of seedNodes) node.go([]);

    const timeoutMs = TIMEOUT_BASE_MS + (fileBytes / (1024 * 1024)) * TIMEOUT_MS_PER_MIB;
    const cpuBefore = await Promise.all(leechNodes.map((node) => procCpuSeconds(node.pid)));
    const startedMs = performance.now();
    // Each leecher dials every seeder and the leechers before it, so every pair is connected once.
    leechNodes.forEach((node, i) => node.go([...seedPorts, ...ports.slice(seeders, seeders + i)]));
    const done = await Promise.all(
      leechNodes.map(async (node, i) => {
        const finished = await node.next('finished', timeoutMs, `libtorrent leecher ${i + 1}`);
        const seconds = (performance.now() - startedMs) / 1000;
        const cpuAfter = await procCpuSeconds(node.pid);
        const before = cpuBefore[i];
        return {
          seconds,
          bytes: Number(finished['bytes']),
          cpuS: cpuAfter === null || before === null || before === undefined ? null : cpuAfter - before,
        };
      }),
    );
    await Promise.all(nodes.map((node) => node.stop()));
    for (const [i, leechDir] of leechDirs.entries()) {
      if (done[i]?.bytes !== fileBytes || !(await sameBytes(original, join(leechDir, FILE_NAME))))
        throw new SwarmlabError(
          BenchErrorCode.Libtorrent,
          `libtorrent leecher ${i + 1}'s file differs from the seeder's (${done[i]?.bytes} of ${fileBytes} bytes reported)`,
        );
    }
    return {
      MBps: done.map((d) => fileBytes / BYTES_PER_MB / d.seconds),
      leecherCpuSPerGB: done.map((d) => (d.cpuS === null ? null : d.cpuS / (fileBytes / BYTES_PER_GB))),
    };
  } finally {
    unregister();
    await teardown();
  }
}

/** Whether two files hold the same bytes, compared block by block. */
export async function sameBytes(a: string, b: string): Promise<boolean> {
  const [fa, fb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const [sa, sb] = await Promise.all([fa.stat(), fb.stat()]);
    if (sa.size !== sb.size) return false;
    const ba = Buffer.alloc(COMPARE_BLOCK_BYTES);
    const bb = Buffer.alloc(COMPARE_BLOCK_BYTES);
    for (let position = 0; position < sa.size; position += COMPARE_BLOCK_BYTES) {
      const [ra, rb] = await Promise.all([
        fa.read(ba, 0, COMPARE_BLOCK_BYTES, position),
        fb.read(bb, 0, COMPARE_BLOCK_BYTES, position),
      ]);
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead)))
        return false;
    }
    return true;
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}
