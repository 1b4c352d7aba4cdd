/**
 * BitTorrent side by side: the pair and the demo topology again, as a real BitTorrent swarm on
 * 127.0.0.1 (opentracker, aria2c seeders and leechers, torrents made by mktorrent), and swarmlab's
 * speed-up over it. It runs only where all three tools are installed (Debian: `apt-get install aria2
 * mktorrent opentracker`); without them the fields stay null and the note says why.
 *
 * Like for like: the same file size, pieces the size of swarmlab's default chunk, every piece verified
 * (aria2 checks SHA-1), DHT, LPD and PEX off so the tracker is the only way to find peers, and each
 * leecher timed from its start until it exits with the whole file (aria2 exits once done with
 * --seed-time=0), which, like swarmlab's figure, includes finding the tracker and the peers.
 * Opentracker in Debian serves only whitelisted torrents, so the info-hash goes into its
 * access.whitelist. Every process is killed and the temp directory removed in `finally`.
 * libtorrent runs the same two topologies beside aria2 (libtorrent.ts), with its own fields and note.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { access, chmod, constants, link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_CHUNK_BYTES } from '../protocol';
import { errorMessage, SwarmlabError } from '../shared/errors';
import { freePort } from '../shared/free-port';
import { generateFile } from '../shared/generate';
import { libtorrentVersion, runLibtorrentSwarm } from './libtorrent';
import type { LibtorrentSwarmResult } from './libtorrent';
import { registerTeardown } from './teardown';
import { BYTES_PER_MB } from './types';
import type { BittorrentResult } from './types';
import { BenchErrorCode } from './errors';

export const BITTORRENT_TOOLS = ['aria2c', 'mktorrent', 'opentracker'] as const;
const FILE_NAME = 'swarmlab-bench.bin';
/** Seconds a leecher may take per MiB before it is killed, plus a fixed start-up allowance. */
const TIMEOUT_MS_PER_MIB = 200;
const TIMEOUT_BASE_MS = 30_000;
const TRACKER_WAIT_MS = 10_000;
const execFileAsync = promisify(execFile);

/** What every aria2c runs with: the tracker is the only way to find peers; no console chatter. */
const ARIA2_COMMON = [
  '--enable-dht=false',
  '--enable-dht6=false',
  '--bt-enable-lpd=false',
  '--enable-peer-exchange=false',
  '--disable-ipv6=true',
  '--file-allocation=none',
  '--console-log-level=warn',
  '--summary-interval=0',
];

export interface BittorrentInit {
  pairBytes: number;
  demoBytes: number;
  /** swarmlab's figures from the same run, for the speed-ups; null when those sections did not run. */
  swarmlabPairMBps: number | null;
  swarmlabDemoMBps: number[] | null;
}

