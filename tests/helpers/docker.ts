/**
 * Shared helpers for the container tests: is Docker reachable, run a host command and collect its
 * output, exec in a container and collect its output, parse `swarmlab ctl --json` lines, poll.
 *
 * Importing this module disables testcontainers' Ryuk reaper (no registry here to pull it from; the
 * setting is read when the first container starts); every test removes what it created in afterAll.
 */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';

process.env['TESTCONTAINERS_RYUK_DISABLED'] ??= 'true';

export const DOCKER_PING_TIMEOUT_MS = 3_000;
export const EXEC_TIMEOUT_MS = 60_000;

/** True when the Docker engine answers a ping within DOCKER_PING_TIMEOUT_MS. */
export async function isDockerAvailable(docker: Docker = new Docker()): Promise<boolean> {
  const timeout = sleep(DOCKER_PING_TIMEOUT_MS, false, { ref: false });
  return Promise.race([
    docker.ping().then(
      () => true,
      () => false,
    ),
    timeout,
  ]);
}

/** A name unique to this test process, usable as a compose project, run label or network name. */
export function uniqueRunId(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
}

export interface CommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface RunCommandInit {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Spawns a host command (e.g. docker-compose) and resolves with its exit code and output; never rejects on exit code. */
export async function runCommand(
  command: string,
  args: readonly string[],
  init: RunCommandInit = {},
): Promise<CommandResult> {
  return new Promise<CommandResult>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: init.cwd,
      env: init.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: AbortSignal.timeout(init.timeoutMs ?? EXEC_TIMEOUT_MS),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (exitCode) => resolve({ exitCode, stdout, stderr }));
  });
}

export interface ExecInit {
  user?: string;
  env?: string[];
  timeoutMs?: number;
}

/** Runs `cmd` in a running container through the Engine API and collects stdout, stderr and the exit code. */
export async function execInContainer(
  docker: Docker,
  containerId: string,
  cmd: readonly string[],
  init: ExecInit = {},
): Promise<CommandResult> {
  const container = docker.getContainer(containerId);
  const exec = await container.exec({
    Cmd: [...cmd],
    AttachStdout: true,
    AttachStderr: true,
    ...(init.user !== undefined ? { User: init.user } : {}),
    ...(init.env !== undefined ? { Env: init.env } : {}),
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const stdoutStream = new PassThrough();
  const stderrStream = new PassThrough();
  let stdout = '';
  let stderr = '';
  stdoutStream.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  stderrStream.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  docker.modem.demuxStream(stream, stdoutStream, stderrStream);

  const timeoutMs = init.timeoutMs ?? EXEC_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`exec ${cmd.join(' ')} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  const info = await exec.inspect();
  return { exitCode: info.ExitCode, stdout, stderr };
}

/** Throws with the command's output unless it exited 0; returns its stdout. */
export function expectSuccess(result: CommandResult, what: string): string {
  if (result.exitCode !== 0) {
    throw new Error(
      `${what} exited ${String(result.exitCode)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr.slice(-4000)}`,
    );
  }
  return result.stdout;
}

/** One line of `swarmlab ctl --json`: an event or the final response. */
export interface CtlLine {
  id?: number;
  event?: string;
  ok?: boolean;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
  [key: string]: unknown;
}

/** Parses `swarmlab ctl --json` output: every JSON line; non-JSON lines are ignored. */
export function parseCtlLines(stdout: string): CtlLine[] {
  const lines: CtlLine[] = [];
  for (const line of stdout.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(trimmed) as CtlLine);
    } catch {
      // a partial line (e.g. cut by a timeout) is not a result
    }
  }
  return lines;
}

/** The final response line of `swarmlab ctl --json`; throws unless it is `ok: true`. */
export function ctlResult<T = Record<string, unknown>>(stdout: string): T {
  const response = parseCtlLines(stdout)
    .filter((line) => line.ok !== undefined)
    .pop();
  if (response === undefined) throw new Error(`no ctl response in:\n${stdout}`);
  if (response.ok !== true) throw new Error(`ctl failed: ${JSON.stringify(response.error)}`);
  return response.result as T;
}

export interface WaitForInit {
  timeoutMs: number;
  intervalMs?: number;
  /** What is awaited, for the timeout message. */
  what: string;
}

/** Polls `probe` until it returns a value other than undefined; throws after `timeoutMs` with the last error. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, init: WaitForInit): Promise<T> {
  const deadlineMs = Date.now() + init.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadlineMs) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${init.timeoutMs} ms waiting for ${init.what}${reason}`);
    }
    await sleep(init.intervalMs ?? 500);
  }
}

