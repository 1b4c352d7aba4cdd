/**
 * The processes of a soak: one `swarmlab tracker` on a fixed port and `swarmlab peer --daemon`s, each on
 * its own directory, started, killed and restarted at will. Every exit the soak did not cause is
 * recorded as a crash. Each process logs to its own file in the run's folder (kept small with
 * LOG_LEVEL=warn), so a crash can be explained after the fact.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliErrorCode } from '../cli/errors';
import { killAndWait } from '../cli/local-swarm';
import { pingTracker } from '../cli/ping';
import { callControl } from '../control/control-client';
import { SwarmlabError } from '../shared/errors';

export interface SoakProcess {
  name: string;
  child: ChildProcess;
  /** Set just before the soak signals it: its exit is then no crash. */
  killedBySoak: boolean;
  startedAtMs: number;
}

export interface SoakPeer extends SoakProcess {
  dir: string;
  socket: string;
  extraArgs: string[];
}

export interface SoakSwarmInit {
  cliPath: string;
  root: string;
  trackerPort: number;
  /** Called for every exit the soak did not cause. */
  onCrash: (description: string) => void;
}

const START_TIMEOUT_MS = 20_000;

export class SoakSwarm {
  tracker: SoakProcess | undefined;
  readonly peers = new Map<string, SoakPeer>();
  private closing = false;

  constructor(private readonly init: SoakSwarmInit) {}

  get trackerAddress(): string {
    return `127.0.0.1:${this.init.trackerPort}`;
  }

  async startTracker(): Promise<void> {
    const child = this.spawn('tracker', ['tracker', '--host', '127.0.0.1', '--port', String(this.init.trackerPort)]);
    this.tracker = this.watch({ name: 'tracker', child, killedBySoak: false, startedAtMs: Date.now() });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) throw new SwarmlabError(CliErrorCode.StartFailed, `the tracker exited with code ${child.exitCode}`);
      try {
        await pingTracker(this.trackerAddress, 1_000);
        return;
      } catch {
        if (Date.now() > deadline) throw new SwarmlabError(CliErrorCode.StartTimeout, `the tracker did not answer on ${this.trackerAddress}`);
        await sleep(100);
      }
    }
  }

  async stopTracker(signal: NodeJS.Signals): Promise<void> {
    const tracker = this.tracker;
    this.tracker = undefined;
    if (tracker) await killManaged(tracker, signal);
  }

  /** Starts (or restarts, on the same directory) a peer that connects and publishes what its directory holds. */
  async startPeer(name: string, extraArgs: string[] = []): Promise<SoakPeer> {
    const dir = join(this.init.root, name);
    await mkdir(dir, { recursive: true });
    const socket = join(this.init.root, `${name}.sock`);
    const args = ['peer', '--daemon', '--name', name, '--dir', dir, '--control', socket, '--host', '127.0.0.1', '--tracker', this.trackerAddress];
    args.push('--auto-connect', '--auto-publish', ...extraArgs);
    const child = this.spawn(name, args);
    const peer = this.watch({ name, dir, socket, extraArgs, child, killedBySoak: false, startedAtMs: Date.now() });
    this.peers.set(name, peer);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new SwarmlabError(CliErrorCode.StartFailed, `${name} exited with code ${child.exitCode}`);
      try {
        await callControl(socket, 'status', {}, { timeoutMs: 2_000 });
        return peer;
      } catch {
        if (Date.now() > deadline) throw new SwarmlabError(CliErrorCode.StartTimeout, `${name} did not answer on ${socket}`);
        await sleep(100);
      }
    }
  }

  async killPeer(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<SoakPeer | undefined> {
    const peer = this.peers.get(name);
    if (!peer) return undefined;
    this.peers.delete(name);
    await killManaged(peer, signal);
    return peer;
  }

  /** Stops everything (SIGTERM, then SIGKILL after 5 s); exits from now on are no crash. */
  async stop(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.peers.keys()].map((name) => this.killPeer(name, 'SIGTERM')));
    await this.stopTracker('SIGTERM');
  }

  /** The last lines of a process's log, to explain a crash. */
  async logTail(name: string, lines = 20): Promise<string> {
    try {
      return (await readFile(this.logPath(name), 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  private logPath(name: string): string {
    return join(this.init.root, `${name}.log`);
  }

  private spawn(name: string, args: string[]): ChildProcess {
    const log = openSync(this.logPath(name), 'a');
    try {
      return spawn(process.execPath, [this.init.cliPath, ...args], {
        stdio: ['ignore', 'ignore', log],
        env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn' },
      });
    } finally {
      closeSync(log);
    }
  }

  private watch<T extends SoakProcess>(managed: T): T {
    managed.child.once('exit', (code, signal) => {
      if (managed.killedBySoak || this.closing) return;
      this.init.onCrash(`${managed.name} exited with ${signal ?? `code ${code}`}`);
      if (this.tracker === managed) this.tracker = undefined;
      if ((this.peers.get(managed.name) as SoakProcess | undefined) === managed) this.peers.delete(managed.name);
    });
    return managed;
  }
}

async function killManaged(managed: SoakProcess, signal: NodeJS.Signals): Promise<void> {
  // Marked first: the exit handler must not count this kill as a crash.
  managed.killedBySoak = true;
  await killAndWait(managed.child, signal);
}

/** VmRSS of a live process in MB, from /proc (undefined when it is gone or /proc is missing). */
export async function rssMB(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
