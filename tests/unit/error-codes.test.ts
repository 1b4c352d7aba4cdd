/**
 * The error code registries of each layer. Peers, control clients, the lab and scripts branch on these
 * strings (ERROR frames, `{ error: { code } }`, the CLI's JSON), so each one is pinned here: renaming a
 * key is free, changing a string is a contract change.
 */
import { BenchErrorCode } from '../../src/bench/errors';
import { CliErrorCode } from '../../src/cli/errors';
import { ControlErrorCode } from '../../src/control/errors';
import { TrackerClientErrorCode } from '../../src/peer/errors';
import { SharedErrorCode } from '../../src/shared/errors';
import { TrackerErrorCode } from '../../src/tracker/errors';

describe('error code registries', () => {
  it.each([
    [
      'tracker',
      TrackerErrorCode,
      [
        'ERR_TOO_MANY_CONNECTIONS',
        'ERR_ALREADY_REGISTERED',
        'ERR_VERSION',
        'ERR_UNEXPECTED_MESSAGE',
        'ERR_NOT_REGISTERED',
        'ERR_TOO_MANY_LEASES',
        'ERR_UNKNOWN_PEER',
        'ERR_UNKNOWN_FILE',
        'ERR_FILE_ID_MISMATCH',
        'ERR_BAD_INDEX',
        'ERR_TOO_MANY_FILES',
        'ERR_TOO_MANY_BUFFERED_BYTES',
        'ERR_FRAME_TIMEOUT',
      ],
    ],
    [
      'control',
      ControlErrorCode,
      [
        'ERR_CONTROL_IN_USE',
        'ERR_LINE_TOO_LONG',
        'ERR_BAD_REQUEST',
        'ERR_UNAUTHORIZED',
        'ERR_CONTROL_TIMEOUT',
        'ERR_CONTROL_UNREACHABLE',
        'ERR_CONTROL_CLOSED',
        'ERR_BAD_CONTROL_LINE',
        'ERR_CONTROL_DIR_UNSAFE',
        'ERR_CONTROL_PATH_TAKEN',
      ],
    ],
    ['cli', CliErrorCode, ['ERR_START_TIMEOUT', 'ERR_START_FAILED', 'ERR_NO_PEER']],
    [
      'bench',
      BenchErrorCode,
      [
        'ERR_BENCH_LAB',
        'ERR_BENCH_TIMEOUT',
        'ERR_BENCH_SENDER',
        'ERR_BENCH_TORRENT',
        'ERR_BENCH_TRACKER',
        'ERR_BENCH_SEED',
        'ERR_BENCH_REGISTER',
        'ERR_BENCH_TOO_MANY_PEERS',
        'ERR_BENCH_CONFIG',
        'ERR_BENCH_CLOSED',
        'ERR_BENCH_ARIA2',
        'ERR_BENCH_LIBTORRENT',
        'ERR_BENCH_LIBTORRENT_CRASHED',
      ],
    ],
    [
      'shared',
      SharedErrorCode,
      ['ERR_CONNECTION_CLOSED', 'ERR_REQUEST_TIMEOUT', 'ERR_CONFIG', 'ERR_INTERNAL', 'ERR_SHORT_READ'],
    ],
    [
      'tracker client',
      TrackerClientErrorCode,
      [
        'ERR_BAD_ADDRESS',
        'ERR_ALREADY_CONNECTED',
        'ERR_NOT_CONNECTED',
        'ERR_TRACKER_UNAVAILABLE',
        'ERR_TRACKER_UNREACHABLE',
        'ERR_PROTOCOL',
        'ERR_UNKNOWN_PEER',
        'ERR_ILLEGAL_TRANSITION',
      ],
    ],
  ])('%s codes keep their strings, one key each', (_layer, registry, codes) => {
    expect(Object.values(registry).sort()).toEqual([...codes].sort());
  });

  it('the tracker client and the tracker spell the forgotten lease alike', () => {
    // The peer never imports the tracker; the wire string is the only link between the two.
    expect(TrackerClientErrorCode.UnknownPeer).toBe(TrackerErrorCode.UnknownPeer);
  });
});
