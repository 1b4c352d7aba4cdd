/**
 * The scenario runner and controller against an in-memory LabDocker: no Docker needed. The fake
 * answers control requests on a control channel, `sha256sum` and `stat` the way a peer container would.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { replayScenario } from '../../lab/commands';
import { CHANNEL_HEALTH_ABOVE_PEERS, LabController } from '../../lab/controller';
import { DockerError } from '../../lab/errors';
import type {
  CreateContainerInit,
  ExecResult,
  ExecStream,
  LabContainer,
  LabDocker,
  LabNetwork,
  OpenExecInit,
} from '../../lab/engine/lab-docker';
import { Printer } from '../../lab/print';
import { setLogLevel } from '../../src/shared/logger';
import { validateScenario } from '../../lab/scenario/load';
import { ScenarioRunner, type ScenarioRunnerInit } from '../../lab/scenario/runner';
import type { StepHandler } from '../../lab/scenario/step-handler';
import { STEP_HANDLERS } from '../../lab/scenario/step-table';
import type { ContainerStep } from '../../lab/scenario/schema';

setLogLevel('warn');

const SHA = 'a'.repeat(64);
const BAD_SHA = 'b'.repeat(64);

class FakeDocker implements LabDocker {
  containers = new Map<string, LabContainer>();
  networks = new Map<string, LabNetwork & { labels: Record<string, string> }>();
  calls: string[] = [];
  /** Per peer: the sha its downloaded file will have. */
  downloadSha = new Map<string, string>();
  /** Per peer: sources its download reports. */
  sources = new Map<string, Record<string, number>>();
  failDownloads = new Set<string>();
  /** The peer's error code for a failing download. */
  failCode = 'ERR_NO_SOURCES';
  /** Holders that `files` reports for a.txt. */
  holders = 2;
  /** `files` answers this peer error for its first `filesFailures` calls (a tracker link reconnecting). */
  filesFailures = 0;
  filesFailCode = 'ERR_TRACKER_UNAVAILABLE';
  /** What `logs` returns for every container. */
  logText = '';
  /** Every container's create options, by short name. */
  created = new Map<string, CreateContainerInit>();
  private nextId = 1;

  async createNetwork(init: { name: string; run: string }): Promise<LabNetwork> {
    const id = `net${this.nextId++}`;
    this.networks.set(id, { id, name: init.name, labels: { 'swarmlab.run': init.run } });
    return { id, name: init.name };
  }
  async startTracker(init: Omit<CreateContainerInit, 'role'>): Promise<LabContainer> {
    return this.create({ ...init, role: 'tracker' });
  }
  async startPeer(init: Omit<CreateContainerInit, 'role'>): Promise<LabContainer> {
    return this.create({ ...init, role: 'peer' });
  }
  private create(init: CreateContainerInit): LabContainer {
    const id = `c${this.nextId++}`;
    this.created.set(init.shortName, init);
    const started = init.start ?? true;
    const container: LabContainer = {
      id,
      name: init.name,
      run: init.run,
      role: init.role,
      shortName: init.shortName,
      state: started ? 'running' : 'created',
      // As Docker reports it: no health at all for a container whose healthcheck is off.
      health: started && init.healthcheck !== 'none' ? 'healthy' : undefined,
      ip: started ? `172.30.0.${this.nextId}` : undefined,
      labels: { 'swarmlab.run': init.run, 'swarmlab.role': init.role, 'swarmlab.peer': init.shortName },
    };
    this.containers.set(id, container);
    return { ...container };
  }
  private get(id: string): LabContainer {
    const c = this.containers.get(id);
    if (c === undefined) throw new Error(`no container ${id}`);
    return c;
  }
  async start(id: string): Promise<void> {
    const c = this.get(id);
    c.state = 'running';
    c.health = this.created.get(c.shortName ?? '')?.healthcheck === 'none' ? undefined : 'healthy';
    c.ip ??= `172.30.0.${this.nextId++}`;
    this.calls.push(`start ${c.shortName}`);
  }
  async inspect(id: string): Promise<LabContainer> {
    return { ...this.get(id) };
  }
  async exec(id: string, cmd: string[]): Promise<ExecResult> {
    const c = this.get(id);
    const peer = c.shortName ?? '?';
    if (c.state !== 'running') return { exitCode: 1, stdout: '', stderr: 'container not running' };
    if (cmd[0] === 'sha256sum')
      return { exitCode: 0, stdout: `${this.downloadSha.get(peer) ?? SHA}  ${cmd[1]}\n`, stderr: '' };
    if (cmd[0] === 'stat') return { exitCode: 0, stdout: '65536\n', stderr: '' };
    if (cmd[0] === 'dd' || cmd[0] === 'rm' || cmd[0] === 'df') {
      this.calls.push(`${peer} ${cmd.join(' ')}`);
      const df = 'Filesystem 1K-blocks Used Available Use% Mounted on\ntmpfs 2048 1024 1024 50% /data\n';
      return { exitCode: 0, stdout: cmd[0] === 'df' ? df : '', stderr: '' };
    }
    this.calls.push(`${peer} ${cmd.join(' ')}`);
    return { exitCode: 0, stdout: '', stderr: '' };
  }
  /** Control channels open into each container, closed when it stops. */
  private channels = new Map<string, Set<() => void>>();
  /** The peer's control socket behind a control channel: answers request lines as a peer would. */
  async openExec(id: string, _cmd: string[], init: OpenExecInit): Promise<ExecStream> {
    const c = this.get(id);
    if (c.state !== 'running') throw new Error(`container ${id} is not running`);
    this.opened++;
    const peer = c.shortName ?? '?';
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      this.channels.get(id)?.delete(close);
      init.onClose({ stderr: '' });
    };
    const open = this.channels.get(id) ?? new Set();
    open.add(close);
    this.channels.set(id, open);
    return {
      write: (text) => {
        if (closed) return;
        const request = JSON.parse(text) as { id: number; cmd: string; args: Record<string, unknown> };
        void this.answer(peer, request.cmd, request.args).then((lines) => {
          for (const line of lines) if (!closed) init.onStdoutLine(JSON.stringify({ id: request.id, ...line }));
        });
      },
      close,
      setKeepAlive: () => undefined,
    };
  }
  /** Control channels opened so far. */
  opened = 0;
  private closeChannels(id: string): void {
    for (const close of [...(this.channels.get(id) ?? [])]) close();
  }
  private async answer(peer: string, command: string, args: Record<string, unknown>): Promise<object[]> {
    this.calls.push(`${peer} ${command}`);
    if (command === 'faults') {
      // As `ctl faults` would be written: the settings that are not 0.
      const names: Record<string, string> = { delayMs: 'delay', dropRate: 'drop', corruptRate: 'corrupt' };
      const set = Object.entries(args).filter(([, value]) => value !== 0);
      this.calls.push(`${peer} faults ${set.map(([key, value]) => `${names[key]}=${String(value)}`).join(' ')}`);
    }
    const lines: object[] = [];
    const respond = (result: unknown): void => void lines.push({ ok: true, result });
    switch (command) {
      case 'download': {
        if (this.failDownloads.has(peer)) {
          lines.push({ ok: false, error: { code: this.failCode, message: 'it failed' } });
          break;
        }
        const sources = this.sources.get(peer) ?? { 'peer-1': 2, 'peer-2': 2 };
        let index = 0;
        for (const [from, n] of Object.entries(sources)) {
          for (let i = 0; i < n; i++) {
            lines.push({
              event: 'chunk',
              file: args['name'],
              index: index++,
              chunks: 4,
              from,
              fromAddr: '172.30.0.9:7071',
              bytes: 16384,
            });
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
        // As the peer: `digest: false` leaves the whole-file SHA-256 out of the answer.
        if (args['digest'] === false) this.calls.push(`${peer} download without digest`);
        respond({
          file: args['name'],
          path: `/data/${String(args['name'])}`,
          bytes: 65536,
          ...(args['digest'] === false ? {} : { sha256: SHA }),
          verified: true,
          chunksBySource: sources,
        });
        break;
      }
      case 'files':
        if (this.filesFailures > 0) {
          this.filesFailures--;
          const message = 'the tracker is unreachable right now; reconnecting';
          lines.push({ ok: false, error: { code: this.filesFailCode, message } });
          break;
        }
        respond({ files: [{ fileId: 'f'.repeat(64), name: 'a.txt', size: 65536, chunks: 4, holders: this.holders }] });
        break;
      case 'status':
        respond({ connected: true, files: [{ name: 'a.txt', have: 4, chunks: 4, complete: true }] });
        break;
      case 'upload':
        respond({ published: [{ name: 'a.txt', chunks: 4 }] });
        break;
      case 'faults':
        respond({ delayMs: 0, dropRate: 0, corruptRate: args['corruptRate'] === 1 ? 1 : 0 });
        break;
      default:
        respond({});
    }
    return lines;
  }
  async stop(id: string): Promise<void> {
    this.get(id).state = 'exited';
    this.closeChannels(id);
    this.calls.push(`stop ${this.get(id).shortName}`);
  }
  async kill(id: string): Promise<void> {
    this.get(id).state = 'exited';
    this.closeChannels(id);
    this.calls.push(`kill ${this.get(id).shortName}`);
  }
  async pause(id: string): Promise<void> {
    this.get(id).state = 'paused';
  }
  async unpause(id: string): Promise<void> {
    this.get(id).state = 'running';
  }
  async disconnectNetwork(_networkId: string, containerId: string): Promise<void> {
    this.get(containerId).ip = undefined;
  }
  async connectNetwork(_networkId: string, containerId: string): Promise<void> {
    this.get(containerId).ip = '172.30.0.99';
  }
  async logs(): Promise<{ stdout: string; stderr: string; combined: string }> {
    return { stdout: this.logText, stderr: '', combined: this.logText };
  }
  async removeContainer(id: string): Promise<void> {
    this.closeChannels(id);
    this.containers.delete(id);
  }
  async removeNetwork(id: string): Promise<void> {
    this.networks.delete(id);
  }
  async inspectImage(): Promise<{ id: string; sizeBytes: number }> {
    return { id: 'img', sizeBytes: 1 };
  }
  async listContainers(labels: Record<string, string>): Promise<LabContainer[]> {
    return [...this.containers.values()].filter((c) => matches(c.labels, labels)).map((c) => ({ ...c }));
  }
  async listNetworks(labels: Record<string, string>): Promise<(LabNetwork & { labels: Record<string, string> })[]> {
    return [...this.networks.values()].filter((n) => matches(n.labels, labels));
  }
}

function matches(have: Record<string, string>, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => (v === '' ? k in have : have[k] === v));
}

