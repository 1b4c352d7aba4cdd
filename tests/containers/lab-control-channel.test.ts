/**
 * The lab's control channel on real containers: a run of control commands starts no Node process in the
 * peer's container (the peer is the only one, its channel is one busybox `nc`, and Docker sees no exec
 * of node or swarmlab while the commands run), and a bridge killed under a download fails that download with
 * ERR_LAB_CONTROL_CHANNEL at once, after which the next command reopens the channel. Needs Docker.
 */
import type { Readable } from 'node:stream';

import type Docker from 'dockerode';

import type { LabRun } from '../../lab/controller';
import { PeerControl } from '../../lab/peer-control';
import { setLogLevel } from '../../src/shared/logger';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 180_000;

/** The processes of a container whose command matches `pattern`, as `docker top` lists them: host pid and command line. */
async function processes(
  docker: Docker,
  containerId: string,
  pattern: RegExp,
): Promise<{ pid: number; cmd: string }[]> {
  const top = (await docker.getContainer(containerId).top()) as { Titles: string[]; Processes: string[][] };
  const pidColumn = top.Titles.indexOf('PID');
  const cmdColumn = top.Titles.indexOf('CMD');
  return top.Processes.map((row) => ({ pid: Number(row[pidColumn]), cmd: row[cmdColumn] ?? '' })).filter((p) =>
    pattern.test(p.cmd),
  );
}

const nodeProcesses = (docker: Docker, containerId: string): Promise<{ pid: number; cmd: string }[]> =>
  processes(docker, containerId, /^(\S*\/)?node\s/);

/** The channel's end in the container: busybox nc to the peer's loopback control listener. */
const bridgeProcesses = (docker: Docker, containerId: string): Promise<{ pid: number; cmd: string }[]> =>
  processes(docker, containerId, /^(\S*\/)?nc\s/);

/** Every exec Docker starts in the container from now on (health checks included), until `stop()`. */
async function watchExecs(docker: Docker, containerId: string): Promise<{ commands: string[]; stop: () => void }> {
  const stream = (await docker.getEvents({
    filters: { container: [containerId], event: ['exec_start'] },
  })) as unknown as Readable;
  const commands: string[] = [];
  let pending = '';
  stream.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      const event = JSON.parse(line) as { Action?: string };
      // "exec_start: swarmlab ctl --json status"
      commands.push((event.Action ?? '').replace(/^exec_start:\s*/, ''));
    }
  });
  return { commands, stop: () => stream.destroy() };
}

describe('lab control channel (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const { docker, labDocker, controller, abort } = createLabTestContext();
  const run = `channel-test-${process.pid}`;
  let labRun: LabRun;

  beforeAll(async () => {
    labRun = await controller.up({ run, peers: [{ name: 'peer-1' }, { name: 'peer-2' }] });
  });

  afterAll(async () => {
    abort.abort();
    await controller.down(run);
  });

  it('runs many control commands without starting a Node process in the peer', async () => {
    const peer = labRun.peer('peer-1');
    const id = peer.container.id;
    const before = await nodeProcesses(docker, id);

    const execs = await watchExecs(docker, id);
    const counts: number[] = [];
    try {
      const commands: (() => Promise<unknown>)[] = [
        () => peer.control.request('status', {}),
        () => peer.control.request('connect', {}),
        () => peer.control.request('generate', { name: 'c.txt', size: 65536, seed: 'channel' }),
        () => peer.control.request('upload', {}),
        () => peer.control.request('files', {}),
        () => peer.control.request('rate', { upload: 1048576 }),
        () => peer.control.request('faults', { delayMs: 0 }),
        () => peer.control.request('link', { to: 'default', latencyMs: 1, jitterMs: 0, bandwidth: null }),
        () => peer.control.request('status', {}),
        () => peer.control.request('files', {}),
      ];
      for (const command of commands) {
        await command();
        counts.push((await nodeProcesses(docker, id)).length);
      }
      // Docker reports an exec a moment after it started.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    } finally {
      execs.stop();
    }
    expect(execs.commands.filter((cmd) => /\b(node|swarmlab)\b/.test(cmd))).toEqual([]);
    expect(counts).toEqual(counts.map(() => before.length));
    expect((await nodeProcesses(docker, id)).map((p) => p.pid).sort()).toEqual(before.map((p) => p.pid).sort());
    // up() probed the peer, which opened its channel: the peer's own process, no other Node, and one nc.
    expect(before).toHaveLength(1);
    expect(await bridgeProcesses(docker, id)).toHaveLength(1);
    expect(peer.control.channel.opened).toBe(1);
  });

  it('fails a download whose channel dies with ERR_LAB_CONTROL_CHANNEL, and reopens the channel for what follows', async () => {
    const seeder = labRun.peer('peer-1');
    const leecher = labRun.peer('peer-2');
    await seeder.control.request('generate', { name: 'slow.bin', size: 8 * 1024 * 1024, seed: 'slow' });
    await seeder.control.request('upload', {});
    await seeder.control.request('rate', { upload: 256 * 1024 });
    await leecher.control.request('connect', {});

    const [bridge] = await bridgeProcesses(docker, leecher.container.id);
    expect(bridge).toBeDefined();
    let firstChunk: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (firstChunk = resolve));
    const download = leecher.control.request(
      'download',
      { name: 'slow.bin' },
      { onEvent: (event) => event.event === 'chunk' && firstChunk() },
    );
    const outcome = download.then(
      () => undefined,
      (err: unknown) => err,
    );
    await started;
    const killedAtMs = Date.now();
    process.kill(bridge!.pid, 'SIGKILL');
    expect(await outcome).toMatchObject({ code: 'ERR_LAB_CONTROL_CHANNEL' });
    // Failed at once, not after the 32 s the download would still take.
    expect(Date.now() - killedAtMs).toBeLessThan(5_000);

    const status = await leecher.control.request('status', {});
    expect(status.connected).toBe(true);
    expect(leecher.control.channel.opened).toBe(2);
    expect(await nodeProcesses(docker, leecher.container.id)).toHaveLength(1);
    const after = await bridgeProcesses(docker, leecher.container.id);
    expect(after).toHaveLength(1);
    expect(after.map((p) => p.pid)).not.toContain(bridge!.pid);
  });

  it('starts a peer with no Docker healthcheck, as runs above 30 peers do, and reaches it through its channel', async () => {
    const checked = await docker.getContainer(labRun.peer('peer-1').container.id).inspect();
    // A 2-peer run keeps the image's HEALTHCHECK.
    expect(checked.Config.Healthcheck?.Test?.[0]).not.toBe('NONE');
    const container = await labDocker.startPeer({
      run,
      name: `${run}-unchecked`,
      shortName: 'unchecked',
      image: checked.Config.Image,
      network: labRun.network!,
      env: Object.fromEntries(
        checked.Config.Env.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
      ),
      healthcheck: 'none',
    });
    const inspected = await docker.getContainer(container.id).inspect();
    expect(inspected.Config.Healthcheck?.Test).toEqual(['NONE']);
    const control = new PeerControl({ docker: labDocker }, { containerId: container.id, peer: 'unchecked' });
    try {
      const status = await control.request('status', {}, { timeoutMs: 30_000 });
      expect(status.connected).toBe(false);
      expect((await labDocker.inspect(container.id)).health).toBeUndefined();
    } finally {
      control.close();
    }
  });
});
