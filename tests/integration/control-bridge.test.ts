/**
 * The control channel's far end for real: the bridge script run by `node -e` as the lab's exec runs it,
 * a real ControlServer on a Unix socket, and the lab's ControlChannel over the bridge's stdin/stdout
 * (a child process stands in for the exec). One bridge process serves every request; a bridge killed
 * mid-request is replaced once for what is safe to resend; the bridge waits for a socket that is not
 * there yet, gives up with a message when it never comes, and exits when either side goes away.
 * Last, the lab sends each command exactly as `swarmlab ctl` did when the lab exec'ed it per command.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { LAB_CONTROL_TOKEN } from '../../lab/constants';
import { controlBridgeArgv, controlChannelArgv } from '../../lab/control-bridge';
import { ControlChannel, type ChannelStream, type ChannelStreamHandlers } from '../../lab/control-channel';
import { controlRequest, ctlArgv, type ControlCommand, type ControlCommands } from '../../lab/peer-control';
import { ControlServer } from '../../src/control/control-server';
import type { PeerNode } from '../../src/peer/peer-node';
import { freePort } from '../../src/shared/free-port';
import { createLogger, setLogLevel } from '../../src/shared/logger';

const CLI = resolve(__dirname, '../../dist/swarmlab.js');
const logger = createLogger('test');

setLogLevel('silent');

/** A peer as far as the control server sees it: `status` answers, `download` streams progress until released. */
function stubNode(): { node: PeerNode; release: () => void; downloads: number } {
  let release: () => void = () => undefined;
  const stub = {
    downloads: 0,
    release: () => release(),
    node: {
      status: async () => ({ name: 'stub', connected: true }),
      files: async () => ({ files: [] }),
      download: async (
        target: { name?: string },
        handlers: { onProgress?: (event: object) => void } = {},
      ): Promise<object> => {
        stub.downloads++;
        handlers.onProgress?.({ have: 1, chunks: 2, bytes: 1, size: 2, rateBps: 1 });
        await new Promise<void>((done) => {
          release = done;
        });
        return { file: target.name, bytes: 2, chunksBySource: {} };
      },
    } as unknown as PeerNode,
  };
  return stub;
}

/** Opens streams the way PeerControl does, with a local child process in place of `docker exec`. */
class BridgeSpawner {
  readonly children: ChildProcessWithoutNullStreams[] = [];

  constructor(
    private readonly socketPath: string,
    private readonly waitMs = 10_000,
  ) {}

