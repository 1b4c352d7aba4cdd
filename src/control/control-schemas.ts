/**
 * The control protocol (docs/control.md): JSON lines, every one validated with ajv in both directions.
 */
import type { ValidateFunction } from 'ajv';
import { codeSchemaAjv } from '../protocol/code-schemas';

export const CONTROL_COMMANDS = ['connect', 'disconnect', 'upload', 'files', 'download', 'status', 'generate', 'rate', 'faults', 'watch', 'ping', 'link'] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];

export interface ControlRequest {
  id: number | string;
  cmd: ControlCommand;
  args?: Record<string, unknown>;
  token?: string;
}

export type ControlLine =
  | { id: number | string; ok: true; result: unknown }
  | { id: number | string; ok: false; error: { code: string; message: string } }
  | { id: number | string; event: string; [key: string]: unknown };

/** Longest line either side accepts. */
export const MAX_CONTROL_LINE_BYTES = 64 * 1024;

// strictRequired is off: `download` requires one of two properties through anyOf.
const ajv = codeSchemaAjv({ allErrors: false, strict: true, strictRequired: false, strictTypes: false });
const id = { anyOf: [{ type: 'integer' }, { type: 'string', maxLength: 64 }] };
const rate = { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }] };
/** A peer's data address, HOST:PORT (a bracketed IPv6 host allowed). */
const hostPort = { type: 'string', maxLength: 300, pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[^\\s:\\[\\]=,]+):\\d{1,5}$' };
/** Where a link rule applies: 'default', a remote HOST, or HOST:PORT. */
export const LINK_TARGET_PATTERN = '^(default|[^\\s:=,]+(:\\d{1,5})?)$';
/** Link conditions, shared by `link set` and the peer's --link flags (docs/control.md, "Links"). */
export const linkConditionsProperties = {
  latencyMs: { type: 'number', minimum: 0, maximum: 60_000 },
  jitterMs: { type: 'number', minimum: 0, maximum: 60_000 },
  bandwidth: rate,
} as const;

const argsSchemas: Record<ControlCommand, object> = {
  // Streams the peer's activity until the client hangs up: no arguments.
  watch: { type: 'object', additionalProperties: false, properties: {} },
  connect: { type: 'object', additionalProperties: false, properties: { tracker: { type: 'string', minLength: 1, maxLength: 300 } } },
  disconnect: { type: 'object', additionalProperties: false, properties: {} },
  upload: { type: 'object', additionalProperties: false, properties: {} },
  files: { type: 'object', additionalProperties: false, properties: {} },
  download: {
    type: 'object',
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 1024 },
      fileId: { type: 'string', pattern: '^[0-9a-f]{64}$' },
      // false: progress events only (a benchmark measures the transfer, not the reporting of each chunk).
      chunkEvents: { type: 'boolean' },
      // false: no whole-file SHA-256 (the answer has no `sha256`); every chunk is still checked.
      digest: { type: 'boolean' },
    },
    anyOf: [{ required: ['name'] }, { required: ['fileId'] }],
  },
  status: { type: 'object', additionalProperties: false, properties: {} },
  generate: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'size'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 255 },
      size: { type: 'integer', minimum: 0, maximum: 64 * 1024 * 1024 * 1024 },
      seed: { type: 'string', maxLength: 256 },
      text: { type: 'boolean' },
    },
  },
  rate: { type: 'object', additionalProperties: false, properties: { upload: rate, download: rate } },
  ping: {
    type: 'object',
    additionalProperties: false,
    required: ['target'],
    properties: { target: hostPort, count: { type: 'integer', minimum: 1, maximum: 1000 } },
  },
  link: {
    type: 'object',
    additionalProperties: false,
    required: ['action'],
    properties: {
      action: { enum: ['set', 'clear', 'show'] },
      to: { type: 'string', maxLength: 300, pattern: LINK_TARGET_PATTERN },
      ...linkConditionsProperties,
    },
    // `set` names its link; only `set` carries conditions.
    oneOf: [
      { properties: { action: { const: 'set' } }, required: ['to'] },
      { properties: { action: { enum: ['clear', 'show'] }, latencyMs: false, jitterMs: false, bandwidth: false } },
    ],
  },
  faults: {
    type: 'object',
    additionalProperties: false,
    properties: {
      delayMs: { type: 'number', minimum: 0, maximum: 60_000 },
      dropRate: { type: 'number', minimum: 0, maximum: 1 },
      corruptRate: { type: 'number', minimum: 0, maximum: 1 },
    },
  },
};

// Compiled on first use, not at load: `swarmlab ctl` (every lab exec, every container healthcheck)
// validates only the lines it reads and should not pay for the request schemas, nor the server for these.
const requestShapeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'cmd'],
  properties: {
    id,
    cmd: { enum: [...CONTROL_COMMANDS] },
    args: { type: 'object' },
    token: { type: 'string', maxLength: 256 },
  },
};
const argsValidators = new Map<ControlCommand, ValidateFunction>();
let requestShapeValidator: ValidateFunction<ControlRequest> | undefined;
let lineShapeValidator: ValidateFunction<ControlLine> | undefined;

function validateArgsOf(cmd: ControlCommand): ValidateFunction {
  let validate = argsValidators.get(cmd);
  if (validate === undefined) {
    validate = ajv.compile(argsSchemas[cmd]);
    argsValidators.set(cmd, validate);
  }
  return validate;
}

const lineShapeSchema = {
  type: 'object',
  required: ['id'],
  properties: { id, ok: { type: 'boolean' }, event: { type: 'string' } },
  oneOf: [
    { required: ['ok', 'result'], properties: { ok: { const: true } } },
    {
      required: ['ok', 'error'],
      properties: {
        ok: { const: false },
        error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
      },
    },
    { required: ['event'], not: { required: ['ok'] } },
  ],
};

function describe(errors: ValidateFunction['errors'], prefix: string): string {
  const error = errors?.[0];
  return error ? `${prefix}${error.instancePath || ''} ${error.message ?? 'is invalid'}` : `${prefix} is invalid`;
}

/** Parses and validates a request line; throws with a one-line reason. */
export function parseControlRequest(line: string): ControlRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error('request is not valid JSON');
  }
  const validateRequestShape = (requestShapeValidator ??= ajv.compile<ControlRequest>(requestShapeSchema));
  if (!validateRequestShape(parsed)) throw new Error(describe(validateRequestShape.errors, 'request'));
  const validate = validateArgsOf(parsed.cmd);
  if (!validate(parsed.args ?? {})) throw new Error(describe(validate.errors, `args of ${parsed.cmd}`));
  return parsed;
}

/** Parses and validates a response or event line. */
export function parseControlLine(line: string): ControlLine {
  const parsed: unknown = JSON.parse(line);
  const validateLineShape = (lineShapeValidator ??= ajv.compile<ControlLine>(lineShapeSchema));
  if (!validateLineShape(parsed)) throw new Error(describe(validateLineShape.errors, 'control line'));
  return parsed;
}

/** Best effort: the id of a request that failed validation, so the error can still be matched. */
export function requestIdOf(line: string): number | string {
  try {
    const parsed = JSON.parse(line) as { id?: unknown };
    if (typeof parsed.id === 'number' || (typeof parsed.id === 'string' && parsed.id.length <= 64)) return parsed.id;
  } catch {
    // fall through
  }
  return 0;
}
