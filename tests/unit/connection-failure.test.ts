/**
 * The failure policy shared by FramedConnection and TrackerConnection: one ERROR frame, hang up, and
 * destroy after FAILURE_FLUSH_MS even when the remote never closes its side.
 */
import { MalformedFrameError } from '../../src/protocol';
import {
  errorBody,
  FAILURE_FLUSH_MS,
  failProtocol,
  MAX_ERROR_MESSAGE_CHARS,
  refuseConnection,
  remoteEnded,
} from '../../src/shared/connection-failure';
import type { FailingConnection } from '../../src/shared/connection-failure';
import type { Logger } from '../../src/shared/logger';

interface FakeConnection extends FailingConnection {
  sent: Array<[number, string, string]>;
  ends: number;
  closedWith: Array<Error | undefined>;
}

function fakeConnection(): FakeConnection {
  const connection: FakeConnection = {
    sent: [],
    ends: 0,
    closedWith: [],
    socket: {
      writableEnded: false,
      end(): void {
        connection.ends++;
        (this as { writableEnded: boolean }).writableEnded = true;
      },
    },
    sendError(requestId, code, message) {
      connection.sent.push([requestId, code, message]);
    },
    close(error) {
      connection.closedWith.push(error);
    },
  };
  return connection;
}

function fakeLogger(): Logger & { warnings: unknown[] } {
  const warnings: unknown[] = [];
  return { warnings, warn: (...args: unknown[]) => warnings.push(args) } as unknown as Logger & { warnings: unknown[] };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('connection failure policy', () => {
  it('refuses with one ERROR frame, ends at once and destroys only after the flush delay', () => {
    const connection = fakeConnection();
    refuseConnection(connection, 'ERR_TOO_MANY', 'go away');
    expect(connection.sent).toEqual([[0, 'ERR_TOO_MANY', 'go away']]);
    expect(connection.ends).toBe(1);
    jest.advanceTimersByTime(FAILURE_FLUSH_MS - 1);
    expect(connection.closedWith).toHaveLength(0);
    jest.advanceTimersByTime(1);
    expect(connection.closedWith).toStrictEqual([undefined]);
  });

  it('answers a protocol error with its code, warns, and closes with the error', () => {
    const connection = fakeConnection();
    const logger = fakeLogger();
    const error = new MalformedFrameError('bad bytes');
    failProtocol(connection, logger, '10.0.0.1:1', error);
    expect(connection.sent).toEqual([[0, 'ERR_MALFORMED_FRAME', 'bad bytes']]);
    expect(logger.warnings).toHaveLength(1);
    jest.advanceTimersByTime(FAILURE_FLUSH_MS);
    expect(connection.closedWith).toEqual([error]);
  });

  it('answers a frame cut short by the end of input with an ERROR, then ends', () => {
    const connection = fakeConnection();
    remoteEnded(connection, fakeLogger(), 'r', 12);
    expect(connection.sent).toEqual([[0, 'ERR_MALFORMED_FRAME', 'the connection ended 12 bytes into a frame']]);
    expect(connection.ends).toBe(1);
  });

  it('ends quietly between frames, and does nothing once our side has ended', () => {
    const connection = fakeConnection();
    remoteEnded(connection, fakeLogger(), 'r', 0);
    expect(connection.sent).toEqual([]);
    expect(connection.ends).toBe(1);
    remoteEnded(connection, fakeLogger(), 'r', 5);
    expect(connection.sent).toEqual([]);
    expect(connection.ends).toBe(1);
  });

  it('cuts the ERROR message to MAX_ERROR_MESSAGE_CHARS', () => {
    expect(errorBody('ERR_X', 'y'.repeat(5000))).toEqual({ code: 'ERR_X', message: 'y'.repeat(MAX_ERROR_MESSAGE_CHARS) });
  });
});
