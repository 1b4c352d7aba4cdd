/**
 * A `when: holders` trigger on real containers: the two seeders hold every chunk, one is paused, and the
 * moment a chunk is left with a single holder that holder is killed (`peer: $holder`). The download in
 * flight survives: the paused seeder comes back and serves the rest. The shipped last-holder scenario runs
 * in lab-all-scenarios.test.ts. Needs Docker.
 */
import { replayScenario } from '../../lab/commands';
import { RunRecorder } from '../../lab/observe/run-events';
import { validateScenario } from '../../lab/scenario/load';
import { setLogLevel } from '../../src/shared/logger';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 180_000;

const SCENARIO = {
  name: 'holder-killed',
  peers: [{ name: 'peer-1', uploadRate: 131072 }, { name: 'peer-2', uploadRate: 131072 }, { name: 'peer-3' }],
  chunkSize: 16384,
  timeoutSeconds: 150,
  steps: [
    { action: 'connect', peers: 'all' },
    {
      action: 'generate',
      peers: ['peer-1', 'peer-2'],
      file: 'payload.bin',
      size: 1048576,
      seed: 'holder',
      text: false,
    },
    { action: 'publish', peers: ['peer-1', 'peer-2'] },
    { action: 'download', peer: 'peer-3', file: 'payload.bin', wait: false },
    { action: 'pause', peer: 'peer-1', after: 1 },
    {
      action: 'kill',
      peer: '$holder',
      fault: true,
      when: { holders: { file: 'payload.bin', atMost: 1, includeComplete: true }, within: 30 },
    },
    { action: 'unpause', peer: 'peer-1', after: 1 },
    { action: 'wait', peer: 'peer-3', timeoutSeconds: 120 },
    { action: 'assert', peer: 'peer-3', file: 'payload.bin', verified: true, sourcesInclude: ['peer-1', 'peer-2'] },
    { action: 'assert', peer: 'peer-2', running: false },
  ],
};

describe('when: triggers (containers)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const { controller, abort, ctx } = createLabTestContext();
  const run = `trigger-test-${process.pid}`;

  afterAll(async () => {
    abort.abort();
    await controller.down(run);
  });

  it('kills $holder once a chunk has one holder left, and the download in flight survives', async () => {
    const recorder = new RunRecorder();
    const report = await replayScenario(ctx, validateScenario(SCENARIO), { run, recorder, printChunks: false });
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);

    const events = recorder.events;
    const trigger = events.find((e) => e.type === 'trigger');
    // peer-1 is paused, so the chunks peer-3 still lacks are held by peer-2 alone: it fired the trigger.
    expect(trigger).toMatchObject({
      index: 5,
      holder: 'peer-2',
      reason: expect.stringMatching(/held only by peer-2$/),
    });
    const paused = events.find((e) => e.type === 'node' && e.name === 'peer-1' && e.state === 'paused');
    expect(paused).toBeDefined();
    expect(trigger!.seq).toBeGreaterThan(paused!.seq);
    expect(report.steps[5]).toMatchObject({ action: 'kill', targets: ['peer-2'], ok: true });
    const download = report.downloads.find((d) => d.peer === 'peer-3');
    expect(download?.verified).toBe(true);
    // The download was in flight when the holder died: chunks came from it before, from peer-1 after.
    expect(download?.chunksBySource['peer-2']).toBeGreaterThan(0);
    expect(download?.chunksBySource['peer-1']).toBeGreaterThan(0);
  });
});
