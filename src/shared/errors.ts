/**
 * Errors shared by the transports. Each has a stable `code`; callers branch on it.
 */

/** Codes of the shared layer; they reach ERROR frames and JSON, so each keeps its exact string. */
export const SharedErrorCode = {
  ConnectionClosed: 'ERR_CONNECTION_CLOSED',
  RequestTimeout: 'ERR_REQUEST_TIMEOUT',
  Config: 'ERR_CONFIG',
  /** What errorCode() says of an error that carries no code of its own. */
  Internal: 'ERR_INTERNAL',
  /** A file ended before the bytes its size promised. */
  ShortRead: 'ERR_SHORT_READ',
} as const;
export type SharedErrorCode = (typeof SharedErrorCode)[keyof typeof SharedErrorCode];

export class SwarmlabError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'SwarmlabError';
  }
}

export class ConnectionClosedError extends SwarmlabError {
  constructor(message = 'connection closed') {
    super(SharedErrorCode.ConnectionClosed, message);
    this.name = 'ConnectionClosedError';
  }
}

export class RequestTimeoutError extends SwarmlabError {
  constructor(message = 'request timed out') {
    super(SharedErrorCode.RequestTimeout, message);
    this.name = 'RequestTimeoutError';
  }
}

/** An ERROR frame the other side sent in answer to a request. */
export class RemoteError extends SwarmlabError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'RemoteError';
  }
}

export class ConfigError extends SwarmlabError {
  constructor(message: string) {
    super(SharedErrorCode.Config, message);
    this.name = 'ConfigError';
  }
}

export function errorCode(error: unknown): string {
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : SharedErrorCode.Internal;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
