/**
 * Swarm distribution with the peers as lab containers (`swarmlab bench --lab`): the measurement of
 * swarm.ts, 1 seeder and N leechers with every upload limited to u, but each peer in its own container on
 * a Docker bridge network. The CLI bundle carries no dockerode, so the bench writes a scenario and runs
 * the lab's own bundle on it (`node dist/lab.js run SCENARIO --json --run benchlab-...`), then reads the
 * report the lab prints as its last line. The lab tears its run down by itself, also on SIGINT.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { err } from '../cli/output';
import { DEFAULT_CHUNK_BYTES } from '../protocol';
import { SwarmlabError } from '../shared/errors';
import { distributionTiming, minimumDistributionS } from './swarm';
import { registerTeardown } from './teardown';
import type { LabSwarmRunResult } from './types';
import { BenchErrorCode } from './errors';

export const LAB_SEEDER = 'peer-1';
export const LAB_BENCH_FILE = 'swarmlab-bench.bin';
/**
 * 256 KiB, the protocol's default: a downloading peer's CPU goes mostly to what it does per chunk
 * (requests, HAVE_CHUNK to every interested connection, the write, the events), so a hundred peers on
 * two cores move four times fewer chunks of four times the size for about the same work
 * (docs/benchmarks.md, chunk size at scale). A source at u = 512 KiB/s serves two such chunks a second:
 * its upload queue bound (src/peer/peer-server.ts MAX_UPLOAD_QUEUE_MS) refuses the requests it could not
 * send within the downloaders' request timeout, so they ask elsewhere instead of timing out.
 */
export const LAB_CHUNK_BYTES = DEFAULT_CHUNK_BYTES;
/** Time allowed on top of ten times the theoretical minimum: the run's start-up and a loaded machine. */
const LAB_SLACK_S = 180;
const MAX_SCENARIO_S = 3600;

export interface LabSwarmBenchInit {
  /** dist/swarmlab.js: the lab bundle is dist/lab.js beside it. */
  cliPath: string;
  n: number;
  fileBytes: number;
  uploadBytesPerS: number;
  /** Run name (default `benchlab-n<N>-<pid>`). */
  run?: string;
  /**
   * Each peer's data directory on a tmpfs of its own (LAB_TMPFS_HEADROOM_BYTES more than the file)
   * instead of the container's overlay on the host's disk: the chunk writes then cost the host's
   * filesystem nothing (no block allocation, no unwritten-extent conversion, no writeback), and the
   * files cost memory instead (the lab's memory check counts them).
   */
  dataTmpfs?: boolean;
  /** The published file's chunk size (default LAB_CHUNK_BYTES). */
  chunkBytes?: number;
}

/** Room on a peer's tmpfs beside the file: the download's manifest and sidecar, the logs of a failure. */
export const LAB_TMPFS_HEADROOM_BYTES = 8 * 1024 * 1024;

/** The parts of the lab's scenario report (lab/report-types.ts ScenarioReport) this bench reads. */
interface LabReport {
  ok: boolean;
  error?: { code: string; message: string };
  steps: { action: string; startedAtMs: number; ok: boolean; ms?: number; cpuMs?: number }[];
  downloads: {
    peer: string;
    bytes: number;
    verified: boolean;
    chunksBySource: Record<string, number>;
    finishedAtMs?: number;
  }[];
  costs?: {
    upS: number;
    downS?: number;
    peerIdleRssMB: number | null;
    teardownError?: { code: string; message: string };
  };
}

/** The lab bundle next to the CLI bundle. */
export function labBundlePath(cliPath: string): string {
  return join(dirname(cliPath), 'lab.js');
}

export function leecherNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `peer-${i + 2}`);
}

function labChunkBytes(init: LabSwarmBenchInit): number {
  return init.chunkBytes ?? LAB_CHUNK_BYTES;
}

/** The scenario (lab/README.md format) of one distribution: rate, generate, publish, N downloads at once. */
export function labSwarmScenario(init: LabSwarmBenchInit & { name: string }): Record<string, unknown> {
  const minimumS = minimumDistributionS(init.fileBytes, init.n, init.uploadBytesPerS, init.uploadBytesPerS);
  const timeoutSeconds = Math.min(MAX_SCENARIO_S, Math.ceil(minimumS * 10 + LAB_SLACK_S));
  return {
    name: init.name,
    description: `bench: ${LAB_SEEDER} distributes ${init.fileBytes} bytes to ${init.n} peers, every upload at ${init.uploadBytesPerS} B/s`,
    peers:
      init.dataTmpfs === true
        ? Array.from({ length: init.n + 1 }, (_, i) => ({
            name: `peer-${i + 1}`,
            dataTmpfsBytes: init.fileBytes + LAB_TMPFS_HEADROOM_BYTES,
          }))
        : init.n + 1,
    chunkSize: labChunkBytes(init),
    autoConnect: true,
    timeoutSeconds,
    steps: [
      { action: 'rate', peers: 'all', upload: init.uploadBytesPerS, download: null },
      {
        action: 'generate',
        peer: LAB_SEEDER,
        file: LAB_BENCH_FILE,
        size: init.fileBytes,
        seed: 'swarmlab-bench',
        text: false,
      },
      { action: 'publish', peer: LAB_SEEDER },
      { action: 'download', peers: leecherNames(init.n), file: LAB_BENCH_FILE, timeoutSeconds },
    ],
  };
}