export async function onPath(command: string, path = process.env['PATH'] ?? ''): Promise<boolean> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    try {
      await access(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** swarmlab MB/s over aria2 MB/s; for the demo, the mean of the leechers on each side. */
export function speedup(swarmlabMBps: number | number[] | null, aria2MBps: number | number[] | null): number | null {
  const mean = (value: number | number[] | null): number | null => {
    if (value === null) return null;
    const values = Array.isArray(value) ? value : [value];
    return values.length === 0 ? null : values.reduce((sum, v) => sum + v, 0) / values.length;
  };
  const ours = mean(swarmlabMBps);
  const theirs = mean(aria2MBps);
  return ours === null || theirs === null || theirs <= 0 ? null : ours / theirs;
}

export async function runBittorrentComparison(init: BittorrentInit): Promise<BittorrentResult> {
  // libtorrent first, right after swarmlab's own transfers, so both run in the same state.
  const libtorrent = await runLibtorrentComparison(init);
  return { ...(await runAria2Comparison(init)), ...libtorrent };
}

type Aria2Fields = Pick<BittorrentResult, 'pairSpeedup' | 'demoSpeedup' | 'aria2PairMBps' | 'aria2DemoMBps' | 'note'>;
type LibtorrentFields = Omit<BittorrentResult, keyof Aria2Fields>;

async function runAria2Comparison(init: BittorrentInit): Promise<Aria2Fields> {
  const missing: string[] = [];
  for (const tool of BITTORRENT_TOOLS) if (!(await onPath(tool))) missing.push(tool);
  const skipped = { pairSpeedup: null, demoSpeedup: null, aria2PairMBps: null, aria2DemoMBps: null };
  if (missing.length > 0) return { ...skipped, note: `skipped: ${missing.join(', ')} not on PATH` };
  try {
    const aria2PairMBps = (await runTorrentSwarm(init.pairBytes, 1, 1))[0] ?? null;
    const aria2DemoMBps = await runTorrentSwarm(init.demoBytes, 2, 2);
    return {
      pairSpeedup: speedup(init.swarmlabPairMBps, aria2PairMBps),
      demoSpeedup: speedup(init.swarmlabDemoMBps, aria2DemoMBps),
      aria2PairMBps,
      aria2DemoMBps,
      note: `aria2c ${aria2Version ?? ''} pair ${aria2PairMBps?.toFixed(1) ?? '-'} MB/s, demo ${aria2DemoMBps.map((v) => v.toFixed(1)).join(' / ')} MB/s per leecher (opentracker, ${DEFAULT_CHUNK_BYTES / 1024} KiB pieces, DHT/LPD/PEX off)`,
    };
  } catch (error) {
    return { ...skipped, note: `the BitTorrent run failed: ${errorMessage(error)}` };
  }
}

/** The libtorrent fields: null, with the reason in `libtorrentNote`, when it is missing or its run failed. */
export async function runLibtorrentComparison(
  init: BittorrentInit,
  deps: { version: typeof libtorrentVersion; run: typeof runLibtorrentSwarm } = {
    version: libtorrentVersion,
    run: runLibtorrentSwarm,
  },
): Promise<LibtorrentFields> {
  const skipped = {
    libtorrentPairMBps: null,
    libtorrentDemoMBps: null,
    libtorrentPairSpeedup: null,
    libtorrentDemoSpeedup: null,
    libtorrentLeecherCpuSPerGB: null,
  };
  const found = await deps.version();
  if ('missing' in found) return { ...skipped, libtorrentNote: `skipped: ${found.missing}` };
  const crashes: string[] = [];
  // Debian's bindings now and then die by SIGSEGV mid-transfer; one crash costs a rerun, not the figure.
  const runOnce = async (what: string, bytes: number, nodes: number): Promise<LibtorrentSwarmResult> => {
    try {
      return await deps.run(bytes, nodes, nodes);
    } catch (error) {
      if (!(error instanceof SwarmlabError && error.code === BenchErrorCode.LibtorrentCrashed)) throw error;
      crashes.push(`${what} rerun once after ${error.message.split(':')[0]}`);
      return deps.run(bytes, nodes, nodes);
    }
  };
  try {
    const pair = await runOnce('pair', init.pairBytes, 1);
    const demo = await runOnce('demo', init.demoBytes, 2);
    const libtorrentPairMBps = pair.MBps[0] ?? null;
    return {
      libtorrentPairMBps,
      libtorrentDemoMBps: demo.MBps,
      libtorrentPairSpeedup: speedup(init.swarmlabPairMBps, libtorrentPairMBps),
      libtorrentDemoSpeedup: speedup(init.swarmlabDemoMBps, demo.MBps),
      libtorrentLeecherCpuSPerGB: pair.leecherCpuSPerGB[0] ?? null,
      libtorrentNote: `libtorrent ${found.version} pair ${libtorrentPairMBps?.toFixed(1) ?? '-'} MB/s, demo ${demo.MBps.map((v) => v.toFixed(1)).join(' / ')} MB/s per leecher (TCP only, uTP/DHT/LSD/UPnP off, peers connected directly, ${DEFAULT_CHUNK_BYTES / 1024} KiB pieces, every leecher's file compared with the seeder's${crashes.map((c) => `; ${c}`).join('')})`,
    };
  } catch (error) {
    return { ...skipped, libtorrentNote: `the libtorrent run failed: ${errorMessage(error)}` };
  }
}

let aria2Version: string | undefined;

/**
 * One BitTorrent swarm: `seeders` aria2c seeding the file, then `leechers` aria2c downloading it at
 * once. Returns each leecher's MB/s (file bytes over seconds from its start to its exit).
 */
async function runTorrentSwarm(fileBytes: number, seeders: number, leechers: number): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'swarmlab-bt-'));
  const children = new Set<ChildProcess>();
  const teardown = async (): Promise<void> => {
    await Promise.all([...children].map((child) => killAndWait(child)));
    await rm(dir, { recursive: true, force: true });
  };
  const unregister = registerTeardown(teardown);
  try {
    aria2Version ??= (await execFileAsync('aria2c', ['--version'])).stdout
      .split('\n')[0]
      ?.replace(/^aria2 version /, '');
    const seedDirs = Array.from({ length: seeders }, (_, i) => join(dir, `seed-${i + 1}`));
    for (const seedDir of seedDirs) await mkdir(seedDir);
    const original = join(seedDirs[0]!, FILE_NAME);
    await generateFile(original, fileBytes, 'swarmlab-bench', false);
    for (const seedDir of seedDirs.slice(1)) await link(original, join(seedDir, FILE_NAME));

    const trackerPort = await freePort();
    const torrent = join(dir, 'bench.torrent');
    const pieceLog2 = Math.round(Math.log2(DEFAULT_CHUNK_BYTES));
    await execFileAsync('mktorrent', [
      '-a',
      `http://127.0.0.1:${trackerPort}/announce`,
      '-l',
      String(pieceLog2),
      '-o',
      torrent,
      original,
    ]);
    const infoHash = await readInfoHash(torrent);
    // Opentracker chroots into -d and reads the whitelist from there as user nobody: a mkdtemp
    // directory (0700) would hide it, and every announce would be refused.
    await chmod(dir, 0o755);
    await writeFile(join(dir, 'access.whitelist'), `${infoHash}\n`, { mode: 0o644 });
    const tracker = start(children, 'opentracker', [
      '-i',
      '127.0.0.1',
      '-p',
      String(trackerPort),
      '-P',
      String(trackerPort),
      '-w',
      'access.whitelist',
      '-d',
      dir,
    ]);
    await waitForScrape(trackerPort, infoHash, 'complete', 0, tracker);

    for (const seedDir of seedDirs) {
      start(children, 'aria2c', [
        ...ARIA2_COMMON,
        `--dir=${seedDir}`,
        '--seed-ratio=0',
        '--bt-seed-unverified=true',
        `--listen-port=${await freePort()}`,
        torrent,
      ]);
    }
    await waitForScrape(trackerPort, infoHash, 'complete', seeders, tracker);

    const timeoutMs = TIMEOUT_BASE_MS + (fileBytes / (1024 * 1024)) * TIMEOUT_MS_PER_MIB;
    const ports = await Promise.all(Array.from({ length: leechers }, () => freePort()));
    const startedMs = performance.now();
    const seconds = await Promise.all(
      ports.map(async (port, i) => {
        const leechDir = join(dir, `leech-${i + 1}`);
        await mkdir(leechDir);
        const child = start(children, 'aria2c', [
          ...ARIA2_COMMON,
          `--dir=${leechDir}`,
          '--seed-time=0',
          `--listen-port=${port}`,
          torrent,
        ]);
        await exited(child, timeoutMs, `aria2c leecher ${i + 1}`);
        return (performance.now() - startedMs) / 1000;
      }),
    );
    return seconds.map((s) => fileBytes / BYTES_PER_MB / s);
  } finally {
    unregister();
    await teardown();
  }
}

