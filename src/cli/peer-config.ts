/**
 * Peer configuration from flags and environment variables (flags win), validated once with ajv so a
 * bad value fails fast with a precise message. The same names are used in compose.yaml.
 */
import type { ValidateFunction } from 'ajv';
import { join } from 'node:path';
import { ConfigError } from '../shared/errors';
import { STATE_DIR_NAME } from '../peer/chunk-store';
import type { LinkRule } from '../shared/link-emulator';
import { parseSize } from './format';
import { parseLinkFlags } from './link-spec';
import { parseFaults } from '../peer/fault-injector';
import type { FaultSettings } from '../peer/fault-injector';
import { PICKER_ISOLATIONS } from '../peer/picker-loader';
import type { PickerIsolation } from '../peer/picker-loader';
import { SUPER_SEED_MODES } from '../peer/seeding-policy';
import type { SuperSeedMode } from '../peer/seeding-policy';
import { codeSchemaAjv } from '../protocol/code-schemas';

export interface PeerConfig {
  tracker?: string;
  dir: string;
  name?: string;
  port: number;
  host: string;
  control: string;
  chunkSize?: number;
  uploadRate: number | null;
  downloadRate: number | null;
  advertiseHost?: string;
  autoConnect: boolean;
  autoPublish: boolean;
  /** Register with the tracker on a lease and close the connection while idle. */
  trackerLease: boolean;
  faults?: FaultSettings;
  /** Also listen for control commands on TCP; requires controlToken. */
  controlTcp?: { host: string; port: number };
  controlToken?: string;
  /** Requests outstanding per source (pipelining depth). */
  maxInflight?: number;
  /** Serve Prometheus metrics on this port (0 picks one). */
  metricsPort?: number;
  /** Idle timeout of incoming data connections, ms. */
  idleTimeoutMs?: number;
  /** Piece selection: rarest, random, sequential, or the path of a picker module (default rarest). */
  picker?: string;
  /** How a picker module runs: in a sandbox thread (default) or inside the peer. */
  pickerIsolation?: PickerIsolation;
  /** Which requesters to serve: default (everyone), tit-for-tat, or the path of an uploader module. */
  uploader?: string;
  /** Serve nobody (a free rider, for the tit-for-tat exercise). */
  freeRide?: boolean;
  /** Endgame duplicate requests (default on). */
  endgame?: 'on' | 'off';
  /** Super-seeding: auto (while the upload is rate-limited; the default), on, off. */
  superSeed?: SuperSeedMode;
  /** Emulated links from --link-default and --link (validated by link-spec.ts). */
  links?: LinkRule[];
}

const ajv = codeSchemaAjv({ allErrors: true });
// Compiled on first use: `swarmlab ctl` loads this module but never validates a peer's configuration.
const peerConfigSchema = {
  type: 'object',
  required: ['dir', 'port', 'host', 'control'],
  properties: {
    tracker: { type: 'string', pattern: '^[^\\s:]+:\\d{1,5}$|^[^\\s:]+$' },
    dir: { type: 'string', minLength: 1 },
    name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    host: { type: 'string', minLength: 1 },
    control: { type: 'string', minLength: 1, maxLength: 100 },
    chunkSize: { type: 'integer', minimum: 1024, maximum: 4 * 1024 * 1024 },
    uploadRate: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }] },
    downloadRate: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }] },
    maxInflight: { type: 'integer', minimum: 1, maximum: 256 },
    picker: { type: 'string', minLength: 1, maxLength: 4096 },
    pickerIsolation: { enum: PICKER_ISOLATIONS },
    uploader: { type: 'string', minLength: 1, maxLength: 4096 },
    endgame: { enum: ['on', 'off'] },
    superSeed: { enum: SUPER_SEED_MODES },
  },
};
let validateOnce: ValidateFunction | undefined;

type Flags = Record<string, string | string[] | boolean | undefined>;

function pick(flags: Flags, flag: string, env: string): string | undefined {
  const value = flags[flag];
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.at(-1);
  const fromEnv = process.env[env];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

function toNumber(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new ConfigError(`${what} must be a whole number, not "${value}"`);
  return Number(value);
}

function toSize(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseSize(value);
  } catch (error) {
    throw new ConfigError(`${what}: ${(error as Error).message}`);
  }
}

function truthy(value: string | string[] | boolean | undefined): boolean {
  return value === true || value === '1' || value === 'true' || value === 'yes';
}

