/**
 * `npm test` (scripts/test.mjs) decides whether to run the container suite by pinging Docker where
 * DOCKER_HOST points: a daemon on TCP counts, as does one on a Unix socket.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = join(__dirname, '..', '..', 'scripts', 'test.mjs');

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
