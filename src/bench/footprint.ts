/**
 * Memory and image footprint: process RSS from /proc (Linux), and the sizes of the swarmlab images when
 * a Docker daemon answers. The Docker part talks to the Engine API over its Unix socket directly, so
 * the CLI bundle needs no Docker client and the bench runs the same without Docker.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import type { FootprintResult } from './types';

export const BENCH_IMAGES = ['swarmlab/tracker', 'swarmlab/peer'] as const;
const DOCKER_TIMEOUT_MS = 3_000;
/** USER_HZ: Linux reports /proc CPU times in ticks of 1/100 s on every architecture Node runs on. */
const CLOCK_TICKS_PER_S = 100;

/** A `kB` field of /proc/PID/status (VmRSS, VmHWM, ...) in bytes; null when it cannot be read. */
export async function procStatusBytes(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): Promise<number | null> {
  if (pid === undefined) return null;
  try {
    return parseProcStatus(await readFile(`/proc/${pid}/status`, 'utf8'), field);
  } catch {
    return null;
  }
}

export function parseProcStatus(status: string, field: string): number | null {
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : null;
}

/** CPU seconds (user + system) in a `process.cpuUsage()` reading or difference. */
export function cpuUsageSeconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}

/** CPU seconds (user + system, every thread) a process has used so far; null when it cannot be read. */
export async function procCpuSeconds(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** utime + stime of /proc/PID/stat, in seconds (clock ticks of 1/100 s on Linux). */
export function parseProcStat(stat: string): number | null {
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / CLOCK_TICKS_PER_S : null;
}

/** Size in bytes of each image, null for an image that is not there; null overall without a daemon. */
export async function imageSizes(
  images: readonly string[] = BENCH_IMAGES,
): Promise<Record<string, number | null> | null> {
  const socketPath = (process.env['DOCKER_HOST'] ?? 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '');
  if (socketPath.includes('://')) return null;
  const sizes: Record<string, number | null> = {};
  for (const image of images) {
    const answer = await dockerGet(socketPath, `/images/${encodeURIComponent(image)}/json`);
    if (answer === undefined) return null;
    const size = answer.status === 200 ? (JSON.parse(answer.body) as { Size?: unknown }).Size : undefined;
    sizes[image] = typeof size === 'number' ? size : null;
  }
  return sizes;
}

function dockerGet(socketPath: string, path: string): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path, timeout: DOCKER_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
    req.end();
  });
}

export async function measureFootprint(leecherPeakRssMB: number | null): Promise<FootprintResult> {
  const images = await imageSizes();
  const result: FootprintResult = { peerRssMB: leecherPeakRssMB, images };
  if (images === null) result.note = 'no Docker daemon answers; image sizes skipped';
  else if (Object.values(images).some((size) => size === null))
    result.note = 'some swarmlab images are not built (npm run lab -- build)';
  return result;
}
