/**
 * Errors shared by the transports. Each has a stable `code`; callers branch on it.
 */
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
    super('ERR_CONNECTION_CLOSED', message);
    this.name = 'ConnectionClosedError';
  }
}

export class RequestTimeoutError extends SwarmlabError {
  constructor(message = 'request timed out') {
    super('ERR_REQUEST_TIMEOUT', message);
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
    super('ERR_CONFIG', message);
    this.name = 'ConfigError';
  }
}

export function errorCode(error: unknown): string {
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'ERR_INTERNAL';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
