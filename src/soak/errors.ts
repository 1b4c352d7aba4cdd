/**
 * Codes the soak counts in its `errors` map for what went wrong on its own side (the peers' and the
 * control socket's codes are counted as they come). Stable: they are keys of the soak's JSON line.
 */
export const SoakErrorCode = {
  /** An error without a code of its own. */
  Unknown: 'ERR_UNKNOWN',
  PeerDown: 'ERR_SOAK_PEER_DOWN',
  NotPublished: 'ERR_SOAK_NOT_PUBLISHED',
  DownloadTimeout: 'ERR_SOAK_DOWNLOAD_TIMEOUT',
  /** A peer named a downloaded file outside its own folder: the soak refuses to read it. */
  PathOutside: 'ERR_SOAK_PATH_OUTSIDE',
} as const;
export type SoakErrorCode = (typeof SoakErrorCode)[keyof typeof SoakErrorCode];
