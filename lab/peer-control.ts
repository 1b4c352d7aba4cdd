/**
 * Drives one peer through its control channel (lab/control-channel.ts): one exec per peer and run that
 * bridges the peer's control socket, every request multiplexed on it by id, events (`chunk`, `progress`)
 * streamed to the request that asked for them. See docs/control.md.
 */
import type { ControlCommand as WireCommand } from '../src/control/control-schemas';
import { createLogger } from '../src/shared/logger';
import { LAB_CONTROL_TOKEN, SWARMLAB_BIN } from './constants';
import { controlChannelArgv } from './control-bridge';
import { ControlChannel, type ChannelRequestInit } from './control-channel';
import { ControlError, UsageError } from './errors';
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
  /** When the downloader verified it (epoch ms, its own clock). */
  at?: number;
}

export interface ProgressEvent {
  event: 'progress';
  have: number;
  chunks: number;
  bytes?: number;
  size?: number;
  rateBps?: number;
  /** When the downloader held `have` chunks (epoch ms, its own clock). */
  at?: number;
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
  /** `digest: false`: no whole-file SHA-256 in the answer (the caller hashes the file itself); every chunk is still checked. */
  download: { args: { name?: string; fileId?: string; digest?: boolean }; result: DownloadResult };
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
  /** Overrides the command's own limit (REQUEST_TIMEOUT_MS), in ms. */
  timeoutMs?: number;
}

/** How long a command may go unanswered before it fails with `ControlTimeoutError`. */
export const REQUEST_TIMEOUT_MS = 120_000;
/**
 * Commands without a limit of their own: a download or a generated file take as long as their size needs,
 * and the step that runs them bounds them (its signal, `withinSeconds`).
 */
const UNBOUNDED_COMMANDS: ReadonlySet<ControlCommand> = new Set(['download', 'generate']);
/**
 * Commands safe to send a second time when the channel dies with them in flight: reads and absolute
 * settings. `connect` and `disconnect` answer an error the second time, `upload` publishes again, and a
 * second `download` or `generate` would race the first.
 */
export const IDEMPOTENT_COMMANDS: ReadonlySet<ControlCommand> = new Set(['status', 'files', 'rate', 'faults', 'link']);

/** The control protocol request (docs/control.md) for one lab command: what `swarmlab ctl` would send. */
export function controlRequest<C extends ControlCommand>(
  cmd: C,
  args: ControlCommands[C]['args'],
): { cmd: WireCommand; args: Record<string, unknown> } {
  const a = args as Record<string, unknown>;
  const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value !== '';
  // ctl reads sizes and rates with parseSize, which rounds to whole bytes.
  const bytes = (value: unknown): number | null => (value === null ? null : Math.round(Number(value)));
  switch (cmd) {
    case 'connect':
      return { cmd, args: nonEmpty(a['tracker']) ? { tracker: a['tracker'] } : {} };
    case 'disconnect':
    case 'upload':
    case 'files':
    case 'status':
      return { cmd, args: {} };
    case 'download': {
      const target = typeof a['fileId'] === 'string' ? a['fileId'] : a['name'];
      if (!nonEmpty(target)) throw new UsageError('download needs a file name or id');
      // As ctl: 64 hex digits name a file id, anything else a file name.
      const named = /^[0-9a-f]{64}$/.test(target) ? { fileId: target } : { name: target };
      return { cmd, args: a['digest'] === false ? { ...named, digest: false } : named };
    }
    case 'generate':
      return {
        cmd,
        args: {
          name: a['name'],
          size: bytes(a['size']),
          ...(nonEmpty(a['seed']) ? { seed: a['seed'] } : {}),
          ...(a['text'] === true ? { text: true } : {}),
        },
      };
    case 'rate':
      return {
        cmd,
        args: {
          ...(a['upload'] === undefined ? {} : { upload: bytes(a['upload']) }),
          ...(a['download'] === undefined ? {} : { download: bytes(a['download']) }),
        },
      };
    case 'faults':
      // Like `ctl faults`: the fields not given are reset to 0.
      return {
        cmd,
        args: {
          delayMs: typeof a['delayMs'] === 'number' ? a['delayMs'] : 0,
          dropRate: typeof a['drop'] === 'number' ? a['drop'] : 0,
          corruptRate: typeof a['corrupt'] === 'number' ? a['corrupt'] : 0,
        },
      };
    case 'link':
      return {
        cmd,
        args: {
          action: 'set',
          to: a['to'],
          latencyMs: a['latencyMs'],
          jitterMs: a['jitterMs'],
          bandwidth: bytes(a['bandwidth']),
        },
      };
    default: {
      const unreachable: never = cmd;
      throw new UsageError(`unknown control command ${String(unreachable)}`);
    }
  }
}

/**
 * The `swarmlab ctl --json` command line for one request: what a user types in the container to repeat
 * it by hand (the lab logs it at debug level beside each request).
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
  readonly channel: ControlChannel;

  constructor(components: { docker: LabDocker }, init: PeerControlInit) {
    this.docker = components.docker;
    this.containerId = init.containerId;
    this.peer = init.peer;
    this.channel = new ControlChannel(
      {
        open: async (handlers) =>
          this.docker.openExec(this.containerId, controlChannelArgv(), {
            onStdoutLine: handlers.onLine,
            onClose: ({ stderr, error }) => {
              const said = stderr.trim().split('\n').slice(-3).join(' | ');
              handlers.onClose(error?.message ?? (said === '' ? 'the bridge ended' : said));
            },
          }),
      },
      // The token of the peer's loopback listener, which the bridge may use (lab/control-bridge.ts).
      { peer: init.peer, token: LAB_CONTROL_TOKEN },
    );
  }

  /** Sends one control request; resolves with `result`, rejects with `ControlError` when `ok` is false. */
  async request<C extends ControlCommand>(
    cmd: C,
    args: ControlCommands[C]['args'],
    init: RequestInit = {},
  ): Promise<ControlCommands[C]['result']> {
    const wire = controlRequest(cmd, args);
    log.debug('Control request', { peer: this.peer, ctl: ctlArgv(cmd, args).join(' ') });
    const timeoutMs = init.timeoutMs ?? (UNBOUNDED_COMMANDS.has(cmd) ? undefined : REQUEST_TIMEOUT_MS);
    const channelInit: ChannelRequestInit = {
      idempotent: IDEMPOTENT_COMMANDS.has(cmd),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(init.signal === undefined ? {} : { signal: init.signal }),
      ...(init.onEvent === undefined ? {} : { onEvent: init.onEvent as (event: ControlEvent) => void }),
    };
    const response = await this.channel.request(wire.cmd, wire.args, channelInit);
    if (response.ok !== true) {
      const error = (response['error'] ?? {}) as { code?: unknown; message?: unknown };
      const peerCode = typeof error.code === 'string' ? error.code : undefined;
      const message = typeof error.message === 'string' ? error.message : JSON.stringify(response['error']);
      throw new ControlError(`${this.peer}: ${cmd} failed: ${peerCode ?? 'ERR'} ${message}`, {
        ...(peerCode === undefined ? {} : { peerCode }),
      });
    }
    return (response['result'] ?? {}) as ControlCommands[C]['result'];
  }

  /** Drops the control channel (the bridge in the container exits); a later request opens a new one. */
  close(): void {
    this.channel.close();
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
