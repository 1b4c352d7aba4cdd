/**
 * JSON Schemas for every JSON body, each compiled once (ajv): on first use, or ahead of it by
 * `compileSchemas` when a long-running process starts. The decoder rejects any body
 * that does not match with InvalidBodyError, so handlers only ever see well-typed messages.
 */
import type { ValidateFunction } from 'ajv';
import { MAX_CHUNK_BYTES, MAX_CHUNKS, MAX_FEATURE_NAME_BYTES, MAX_FEATURES, MAX_NAME_BYTES } from './constants';
import { MessageType } from './messages';
import type { JsonMessageType } from './messages';
import { codeSchemaAjv } from './code-schemas';

const ajv = codeSchemaAjv({ allErrors: false, strict: true });

const fileId = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
/** Names never carry path separators, NULs or control characters, and are never "." or "..". */
export const FILE_NAME_PATTERN = '^(?!\\.{1,2}$)[^\\u0000-\\u001f\\u007f-\\u009f/\\\\]+$';
const fileName = { type: 'string', minLength: 1, maxLength: MAX_NAME_BYTES, pattern: FILE_NAME_PATTERN } as const;
const peerName = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' } as const;
const host = { type: 'string', minLength: 1, maxLength: 255 } as const;
const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
/** What the tracker hands out: 16 hex digits each (random 64-bit values). */
const peerIdSchema = { type: 'string', pattern: '^[0-9a-f]{16}$' } as const;
const leaseKey = { type: 'string', pattern: '^[0-9a-f]{32}$' } as const;
const empty = { type: 'object', additionalProperties: false, properties: {} } as const;
/** Optional behaviours a party understands (REGISTERED, HELLO, BITFIELD): unknown names are ignored. */
const features = {
  type: 'array',
  maxItems: MAX_FEATURES,
  items: { type: 'string', minLength: 1, maxLength: MAX_FEATURE_NAME_BYTES },
} as const;
const base64 = { type: 'string', maxLength: Math.ceil(MAX_CHUNKS / 8 / 3) * 4 + 4, pattern: '^[A-Za-z0-9+/]*={0,2}$' } as const;

export const manifestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'size', 'chunkSize', 'chunks'],
  properties: {
    name: fileName,
    size: { type: 'integer', minimum: 0, maximum: MAX_CHUNKS * MAX_CHUNK_BYTES },
    chunkSize: { type: 'integer', minimum: 1024, maximum: MAX_CHUNK_BYTES },
    chunks: { type: 'array', maxItems: MAX_CHUNKS, items: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
  },
} as const;

const fileSummary = {
  type: 'object',
  required: ['fileId', 'name', 'size', 'chunkSize', 'chunks', 'holders', 'seeders'],
  properties: {
    fileId,
    name: fileName,
    size: { type: 'integer', minimum: 0 },
    chunkSize: { type: 'integer', minimum: 1 },
    chunks: { type: 'integer', minimum: 0 },
    holders: { type: 'integer', minimum: 0 },
    seeders: { type: 'integer', minimum: 0 },
  },
} as const;

const peerLocation = {
  type: 'object',
  required: ['peerId', 'name', 'host', 'port', 'complete', 'bitfield'],
  properties: { peerId: { type: 'string' }, name: peerName, host, port, complete: { type: 'boolean' }, bitfield: base64 },
} as const;

