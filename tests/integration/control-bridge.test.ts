/**
 * The control channel's far end for real: the bridge script run by `node -e` as the lab's exec runs it,
 * a real ControlServer on a Unix socket, and the lab's ControlChannel over the bridge's stdin/stdout
 * (a child process stands in for the exec). One bridge process serves every request; a bridge killed
 * mid-request is replaced once for what is safe to resend; the bridge waits for a socket that is not
 * there yet, gives up with a message when it never comes, and exits when either side goes away.
 * Last, the lab sends each command exactly as `swarmlab ctl` did when the lab exec'ed it per command.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { controlBridgeArgv } from '../../lab/control-bridge';
import { ControlChannel, type ChannelStream, type ChannelStreamHandlers } from '../../lab/control-channel';
import { controlRequest, ctlArgv, type ControlCommand, type ControlCommands } from '../../lab/peer-control';
import { ControlServer } from '../../src/control/control-server';
import type { PeerNode } from '../../src/peer/peer-node';
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
});
