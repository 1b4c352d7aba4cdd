/**
 * Protocol errors. Callers branch on `code`, never on the message text. The codes travel in ERROR
 * frames, so their values are part of the wire contract.
 */
export const ProtocolErrorCode = {
  Protocol: 'ERR_PROTOCOL',
  FrameTooLarge: 'ERR_FRAME_TOO_LARGE',
  MalformedFrame: 'ERR_MALFORMED_FRAME',
  UnknownMessageType: 'ERR_UNKNOWN_MESSAGE_TYPE',
  InvalidBody: 'ERR_INVALID_BODY',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode = ProtocolErrorCode.Protocol;
  constructor(message = 'protocol error') {
    super(message);
    this.name = 'ProtocolError';
  }
}

export class FrameTooLargeError extends ProtocolError {
  override readonly code = ProtocolErrorCode.FrameTooLarge;
  constructor(
    readonly lengthBytes: number,
    readonly maxBytes: number,
  ) {
    super(`frame of ${lengthBytes} bytes exceeds the maximum of ${maxBytes}`);
    this.name = 'FrameTooLargeError';
  }
}

export class MalformedFrameError extends ProtocolError {
  override readonly code = ProtocolErrorCode.MalformedFrame;
  constructor(message = 'malformed frame') {
    super(message);
    this.name = 'MalformedFrameError';
  }
}

export class UnknownMessageTypeError extends ProtocolError {
  override readonly code = ProtocolErrorCode.UnknownMessageType;
  constructor(readonly messageType: number) {
    super(`unknown message type 0x${messageType.toString(16).padStart(2, '0')}`);
    this.name = 'UnknownMessageTypeError';
  }
}

export class InvalidBodyError extends ProtocolError {
  override readonly code = ProtocolErrorCode.InvalidBody;
  constructor(message = 'invalid message body') {
    super(message);
    this.name = 'InvalidBodyError';
  }
}
