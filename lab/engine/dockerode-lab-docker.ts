/**
 * `LabDocker` on top of dockerode: the only module of the lab that talks to the Docker Engine.
 * Every call that changes something logs "Starting X..." / "Started X" with `{ containerId }`.
 */
import type { Socket } from 'node:net';
import { PassThrough, type Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

import type Docker from 'dockerode';

import { createLogger } from '../../src/shared/logger';
import { sleep } from '../abort';
import { IMAGE_UID } from '../constants';
import { AbortedError, DockerError, statusCodeOf } from '../errors';
import {
  LABEL_PEER,
  LABEL_ROLE,
  LABEL_RUN,
  type CallInit,
  type CreateContainerInit,
  type ContainerLogs,
  type CreateNetworkInit,
  type ExecInit,
  type ExecResult,
  type ExecStream,
  type Healthcheck,
  type LabContainer,
  type LabDocker,
  type LabNetwork,
  type LabRole,
  type OpenExecInit,
} from './lab-docker';
import { OutputTail } from './output-tail';

const log = createLogger('lab-docker');

/** How long to wait for an exec's exit code to appear after its output stream ended. */
const EXEC_EXIT_CODE_WAIT_MS = 5_000;
const EXEC_EXIT_POLL_MS = 50;
/** What an exec handled line by line keeps of its output, for an error message. */
export const EXEC_STREAMED_TAIL_BYTES = 64 * 1024;
/** A streamed stdout line longer than this (no newline yet) is dropped rather than buffered on. */
const EXEC_MAX_LINE_CHARS = 1024 * 1024;

export interface DockerodeLabDockerComponents {
  docker: Docker;
}

export class DockerodeLabDocker implements LabDocker {
  private readonly docker: Docker;

  constructor(components: DockerodeLabDockerComponents) {
    this.docker = components.docker;
  }

  async createNetwork(init: CreateNetworkInit): Promise<LabNetwork> {
    log.info('Creating network...', { network: init.name });
    try {
      const network = await this.docker.createNetwork({
        Name: init.name,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: { [LABEL_RUN]: init.run },
      });
      log.info('Created network', { network: init.name, networkId: network.id });
      return { id: network.id, name: init.name };
    } catch (err) {
      throw new DockerError(`create network ${init.name}`, err);
    }
  }

  async startTracker(init: Omit<CreateContainerInit, 'role'>): Promise<LabContainer> {
    return this.createContainer({ ...init, role: 'tracker' });
  }

  async startPeer(init: Omit<CreateContainerInit, 'role'>): Promise<LabContainer> {
    return this.createContainer({ ...init, role: 'peer' });
  }

  private async createContainer(init: CreateContainerInit): Promise<LabContainer> {
    const env = Object.entries(init.env ?? {}).map(([key, value]) => `${key}=${value}`);
    log.info(`Creating ${init.role}...`, { container: init.name, image: init.image });
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer({
        name: init.name,
        Hostname: init.shortName,
        Image: init.image,
        Env: env,
        ...(init.cmd === undefined ? {} : { Cmd: init.cmd }),
        Labels: { [LABEL_RUN]: init.run, [LABEL_ROLE]: init.role, [LABEL_PEER]: init.shortName },
        ...healthcheckConfig(init.healthcheck),
        HostConfig: {
          NetworkMode: init.network.name,
          ...(init.cpuShares === undefined ? {} : { CpuShares: init.cpuShares }),
          ...(init.readOnlyFiles === undefined || init.readOnlyFiles.length === 0
            ? {}
            : { Binds: init.readOnlyFiles.map((file) => `${file.source}:${file.target}:ro`) }),
          ...(init.tmpfs === undefined || init.tmpfs.length === 0
            ? {}
            : {
                Tmpfs: Object.fromEntries(
                  init.tmpfs.map((mount) => [
                    mount.target,
                    `size=${mount.sizeBytes},uid=${IMAGE_UID},gid=${IMAGE_UID},mode=0755`,
                  ]),
                ),
              }),
        },
        NetworkingConfig: {
          EndpointsConfig: {
            [init.network.name]: { Aliases: [init.shortName, ...(init.aliases ?? [])] },
          },
        },
      });
    } catch (err) {
      throw new DockerError(`create container ${init.name}`, err);
    }
    log.info(`Created ${init.role}`, { container: init.name, containerId: container.id });
    if (init.start ?? true) await this.start(container.id);
    return this.inspect(container.id);
  }

  async start(id: string): Promise<void> {
    // 304: already running.
    await this.verb(id, ['Starting', 'Started'], 'start', (c) => c.start(), [304]);
  }

  async inspect(id: string): Promise<LabContainer> {
    try {
      const info = await this.docker.getContainer(id).inspect();
      const networks = Object.values(info.NetworkSettings.Networks ?? {});
      const ip = networks.map((n) => n.IPAddress).find((address) => address !== '');
      const labels = info.Config.Labels ?? {};
      return {
        id: info.Id,
        name: info.Name.replace(/^\//, ''),
        run: labels[LABEL_RUN] ?? '',
        role: roleOf(labels[LABEL_ROLE]),
        shortName: labels[LABEL_PEER],
        state: info.State.Status,
        health: info.State.Health?.Status,
        ip,
        ...(info.State.Pid > 0 ? { pid: info.State.Pid } : {}),
        labels,
      };
    } catch (err) {
      throw new DockerError(`inspect ${short(id)}`, err);
    }
  }

  async exec(id: string, cmd: string[], init: ExecInit = {}): Promise<ExecResult> {
    const { signal } = init;
    if (signal?.aborted === true) throw new AbortedError();
    log.debug('Exec', { containerId: short(id), cmd });
    let exec: Docker.Exec;
    let stream: NodeJS.ReadWriteStream;
    try {
      exec = await this.docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
      stream = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadWriteStream;
    } catch (err) {
      throw new DockerError(`exec ${cmd.join(' ')} in ${short(id)}`, err);
    }
    const stdoutStream = new PassThrough();
    const stderrStream = new PassThrough();
    // Output handled line by line (a `watch` that runs for the whole session) keeps only its tail.
    const tailBytes = init.onStdoutLine === undefined ? undefined : EXEC_STREAMED_TAIL_BYTES;
    const stdoutChunks = new OutputTail(tailBytes);
    const stderrChunks = new OutputTail(tailBytes);
    const lines = init.onStdoutLine === undefined ? undefined : new LineSink(init.onStdoutLine, id);
    stdoutStream.on('data', (chunk: Buffer) => {
      stdoutChunks.push(chunk);
      lines?.push(chunk);
    });
    stderrStream.on('data', (chunk: Buffer) => stderrChunks.push(chunk));
    this.docker.modem.demuxStream(stream, stdoutStream, stderrStream);

    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onAbort = (): void => {
        (stream as unknown as { destroy?: () => void }).destroy?.();
        const reason: unknown = signal?.reason;
        finish(
          new AbortedError(`exec ${cmd.join(' ')} aborted${reason instanceof Error ? `: ${reason.message}` : ''}`),
        );
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      stream.on('end', () => finish());
      stream.on('close', () => finish());
      stream.on('error', (err: Error) => finish(new DockerError(`exec stream in ${short(id)}`, err)));
    });
    lines?.flush();

    const exitCode = await this.exitCodeOf(exec, id);
    return {
      exitCode,
      stdout: stdoutChunks.toString(),
      stderr: stderrChunks.toString(),
    };
  }

  async openExec(id: string, cmd: string[], init: OpenExecInit): Promise<ExecStream> {
    log.debug('Exec with stdin', { containerId: short(id), cmd });
    let stream: Duplex;
    try {
      const exec = await this.docker
        .getContainer(id)
        .exec({ Cmd: cmd, AttachStdin: true, AttachStdout: true, AttachStderr: true });
      // hijack: the engine upgrades the HTTP connection to a raw socket, so stdin can be written to it.
      stream = (await exec.start({ hijack: true, stdin: true })) as Duplex;
    } catch (err) {
      throw new DockerError(`exec ${cmd[0] ?? ''} in ${short(id)}`, err);
    }
    const stdoutStream = new PassThrough();
    const stderrStream = new PassThrough();
    const stderrTail = new OutputTail(EXEC_STREAMED_TAIL_BYTES);
    const lines = new LineSink(init.onStdoutLine, id);
    stdoutStream.on('data', (chunk: Buffer) => lines.push(chunk));
    stderrStream.on('data', (chunk: Buffer) => stderrTail.push(chunk));
    this.docker.modem.demuxStream(stream, stdoutStream, stderrStream);
    let closed = false;
    const finish = (error?: Error): void => {
      if (closed) return;
      closed = true;
      lines.flush();
      init.onClose({ stderr: stderrTail.toString(), ...(error === undefined ? {} : { error }) });
    };
    stream.on('end', () => finish());
    stream.on('close', () => finish());
    stream.on('error', (err: Error) => finish(new DockerError(`exec stream in ${short(id)}`, err)));
    // The upgraded connection is a net.Socket; anything else has no event-loop handle of its own to drop.
    const socket = stream as Partial<Pick<Socket, 'ref' | 'unref'>>;
    return {
      write: (text) => {
        if (!closed && !stream.destroyed) stream.write(text);
      },
      close: () => {
        stream.destroy();
        finish();
      },
      setKeepAlive: (keep) => {
        if (keep) socket.ref?.();
        else socket.unref?.();
      },
    };
  }

  private async exitCodeOf(exec: Docker.Exec, id: string): Promise<number> {
    const deadline = Date.now() + EXEC_EXIT_CODE_WAIT_MS;
    for (;;) {
      let info: Docker.ExecInspectInfo;
      try {
        info = await exec.inspect();
      } catch (err) {
        throw new DockerError(`exec inspect in ${short(id)}`, err);
      }
      if (!info.Running && typeof info.ExitCode === 'number') return info.ExitCode;
      if (Date.now() > deadline) return -1;
      await sleep(EXEC_EXIT_POLL_MS);
    }
  }

  async stop(id: string, timeoutS = 5): Promise<void> {
    // 304: already stopped.
    await this.verb(id, ['Stopping', 'Stopped'], 'stop', (c) => c.stop({ t: timeoutS }), [304]);
  }

  async kill(id: string, signal = 'SIGKILL'): Promise<void> {
    // 409: not running, which is what a kill wants anyway.
    await this.verb(id, ['Killing', 'Killed'], 'kill', (c) => c.kill({ signal }), [409, 304], { signal });
  }

  async pause(id: string): Promise<void> {
    await this.verb(id, ['Pausing', 'Paused'], 'pause', (c) => c.pause());
  }

  async unpause(id: string): Promise<void> {
    await this.verb(id, ['Unpausing', 'Unpaused'], 'unpause', (c) => c.unpause());
  }

  /**
   * One Docker verb on a container, logged before and after (`Pausing container...`, `Paused container`).
   * An answer in `alreadyStatuses` means the container is already where the verb would take it.
   */
  private async verb(
    id: string,
    [doing, done]: readonly [string, string],
    operation: string,
    call: (container: Docker.Container) => Promise<unknown>,
    alreadyStatuses: readonly number[] = [],
    context: Record<string, string> = {},
  ): Promise<void> {
    const containerId = short(id);
    log.info(`${doing} container...`, { containerId, ...context });
    try {
      await call(this.docker.getContainer(id));
    } catch (err) {
      const status = statusCodeOf(err);
      if (status === undefined || !alreadyStatuses.includes(status))
        throw new DockerError(`${operation} ${containerId}`, err);
    }
    log.info(`${done} container`, { containerId });
  }

  async disconnectNetwork(networkId: string, containerId: string): Promise<void> {
    log.info('Disconnecting container from network...', { containerId: short(containerId), networkId });
    try {
      await this.docker.getNetwork(networkId).disconnect({ Container: containerId, Force: true });
    } catch (err) {
      throw new DockerError(`network disconnect ${short(containerId)}`, err);
    }
    log.info('Disconnected container from network', { containerId: short(containerId) });
  }

  async connectNetwork(networkId: string, containerId: string, aliases: string[] = []): Promise<void> {
    log.info('Connecting container to network...', { containerId: short(containerId), networkId });
    try {
      await this.docker.getNetwork(networkId).connect({ Container: containerId, EndpointConfig: { Aliases: aliases } });
    } catch (err) {
      throw new DockerError(`network connect ${short(containerId)}`, err);
    }
    log.info('Connected container to network', { containerId: short(containerId) });
  }

  async logs(id: string, init: { tail?: number } = {}): Promise<ContainerLogs> {
    try {
      const container = this.docker.getContainer(id);
      const info = await container.inspect();
      const raw = (await container.logs({
        stdout: true,
        stderr: true,
        follow: false,
        ...(init.tail === undefined ? {} : { tail: init.tail }),
      })) as unknown as Buffer;
      if (info.Config.Tty) return { stdout: raw.toString('utf8'), stderr: '', combined: raw.toString('utf8') };
      return demuxBuffer(raw);
    } catch (err) {
      throw new DockerError(`logs ${short(id)}`, err);
    }
  }

  async removeContainer(id: string, init: CallInit = {}): Promise<void> {
    log.info('Removing container...', { containerId: short(id) });
    try {
      await this.docker
        .getContainer(id)
        .remove({ force: true, v: true, ...(init.signal === undefined ? {} : { abortSignal: init.signal }) });
    } catch (err) {
      if (init.signal?.aborted === true) throw new DockerError(`remove ${short(id)}`, init.signal.reason);
      const status = statusCodeOf(err);
      // 404: already gone; 409: removal already in progress.
      if (status !== 404 && status !== 409 && status !== 304) throw new DockerError(`remove ${short(id)}`, err);
    }
    log.info('Removed container', { containerId: short(id) });
  }

  async removeNetwork(id: string, init: CallInit = {}): Promise<void> {
    log.info('Removing network...', { networkId: short(id) });
    try {
      await this.docker.getNetwork(id).remove(init.signal === undefined ? {} : { abortSignal: init.signal });
    } catch (err) {
      if (init.signal?.aborted === true) throw new DockerError(`remove network ${short(id)}`, init.signal.reason);
      const status = statusCodeOf(err);
      if (status !== 404 && status !== 304) throw new DockerError(`remove network ${short(id)}`, err);
    }
    log.info('Removed network', { networkId: short(id) });
  }

  async inspectImage(name: string): Promise<{ id: string; sizeBytes: number } | undefined> {
    try {
      const info = await this.docker.getImage(name).inspect();
      return { id: info.Id, sizeBytes: info.Size };
    } catch (err) {
      if (statusCodeOf(err) === 404) return undefined;
      throw new DockerError(`inspect image ${name}`, err);
    }
  }

  async listContainers(labels: Record<string, string>, init: CallInit = {}): Promise<LabContainer[]> {
    let summaries: Docker.ContainerInfo[];
    try {
      summaries = await this.docker.listContainers({
        all: true,
        filters: { label: labelFilters(labels) },
        ...(init.signal === undefined ? {} : { abortSignal: init.signal }),
      });
    } catch (err) {
      throw new DockerError('list containers', err);
    }
    return summaries.map((summary) => {
      const containerLabels = summary.Labels ?? {};
      const networks = Object.values(summary.NetworkSettings?.Networks ?? {});
      const ip = networks.map((n) => n.IPAddress).find((address) => address !== '');
      const status = summary.Status ?? '';
      const health = /\(healthy\)/.test(status)
        ? 'healthy'
        : /\(unhealthy\)/.test(status)
          ? 'unhealthy'
          : /health: starting/.test(status)
            ? 'starting'
            : undefined;
      return {
        id: summary.Id,
        name: (summary.Names[0] ?? summary.Id).replace(/^\//, ''),
        run: containerLabels[LABEL_RUN] ?? '',
        role: roleOf(containerLabels[LABEL_ROLE]),
        shortName: containerLabels[LABEL_PEER],
        state: summary.State,
        health,
        ip,
        labels: containerLabels,
      };
    });
  }

  async listNetworks(
    labels: Record<string, string>,
    init: CallInit = {},
  ): Promise<(LabNetwork & { labels: Record<string, string> })[]> {
    try {
      const networks = await this.docker.listNetworks({
        filters: { label: labelFilters(labels) },
        ...(init.signal === undefined ? {} : { abortSignal: init.signal }),
      });
      return networks.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} }));
    } catch (err) {
      throw new DockerError('list networks', err);
    }
  }
}

