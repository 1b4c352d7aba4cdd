/**
 * The `swarmlab` command line as a user meets it: `ctl --json` streams, `ping`, bad flags, a second
 * peer on a control socket already in use, and `help`. Exit codes and one clear line on errors.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { Bitfield, computeFileId } from '../../src/protocol';
import type { Manifest } from '../../src/protocol';
import { assertBuilt, createSwarm, dumpLogs, jsonLines, runCli, sha256 } from '../helpers/local';

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
    // The bytes on disk, against the publisher's file (not what either peer reports).
    const [copy, original] = await Promise.all([readFile(path.join(swarm.peer('dl').dir, 'cli.bin')), readFile(path.join(swarm.peer('pub').dir, 'cli.bin'))]);
    expect(copy.equals(original)).toBe(true);
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

  // Issue 18 hole 3: a second peer on the same DIR used to load (and rewrite) the first one's download
  // sidecars, and with its own --control path ran on beside it. It now takes DIR's lock first.
  test('a second peer on the same directory exits 1 naming the first (pid, control path) and leaves its download state alone', async () => {
    const data = Buffer.alloc(4 * CHUNK, 0x2a);
    const manifest: Manifest = { name: 'state.bin', size: data.length, chunkSize: CHUNK, chunks: Array.from({ length: 4 }, (_, i) => sha256(data.subarray(i * CHUNK, (i + 1) * CHUNK))) };
    const fileId = computeFileId(manifest);
    const downloads = path.join(swarm.dir, 'shared', '.swarmlab', 'downloads');
    await mkdir(downloads, { recursive: true });
    await writeFile(path.join(downloads, `${fileId}.manifest`), JSON.stringify(manifest));
    await writeFile(path.join(downloads, `${fileId}.json`), JSON.stringify({ bitfield: new Bitfield(4).toBase64() }));
    const first = await swarm.startPeer('shared', { chunkSize: CHUNK });
    const sidecars = [`${fileId}.json`, `${fileId}.manifest`].map((name) => path.join(downloads, name));
    const before = await Promise.all(sidecars.map(async (file) => ({ mtimeMs: (await stat(file)).mtimeMs, text: await readFile(file, 'utf8') })));

    const secondControl = path.join(swarm.dir, 'shared-second.sock');
    const run = await runCli(['peer', '--daemon', '--dir', first.dir, '--control', secondControl, '--host', '127.0.0.1', '--chunk-size', String(CHUNK)], { timeoutMs: 15_000 });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^swarmlab: .*another peer already runs on/m);
    expect(run.stderr).toContain(`pid ${first.process.pid}`);
    expect(run.stderr).toContain(first.socket);
    const after = await Promise.all(sidecars.map(async (file) => ({ mtimeMs: (await stat(file)).mtimeMs, text: await readFile(file, 'utf8') })));
    expect(after).toEqual(before);
    await expect(stat(secondControl)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await swarm.control('shared', 'status')).toMatchObject({ name: 'shared' });

    // Once the first peer is gone (even killed, leaving its lock behind), the directory can be used again.
    await swarm.stopPeer('shared', 'SIGKILL');
    await swarm.startPeer('shared', { chunkSize: CHUNK });
    expect(await swarm.control('shared', 'status')).toMatchObject({ name: 'shared' });
    await swarm.stopPeer('shared');
  });

  // Issue 18 hole 3: the start-up removal of a stale control socket removed whatever sat at --control.
  test('a --control path naming a regular file: the peer exits 1 and the file is left alone', async () => {
    const notASocket = path.join(swarm.dir, 'notes.txt');
    await writeFile(notASocket, 'my notes');
    const run = await runCli(['peer', '--daemon', '--dir', path.join(swarm.dir, 'fourth'), '--control', notASocket, '--host', '127.0.0.1'], { timeoutMs: 15_000 });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^swarmlab: .*not a socket/m);
    expect(await readFile(notASocket, 'utf8')).toBe('my notes');
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
