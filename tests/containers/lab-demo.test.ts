/**
 * Drives `npm run lab -- demo --json` end to end (the built dist/lab.js, as a user would) and checks
 * that both downloads verified, drew from both publishers, and that nothing of the run is left behind.
 * Needs Docker and `npm run build`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import Docker from 'dockerode';
import type { DownloadSummary } from '../../src/shared/download-report';

const ROOT = join(__dirname, '..', '..');
const LAB = join(ROOT, 'dist', 'lab.js');
const TIMEOUT_MS = 180_000;

interface Spawned {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runLab(args: string[]): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LAB, ...args], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function leftovers(docker: Docker, run: string): Promise<{ containers: number; networks: number }> {
  const filters = { label: [`swarmlab.run=${run}`] };
  const [containers, networks] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listNetworks({ filters }),
  ]);
  return { containers: containers.length, networks: networks.length };
}

describe('lab demo (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const docker = new Docker();
  const run = `demo-test-${process.pid}`;

  beforeAll(() => {
    if (!existsSync(LAB)) throw new Error(`${LAB} is missing: run npm run build first`);
  });

  afterAll(async () => {
    await runLab(['down', '--run', run]);
  });

  it('downloads the file on peer-3 and peer-4 from both publishers, verified, and leaves nothing behind', async () => {
    const result = await runLab(['demo', '--json', '--run', run]);
    const lines = result.stdout.trim().split('\n');
    const last = lines[lines.length - 1] ?? '';
    if (result.code !== 0) {
      throw new Error(
        `demo exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr.slice(-4000)}`,
      );
    }

    const { downloads } = JSON.parse(last) as { downloads: DownloadSummary[] };
    expect(downloads.map((d) => d.peer).sort()).toEqual(['peer-3', 'peer-4']);
    for (const download of downloads) {
      expect(download.file).toBe('file1_dir1.txt');
      expect(download.bytes).toBe(512 * 1024);
      expect(download.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(download.verified).toBe(true);
      expect(download.chunksBySource['peer-1'] ?? 0).toBeGreaterThan(0);
      expect(download.chunksBySource['peer-2'] ?? 0).toBeGreaterThan(0);
      expect(Object.values(download.chunksBySource).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(16);
    }
    expect(downloads[0]?.sha256).toBe(downloads[1]?.sha256);

    // The transcript names who sent which chunk to whom, with addresses.
    expect(result.stdout).toMatch(
      /peer-[34] \(\d+\.\d+\.\d+\.\d+\) <- chunk \d+\/\d+ of file1_dir1\.txt from peer-\d \(\d+\.\d+\.\d+\.\d+:7071\)/,
    );

    expect(await leftovers(docker, run)).toEqual({ containers: 0, networks: 0 });
  });

  it('rejects an invalid scenario before starting anything', async () => {
    const badRun = `${run}-bad`;
    const result = await runLab(['run', join(ROOT, 'tests', 'fixtures', 'does-not-exist.yaml'), '--run', badRun]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/ERR_LAB_SCENARIO_READ/);
    expect(await leftovers(docker, badRun)).toEqual({ containers: 0, networks: 0 });
  });
});
