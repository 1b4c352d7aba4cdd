/**
 * Drives one peer by exec'ing `swarmlab ctl --json COMMAND ARGS` inside its container and parsing the
 * JSON lines it prints: events (`chunk`, `progress`, `log`) stream live, then the final response.
 * See docs/control.md.
 */
import { createLogger } from '../src/shared/logger';
import { SWARMLAB_BIN } from './constants';
import { ControlError } from './errors';
import type { LabDocker } from './engine/lab-docker';

const log = createLogger('peer-control');

export interface ChunkEvent {
  event: 'chunk';
  file: string;
  fileId?: string;
  index: number;
  chunks: number;
  from: string;
  fromId?: string;
  fromAddr?: string;
  to?: string;
  bytes: number;
  ms?: number;
}

export interface ProgressEvent {
  event: 'progress';
  have: number;
  chunks: number;
  bytes?: number;
  size?: number;
  rateBps?: number;
}

export interface OtherEvent {
  event: string;
  [key: string]: unknown;
}

export type ControlEvent = ChunkEvent | ProgressEvent | OtherEvent;

export interface DownloadResult {
  file: string;
  fileId?: string;
  path?: string;
  bytes: number;
  sha256?: string;
  verified?: boolean;
  chunksBySource: Record<string, number>;
  keptChunks?: number;
  ms?: number;
}

export interface GenerateResult {
  name: string;
  size: number;
  sha256: string;
}

export interface FilesResult {
  files: { fileId: string; name: string; size: number; chunkSize?: number; chunks: number; holders?: number }[];
}

export interface StatusResult {
  peerId?: string;
  name?: string;
  connected?: boolean;
  tracker?: string;
  dataPort?: number;
  files?: { name: string; fileId?: string; have: number; chunks: number; complete: boolean }[];
  downloads?: unknown[];
}

export interface ControlCommands {
  connect: { args: { tracker?: string }; result: { peerId?: string; tracker?: string } };
  disconnect: { args: Record<string, never>; result: Record<string, unknown> };
  upload: {
    args: Record<string, never>;
    result: { published: { name: string; fileId?: string; size?: number; chunks?: number }[] };
  };
  files: { args: Record<string, never>; result: FilesResult };
  download: { args: { name?: string; fileId?: string }; result: DownloadResult };
  status: { args: Record<string, never>; result: StatusResult };
  generate: { args: { name: string; size: number; seed?: string; text?: boolean }; result: GenerateResult };
  rate: {
    args: { upload?: number | null; download?: number | null };
    result: { upload: number | null; download: number | null };
  };
  /** Lab faults on the chunks the peer serves; ctl resets the fields it is not given to 0. */
  faults: {
    args: { corrupt?: number; drop?: number; delayMs?: number };
    result: { delayMs: number; dropRate: number; corruptRate: number };
  };
  /** Sets one of the peer's emulated links (docs/control.md, "Links"); `bandwidth: null` uncaps it. */
  link: {
    args: { to: string; latencyMs: number; jitterMs: number; bandwidth: number | null };
    result: { links: { to: string; latencyMs: number; jitterMs: number; bandwidth: number | null }[] };
  };
}

export type ControlCommand = keyof ControlCommands;

export interface RequestInit {
  onEvent?: (event: ControlEvent) => void;
  signal?: AbortSignal;
}

/**
 * The argv of `swarmlab ctl --json` for one request. Kept in one place so that the lab follows the CLI's
 * syntax in exactly one function.
 */
export function ctlArgv<C extends ControlCommand>(cmd: C, args: ControlCommands[C]['args']): string[] {
  const argv = [SWARMLAB_BIN, 'ctl', '--json', cmd];
  const a = args as Record<string, unknown>;
  switch (cmd) {
    case 'connect':
      if (typeof a['tracker'] === 'string') argv.push(a['tracker']);
      break;
    case 'download':
      // ctl treats a 64-hex-digit argument as a file id, anything else as a name.
      if (typeof a['fileId'] === 'string') argv.push(a['fileId']);
      else if (typeof a['name'] === 'string') argv.push(a['name']);
      break;
    case 'generate':
      argv.push(String(a['name']), String(a['size']));
      if (typeof a['seed'] === 'string') argv.push('--seed', a['seed']);
      if (a['text'] === true) argv.push('--text');
      break;
    case 'rate':
      if (a['upload'] !== undefined) argv.push('--upload', a['upload'] === null ? 'off' : String(a['upload']));
      if (a['download'] !== undefined) argv.push('--download', a['download'] === null ? 'off' : String(a['download']));
      break;
    case 'faults':
      // `ctl faults corrupt=1 delay=20` (src/peer/fault-injector.ts parseFaults).
      if (typeof a['corrupt'] === 'number') argv.push(`corrupt=${a['corrupt']}`);
      if (typeof a['drop'] === 'number') argv.push(`drop=${a['drop']}`);
      if (typeof a['delayMs'] === 'number') argv.push(`delay=${a['delayMs']}`);
      break;
    case 'link':
      // `ctl link set 10.0.0.3 latencyMs=50,jitterMs=0,bandwidth=off` (src/cli/link-spec.ts).
      argv.push(
        'set',
        String(a['to']),
        `latencyMs=${String(a['latencyMs'])},jitterMs=${String(a['jitterMs'])},bandwidth=${a['bandwidth'] === null ? 'off' : String(a['bandwidth'])}`,
      );
      break;
    default:
      break;
  }
  return argv;
}

