/**
 * `npm test` (scripts/test.mjs) decides whether to run the container suite by pinging Docker where
 * DOCKER_HOST points: a daemon on TCP counts, as does one on a Unix socket. With Docker it runs the
 * container suite in a jest process of its own, beside unit and integration.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = join(__dirname, '..', '..', 'scripts', 'test.mjs');

// Each case starts three Node processes (the script and two fake jests); beside the container suite on
// two loaded cores that took more than jest's default 5 s. A budget, not a measurement.
jest.setTimeout(60_000);

async function reachable(dockerHost: string): Promise<string> {
  const { stdout } = await run(process.execPath, [SCRIPT, '--docker-reachable'], { env: { ...process.env, DOCKER_HOST: dockerHost }, timeout: 20_000 });
  return stdout.trim();
}

/** A stand-in daemon: answers /_ping with 200 OK. */
function fakeDocker(): ReturnType<typeof createServer> {
  return createServer((request, response) => {
    response.statusCode = request.url === '/_ping' ? 200 : 404;
    response.end('OK');
  });
}

describe('scripts/test.mjs finds Docker', () => {
  test('issue 18: DOCKER_HOST=tcp://HOST:PORT is pinged over TCP', async () => {
    const server = fakeDocker();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      expect(await reachable(`tcp://127.0.0.1:${port}`)).toBe('reachable');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('DOCKER_HOST=unix://PATH is pinged on the socket; nothing listening is unreachable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'swarmlab-docker-'));
    const socketPath = join(dir, 'docker.sock');
    const server = fakeDocker();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      expect(await reachable(`unix://${socketPath}`)).toBe('reachable');
      expect(await reachable(`unix://${join(dir, 'none.sock')}`)).toBe('unreachable');
      expect(await reachable('tcp://127.0.0.1:1')).toBe('unreachable');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * A stand-in for node_modules/jest/bin/jest.js: appends `{ args, startMs, endMs }` to jest-calls.jsonl
 * after 500 ms, and exits 1 when FAIL_PROJECT names one of the projects it was given.
 */
const FAKE_JEST = `
const { appendFileSync } = require('node:fs');
const args = process.argv.slice(2);
const startMs = Date.now();
setTimeout(() => {
  appendFileSync('jest-calls.jsonl', JSON.stringify({ args, startMs, endMs: Date.now() }) + '\\n');
  process.exit(args.includes(process.env.FAIL_PROJECT) ? 1 : 0);
}, 500);
`;

interface JestCall {
  args: string[];
  startMs: number;
  endMs: number;
}

describe('scripts/test.mjs runs the container suite beside unit and integration', () => {
  let dir: string;
  let server: ReturnType<typeof createServer>;
  let dockerHost: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-test-script-'));
    await mkdir(join(dir, 'node_modules', 'jest', 'bin'), { recursive: true });
    await writeFile(join(dir, 'node_modules', 'jest', 'bin', 'jest.js'), FAKE_JEST);
    server = fakeDocker();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    dockerHost = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the script in `dir` against the fake daemon; its exit code and the jest processes it started. */
  async function runScript(args: string[], env: Record<string, string> = {}): Promise<{ code: number; calls: JestCall[] }> {
    await rm(join(dir, 'jest-calls.jsonl'), { force: true });
    const code = await run(process.execPath, [SCRIPT, ...args], {
      cwd: dir,
      env: { ...process.env, DOCKER_HOST: dockerHost, SWARMLAB_TEST_SERIAL: '', ...env },
      timeout: 30_000,
    }).then(
      () => 0,
      (err: { code?: number }) => err.code ?? -1,
    );
    const lines = (await readFile(join(dir, 'jest-calls.jsonl'), 'utf8')).trim().split('\n');
    return { code, calls: lines.map((line) => JSON.parse(line) as JestCall) };
  }

  test('two jest processes, each in band, at the same time', async () => {
    const { code, calls } = await runScript([]);
    expect(code).toBe(0);
    expect(calls.map((c) => c.args).sort()).toEqual([
      ['--runInBand', '--selectProjects', 'containers'],
      ['--runInBand', '--selectProjects', 'unit', '--selectProjects', 'integration'],
    ]);
    const [a, b] = calls as [JestCall, JestCall];
    expect(Math.max(a.startMs, b.startMs)).toBeLessThan(Math.min(a.endMs, b.endMs));
  });

  test.each(['containers', 'unit'])('fails when the %s process fails', async (project) => {
    const { code, calls } = await runScript([], { FAIL_PROJECT: project });
    expect(code).toBe(1);
    expect(calls).toHaveLength(2);
  });

  test('one process for arguments meant for jest, or with SWARMLAB_TEST_SERIAL=1', async () => {
    const all = ['--runInBand', '--selectProjects', 'unit', '--selectProjects', 'integration', '--selectProjects', 'containers'];
    expect((await runScript(['-t', 'x'])).calls.map((c) => c.args)).toEqual([[...all, '-t', 'x']]);
    expect((await runScript([], { SWARMLAB_TEST_SERIAL: '1' })).calls.map((c) => c.args)).toEqual([all]);
  });
});
