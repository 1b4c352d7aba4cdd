/**
 * Every code the tracker answers with in an ERROR frame besides the protocol's own (docs/protocol.md).
 * Peers and control clients branch on them, so each keeps its exact string.
 */
export const TrackerErrorCode = {
  TooManyConnections: 'ERR_TOO_MANY_CONNECTIONS',
  AlreadyRegistered: 'ERR_ALREADY_REGISTERED',
  Version: 'ERR_VERSION',
  UnexpectedMessage: 'ERR_UNEXPECTED_MESSAGE',
  NotRegistered: 'ERR_NOT_REGISTERED',
  TooManyLeases: 'ERR_TOO_MANY_LEASES',
  /** A lease the tracker does not know (expired, or the tracker restarted): register again. */
  UnknownPeer: 'ERR_UNKNOWN_PEER',
  UnknownFile: 'ERR_UNKNOWN_FILE',
  FileIdMismatch: 'ERR_FILE_ID_MISMATCH',
  BadIndex: 'ERR_BAD_INDEX',
  TooManyFiles: 'ERR_TOO_MANY_FILES',
  /** One address's connections hold too many bytes of unfinished frames. */
  TooManyBufferedBytes: 'ERR_TOO_MANY_BUFFERED_BYTES',
  /** A frame was not completed in time after its first byte. */
  FrameTimeout: 'ERR_FRAME_TIMEOUT',
} as const;
export type TrackerErrorCode = (typeof TrackerErrorCode)[keyof typeof TrackerErrorCode];
