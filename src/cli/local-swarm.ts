/**
 * A swarm of real processes on 127.0.0.1: one `swarmlab tracker` and `swarmlab peer --daemon`s, each
 * driven through its control socket. The local demo runs on it, and so do the integration tests.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callControl } from '../control/control-client';
import type { ControlCommand, ControlLine } from '../control/control-schemas';
import type { ControlResponse } from '../control/control-client';
import { SwarmlabError } from '../shared/errors';
import { CliErrorCode } from './errors';

export interface LocalPeer {
  name: string;
  dir: string;
  socket: string;
  process: ChildProcess;
}

export interface LocalSwarmInit {
  /** The bundled CLI to run (dist/swarmlab.js). */
  cliPath: string;
  /** Keep the processes' logs (stderr) here instead of dropping them. */
  onLog?: (source: string, line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface PeerStartOptions {
  chunkSize?: number;
  uploadRate?: number;
  downloadRate?: number;
  port?: number;
  extraArgs?: string[];
}

export class LocalSwarm {
  readonly peers = new Map<string, LocalPeer>();
  trackerPort = 0;
  private tracker: ChildProcess | undefined;
  private root = '';

  constructor(private readonly init: LocalSwarmInit) {}

  static async create(init: LocalSwarmInit): Promise<LocalSwarm> {
    const swarm = new LocalSwarm(init);
    swarm.root = await mkdtemp(join(tmpdir(), 'swarmlab-'));
    return swarm;
  }

  get dir(): string {
    return this.root;
  }

  get trackerAddress(): string {
    return `127.0.0.1:${this.trackerPort}`;
  }

  async startTracker(port = 0, extraArgs: string[] = []): Promise<number> {
    const child = this.spawn('tracker', ['tracker', '--host', '127.0.0.1', '--port', String(port), ...extraArgs]);
    this.tracker = child;
    this.trackerPort = await new Promise<number>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => reject(new SwarmlabError(CliErrorCode.StartTimeout, 'the tracker did not start in 10 s')), 10_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const match = /"port":(\d+)[^\n]*"message":"tracker listening"|"message":"tracker listening"[^\n]*"port":(\d+)/.exec(buffered);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1] ?? match[2]));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new SwarmlabError(CliErrorCode.StartFailed, `the tracker exited with code ${code}`));
      });
    });
    return this.trackerPort;
  }

  async stopTracker(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.tracker;
    this.tracker = undefined;
    if (child) await killAndWait(child, signal);
  }

  async startPeer(name: string, options: PeerStartOptions = {}): Promise<LocalPeer> {
    const dir = join(this.root, name);
    const socket = join(this.root, `${name}.sock`);
    const args = ['peer', '--daemon', '--name', name, '--dir', dir, '--control', socket, '--host', '127.0.0.1', '--tracker', this.trackerAddress];
    if (options.port !== undefined) args.push('--port', String(options.port));
    if (options.chunkSize) args.push('--chunk-size', String(options.chunkSize));
    if (options.uploadRate) args.push('--upload-rate', String(options.uploadRate));
    if (options.downloadRate) args.push('--download-rate', String(options.downloadRate));
    args.push(...(options.extraArgs ?? []));
    const child = this.spawn(name, args);
    const peer: LocalPeer = { name, dir, socket, process: child };
    this.peers.set(name, peer);
    await this.waitForControl(peer);
    return peer;
  }

  async stopPeer(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const peer = this.peers.get(name);
    if (!peer) return;
    this.peers.delete(name);
    await killAndWait(peer.process, signal);
  }

  peer(name: string): LocalPeer {
    const peer = this.peers.get(name);
    if (!peer) throw new SwarmlabError(CliErrorCode.NoPeer, `no peer ${name}`);
    return peer;
  }

  /** Sends one control command; throws when the answer is not ok. */
  async control(name: string, cmd: ControlCommand, args: Record<string, unknown> = {}, onLine?: (line: ControlLine) => void): Promise<Record<string, unknown>> {
    const response = await this.call(name, cmd, args, onLine);
    if (!response.ok) throw new SwarmlabError(response.error.code, `${name} ${cmd}: ${response.error.message}`);
    return response.result as Record<string, unknown>;
  }

  call(name: string, cmd: ControlCommand, args: Record<string, unknown> = {}, onLine?: (line: ControlLine) => void): Promise<ControlResponse> {
    return callControl(this.peer(name).socket, cmd, args, onLine ? { onLine } : {});
  }

  async stop(): Promise<void> {
    await Promise.all([...this.peers.keys()].map((name) => this.stopPeer(name)));
    await this.stopTracker();
    if (this.root) await rm(this.root, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private spawn(source: string, args: string[]): ChildProcess {
    const child = spawn(process.execPath, [this.init.cliPath, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOG_FORMAT: 'json', ...this.init.env },
    });
    let pending = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      if (!this.init.onLog) return;
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) this.init.onLog(source, line);
    });
    return child;
  }

  private async waitForControl(peer: LocalPeer): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (peer.process.exitCode !== null) throw new SwarmlabError(CliErrorCode.StartFailed, `${peer.name} exited with code ${peer.process.exitCode}`);
      try {
        await callControl(peer.socket, 'status', {}, { timeoutMs: 1000 });
        return;
      } catch {
        if (Date.now() > deadline) throw new SwarmlabError(CliErrorCode.StartTimeout, `${peer.name} did not answer on ${peer.socket}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }
}

/** Sends `signal` and waits for the exit; SIGKILL after 5 s. A process that already exited is left alone. */
export async function killAndWait(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