/** Waits until every container matching `labels` is running and healthy, and exactly `count` of them exist. */
export async function waitForHealthyContainers(
  docker: Docker,
  labels: readonly string[],
  count: number,
  timeoutMs: number,
): Promise<Docker.ContainerInfo[]> {
  return waitFor(
    async () => {
      const containers = await docker.listContainers({ all: true, filters: { label: [...labels] } });
      const exited = containers.find((c) => c.State === 'exited' || c.State === 'dead');
      if (exited !== undefined) throw new Error(`${exited.Names.join(',')} ${exited.Status}`);
      const healthy = containers.filter((c) => c.State === 'running' && /\(healthy\)/.test(c.Status));
      return containers.length === count && healthy.length === count ? containers : undefined;
    },
    { timeoutMs, intervalMs: 500, what: `${count} healthy containers labelled ${labels.join(', ')}` },
  );
}

/** Containers and networks still carrying `labels` (for "nothing left behind" checks). */
export async function leftovers(
  docker: Docker,
  labels: readonly string[],
): Promise<{ containers: number; networks: number }> {
  const filters = { label: [...labels] };
  const [containers, networks] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listNetworks({ filters }),
  ]);
  return { containers: containers.length, networks: networks.length };
}

export interface RunInImageInit {
  /** Labels for the throwaway container (give it `swarmlab.run`). */
  labels: Record<string, string>;
  user?: string;
  env?: string[];
  entrypoint?: string[];
  timeoutMs?: number;
}

/** Runs `cmd` in a throwaway container of `image` (no network) and returns its exit code and output; the container is removed. */
export async function runInImage(
  docker: Docker,
  image: string,
  cmd: readonly string[],
  init: RunInImageInit,
): Promise<CommandResult> {
  const container = await docker.createContainer({
    Image: image,
    Cmd: [...cmd],
    Labels: init.labels,
    NetworkDisabled: true,
    ...(init.user !== undefined ? { User: init.user } : {}),
    ...(init.env !== undefined ? { Env: init.env } : {}),
    ...(init.entrypoint !== undefined ? { Entrypoint: init.entrypoint } : {}),
  });
  try {
    await container.start();
    const timeoutMs = init.timeoutMs ?? EXEC_TIMEOUT_MS;
    const waited = (await Promise.race([container.wait(), sleep(timeoutMs, undefined, { ref: false })])) as
      { StatusCode: number } | undefined;
    if (waited === undefined) throw new Error(`${cmd.join(' ')} in ${image} timed out after ${timeoutMs} ms`);
    const logs = await container.logs({ stdout: true, stderr: true, follow: false });
    return { exitCode: waited.StatusCode, ...demuxLogs(logs) };
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** Splits a non-TTY container log buffer (8-byte frame headers: stream, 0, 0, 0, u32 BE size) into stdout and stderr. */
export function demuxLogs(buffer: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const stream = buffer.readUInt8(offset);
    const size = buffer.readUInt32BE(offset + 4);
    const end = Math.min(buffer.length, offset + 8 + size);
    (stream === 2 ? err : out).push(buffer.subarray(offset + 8, end));
    offset = end;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