export function peerConfig(flags: Flags): PeerConfig {
  const dir = pick(flags, 'dir', 'SWARMLAB_DIR') ?? process.cwd();
  const tracker = pick(flags, 'tracker', 'SWARMLAB_TRACKER');
  const name = pick(flags, 'name', 'SWARMLAB_NAME');
  const chunkSize = toSize(pick(flags, 'chunk-size', 'SWARMLAB_CHUNK_SIZE'), '--chunk-size');
  const advertiseHost = pick(flags, 'advertise-host', 'SWARMLAB_ADVERTISE_HOST');
  const faults = pick(flags, 'faults', 'SWARMLAB_FAULTS');
  const idleTimeoutMs = toNumber(pick(flags, 'idle-timeout-ms', 'SWARMLAB_IDLE_TIMEOUT_MS'), '--idle-timeout-ms');
  const metricsPort = toNumber(pick(flags, 'metrics-port', 'SWARMLAB_METRICS_PORT'), '--metrics-port');
  const maxInflight = toNumber(pick(flags, 'max-inflight', 'SWARMLAB_MAX_INFLIGHT'), '--max-inflight');
  const controlTcp = pick(flags, 'control-tcp', 'SWARMLAB_CONTROL_TCP');
  const picker = pick(flags, 'picker', 'SWARMLAB_PICKER');
  const pickerIsolation = pick(flags, 'picker-isolation', 'SWARMLAB_PICKER_ISOLATION');
  const uploader = pick(flags, 'uploader', 'SWARMLAB_UPLOADER');
  const endgame = pick(flags, 'endgame', 'SWARMLAB_ENDGAME');
  const superSeed = pick(flags, 'super-seed', 'SWARMLAB_SUPER_SEED');
  const controlToken = process.env['SWARMLAB_CONTROL_TOKEN'];
  // --link is repeatable; SWARMLAB_LINKS holds the same rules separated by ';' (compose files).
  const linkFlags = flags['link'];
  const linkRules = Array.isArray(linkFlags) ? linkFlags : typeof linkFlags === 'string' ? [linkFlags] : (process.env['SWARMLAB_LINKS'] ?? '').split(';').filter(Boolean);
  const linkDefault = pick(flags, 'link-default', 'SWARMLAB_LINK_DEFAULT');
  const links = parseLinkFlags(linkDefault, linkRules);
  if (controlTcp !== undefined && (controlToken === undefined || controlToken.length < 16)) {
    throw new ConfigError('--control-tcp needs SWARMLAB_CONTROL_TOKEN (at least 16 characters) in the environment');
  }
  const tcpMatch = controlTcp === undefined ? undefined : /^(.+):(\d{1,5})$/.exec(controlTcp);
  if (controlTcp !== undefined && !tcpMatch) throw new ConfigError(`--control-tcp "${controlTcp}" is not HOST:PORT`);
  const config: PeerConfig = {
    dir,
    port: toNumber(pick(flags, 'port', 'SWARMLAB_PORT'), '--port') ?? 0,
    host: pick(flags, 'host', 'SWARMLAB_HOST') ?? '0.0.0.0',
    control: pick(flags, 'control', 'SWARMLAB_CONTROL') ?? join(dir, STATE_DIR_NAME, 'peer.sock'),
    uploadRate: toSize(pick(flags, 'upload-rate', 'SWARMLAB_UPLOAD_RATE'), '--upload-rate') ?? null,
    downloadRate: toSize(pick(flags, 'download-rate', 'SWARMLAB_DOWNLOAD_RATE'), '--download-rate') ?? null,
    autoConnect: truthy(flags['auto-connect']) || truthy(process.env['SWARMLAB_AUTOCONNECT']),
    autoPublish: truthy(flags['auto-publish']) || truthy(process.env['SWARMLAB_AUTOPUBLISH']),
    trackerLease: truthy(flags['tracker-lease']) || truthy(process.env['SWARMLAB_TRACKER_LEASE']),
    ...(truthy(flags['free-ride']) || truthy(process.env['SWARMLAB_FREE_RIDE']) ? { freeRide: true } : {}),
    ...(tracker === undefined ? {} : { tracker }),
    ...(name === undefined ? {} : { name }),
    ...(chunkSize === undefined ? {} : { chunkSize }),
    ...(advertiseHost === undefined ? {} : { advertiseHost }),
    ...(faults === undefined ? {} : { faults: parseFaults(faults) }),
    ...(maxInflight === undefined ? {} : { maxInflight }),
    ...(metricsPort === undefined ? {} : { metricsPort }),
    ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }),
    // Validated by the schema below, which names the allowed values.
    ...(picker === undefined ? {} : { picker }),
    ...(pickerIsolation === undefined ? {} : { pickerIsolation: pickerIsolation as PickerIsolation }),
    ...(uploader === undefined ? {} : { uploader }),
    ...(endgame === undefined ? {} : { endgame: endgame as 'on' | 'off' }),
    ...(superSeed === undefined ? {} : { superSeed: superSeed as SuperSeedMode }),
    ...(links.length === 0 ? {} : { links }),
    ...(tcpMatch ? { controlTcp: { host: tcpMatch[1]!, port: Number(tcpMatch[2]) }, controlToken: controlToken! } : {}),
  };
  const validate = (validateOnce ??= ajv.compile(peerConfigSchema));
  if (!validate(config)) {
    const error = validate.errors?.[0];
    const allowed = error?.keyword === 'enum' ? ` (${(error.params as { allowedValues: string[] }).allowedValues.join(', ')})` : '';
    throw new ConfigError(`invalid peer configuration: ${error?.instancePath.slice(1) ?? ''} ${error?.message ?? ''}${allowed}`.trim());
  }
  return config;
}
