/** Codes of a bench run that could not measure; the message says which step and why. */
export const BenchErrorCode = {
  Lab: 'ERR_BENCH_LAB',
  Timeout: 'ERR_BENCH_TIMEOUT',
  Sender: 'ERR_BENCH_SENDER',
  Torrent: 'ERR_BENCH_TORRENT',
  Tracker: 'ERR_BENCH_TRACKER',
  Seed: 'ERR_BENCH_SEED',
  Register: 'ERR_BENCH_REGISTER',
  TooManyPeers: 'ERR_BENCH_TOO_MANY_PEERS',
  Config: 'ERR_BENCH_CONFIG',
  Closed: 'ERR_BENCH_CLOSED',
  Aria2: 'ERR_BENCH_ARIA2',
  Libtorrent: 'ERR_BENCH_LIBTORRENT',
  /** A libtorrent node was killed by a signal it did not get from us: a crash inside libtorrent. */
  LibtorrentCrashed: 'ERR_BENCH_LIBTORRENT_CRASHED',
} as const;
export type BenchErrorCode = (typeof BenchErrorCode)[keyof typeof BenchErrorCode];