/**
 * The row of one run from the lab's report. The distribution time runs from the start of the download
 * step (before the N downloads are requested) to the last download's answer, like swarm.ts measures
 * from before its N control calls. The lab's own cost comes from the same report: its CPU time during
 * the download step over the step's wall time (controllerCpuCores), the time from the first container
 * to every peer ready (upS), the teardown (downS) and the median idle peer container (peerIdleRssMB).
 */
export function labSwarmResult(init: LabSwarmBenchInit, report: LabReport, runS: number): LabSwarmRunResult {
  if (!report.ok) {
    throw new SwarmlabError(BenchErrorCode.Lab, `the lab run failed: ${report.error?.message ?? 'unknown error'}`);
  }
  const step = report.steps.find((s) => s.action === 'download');
  const finished = report.downloads.map((d) => d.finishedAtMs).filter((ms): ms is number => ms !== undefined);
  if (step === undefined || report.downloads.length !== init.n || finished.length !== init.n) {
    throw new SwarmlabError(BenchErrorCode.Lab, `the lab report has ${report.downloads.length} of ${init.n} downloads`);
  }
  const measuredS = (Math.max(...finished) - step.startedAtMs) / 1000;
  const fileChunks = Math.ceil(init.fileBytes / labChunkBytes(init));
  const seederChunks = report.downloads.reduce((sum, d) => sum + (d.chunksBySource[LAB_SEEDER] ?? 0), 0);
  const fromOtherPeers = report.downloads.filter((d) =>
    Object.entries(d.chunksBySource).some(([source, count]) => source !== LAB_SEEDER && count > 0),
  ).length;
  const costs = report.costs;
  // The lab's teardown is bounded: its time counts in downS even when it left something, said here.
  if (costs?.teardownError !== undefined) {
    err(`bench: lab teardown incomplete [${costs.teardownError.code}]: ${costs.teardownError.message}`);
  }
  return {
    ...distributionTiming(init, measuredS),
    verified: report.downloads.every((d) => d.verified && d.bytes === init.fileBytes),
    seederCopies: fileChunks > 0 ? seederChunks / fileChunks : Number.NaN,
    leechersFromPeers: fromOtherPeers,
    runS,
    upS: costs?.upS ?? null,
    downS: costs?.downS ?? null,
    controllerCpuCores: step.cpuMs !== undefined && step.ms !== undefined && step.ms > 0 ? step.cpuMs / step.ms : null,
    peerIdleRssMB: costs?.peerIdleRssMB ?? null,
    dataTmpfs: init.dataTmpfs === true,
    chunkBytes: labChunkBytes(init),
  };
}

/** Runs one distribution in the lab and returns its row; throws when Docker or the run fails. */
export async function runLabSwarmDistribution(init: LabSwarmBenchInit): Promise<LabSwarmRunResult> {
  const labPath = labBundlePath(init.cliPath);
  if (!existsSync(labPath)) {
    throw new SwarmlabError(BenchErrorCode.Lab, `${labPath} is missing: build it with npm run build`);
  }
  const run = init.run ?? `benchlab-n${init.n}-${process.pid}`;
  const dir = await mkdtemp(join(tmpdir(), 'swarmlab-benchlab-'));
  try {
    const scenarioPath = join(dir, `${run}.json`);
    await writeFile(scenarioPath, JSON.stringify(labSwarmScenario({ ...init, name: run }), null, 2));
    const startedAtMs = performance.now();
    // The lab's HTML run report goes to the temporary directory too: the bench keeps only its figures.
    const lastLine = await runLab(labPath, ['run', scenarioPath, '--json', '--run', run, '--report-dir', dir]);
    const runS = (performance.now() - startedAtMs) / 1000;
    let report: LabReport;
    try {
      report = JSON.parse(lastLine) as LabReport;
    } catch {
      throw new SwarmlabError(BenchErrorCode.Lab, `the lab printed no report (last line: ${lastLine.slice(0, 200)})`);
    }
    return labSwarmResult(init, report, runS);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs `node dist/lab.js ARGS`, its stderr passed through, and resolves with the last line of its stdout.
 * The transcript before it goes to stderr as the bench's progress (`bench: lab | ...`): with more than 8
 * peers it is the lab's live summary, a line every few seconds, not a line per chunk.
 */
async function runLab(labPath: string, args: string[]): Promise<string> {
  const child = spawn(process.execPath, [labPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let tail = '';
  let partial = '';
  child.stdout.setEncoding('utf8');
  // Only the last line matters (the report), kept whole however long the transcript before it.
  child.stdout.on('data', (text: string) => {
    tail = (tail + text).slice(-4 * 1024 * 1024);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line !== '' && !line.startsWith('{')) err(`bench: lab | ${line}`);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  // On Ctrl-C the lab tears its own run down; wait for it rather than leave containers behind.
  const unregister = registerTeardown(async () => {
    child.kill('SIGINT');
    await exited.catch(() => undefined);
  });
  try {
    await exited;
  } finally {
    unregister();
  }
  return tail.trimEnd().split('\n').pop() ?? '';
}
