/**
 * The `swarmlab` command line as a user meets it: `ctl --json` streams, `ping`, bad flags, a second
 * peer on a control socket already in use, and `help`. Exit codes and one clear line on errors.
 */
import path from 'node:path';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { assertBuilt, createSwarm, dumpLogs, jsonLines, runCli } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16_384;

describe('swarmlab CLI', () => {
  let swarm: LocalSwarm;
  let logs: string[];

  beforeAll(async () => {
    assertBuilt();
    ({ swarm, logs } = await createSwarm());
    await swarm.startTracker();
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.startPeer('dl', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    await swarm.control('dl', 'connect');
  });

  afterAll(async () => {
    dumpLogs(logs);
    await swarm?.stop();
  });

  const ctl = (peer: string, ...args: string[]): ReturnType<typeof runCli> => runCli(['ctl', '--socket', swarm.peer(peer).socket, ...args]);

  test('ctl generate, upload and download --json: events, then the response, exit 0', async () => {
    const generated = await ctl('pub', '--json', 'generate', 'cli.bin', '160K', '--seed', 'cli');
    expect(generated.code).toBe(0);
    const [genResponse] = jsonLines(generated.stdout);
    expect(genResponse).toMatchObject({ ok: true, result: { name: 'cli.bin', size: 160 * 1024 } });
    expect((await ctl('pub', 'upload')).stdout).toMatch(/published cli\.bin \(160 KiB, 10 chunks\)/);

    const download = await ctl('dl', '--json', 'download', 'cli.bin');
    expect(download.code).toBe(0);
    const lines = jsonLines(download.stdout);
    const chunkEvents = lines.filter((line) => line.event === 'chunk');
    expect(chunkEvents).toHaveLength(10);
    expect(chunkEvents[0]).toMatchObject({ file: 'cli.bin', from: 'pub', to: 'dl', bytes: CHUNK });
    expect(lines.some((line) => line.event === 'progress')).toBe(true);
    // The response is the last line.
    expect(lines[lines.length - 1]).toMatchObject({ ok: true, result: { file: 'cli.bin', verified: true, sha256: (genResponse!.result as { sha256: string }).sha256 } });
  });

  test('ctl without --json renders for humans', async () => {
    const files = await ctl('dl', 'files');
    expect(files.code).toBe(0);
    expect(files.stdout).toMatch(/NAME\s+SIZE\s+CHUNKS\s+PEERS\s+SEEDERS\s+ID/);
    const rate = await ctl('dl', 'rate', '--upload', '64K', '--download', 'off');
    expect(rate.code).toBe(0);
    expect(JSON.parse(rate.stdout)).toEqual({ upload: 64 * 1024, download: null });
    const failed = await ctl('dl', 'download', 'nosuch');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^error: no file named "nosuch".*\(ERR_NOT_FOUND\)$/m);
  });

  test('ctl with bad arguments exits non-zero with one line', async () => {
    for (const args of [['generate', 'x'], ['generate', 'x', 'lots'], ['download'], []]) {
      const run = await ctl('dl', ...args);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/usage|size|error/i);
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }
  });

  test('ping answers for a live tracker and fails for a dead port', async () => {
    const alive = await runCli(['ping', swarm.trackerAddress]);
    expect(alive.code).toBe(0);
    expect(alive.stdout).toMatch(/tracker answers; \d+ files/);
    const dead = await runCli(['ping', '127.0.0.1:1']);
    expect(dead.code).not.toBe(0);
    expect(dead.stderr).toMatch(/^swarmlab: /m);
    expect(dead.stderr).not.toMatch(/^\s+at /m);
  });

  test('peer with bad flags exits 1 with one clear line', async () => {
    const dir = path.join(swarm.dir, 'bad-flags');
    for (const flags of [['--chunk-size', '10'], ['--port', 'abc'], ['--name', 'no spaces allowed'], ['--upload-rate', 'fast']]) {
      const run = await runCli(['peer', '--daemon', '--dir', dir, '--control', path.join(swarm.dir, 'bad.sock'), '--tracker', swarm.trackerAddress, ...flags]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^swarmlab: /m);
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }
  });

  // Regression (fixed in 441ce95): the node's data server used to keep such a peer alive forever after
  // it printed the error.
  test('a second peer on a control socket already in use exits 1 and leaves the first one alone', async () => {
    const run = await runCli(['peer', '--daemon', '--dir', path.join(swarm.dir, 'second'), '--control', swarm.peer('pub').socket, '--host', '127.0.0.1'], { timeoutMs: 15_000 });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/already listens/);
    expect(await swarm.control('pub', 'status')).toMatchObject({ name: 'pub', connected: true });
  });

  test('a peer whose data port is taken exits 1 with one clear line', async () => {
    const taken = (await swarm.control('pub', 'status')).dataPort as number;
    const run = await runCli(
      ['peer', '--daemon', '--dir', path.join(swarm.dir, 'third'), '--control', path.join(swarm.dir, 'third.sock'), '--host', '127.0.0.1', '--port', String(taken)],
      { timeoutMs: 15_000 },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^swarmlab: .*EADDRINUSE/m);
  });

  test('a tracker whose port is taken exits 1 with one clear line', async () => {
    const run = await runCli(['tracker', '--host', '127.0.0.1', '--port', String(swarm.trackerPort)], { timeoutMs: 15_000 });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^swarmlab: .*EADDRINUSE/m);
  });

  // Regression (fixed in 645586f): a taken metrics port printed the error but the peer's data server
  // (runPeer) or the tracker's listener (main.ts) kept the process alive forever.
  test('a peer whose --metrics-port is taken exits 1', async () => {
    const run = await runCli(
      ['peer', '--daemon', '--dir', path.join(swarm.dir, 'metrics'), '--control', path.join(swarm.dir, 'metrics.sock'), '--host', '127.0.0.1', '--metrics-port', String(swarm.trackerPort)],
      { timeoutMs: 15_000 },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^swarmlab: .*EADDRINUSE/m);
  });

  test('a tracker whose --metrics-port is taken exits 1', async () => {
    const run = await runCli(['tracker', '--host', '127.0.0.1', '--port', '0', '--metrics-port', String(swarm.trackerPort)], { timeoutMs: 15_000 });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^swarmlab: .*EADDRINUSE/m);
  });

  test('help exits 0, an unknown command exits 2', async () => {
    const help = await runCli(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/usage: swarmlab COMMAND/);
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
  });
});
