/**
 * A local container's memory as `docker stats` shows it (the cgroup's usage without its inactive page
 * cache), read from the host's cgroup files through the container's main process: no Docker API call, so
 * reading a hundred containers costs a few hundred small file reads. cgroup v1 (`memory.usage_in_bytes`,
 * `total_inactive_file`) and v2 (`memory.current`, `inactive_file`); undefined when the files are not
 * there (a container on another Swarm node, a host without access to the cgroup tree).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CgroupFsInit {
  /** Where /proc is (tests point it elsewhere). */
  procRoot?: string;
  /** Where the cgroup hierarchy is mounted. */
  cgroupRoot?: string;
}

export interface MemoryCgroup {
  version: 1 | 2;
  /** The cgroup's directory under the cgroup root. */
  dir: string;
}

/** The memory cgroup in a `/proc/PID/cgroup` text: the v1 memory controller's line, else the v2 line. */
export function memoryCgroupOf(procCgroup: string, cgroupRoot = '/sys/fs/cgroup'): MemoryCgroup | undefined {
  const lines = procCgroup.split('\n').map((line) => line.split(':'));
  const v1 = lines.find((parts) => parts.length >= 3 && parts[1]!.split(',').includes('memory'));
  if (v1 !== undefined) return { version: 1, dir: join(cgroupRoot, 'memory', pathField(v1)) };
  const v2 = lines.find((parts) => parts.length >= 3 && parts[0] === '0' && parts[1] === '');
  return v2 === undefined ? undefined : { version: 2, dir: join(cgroupRoot, pathField(v2)) };
}

/** The path field (the third), which may itself contain ':'. */
function pathField(parts: string[]): string {
  return parts.slice(2).join(':');
}

/** usage − inactive file cache, from the usage and memory.stat texts. */
export function memoryInUse(version: 1 | 2, usageText: string, statText: string): number | undefined {
  const usage = Number(usageText.trim());
  if (!Number.isFinite(usage)) return undefined;
  const key = version === 1 ? 'total_inactive_file' : 'inactive_file';
  const line = statText.split('\n').find((l) => l.startsWith(`${key} `));
  const inactive = line === undefined ? 0 : Number(line.slice(key.length + 1));
  return Number.isFinite(inactive) ? Math.max(0, usage - inactive) : usage;
}

/** The memory in use by the container whose main process is `pid`, in bytes; undefined when unreadable. */
export async function containerMemoryBytes(pid: number, init: CgroupFsInit = {}): Promise<number | undefined> {
  try {
    const procCgroup = await readFile(join(init.procRoot ?? '/proc', String(pid), 'cgroup'), 'utf8');
    const cgroup = memoryCgroupOf(procCgroup, init.cgroupRoot);
    if (cgroup === undefined) return undefined;
    const usageFile = cgroup.version === 1 ? 'memory.usage_in_bytes' : 'memory.current';
    const [usage, stat] = await Promise.all([
      readFile(join(cgroup.dir, usageFile), 'utf8'),
      readFile(join(cgroup.dir, 'memory.stat'), 'utf8'),
    ]);
    return memoryInUse(cgroup.version, usage, stat);
  } catch {
    return undefined;
  }
}

/** The median of the containers' memory in MB (10^6 bytes, one decimal), over those that could be read; null when none. */
export async function medianContainerMemoryMB(
  pids: readonly (number | undefined)[],
  init: CgroupFsInit = {},
): Promise<number | null> {
  const read = await Promise.all(
    pids.map((pid) => (pid === undefined ? Promise.resolve(undefined) : containerMemoryBytes(pid, init))),
  );
  const bytes = read.filter((b): b is number => b !== undefined).sort((a, b) => a - b);
  if (bytes.length === 0) return null;
  const mid = Math.floor(bytes.length / 2);
  const median = bytes.length % 2 === 1 ? bytes[mid]! : (bytes[mid - 1]! + bytes[mid]!) / 2;
  return Math.round(median / 1e5) / 10;
}
