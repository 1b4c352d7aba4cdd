/**
 * Hand-built run events for the report's unit tests: a small rate-limited run (one seeder, two
 * downloaders) and a builder to make others.
 */
import type { RunEvent, RunEventBody } from '../../lab/observe/run-events';
import type { ScenarioReport } from '../../lab/report-types';

export const RECORDING_STARTED_AT = Date.UTC(2026, 10, 25, 12, 0, 0);

/** Events in order with seq and `at` filled in; each body comes with its `t` (ms since the recording started). */
export function eventsOf(timed: readonly [number, RunEventBody][]): RunEvent[] {
  return timed.map(([t, body], seq) => ({ ...body, seq, t, at: RECORDING_STARTED_AT + t }) as RunEvent);
}

export const FILE = 'rated.bin';
export const FILE_BYTES = 4 * 65536;

/** peer-1 seeds 4 chunks at 64 KiB/s; peer-2 and peer-3 download them, uploading 16 KiB/s each. */
export function ratedRun(): RunEvent[] {
  return eventsOf([
    [1000, { type: 'run', run: 'unit', scenario: 'rated' }],
    [1000, { type: 'node', name: 'tracker', role: 'tracker', ip: '10.0.0.2', state: 'running' }],
    [1000, { type: 'node', name: 'peer-1', role: 'peer', ip: '10.0.0.3', state: 'running' }],
    [1000, { type: 'node', name: 'peer-2', role: 'peer', ip: '10.0.0.4', state: 'running' }],
    [1000, { type: 'node', name: 'peer-3', role: 'peer', ip: '10.0.0.5', state: 'running' }],
    [
      1100,
      { type: 'step', index: 0, total: 3, action: 'generate', targets: ['peer-1'], description: 'g', fault: false },
    ],
    [1200, { type: 'file', peer: 'peer-1', file: FILE, size: FILE_BYTES }],
    [1300, { type: 'rate', peer: 'peer-1', uploadBps: 65536 }],
    [1300, { type: 'rate', peer: 'peer-2', uploadBps: 16384 }],
    [1300, { type: 'rate', peer: 'peer-3', uploadBps: 16384 }],
    [
      2000,
      {
        type: 'step',
        index: 1,
        total: 3,
        action: 'download',
        targets: ['peer-2', 'peer-3'],
        description: `download ${FILE} on peer-2, peer-3`,
        fault: false,
      },
    ],
    [2500, { type: 'transfer', file: FILE, index: 0, chunks: 4, from: 'peer-1', to: 'peer-2', bytes: 65536, ms: 300 }],
    [2600, { type: 'progress', peer: 'peer-2', file: FILE, have: 1, chunks: 4 }],
    [2700, { type: 'transfer', file: FILE, index: 3, chunks: 4, from: 'peer-1', to: 'peer-3', bytes: 65536 }],
    [3000, { type: 'transfer', file: FILE, index: 3, chunks: 4, from: 'peer-3', to: 'peer-2', bytes: 65536 }],
    [3100, { type: 'progress', peer: 'peer-2', file: FILE, have: 2, chunks: 4 }],
    [3200, { type: 'transfer', file: FILE, index: 0, chunks: 4, from: 'peer-2', to: 'peer-3', bytes: 65536 }],
    [4000, { type: 'transfer', file: FILE, index: 1, chunks: 4, from: 'peer-1', to: 'peer-2', bytes: 65536 }],
    [4100, { type: 'transfer', file: FILE, index: 2, chunks: 4, from: 'peer-1', to: 'peer-3', bytes: 65536 }],
    [4600, { type: 'transfer', file: FILE, index: 2, chunks: 4, from: 'peer-3', to: 'peer-2', bytes: 65536 }],
    [4700, { type: 'progress', peer: 'peer-2', file: FILE, have: 4, chunks: 4 }],
    [4800, { type: 'transfer', file: FILE, index: 1, chunks: 4, from: 'peer-2', to: 'peer-3', bytes: 65536 }],
    [5000, { type: 'download', peer: 'peer-2', file: FILE, ok: true, verified: true, bytes: FILE_BYTES, ms: 2600 }],
    [5100, { type: 'download', peer: 'peer-3', file: FILE, ok: true, verified: true, bytes: FILE_BYTES }],
    [5200, { type: 'end', ok: true, ms: 4200 }],
  ]);
}

export function reportOf(overrides: Partial<ScenarioReport> = {}): ScenarioReport {
  return {
    scenario: 'rated',
    ok: true,
    ms: 4200,
    steps: [{ index: 0, action: 'download', targets: ['peer-2', 'peer-3'], ok: true, startedAtMs: 1000, ms: 3100 }],
    downloads: ['peer-2', 'peer-3'].map((peer) => ({
      peer,
      file: FILE,
      bytes: FILE_BYTES,
      sha256: 'ab'.repeat(32),
      verified: true,
      chunksBySource: { 'peer-1': 2 },
    })),
    ...overrides,
  };
}