function start(children: Set<ChildProcess>, command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.on('error', () => undefined); // reported by exited() or the scrape timeout
  return child;
}

async function readInfoHash(torrent: string): Promise<string> {
  const { stdout } = await execFileAsync('aria2c', ['-S', torrent]);
  const match = /Info Hash:\s*([0-9a-f]{40})/i.exec(stdout);
  if (!match?.[1]) throw new SwarmlabError(BenchErrorCode.Torrent, 'aria2c -S printed no info hash');
  return match[1].toLowerCase();
}

/** Polls the tracker's scrape until `field` (complete / incomplete) reaches `atLeast`; 0: until it answers. */
async function waitForScrape(
  port: number,
  infoHash: string,
  field: string,
  atLeast: number,
  tracker: ChildProcess,
): Promise<void> {
  const hashParam = infoHash.replace(/../g, (byte) => `%${byte}`);
  const deadline = Date.now() + TRACKER_WAIT_MS;
  for (;;) {
    if (tracker.exitCode !== null)
      throw new SwarmlabError(BenchErrorCode.Tracker, `opentracker exited with code ${tracker.exitCode}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/scrape?info_hash=${hashParam}`, {
        signal: AbortSignal.timeout(1_000),
      });
      const body = Buffer.from(await response.arrayBuffer()).toString('latin1');
      const count = new RegExp(`${field.length}:${field}i(\\d+)e`).exec(body);
      if (atLeast === 0 || (count && Number(count[1]) >= atLeast)) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new SwarmlabError(
        BenchErrorCode.Tracker,
        `opentracker did not report ${atLeast} ${field} in ${TRACKER_WAIT_MS / 1000} s`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function exited(child: ChildProcess, timeoutMs: number, what: string): Promise<void> {
  if (child.exitCode !== null) {
    if (child.exitCode === 0) return;
    throw new SwarmlabError(BenchErrorCode.Aria2, `${what} exited with code ${child.exitCode}`);
  }
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2_000)));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new SwarmlabError(BenchErrorCode.Timeout, `${what} did not finish in ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  if (code !== 0) throw new SwarmlabError(BenchErrorCode.Aria2, `${what} exited with code ${code}: ${stderr.trim()}`);
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await gone;
  clearTimeout(timer);
}
