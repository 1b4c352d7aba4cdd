/**
 * The optional TCP control listener (`peer --control-tcp HOST:PORT`, token from
 * SWARMLAB_CONTROL_TOKEN): every request needs the token, the Unix socket keeps working without it,
 * `ctl --socket tcp://HOST:PORT` sends it, and a listener that cannot start fails the peer cleanly.
 */
import path from 'node:path';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { callControl } from '../../src/control/control-client';
import { assertBuilt, createSwarm, dumpLogs, jsonLines, RawLineClient, runCli, waitFor } from '../helpers/local';

jest.setTimeout(60_000);

const TOKEN = 'integration-token-0123456789';

describe('TCP control listener', () => {
  let swarm: LocalSwarm;
  let logs: string[];
  let target: string;

  beforeAll(async () => {
    assertBuilt();
    ({ swarm, logs } = await createSwarm({ SWARMLAB_CONTROL_TOKEN: TOKEN }));
    await swarm.startTracker();
    await swarm.startPeer('remote', { extraArgs: ['--control-tcp', '127.0.0.1:0'] });
    // The port it picked is in its log.
    const port = await waitFor(() => {
      for (const line of logs) {
        const match = /^remote: (\{.*"control listening on TCP.*\})$/.exec(line);
        if (match) return Number((JSON.parse(match[1]!) as { port: number }).port);
      }
      return undefined;
    }, 10_000, 50);
    target = `tcp://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    dumpLogs(logs);
    await swarm?.stop();
  });

  test('a request with the token is served', async () => {
    const response = await callControl(target, 'status', {}, { token: TOKEN, timeoutMs: 5_000 });
    expect(response).toMatchObject({ ok: true, result: { name: 'remote' } });
  });

  test.each([
    ['no token', undefined],
    ['a wrong token of the same length', TOKEN.replace(/.$/, 'X')],
    ['a short wrong token', 'nope'],
    ['an empty token', ''],
  ])('%s gets ERR_UNAUTHORIZED', async (_, token) => {
    const client = await RawLineClient.open(target);
    try {
      const request = { id: 1, cmd: 'status', ...(token === undefined ? {} : { token }) };
      expect(await client.send(JSON.stringify(request))).toMatchObject({ id: 1, ok: false, error: { code: 'ERR_UNAUTHORIZED' } });
      // Nothing ran: a generate without the token writes nothing.
      const generate = { id: 2, cmd: 'generate', args: { name: 'unauthorized.bin', size: 10 }, ...(token === undefined ? {} : { token }) };
      expect(await client.send(JSON.stringify(generate))).toMatchObject({ id: 2, ok: false, error: { code: 'ERR_UNAUTHORIZED' } });
      // The same connection serves a request that carries the token.
      expect(await client.send(JSON.stringify({ id: 3, cmd: 'status', token: TOKEN }))).toMatchObject({ id: 3, ok: true });
    } finally {
      client.close();
    }
    const status = await swarm.control('remote', 'status');
    expect(status.files).toEqual([]);
  });

  test('the Unix socket still works without a token', async () => {
    expect(await swarm.control('remote', 'status')).toMatchObject({ name: 'remote' });
  });

  test('ctl --socket tcp://... sends SWARMLAB_CONTROL_TOKEN; without it the answer is ERR_UNAUTHORIZED', async () => {
    const withToken = await runCli(['ctl', '--socket', target, '--json', 'status'], { env: { SWARMLAB_CONTROL_TOKEN: TOKEN } });
    expect(withToken.code).toBe(0);
    expect(jsonLines(withToken.stdout)[0]).toMatchObject({ ok: true, result: { name: 'remote' } });
    const without = await runCli(['ctl', '--socket', target, '--json', 'status'], { env: { SWARMLAB_CONTROL_TOKEN: '' } });
    expect(without.code).not.toBe(0);
    expect(jsonLines(without.stdout)[0]).toMatchObject({ ok: false, error: { code: 'ERR_UNAUTHORIZED' } });
  });

  test.each([
    ['without a token', { SWARMLAB_CONTROL_TOKEN: '' }, ['--control-tcp', '127.0.0.1:0']],
    ['with a token under 16 characters', { SWARMLAB_CONTROL_TOKEN: 'short' }, ['--control-tcp', '127.0.0.1:0']],
    ['with an address that is not HOST:PORT', { SWARMLAB_CONTROL_TOKEN: TOKEN }, ['--control-tcp', 'localhost']],
  ])('a peer started with --control-tcp %s exits 1 with one clear line', async (_, env, flags) => {
    const run = await runCli(['peer', '--daemon', '--dir', path.join(swarm.dir, 'cfg'), '--control', path.join(swarm.dir, 'cfg.sock'), '--host', '127.0.0.1', ...flags], {
      env,
      timeoutMs: 15_000,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^swarmlab: .*control-tcp/m);
  });

  // Regression (fixed in 645586f): when the TCP listener could not bind, the Unix control socket
  // started just before was never closed and kept the process alive.
  test('a peer whose --control-tcp port is taken exits 1; the peer on that port is unaffected', async () => {
    const taken = Number(target.split(':').pop());
    const socket = path.join(swarm.dir, 'taken.sock');
    const run = await runCli(
      ['peer', '--daemon', '--dir', path.join(swarm.dir, 'taken'), '--control', socket, '--host', '127.0.0.1', '--control-tcp', `127.0.0.1:${taken}`],
      { env: { SWARMLAB_CONTROL_TOKEN: TOKEN }, timeoutMs: 15_000 },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^swarmlab: .*EADDRINUSE/m);
    expect(await callControl(target, 'status', {}, { token: TOKEN, timeoutMs: 5_000 })).toMatchObject({ ok: true });
  });
});