async function replay(
  docker: FakeDocker,
  data: unknown,
  init: ScenarioRunnerInit = {},
): Promise<{ report: Awaited<ReturnType<ScenarioRunner['replay']>>; out: string[] }> {
  const scenario = validateScenario(data);
  const controller = new LabController(
    { docker, ensureImages: async () => ({ tracker: 'swarmlab/tracker:latest', peer: 'swarmlab/peer:latest' }) },
    { healthTimeoutMs: 1000 },
  );
  const out: string[] = [];
  const run = await controller.up({
    run: 'unit',
    peers:
      typeof scenario.peers === 'number'
        ? Array.from({ length: scenario.peers }, (_, i) => ({ name: `peer-${i + 1}` }))
        : scenario.peers,
  });
  try {
    const runner = new ScenarioRunner(
      {
        run,
        docker,
        printer: new Printer({ out: { write: (line) => out.push(line) } }),
        waitReady: async (r, name) => {
          await controller.waitReady(r.container(name), undefined);
        },
      },
      scenario,
      init,
    );
    return { report: await runner.replay(), out };
  } finally {
    await run.teardown();
  }
}

const demo = {
  name: 'demo',
  peers: 4,
  steps: [
    { action: 'connect', peers: 'all' },
    { action: 'generate', peers: ['peer-1', 'peer-2'], file: 'a.txt', size: 65536, seed: 's' },
    { action: 'publish', peers: ['peer-1', 'peer-2'] },
    { action: 'assert', peer: 'peer-3', listed: ['a.txt'] },
    { action: 'download', peers: ['peer-3', 'peer-4'], file: 'a.txt' },
    {
      action: 'assert',
      peers: ['peer-3', 'peer-4'],
      file: 'a.txt',
      verified: true,
      sourcesInclude: ['peer-1', 'peer-2'],
      minSources: 2,
    },
  ],
};