export interface PeerControlInit {
  containerId: string;
  /** The peer's name in the run (`peer-3`), for messages. */
  peer: string;
}

export class PeerControl {
  private readonly docker: LabDocker;
  readonly containerId: string;
  readonly peer: string;

  constructor(components: { docker: LabDocker }, init: PeerControlInit) {
    this.docker = components.docker;
    this.containerId = init.containerId;
    this.peer = init.peer;
  }

  /** Sends one control request; resolves with `result`, rejects with `ControlError` when `ok` is false. */
  async request<C extends ControlCommand>(
    cmd: C,
    args: ControlCommands[C]['args'],
    init: RequestInit = {},
  ): Promise<ControlCommands[C]['result']> {
    const argv = ctlArgv(cmd, args);
    let response: Record<string, unknown> | undefined;
    const result = await this.docker.exec(this.containerId, argv, {
      ...(init.signal === undefined ? {} : { signal: init.signal }),
      onStdoutLine: (line) => {
        const message = parseLine(line);
        if (message === undefined) {
          log.debug('Ignoring non-JSON ctl output', { peer: this.peer, line });
          return;
        }
        if (typeof message['event'] === 'string') {
          init.onEvent?.(message as unknown as ControlEvent);
        } else if ('ok' in message) {
          response = message;
        }
      },
    });
    if (response === undefined) {
      const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' | ');
      throw new ControlError(`${this.peer}: ctl ${cmd} gave no response (exit ${result.exitCode}): ${detail}`, {
        exitCode: result.exitCode,
      });
    }
    if (response['ok'] !== true) {
      const error = (response['error'] ?? {}) as { code?: unknown; message?: unknown };
      const peerCode = typeof error.code === 'string' ? error.code : undefined;
      const message = typeof error.message === 'string' ? error.message : JSON.stringify(response['error']);
      throw new ControlError(`${this.peer}: ${cmd} failed: ${peerCode ?? 'ERR'} ${message}`, {
        ...(peerCode === undefined ? {} : { peerCode }),
        exitCode: result.exitCode,
      });
    }
    return (response['result'] ?? {}) as ControlCommands[C]['result'];
  }

  /** Runs a plain command in the container and returns stdout; throws `ControlError` on a non-zero exit. */
  async shell(argv: string[], signal?: AbortSignal): Promise<string> {
    const result = await this.docker.exec(this.containerId, argv, signal === undefined ? {} : { signal });
    if (result.exitCode !== 0) {
      throw new ControlError(`${this.peer}: ${argv.join(' ')} exited ${result.exitCode}: ${result.stderr.trim()}`, {
        exitCode: result.exitCode,
      });
    }
    return result.stdout;
  }

  /** SHA-256 of a file inside the container, computed there with `sha256sum`. */
  async sha256(path: string, signal?: AbortSignal): Promise<string> {
    const out = await this.shell(['sha256sum', path], signal);
    const hex = out.trim().split(/\s+/)[0] ?? '';
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new ControlError(`${this.peer}: unexpected sha256sum output: ${out}`);
    return hex;
  }

  /** Size in bytes of a file inside the container. */
  async fileSize(path: string, signal?: AbortSignal): Promise<number> {
    const out = await this.shell(['stat', '-c', '%s', path], signal);
    return Number.parseInt(out.trim(), 10);
  }
}

function parseLine(line: string): Record<string, unknown> | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function isChunkEvent(event: ControlEvent): event is ChunkEvent {
  return event.event === 'chunk' && typeof (event as ChunkEvent).index === 'number';
}

export function isProgressEvent(event: ControlEvent): event is ProgressEvent {
  return (
    event.event === 'progress' &&
    typeof (event as ProgressEvent).have === 'number' &&
    typeof (event as ProgressEvent).chunks === 'number'
  );
}
