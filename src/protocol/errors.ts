/**
 * Protocol errors. Callers branch on `code`, never on the message text.
 */
export class ProtocolError extends Error {
  readonly code: string = 'ERR_PROTOCOL';
  constructor(message = 'protocol error') {
    super(message);
    this.name = 'ProtocolError';
  }
}

export class FrameTooLargeError extends ProtocolError {
  override readonly code = 'ERR_FRAME_TOO_LARGE';
  constructor(
    readonly lengthBytes: number,
    readonly maxBytes: number,
  ) {
    super(`frame of ${lengthBytes} bytes exceeds the maximum of ${maxBytes}`);
    this.name = 'FrameTooLargeError';
  }
}

export class MalformedFrameError extends ProtocolError {
  override readonly code = 'ERR_MALFORMED_FRAME';
  constructor(message = 'malformed frame') {
    super(message);
    this.name = 'MalformedFrameError';
  }
}

export class UnknownMessageTypeError extends ProtocolError {
  override readonly code = 'ERR_UNKNOWN_MESSAGE_TYPE';
  constructor(readonly messageType: number) {
    super(`unknown message type 0x${messageType.toString(16).padStart(2, '0')}`);
    this.name = 'UnknownMessageTypeError';
  }
}

export class InvalidBodyError extends ProtocolError {
  override readonly code = 'ERR_INVALID_BODY';
  constructor(message = 'invalid message body') {
    super(message);
    this.name = 'InvalidBodyError';
  }
}