describe('ScenarioRunner (fake docker)', () => {
  it('replays the demo, prints one line per chunk and verifies both downloads', async () => {
    const docker = new FakeDocker();
    const { report, out } = await replay(docker, demo);
    expect(report.ok).toBe(true);
    expect(report.downloads.map((d) => [d.peer, d.verified, d.sha256])).toEqual([
      ['peer-3', true, SHA],
      ['peer-4', true, SHA],
    ]);
    expect(out.filter((l) => / <- chunk \d+\/4 of a\.txt from peer-[12] \(172\.30\.0\.9:7071\)$/.test(l))).toHaveLength(
      8,
    );
    expect(out).toContainEqual(
      expect.stringMatching(/^peer-3 \(172\.30\.0\.\d+\) <- chunk 1\/4 of a\.txt from peer-1/),
    );
    expect(docker.containers.size).toBe(0);
    expect(docker.networks.size).toBe(0);
  });

  it('prints a live summary instead of chunk lines above 8 peers, and chunk lines when asked', async () => {
    const nine = {
      name: 'nine',
      peers: 9,
      steps: [{ action: 'download', peers: ['peer-2', 'peer-3', 'peer-4'], file: 'a.txt' }],
    };
    const { report, out } = await replay(new FakeDocker(), nine);
    expect(report.ok).toBe(true);
    expect(out.filter((l) => / <- chunk /.test(l))).toEqual([]);
    expect(out).toContainEqual(expect.stringMatching(/downloads: 3\/3 done; 12\/12 chunks \(100%\)/));
    const asked = await replay(new FakeDocker(), nine, { progress: 'chunks' });
    expect(asked.out.filter((l) => / <- chunk /.test(l))).toHaveLength(12);
    expect(asked.out.filter((l) => /downloads: /.test(l))).toEqual([]);
  });

  it("reports the run's costs (up, down, idle peer memory) and the lab's CPU per step", async () => {
    const docker = new FakeDocker();
    const controller = new LabController({
      docker,
      ensureImages: async () => ({ tracker: 'swarmlab/tracker:latest', peer: 'swarmlab/peer:latest' }),
    });
    const ctx = {
      controller,
      printer: new Printer({ out: { write: () => undefined } }),
      signal: new AbortController().signal,
    };
    const report = await replayScenario(ctx, validateScenario(demo), { run: 'costs' });
    expect(report.ok).toBe(true);
    expect(report.costs).toEqual({
      upS: expect.any(Number) as unknown,
      downS: expect.any(Number) as unknown,
      peerIdleRssMB: null, // the fake's containers have no process on this host
    });
    expect(report.costs!.upS).toBeGreaterThanOrEqual(0);
    expect(docker.containers.size).toBe(0);
    for (const step of report.steps) expect(step.cpuMs).toEqual(expect.any(Number));
    const kept = await replayScenario(ctx, validateScenario(demo), { run: 'kept', keep: true });
    expect(kept.costs).not.toHaveProperty('downS');
    await controller.down('kept');
  });

  it('reports the teardown time and why it was incomplete when dockerd keeps the network (issue 17)', async () => {
    class LeakyNetworkDocker extends FakeDocker {
      override async removeNetwork(id: string): Promise<void> {
        throw new DockerError(
          `remove network ${id}`,
          Object.assign(new Error('has active endpoints'), { statusCode: 403 }),
        );
      }
    }
    const docker = new LeakyNetworkDocker();
    const controller = new LabController({
      docker,
      ensureImages: async () => ({ tracker: 'swarmlab/tracker:latest', peer: 'swarmlab/peer:latest' }),
    });
    const lines: string[] = [];
    const ctx = {
      controller,
      printer: new Printer({ out: { write: (line) => lines.push(line) } }),
      signal: new AbortController().signal,
    };
    const report = await replayScenario(ctx, validateScenario(demo), { run: 'leaky' });
    expect(report.ok).toBe(true);
    expect(report.costs?.downS).toEqual(expect.any(Number));
    expect(report.costs?.teardownError).toMatchObject({ code: 'ERR_LAB_TEARDOWN_INCOMPLETE' });
    expect(report.costs?.teardownError?.message).toMatch(/swarmlab-leaky/);
    expect(docker.containers.size).toBe(0);
  }, 15_000);

  it("skips the peer's whole-file digest where the lab checks the copy against a generated file's", async () => {
    const docker = new FakeDocker();
    const { report } = await replay(docker, demo);
    expect(docker.calls).toEqual(expect.arrayContaining(['peer-3 download without digest', 'peer-4 download without digest']));
    expect(report.downloads.map((d) => [d.peer, d.verified])).toEqual([
      ['peer-3', true],
      ['peer-4', true],
    ]);
  });

  it("asks for the peer's digest when no generate step made the file, and checks the copy against it", async () => {
    const published = {
      name: 'published',
      peers: 2,
      steps: [
        { action: 'connect', peers: 'all' },
        { action: 'publish', peer: 'peer-1' },
        { action: 'download', peer: 'peer-2', file: 'a.txt' },
      ],
    };
    const docker = new FakeDocker();
    const { report } = await replay(docker, published);
    expect(docker.calls).not.toContain('peer-2 download without digest');
    expect(report.downloads.map((d) => [d.peer, d.verified])).toEqual([['peer-2', true]]);
    // The peer's digest is what the copy on disk is checked against.
    const wrong = new FakeDocker();
    wrong.downloadSha.set('peer-2', BAD_SHA);
    const failed = await replay(wrong, published);
    expect(failed.report.downloads.map((d) => [d.peer, d.verified])).toEqual([['peer-2', false]]);
  });

  it("fails the scenario when the downloaded sha differs from the publishers'", async () => {
    const docker = new FakeDocker();
    docker.downloadSha.set('peer-4', BAD_SHA);
    const { report } = await replay(docker, demo);
    expect(report.ok).toBe(false);
    expect(report.error?.code).toBe('ERR_LAB_STEP_FAILED');
    expect(report.error?.message).toMatch(/peer-4 a\.txt verified=false/);
    expect(report.downloads.find((d) => d.peer === 'peer-4')?.verified).toBe(false);
  });

  it('fails an assertion on sources and stops at that step', async () => {
    const docker = new FakeDocker();
    docker.sources.set('peer-3', { 'peer-1': 4 });
    const { report } = await replay(docker, demo);
    expect(report.ok).toBe(false);
    expect(report.steps.at(-1)).toMatchObject({ index: 5, ok: false });
    expect(report.error?.message).toMatch(/got no chunk from peer-2/);
  });

  it('runs background downloads until wait, honours after, kills and starts peers', async () => {
    const docker = new FakeDocker();
    const startedAt = Date.now();
    const { report } = await replay(docker, {
      name: 'bg',
      peers: [{ name: 'peer-1' }, { name: 'peer-2' }, { name: 'peer-3', start: false }],
      steps: [
        { action: 'generate', peer: 'peer-1', file: 'a.txt', size: 10 },
        { action: 'download', peer: 'peer-2', file: 'a.txt', wait: false },
        { action: 'kill', peer: 'peer-1', after: 0.2 },
        { action: 'wait', peer: 'peer-2' },
        { action: 'assert', peer: 'peer-1', running: false },
        { action: 'start', peer: 'peer-3' },
        { action: 'assert', peer: 'peer-3', running: true },
        { action: 'sleep', seconds: 0.1 },
      ],
    });
    expect(report.ok).toBe(true);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
    expect(docker.calls).toEqual(expect.arrayContaining(['kill peer-1', 'start peer-3', 'peer-2 download']));
    expect(report.downloads).toHaveLength(1);
  });

  it('waits for a when: trigger on the run events, then kills $holder, the node that fired it', async () => {
    const docker = new FakeDocker();
    // peer-2 receives 2 of the 4 chunks before its download reports: each is then held by it alone.
    docker.sources.set('peer-2', { 'peer-1': 2 });
    const { report, out } = await replay(docker, {
      name: 'holder',
      peers: 2,
      steps: [
        { action: 'generate', peer: 'peer-1', file: 'a.txt', size: 10 },
        { action: 'download', peer: 'peer-2', file: 'a.txt', wait: false },
        { action: 'kill', peer: '$holder', when: { holders: { file: 'a.txt', atMost: 1 }, within: 5 } },
      ],
    });
    expect(report.ok).toBe(true);
    expect(report.steps[2]).toMatchObject({ action: 'kill', targets: ['peer-2'], ok: true });
    expect(docker.calls).toContain('kill peer-2');
    expect(docker.calls).not.toContain('kill peer-1');
    expect(out).toContainEqual(expect.stringContaining('trigger for step 3: chunk 1/4 of a.txt held only by peer-2'));
  });

  it('fails a step whose when: never holds within its bound, without running it', async () => {
    const docker = new FakeDocker();
    const started = Date.now();
    const { report } = await replay(docker, {
      name: 'never',
      peers: 2,
      steps: [
        { action: 'generate', peer: 'peer-1', file: 'a.txt', size: 10 },
        { action: 'download', peer: 'peer-2', file: 'a.txt' },
        { action: 'kill', peer: 'peer-1', when: { completed: { file: 'a.txt', peers: 2 }, within: 0.3 } },
      ],
    });
    expect(report.ok).toBe(false);
    expect(report.error?.code).toBe('ERR_LAB_TRIGGER_TIMEOUT');
    expect(report.error?.message).toContain('step 3 (kill) never ran');
    expect(report.error?.message).toContain('peer-2 completed a.txt');
    expect(report.steps[2]).toMatchObject({ index: 2, ok: false });
    expect(docker.calls).not.toContain('kill peer-1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('accepts a download that is expected to fail, and rejects one that is not', async () => {
    const docker = new FakeDocker();
    docker.failDownloads.add('peer-2');
    const steps = [{ action: 'download', peer: 'peer-2', file: 'a.txt', expectFailure: true }];
    expect((await replay(docker, { name: 'x', peers: 2, steps })).report.ok).toBe(true);
    const { report } = await replay(new FakeDocker(), { name: 'x', peers: 2, steps });
    expect(report.ok).toBe(false);
    expect(report.error?.message).toMatch(/expected to fail/);
  });

  it('retries an assertion for withinSeconds before failing it', async () => {
    const docker = new FakeDocker();
    const startedAt = Date.now();
    const { report } = await replay(docker, {
      name: 'within',
      peers: 1,
      steps: [{ action: 'assert', peer: 'peer-1', listed: ['b.txt'], withinSeconds: 0.6 }],
    });
    expect(report.ok).toBe(false);
    expect(report.error?.message).toMatch(/files does not list b\.txt \(it lists a\.txt\)/);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(600);
    expect(docker.calls.filter((c) => c === 'peer-1 files').length).toBeGreaterThanOrEqual(2);
  });

  it('retries an assertion while the peer answers a transient error, within withinSeconds (issue 19)', async () => {
    const docker = new FakeDocker();
    docker.filesFailures = 2;
    const steps = [
      { action: 'assert', peer: 'peer-1', file: 'a.txt', listed: ['a.txt'], holders: 2, withinSeconds: 5 },
    ];
    const { report } = await replay(docker, { name: 'reconnecting', peers: 1, steps });
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);
    // Two answers ERR_TRACKER_UNAVAILABLE, then the listing and the holders.
    expect(docker.calls.filter((c) => c === 'peer-1 files')).toHaveLength(4);
  });

  it('fails with the last transient error once withinSeconds is up, and at once on an error that is not transient', async () => {
    const docker = new FakeDocker();
    docker.filesFailures = 1_000;
    const steps = [{ action: 'assert', peer: 'peer-1', listed: ['a.txt'], withinSeconds: 0.6 }];
    const startedAt = Date.now();
    const { report } = await replay(docker, { name: 'down', peers: 1, steps });
    expect(report.ok).toBe(false);
    expect(report.error?.message).toMatch(/files failed: ERR_TRACKER_UNAVAILABLE/);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(600);
    expect(docker.calls.filter((c) => c === 'peer-1 files').length).toBeGreaterThanOrEqual(2);

    const other = new FakeDocker();
    other.filesFailures = 1_000;
    other.filesFailCode = 'ERR_NOT_CONNECTED';
    const failed = await replay(other, { name: 'not-connected', peers: 1, steps });
    expect(failed.report.error?.message).toMatch(/files failed: ERR_NOT_CONNECTED/);
    expect(other.calls.filter((c) => c === 'peer-1 files')).toHaveLength(1);
  });

  it('refuses to start a run that already exists', async () => {
    const docker = new FakeDocker();
    const controller = new LabController({ docker, ensureImages: async () => ({ tracker: 't', peer: 'p' }) });
    const run = await controller.up({ run: 'dup', peers: [{ name: 'peer-1' }] });
    await expect(controller.up({ run: 'dup', peers: [{ name: 'peer-1' }] })).rejects.toMatchObject({
      code: 'ERR_LAB_RUN_EXISTS',
    });
    expect((await run.teardown()).containers).toBe(2);
    expect(await controller.listRuns()).toEqual([]);
  });

  it('runs no Docker healthcheck in a big run: its peers are ready when their channels answer', async () => {
    const docker = new FakeDocker();
    const controller = new LabController({
      docker,
      ensureImages: async () => ({ tracker: 't', peer: 'p' }),
      // Big enough already: the test must not touch this machine's neighbour table.
      neighbourTable: { read: async () => ({ gcThresh1: 1 << 20, gcThresh2: 1 << 20, gcThresh3: 1 << 20 }), write: async () => undefined },
    });
    const names = (n: number): { name: string }[] => Array.from({ length: n }, (_, i) => ({ name: `peer-${i + 1}` }));
    const big = await controller.up({ run: 'big', peers: names(CHANNEL_HEALTH_ABOVE_PEERS + 1) });
    expect(docker.created.get('peer-1')?.healthcheck).toBe('none');
    // Every peer answered `status` over its own channel before `up` returned.
    expect(docker.opened).toBe(CHANNEL_HEALTH_ABOVE_PEERS + 1);
    expect(docker.calls.filter((call) => call.endsWith(' status'))).toHaveLength(CHANNEL_HEALTH_ABOVE_PEERS + 1);
    await big.teardown();

    const small = await controller.up({ run: 'small', peers: names(CHANNEL_HEALTH_ABOVE_PEERS) });
    expect(docker.created.get('peer-1')?.healthcheck).toEqual({ intervalMs: CHANNEL_HEALTH_ABOVE_PEERS * 1000 });
    await small.teardown();
  });

  it('sets faults through ctl and measures recovery from the fault step to the last verified download', async () => {
    const docker = new FakeDocker();
    docker.sources.set('peer-3', { 'peer-1': 4 });
    docker.logText = '{"message":"rejected a chunk that failed verification"}\n';
    const { report, out } = await replay(docker, {
      name: 'liar',
      peers: 3,
      steps: [
        { action: 'generate', peers: ['peer-1', 'peer-2'], file: 'a.txt', size: 10 },
        { action: 'faults', peer: 'peer-2', corrupt: 1, fault: true },
        { action: 'sleep', seconds: 0.2 },
        { action: 'download', peer: 'peer-3', file: 'a.txt' },
        {
          action: 'assert',
          peer: 'peer-3',
          file: 'a.txt',
          verified: true,
          sourcesExclude: ['peer-2'],
          logged: ['rejected a chunk that failed verification'],
        },
      ],
    });
    expect(report.ok).toBe(true);
    expect(docker.calls).toContain('peer-2 faults corrupt=1');
    expect(out).toContainEqual(expect.stringMatching(/step 2\/5 faults peer-2 corrupt=1 .*\[fault\]/));
    expect(report.fault).toMatchObject({ index: 1, action: 'faults' });
    const download = report.downloads[0];
    expect(download?.finishedAtMs).toBeGreaterThanOrEqual((report.fault?.atMs ?? 0) + 200);
    expect(report.recoverMs).toBe((download?.finishedAtMs ?? 0) - (report.fault?.atMs ?? 0));
  });

  it('leaves recoverMs out without a fault step, and fails a logged check that does not hold', async () => {
    const docker = new FakeDocker();
    const { report } = await replay(docker, {
      name: 'nofault',
      peers: 2,
      steps: [
        { action: 'download', peer: 'peer-2', file: 'a.txt' },
        { action: 'assert', peer: 'peer-2', logged: ['never said'] },
      ],
    });
    expect(report.fault).toBeUndefined();
    expect(report.recoverMs).toBeUndefined();
    expect(report.ok).toBe(false);
    expect(report.error?.message).toMatch(/logs do not contain "never said"/);
  });

  it('checks the error code of a download expected to fail', async () => {
    const steps = [{ action: 'download', peer: 'peer-2', file: 'a.txt', expectError: 'ERR_DISK_FULL' }];
    const full = new FakeDocker();
    full.failDownloads.add('peer-2');
    full.failCode = 'ERR_DISK_FULL';
    expect((await replay(full, { name: 'x', peers: 2, steps })).report.ok).toBe(true);
    const other = new FakeDocker();
    other.failDownloads.add('peer-2');
    const { report } = await replay(other, { name: 'x', peers: 2, steps });
    expect(report.ok).toBe(false);
    expect(report.error?.message).toMatch(/failed with ERR_NO_SOURCES, expected ERR_DISK_FULL/);
  });

  it('asserts the holders the tracker lists, retrying within the given time', async () => {
    const docker = new FakeDocker();
    docker.holders = 3;
    const assertHolders = (holders: number): Record<string, unknown> => ({
      action: 'assert',
      peer: 'peer-1',
      file: 'a.txt',
      holders,
      withinSeconds: 0.3,
    });
    expect((await replay(docker, { name: 'h', peers: 1, steps: [assertHolders(3)] })).report.ok).toBe(true);
    const { report } = await replay(docker, { name: 'h', peers: 1, steps: [assertHolders(2)] });
    expect(report.ok).toBe(false);
    expect(report.error?.message).toMatch(/files shows a\.txt with 3 holder\(s\), expected 2/);
  });

  it('mounts a tmpfs at /data for dataTmpfsBytes, fills it with dd and frees it with rm', async () => {
    const docker = new FakeDocker();
    const { report } = await replay(docker, {
      name: 'disk',
      peers: [{ name: 'peer-1' }, { name: 'peer-2', dataTmpfsBytes: 2097152 }],
      steps: [
        { action: 'fill-disk', peer: 'peer-2', bytes: 1048576, fault: true },
        { action: 'free-disk', peer: 'peer-2' },
      ],
    });
    expect(report.ok).toBe(true);
    expect(docker.created.get('peer-2')?.tmpfs).toEqual([{ target: '/data', sizeBytes: 2097152 }]);
    expect(docker.created.get('peer-1')?.tmpfs).toBeUndefined();
    expect(docker.calls).toEqual(
      expect.arrayContaining([
        'peer-2 dd if=/dev/zero of=/data/.swarmlab-fill bs=4096 count=256',
        'peer-2 rm -f /data/.swarmlab-fill',
      ]),
    );
  });

  // A step's timeoutSeconds is the only bound on a step that waits for something that never comes (a
  // broken swarm's downloads): it must hold even when a garbage collection runs meanwhile.
  it('fails a step at its timeoutSeconds even after a garbage collection', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const waitsForever: StepHandler<ContainerStep> = {
      describe: STEP_HANDLERS.pause.describe,
      async run(_step, _targets, _ctx, signal) {
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      },
    };
    const collect = setInterval(gc, 50);
    const startedAtMs = Date.now();
    try {
      const { report } = await replay(
        new FakeDocker(),
        { name: 'step-timeout', peers: 1, steps: [{ action: 'pause', peer: 'peer-1', timeoutSeconds: 0.5 }] },
        { handlers: { ...STEP_HANDLERS, pause: waitsForever } },
      );
      expect(report.ok).toBe(false);
      expect(report.steps[0]?.error).toMatch(/within 0\.5 s/);
    } finally {
      clearInterval(collect);
    }
    expect(Date.now() - startedAtMs).toBeLessThan(5_000);
  });

  describe('heals', () => {
    /** `pause` with a heal that unpauses, logging the order in which steps and heals happen. */
    function healingPause(log: string[], fail = false): StepHandler<ContainerStep> {
      return {
        describe: STEP_HANDLERS.pause.describe,
        async run(step, targets, ctx, signal) {
          log.push(`run ${step.action} ${targets.join(',')}`);
          await STEP_HANDLERS.pause.run(step, targets, ctx, signal);
        },
        async heal(_step, targets, ctx) {
          log.push(`heal ${targets.join(',')}`);
          if (fail) throw new Error('cannot unpause');
          for (const name of targets) {
            await ctx.docker.unpause(ctx.run.container(name).id);
            log.push(`${name} ${(await ctx.run.refresh(name)).state}`);
          }
        },
      };
    }

    it('heals a started step after a later step failed, once the last step has run', async () => {
      const docker = new FakeDocker();
      const log: string[] = [];
      const handlers = { ...STEP_HANDLERS, pause: healingPause(log) };
      const { report } = await replay(
        docker,
        {
          name: 'heal',
          peers: 2,
          steps: [
            { action: 'pause', peer: 'peer-1' },
            { action: 'assert', peer: 'peer-1', running: true },
            { action: 'pause', peer: 'peer-2' },
          ],
        },
        { handlers },
      );
      expect(report.ok).toBe(false);
      expect(report.error?.code).toBe('ERR_LAB_STEP_FAILED');
      expect(report.steps.map((s) => s.ok)).toEqual([true, false]);
      // peer-2's pause never started, so only peer-1 is healed, and only after the failing assert.
      expect(log).toEqual(['run pause peer-1', 'heal peer-1', 'peer-1 running']);
    });

    it('fails a scenario whose steps passed when a heal fails', async () => {
      const docker = new FakeDocker();
      const log: string[] = [];
      const handlers = { ...STEP_HANDLERS, pause: healingPause(log, true) };
      const { report, out } = await replay(
        docker,
        { name: 'heal-fails', peers: 1, steps: [{ action: 'pause', peer: 'peer-1' }] },
        { handlers },
      );
      expect(report.steps.map((s) => s.ok)).toEqual([true]);
      expect(report.ok).toBe(false);
      expect(report.error?.code).toBe('ERR_LAB_STEP_FAILED');
      expect(log).toEqual(['run pause peer-1', 'heal peer-1']);
      expect(out.some((line) => line.includes('heal: cannot unpause'))).toBe(true);
    });
  });
});
