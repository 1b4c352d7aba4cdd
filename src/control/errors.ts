/**
 * Codes of the control socket, on both ends. The server's go out in `{ error: { code } }` and the
 * client's reach the CLI's and the lab's JSON, so each keeps its exact string.
 */
export const ControlErrorCode = {
  /** Another live peer already listens on the control socket's path. */
  InUse: 'ERR_CONTROL_IN_USE',
  LineTooLong: 'ERR_LINE_TOO_LONG',
  BadRequest: 'ERR_BAD_REQUEST',
  Unauthorized: 'ERR_UNAUTHORIZED',
  Timeout: 'ERR_CONTROL_TIMEOUT',
  Unreachable: 'ERR_CONTROL_UNREACHABLE',
  Closed: 'ERR_CONTROL_CLOSED',
  BadLine: 'ERR_BAD_CONTROL_LINE',
  /** The control socket's directory is not ours (or root's), or others may write to it without the sticky bit. */
  DirUnsafe: 'ERR_CONTROL_DIR_UNSAFE',
  /** Something that is not a socket sits at the --control path: it is never replaced. */
  PathTaken: 'ERR_CONTROL_PATH_TAKEN',
} as const;
export type ControlErrorCode = (typeof ControlErrorCode)[keyof typeof ControlErrorCode];
