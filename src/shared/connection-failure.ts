/**
 * What a framed connection does when its remote breaks the protocol: the one policy of every framed
 * transport (FramedConnection, TrackerConnection).
 *
 * A bad peer is a warning, not a crash: the failure is logged at `warn`, answered with one ERROR frame
 * (request id 0), and the connection hangs up. The socket is destroyed FAILURE_FLUSH_MS later even if
 * the remote never closes its side, so a remote cannot keep a refused connection open. Only that one
 * connection is affected. A remote that ends its side inside a frame gets an ERROR for it first.
 *
 * The connection keeps its own "failed" flag (input is ignored while the ERROR flushes); these
 * functions only act, so a connection that must stay cheap (the tracker's) needs no extra object.
 */
import { ProtocolErrorCode } from '../protocol';
import type { ErrorBody, ProtocolError } from '../protocol';
import type { Logger } from './logger';

/** How long a refused connection has to flush its ERROR frame before it is destroyed. */
export const FAILURE_FLUSH_MS = 1000;
/** ERROR messages are cut to this length, so a long reason cannot make a large frame. */
export const MAX_ERROR_MESSAGE_CHARS = 1024;

/** The part of a connection the policy drives. */
export interface FailingConnection {
  readonly socket: { end(): unknown; readonly writableEnded: boolean };
  sendError(requestId: number, code: string, message: string): void;
  close(error?: Error): void;
}

/** The body of an ERROR frame, its message cut to MAX_ERROR_MESSAGE_CHARS. */
export function errorBody(code: string, message: string): ErrorBody {
  return { code, message: message.slice(0, MAX_ERROR_MESSAGE_CHARS) };
}

/** Answers with one ERROR frame and hangs up; the socket is destroyed after FAILURE_FLUSH_MS whatever the remote does. */
export function refuseConnection(connection: FailingConnection, code: string, message: string, error?: Error): void {
  connection.sendError(0, code, message);
  connection.socket.end();
  setTimeout(() => connection.close(error), FAILURE_FLUSH_MS).unref();
}

/** The remote broke the protocol: warn, then refuse the connection with the error's code. */
export function failProtocol(connection: FailingConnection, logger: Logger, remote: string, error: ProtocolError): void {
  logger.warn('protocol error; closing connection', { remote, code: error.code, reason: error.message });
  refuseConnection(connection, error.code, error.message, error);
}

/**
 * The remote finished sending. A frame it cut short (`bufferedBytes` of it held) is answered with an
 * ERROR before our side ends too.
 */
export function remoteEnded(connection: FailingConnection, logger: Logger, remote: string, bufferedBytes: number): void {
  if (connection.socket.writableEnded) return;
  if (bufferedBytes > 0) {
    logger.warn('connection ended inside a frame', { remote, bufferedBytes });
    connection.sendError(0, ProtocolErrorCode.MalformedFrame, `the connection ended ${bufferedBytes} bytes into a frame`);
  }
  connection.socket.end();
}