  readonly open = async (handlers: ChannelStreamHandlers): Promise<ChannelStream> => {
    const [, ...args] = controlBridgeArgv(this.socketPath, this.waitMs);
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.push(child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    createInterface({ input: child.stdout }).on('line', handlers.onLine);
    child.on('close', () => handlers.onClose(stderr.trim() || 'the bridge ended'));
    return {
      write: (text) => void child.stdin.write(text),
      close: () => child.kill(),
      setKeepAlive: () => undefined,
    };
  };
}

async function exited(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  return new Promise((done) => child.once('exit', (code) => done(code)));
}

describe('the control bridge', () => {
  let dir: string;
  let socketPath: string;
  const servers: ControlServer[] = [];
  const spawned: ChildProcessWithoutNullStreams[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-bridge-'));
    socketPath = join(dir, 'peer.sock');
  });

  afterEach(async () => {
    for (const child of spawned.splice(0)) child.kill();
    for (const server of servers.splice(0)) await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const startServer = async (node: PeerNode): Promise<ControlServer> => {
    const server = new ControlServer(node, { path: socketPath }, logger);
    await server.start();
    servers.push(server);
    return server;
  };
  const spawner = (waitMs?: number): BridgeSpawner => {
    const bridges = new BridgeSpawner(socketPath, waitMs);
    const push = bridges.children.push.bind(bridges.children);
    bridges.children.push = (...children) => {
      spawned.push(...children);
      return push(...children);
    };
    return bridges;
  };

  it('waits for a socket that appears later, then carries every request and its events over one process', async () => {
    const stub = stubNode();
    const bridges = spawner();
    const channel = new ControlChannel({ open: bridges.open }, { peer: 'peer-1' });
    // The first request goes out before the peer listens: the bridge waits for the socket.
    const first = channel.request('status', {});
    await new Promise((done) => setTimeout(done, 300));
    await startServer(stub.node);
    await expect(first).resolves.toMatchObject({ ok: true, result: { name: 'stub' } });

    const events: unknown[] = [];
    const download = channel.request('download', { name: 'a.txt' }, { onEvent: (event) => events.push(event) });
    // Requests multiplexed beside a download in flight.
    for (let i = 0; i < 5; i++) await expect(channel.request('status', {})).resolves.toMatchObject({ ok: true });
    while (stub.downloads === 0) await new Promise((done) => setTimeout(done, 10));
    stub.release();
    await expect(download).resolves.toMatchObject({ ok: true, result: { file: 'a.txt' } });
    expect(events).toEqual([expect.objectContaining({ event: 'progress', have: 1, chunks: 2 })]);
    expect(bridges.children).toHaveLength(1);
    channel.close();
  });

  it('replaces a killed bridge once for a status in flight, and fails a download in flight with ERR_LAB_CONTROL_CHANNEL', async () => {
    const stub = stubNode();
    await startServer(stub.node);
    const bridges = spawner();
    const channel = new ControlChannel({ open: bridges.open }, { peer: 'peer-1' });
    await channel.request('status', {});
    const download = channel.request('download', { name: 'a.txt' });
    while (stub.downloads === 0) await new Promise((done) => setTimeout(done, 10));
    bridges.children[0]!.kill('SIGKILL');
    await expect(download).rejects.toMatchObject({ code: 'ERR_LAB_CONTROL_CHANNEL' });
    await expect(channel.request('status', {}, { idempotent: true })).resolves.toMatchObject({ ok: true });
    expect(bridges.children).toHaveLength(2);
    stub.release();
    channel.close();
  });

  it('exits when the lab closes its stdin, and when the peer closes the socket', async () => {
    const stub = stubNode();
    const server = await startServer(stub.node);
    const bridges = spawner();
    const channel = new ControlChannel({ open: bridges.open }, { peer: 'peer-1' });
    await channel.request('status', {});
    const child = bridges.children[0]!;
    child.stdin.end();
    expect(await exited(child)).toBe(0);

    await channel.request('status', {}, { idempotent: true });
    const second = bridges.children[1]!;
    await server.stop();
    servers.splice(0);
    expect(await exited(second)).toBe(0);
  });

  it('gives up on a socket that never appears, with the reason on stderr', async () => {
    const bridges = spawner(300);
    const channel = new ControlChannel({ open: bridges.open }, { peer: 'peer-1' });
    await expect(channel.request('status', {})).rejects.toMatchObject({
      code: 'ERR_LAB_CONTROL_CHANNEL',
      message: expect.stringMatching(/control bridge: cannot reach .*peer\.sock \(ENOENT\)/),
    });
    expect(bridges.children[0]!.exitCode).toBe(1);
  });

  describe('sends what `swarmlab ctl` sent for the same command', () => {
    const cases: { [C in ControlCommand]: [C, ControlCommands[C]['args']] }[ControlCommand][] = [
      ['connect', {}],
      ['connect', { tracker: 'tracker:7070' }],
      ['disconnect', {}],
      ['upload', {}],
      ['files', {}],
      ['status', {}],
      ['download', { name: 'file1_dir1.txt' }],
      ['download', { fileId: 'ab'.repeat(32) }],
      ['generate', { name: 'a.txt', size: 524288, seed: 'demo', text: true }],
      ['generate', { name: 'b.bin', size: 1000 }],
      ['rate', { upload: 131072, download: null }],
      ['rate', { download: 65536 }],
      ['faults', { corrupt: 1 }],
      ['faults', { drop: 0.5, delayMs: 20 }],
      ['link', { to: '10.0.0.3', latencyMs: 50, jitterMs: 5, bandwidth: 262144 }],
      ['link', { to: 'default', latencyMs: 0, jitterMs: 0, bandwidth: null }],
    ];

    it.each(cases)('%s %j', async (cmd, args) => {
      const received: unknown[] = [];
      const server = createServer((socket) => {
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          const request = JSON.parse(chunk.trim()) as { id: number; cmd: string; args: unknown };
          received.push({ cmd: request.cmd, args: request.args });
          socket.end(`${JSON.stringify({ id: request.id, ok: true, result: {} })}\n`);
        });
      });
      await new Promise<void>((done) => server.listen(socketPath, done));
      try {
        const [, ...argv] = ctlArgv(cmd, args as never);
        const child = spawn(process.execPath, [CLI, ...argv.slice(0, 2), '--socket', socketPath, ...argv.slice(2)]);
        expect(await exited(child as ChildProcessWithoutNullStreams)).toBe(0);
      } finally {
        await new Promise((done) => server.close(done));
      }
      expect(received).toEqual([controlRequest(cmd, args as never)]);
    });
  });

  /**
   * The channel's exec as PeerControl runs it (`sh -c` of controlChannelArgv), with busybox's `nc` on the
   * PATH as in the offline base image: it waits for the peer's loopback control port, then becomes `nc`
   * to it, and the channel's token opens that listener. Without the listener in its environment it runs
   * the Node bridge on the Unix socket instead.
   */
  describe('through nc to the peer\'s loopback listener', () => {
    const busybox = ['/usr/bin/busybox', '/bin/busybox'].find((path) => existsSync(path));
    const withBusybox = busybox === undefined ? it.skip : it;

    const channelOver = async (
      env: Record<string, string>,
      token: string | undefined,
      port: number,
      waitMs = 10_000,
    ): Promise<{ channel: ControlChannel; children: ChildProcessWithoutNullStreams[] }> => {
      await symlink(busybox!, join(dir, 'nc')).catch(() => undefined);
      const children: ChildProcessWithoutNullStreams[] = [];
      const open = async (handlers: ChannelStreamHandlers): Promise<ChannelStream> => {
        const [shell, ...args] = controlChannelArgv(socketPath, waitMs, port);
        const child = spawn(shell!, args, {
          stdio: ['pipe', 'pipe', 'pipe'],
          env: { ...process.env, PATH: `${dir}:${process.env['PATH'] ?? ''}`, ...env },
        });
        children.push(child);
        spawned.push(child);
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        createInterface({ input: child.stdout }).on('line', handlers.onLine);
        child.on('close', () => handlers.onClose(stderr.trim() || 'the bridge ended'));
        return { write: (text) => void child.stdin.write(text), close: () => child.kill(), setKeepAlive: () => undefined };
      };
      const channel = new ControlChannel({ open }, { peer: 'peer-1', ...(token === undefined ? {} : { token }) });
      return { channel, children };
    };
    const commandOf = async (child: ChildProcessWithoutNullStreams): Promise<string> =>
      (await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();

    withBusybox('waits for the port, then carries every request over one nc process', async () => {
      const stub = stubNode();
      const port = await freePort();
      const { channel, children } = await channelOver({ SWARMLAB_CONTROL_TCP: `127.0.0.1:${port}` }, LAB_CONTROL_TOKEN, port);
      // Sent before the peer listens: the script waits for the port to show up in /proc/net/tcp.
      const first = channel.request('status', {});
      await new Promise((done) => setTimeout(done, 300));
      const server = new ControlServer(stub.node, { host: '127.0.0.1', port, token: LAB_CONTROL_TOKEN }, logger);
      await server.start();
      servers.push(server);
      await expect(first).resolves.toMatchObject({ ok: true, result: { name: 'stub' } });
      for (let i = 0; i < 3; i++) await expect(channel.request('status', {})).resolves.toMatchObject({ ok: true });
      expect(children).toHaveLength(1);
      expect(await commandOf(children[0]!)).toBe(`nc 127.0.0.1 ${port}`);
      // The lab closing the channel ends nc.
      children[0]!.stdin.end();
      expect(await exited(children[0]!)).toBe(0);
    });

    withBusybox('keeps waiting past its first second, then gives up with the reason', async () => {
      const stub = stubNode();
      const port = await freePort();
      const { channel } = await channelOver({ SWARMLAB_CONTROL_TCP: `127.0.0.1:${port}` }, LAB_CONTROL_TOKEN, port, 2_000);
      // A peer that listens only after the script has slowed down its checks.
      const late = channel.request('status', {});
      await new Promise((done) => setTimeout(done, 1_500));
      const server = new ControlServer(stub.node, { host: '127.0.0.1', port, token: LAB_CONTROL_TOKEN }, logger);
      await server.start();
      servers.push(server);
      await expect(late).resolves.toMatchObject({ ok: true });
      channel.close();

      const silentPort = await freePort();
      const silent = await channelOver({ SWARMLAB_CONTROL_TCP: `127.0.0.1:${silentPort}` }, LAB_CONTROL_TOKEN, silentPort, 1_500);
      await expect(silent.channel.request('status', {})).rejects.toThrow(`nothing listens on 127.0.0.1:${silentPort}`);
      silent.channel.close();
    });

    withBusybox('needs the channel\'s token on that listener', async () => {
      const stub = stubNode();
      const port = await freePort();
      const server = new ControlServer(stub.node, { host: '127.0.0.1', port, token: LAB_CONTROL_TOKEN }, logger);
      await server.start();
      servers.push(server);
      const { channel } = await channelOver({ SWARMLAB_CONTROL_TCP: `127.0.0.1:${port}` }, undefined, port);
      await expect(channel.request('status', {})).resolves.toMatchObject({ ok: false, error: { code: 'ERR_UNAUTHORIZED' } });
      channel.close();
    });

    withBusybox('runs the Node bridge on the Unix socket when the peer has no loopback listener', async () => {
      const stub = stubNode();
      await startServer(stub.node);
      const { channel, children } = await channelOver({ SWARMLAB_CONTROL_TCP: '' }, LAB_CONTROL_TOKEN, await freePort());
      await expect(channel.request('status', {})).resolves.toMatchObject({ ok: true, result: { name: 'stub' } });
      expect(await commandOf(children[0]!)).toMatch(/^node -e /);
      channel.close();
    });
  });
});