/** Cuts an exec's stdout into lines for a callback; a line longer than EXEC_MAX_LINE_CHARS is dropped. */
class LineSink {
  private pending = '';
  /** Keeps a character split between two chunks whole. */
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly containerId: string,
  ) {}

  push(chunk: Buffer): void {
    this.pending += this.decoder.write(chunk);
    if (this.pending.length > EXEC_MAX_LINE_CHARS && !this.pending.includes('\n')) {
      log.debug('Dropping an over-long exec output line', {
        containerId: short(this.containerId),
        chars: this.pending.length,
      });
      this.pending = '';
      return;
    }
    let newline = this.pending.indexOf('\n');
    while (newline >= 0) {
      const line = this.pending.slice(0, newline).replace(/\r$/, '');
      this.pending = this.pending.slice(newline + 1);
      if (line.length > 0) this.onLine(line);
      newline = this.pending.indexOf('\n');
    }
  }

  /** Hands over a last line that had no newline. */
  flush(): void {
    const rest = (this.pending + this.decoder.end()).trim();
    this.pending = '';
    if (rest.length > 0) this.onLine(rest);
  }
}

/** `{a: 'x', b: ''}` → `['a=x', 'b']`: an empty value matches any object that carries the label. */
export function labelFilters(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([key, value]) => (value === '' ? key : `${key}=${value}`));
}

