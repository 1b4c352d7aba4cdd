/**
 * A container's memory from the host's cgroup files (what `bench --lab` reports as peerIdleRssMB), read
 * from a fake /proc and cgroup tree in a temporary directory: cgroup v1 and v2, the median, and the
 * containers that cannot be read.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  containerMemoryBytes,
  medianContainerMemoryMB,
  memoryCgroupOf,
  memoryInUse,
} from '../../lab/observe/container-memory';

const ID = 'd7fbed7d6b266504c59d917bd2d7eb8ef779b7c74f49c44a2abe1cbd5db05282';
const V1_PROC = [
  `9:name=systemd:/docker/${ID}`,
  `4:memory:/docker/${ID}`,
  `1:cpu,cpuacct:/docker/${ID}`,
  `0::/docker/${ID}`,
  '',
].join('\n');
const V2_PROC = `0::/system.slice/docker-${ID}.scope\n`;

describe('memoryCgroupOf', () => {
  it('takes the v1 memory controller where there is one, else the unified hierarchy', () => {
    expect(memoryCgroupOf(V1_PROC, '/cg')).toEqual({ version: 1, dir: `/cg/memory/docker/${ID}` });
    expect(memoryCgroupOf(V2_PROC, '/cg')).toEqual({ version: 2, dir: `/cg/system.slice/docker-${ID}.scope` });
    expect(memoryCgroupOf('', '/cg')).toBeUndefined();
  });
});

describe('memoryInUse', () => {
  it('is usage without the inactive file cache, as docker stats computes it', () => {
    // The figures of an idle peer container on cgroup v1 (docker stats showed 27.9 MiB).
    const stat = 'cache 6381568\nrss 25456640\ninactive_file 4378624\ntotal_inactive_file 4378624\n';
    expect(memoryInUse(1, '33636352\n', stat)).toBe(33636352 - 4378624);
    expect(memoryInUse(2, '1000\n', 'anon 600\ninactive_file 300\n')).toBe(700);
    expect(memoryInUse(2, '1000\n', 'anon 600\n')).toBe(1000);
    expect(memoryInUse(2, 'max\n', '')).toBeUndefined();
  });
});

describe('containerMemoryBytes and the median', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'swarmlab-cgroup-'));
    const containers: [pid: number, usage: number, inactive: number][] = [
      [101, 30e6, 2e6],
      [102, 26e6, 1e6],
      [103, 40e6, 0],
    ];
    for (const [pid, usage, inactive] of containers) {
      await mkdir(join(root, 'proc', String(pid)), { recursive: true });
      await writeFile(join(root, 'proc', String(pid), 'cgroup'), `4:memory:/docker/c${pid}\n0::/docker/c${pid}\n`);
      const dir = join(root, 'cg', 'memory', 'docker', `c${pid}`);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'memory.usage_in_bytes'), `${usage}\n`);
      await writeFile(join(dir, 'memory.stat'), `rss 1\ntotal_inactive_file ${inactive}\n`);
    }
    // pid 104 has a cgroup line but no cgroup files (a container elsewhere).
    await mkdir(join(root, 'proc', '104'), { recursive: true });
    await writeFile(join(root, 'proc', '104', 'cgroup'), '4:memory:/docker/gone\n');
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  const fs = (): { procRoot: string; cgroupRoot: string } => ({
    procRoot: join(root, 'proc'),
    cgroupRoot: join(root, 'cg'),
  });

  it('reads one container, and nothing for a process or cgroup that is not there', async () => {
    expect(await containerMemoryBytes(101, fs())).toBe(28e6);
    expect(await containerMemoryBytes(104, fs())).toBeUndefined();
    expect(await containerMemoryBytes(999, fs())).toBeUndefined();
  });

  it('is the median, in MB, over the containers it could read', async () => {
    expect(await medianContainerMemoryMB([101, 102, 103, 104, undefined], fs())).toBe(28);
    expect(await medianContainerMemoryMB([101, 102], fs())).toBe(26.5);
    expect(await medianContainerMemoryMB([104, 999], fs())).toBeNull();
  });
});