const schemas: Record<JsonMessageType, object> = {
  [MessageType.Register]: {
    type: 'object',
    additionalProperties: false,
    required: ['version', 'name', 'port'],
    properties: {
      version: { type: 'integer', minimum: 1 },
      name: peerName,
      port,
      host,
      lease: { type: 'boolean' },
      resume: {
        type: 'object',
        additionalProperties: false,
        required: ['peerId', 'key'],
        properties: { peerId: peerIdSchema, key: leaseKey },
      },
    },
  },
  [MessageType.Registered]: {
    type: 'object',
    required: ['peerId', 'heartbeatMs', 'host'],
    properties: {
      peerId: { type: 'string', minLength: 1 },
      heartbeatMs: { type: 'integer', minimum: 1 },
      host,
      key: leaseKey,
      features,
    },
  },
  [MessageType.Unregister]: empty,
  [MessageType.Heartbeat]: empty,
  [MessageType.Publish]: {
    type: 'object',
    additionalProperties: false,
    required: ['manifest'],
    properties: { manifest: manifestSchema },
  },
  [MessageType.Published]: { type: 'object', required: ['fileId'], properties: { fileId } },
  [MessageType.List]: {
    type: 'object',
    additionalProperties: false,
    properties: {
      offset: { type: 'integer', minimum: 0, maximum: 0xffffffff },
      limit: { type: 'integer', minimum: 1, maximum: 0xffffffff },
    },
  },
  [MessageType.Files]: {
    type: 'object',
    required: ['files'],
    properties: { files: { type: 'array', items: fileSummary }, next: { type: 'integer', minimum: 1 } },
  },
  [MessageType.Locate]: {
    type: 'object',
    additionalProperties: false,
    required: ['fileId'],
    properties: { fileId, numwant: { type: 'integer', minimum: 1, maximum: 0xffffffff }, manifest: { type: 'boolean' } },
  },
  [MessageType.Peers]: {
    type: 'object',
    // No manifest only in answer to LOCATE {manifest: false}; TrackerClient.locate insists on one.
    required: ['fileId', 'peers'],
    properties: { fileId, manifest: manifestSchema, peers: { type: 'array', items: peerLocation } },
  },
  [MessageType.Have]: {
    type: 'object',
    additionalProperties: false,
    required: ['fileId', 'indices'],
    properties: {
      fileId,
      manifest: manifestSchema,
      indices: { type: 'array', maxItems: MAX_CHUNKS, items: { type: 'integer', minimum: 0, maximum: MAX_CHUNKS - 1 } },
    },
  },
  [MessageType.Withdraw]: { type: 'object', additionalProperties: false, required: ['fileId'], properties: { fileId } },
  [MessageType.Ok]: { type: 'object' },
  [MessageType.Error]: {
    type: 'object',
    required: ['code', 'message'],
    properties: { code: { type: 'string', maxLength: 64 }, message: { type: 'string', maxLength: 1024 } },
  },
  [MessageType.Hello]: {
    type: 'object',
    required: ['version', 'peerId', 'name'],
    properties: { version: { type: 'integer', minimum: 1 }, peerId: { type: 'string', maxLength: 128 }, name: peerName, features },
  },
  [MessageType.Interested]: { type: 'object', additionalProperties: false, required: ['fileId'], properties: { fileId } },
  [MessageType.Bitfield]: { type: 'object', required: ['fileId', 'bitfield'], properties: { fileId, bitfield: base64, features } },
  [MessageType.Ping]: empty,
  [MessageType.Pong]: empty,
  [MessageType.Room]: empty,
};

// Compiled on first use, not at load: compiling every schema costs about half a second of CPU, which
// `swarmlab ctl` (run by every lab exec and every container healthcheck) would pay without using any.
const validators = new Map<number, ValidateFunction>();
let manifestValidatorOnce: ValidateFunction | undefined;

function validatorOf(type: JsonMessageType): ValidateFunction | undefined {
  const compiled = validators.get(type);
  if (compiled !== undefined) return compiled;
  const schema: object | undefined = schemas[type];
  if (schema === undefined) return undefined;
  const validate = ajv.compile(schema);
  validators.set(type, validate);
  return validate;
}

/** Validates a JSON body for `type`; returns a one-line reason when it does not match. */
/**
 * Compiles the schemas of `types` now. A peer calls it at start for the messages it receives:
 * compiled lazily, the schemas of a download's first messages (HELLO, INTERESTED, BITFIELD, PEERS,
 * ...) cost each downloader a burst of CPU at the moment its download starts, which in a swarm of
 * processes on a few cores is when every downloader starts at once.
 */
export function compileSchemas(types: readonly JsonMessageType[]): void {
  for (const type of types) validatorOf(type);
}

export function validateBody(type: JsonMessageType, body: unknown): string | undefined {
  const validate = validatorOf(type);
  if (validate === undefined) return `no schema for type ${type}`;
  if (validate(body)) return undefined;
  const error = validate.errors?.[0];
  return error ? `${error.instancePath || '/'} ${error.message ?? 'is invalid'}` : 'is invalid';
}

/** Validates a manifest that came from anywhere (the tracker, a sidecar file). */
export function validateManifest(manifest: unknown): string | undefined {
  const manifestValidator = (manifestValidatorOnce ??= ajv.compile(manifestSchema));
  if (manifestValidator(manifest)) return undefined;
  const error = manifestValidator.errors?.[0];
  return error ? `${error.instancePath || '/'} ${error.message ?? 'is invalid'}` : 'is invalid';
}