export function roleOf(value: string | undefined): LabRole | undefined {
  return value === 'tracker' || value === 'peer' ? value : undefined;
}

/** The 12-character form Docker prints. */
export function short(id: string): string {
  return id.slice(0, 12);
}

/**
 * Splits a multiplexed (non-TTY) Docker log buffer: frames of `<stream u8><0 0 0><size u32 BE><payload>`,
 * stream 1 = stdout, 2 = stderr. A truncated trailing frame is kept as far as it goes.
 */
export function demuxBuffer(raw: Buffer): ContainerLogs {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const combined: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const streamType = raw.readUInt8(offset);
    const size = raw.readUInt32BE(offset + 4);
    const end = Math.min(raw.length, offset + 8 + size);
    const payload = raw.subarray(offset + 8, end);
    if (streamType === 2) stderr.push(payload);
    else stdout.push(payload);
    combined.push(payload);
    offset = end;
  }
  return {
    stdout: Buffer.concat(stdout).toString('utf8'),
    stderr: Buffer.concat(stderr).toString('utf8'),
    combined: Buffer.concat(combined).toString('utf8'),
  };
}

/** The create request's Healthcheck for a LabContainerInit's: absent keeps the image's. */
function healthcheckConfig(healthcheck: Healthcheck | undefined): { Healthcheck?: Docker.HealthConfig } {
  if (healthcheck === undefined) return {};
  if (healthcheck === 'none') return { Healthcheck: { Test: ['NONE'] } };
  // Docker keeps the image's test, timeout and retries for the fields left out (nanoseconds).
  return { Healthcheck: { Interval: healthcheck.intervalMs * 1_000_000 } };
}
