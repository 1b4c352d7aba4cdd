/**
 * `files` and `download` while the tracker link is reconnecting (issue 19): they wait for the link, up to
 * TRACKER_LINK_WAIT_MS, and then fail with the typed ERR_TRACKER_UNAVAILABLE. Real processes: the tracker
 * is killed and started again on the same port while a `files` call is in flight.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { TRACKER_LINK_WAIT_MS } from '../../src/peer/peer-node';
import { assertBuilt, createSwarm, dumpLogs, waitFor } from '../helpers/local';

jest.setTimeout(60_000);

/** Kills the tracker and waits until `peers` have noticed (their link is down and reconnecting). */
async function killTracker(swarm: LocalSwarm, peers: string[]): Promise<void> {
  await swarm.stopTracker('SIGKILL');
  for (const peer of peers) await waitFor(async () => (await swarm.control(peer, 'status')).connected === false, 10_000, 50);
}

describe('commands while the tracker link is reconnecting (issue 19)', () => {
  let swarm: LocalSwarm;
  let logs: string[];

  beforeAll(() => assertBuilt());

  beforeEach(async () => {
    ({ swarm, logs } = await createSwarm());
    await swarm.startTracker();
  });

  afterEach(async () => {
    dumpLogs(logs);
    await swarm.stop();
  });

  test('a files call issued during the reconnect succeeds once the tracker is back within the bound', async () => {
    const port = swarm.trackerPort;
    await swarm.startPeer('p1');
    await swarm.control('p1', 'connect');

    await killTracker(swarm, ['p1']);
    const issuedAtMs = Date.now();
    const files = swarm.call('p1', 'files');
    await sleep(500);
    await swarm.startTracker(port);

    expect(await files).toMatchObject({ ok: true, result: { files: [] } });
    expect(Date.now() - issuedAtMs).toBeLessThan(TRACKER_LINK_WAIT_MS);
  });

  test('files fails with ERR_TRACKER_UNAVAILABLE once the bound is up and the tracker is still away', async () => {
    await swarm.startPeer('p1');
    await swarm.control('p1', 'connect');
    await killTracker(swarm, ['p1']);

    const issuedAtMs = Date.now();
    const response = await swarm.call('p1', 'files');
    const waitedMs = Date.now() - issuedAtMs;
    expect(response).toMatchObject({ ok: false, error: { code: 'ERR_TRACKER_UNAVAILABLE' } });
    expect(waitedMs).toBeGreaterThanOrEqual(TRACKER_LINK_WAIT_MS - 100);
    expect(waitedMs).toBeLessThan(TRACKER_LINK_WAIT_MS + 3_000);
    // A peer the user disconnected does not wait: it is not reconnecting.
    await swarm.control('p1', 'disconnect');
    const startedAtMs = Date.now();
    expect(await swarm.call('p1', 'files')).toMatchObject({ ok: false, error: { code: 'ERR_NOT_CONNECTED' } });
    expect(Date.now() - startedAtMs).toBeLessThan(1_000);
  });
});
