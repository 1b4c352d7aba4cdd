/**
 * The tracker client's state machine against a real tracker on 127.0.0.1: which state each event leads
 * to (connect, a failed connect, parking and reopening a lease, losing the tracker and getting it back,
 * disconnecting while connecting or reconnecting), observed through `linkState` and the tracker's own
 * records.
 */
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import winston from 'winston';
import { TrackerClient } from '../../src/peer/tracker-client';
import type { TrackerAddress } from '../../src/peer/tracker-client';
import { freePort } from '../../src/shared/free-port';
import { TrackerServer } from '../../src/tracker/tracker-server';
import { waitFor } from '../helpers/local';

jest.setTimeout(30_000);

const QUIET = winston.createLogger({ silent: true });
/** Short, so that parking (two idle heartbeats) happens within the test. */
const HEARTBEAT_MS = 200;

const trackers: TrackerServer[] = [];
const clients: TrackerClient[] = [];

async function startTracker(port = 0): Promise<TrackerServer> {
  const tracker = new TrackerServer(
    { host: '127.0.0.1', port, heartbeatMs: HEARTBEAT_MS, metrics: true },
    { logger: QUIET },
  );
  await tracker.start();
  trackers.push(tracker);
  return tracker;
}

function client(lease = false): TrackerClient {
  const created = new TrackerClient({ name: 'state', dataPort: () => 9, lease }, QUIET);
  clients.push(created);
  return created;
}

function at(tracker: TrackerServer): TrackerAddress {
  return { host: '127.0.0.1', port: tracker.port };
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const t of trackers.splice(0)) await t.stop();
});

describe('TrackerClient states', () => {
  it('goes idle → connecting → registered, and back to idle on disconnect', async () => {
    const tracker = await startTracker();
    const link = client();
    expect(link.linkState).toBe('idle');
    const connecting = link.connect(at(tracker));
    expect(link.linkState).toBe('connecting');
    const peerId = await connecting;
    expect(link.linkState).toBe('registered');
    expect(link.peerId).toBe(peerId);
    expect(tracker.registry.peerCount).toBe(1);
    await expect(link.connect(at(tracker))).rejects.toMatchObject({ code: 'ERR_ALREADY_CONNECTED' });
    await link.disconnect();
    expect(link.linkState).toBe('idle');
    expect(link.trackerAddress).toEqual(at(tracker));
    await waitFor(() => tracker.registry.peerCount === 0 || undefined, 5_000, 20);
    await expect(link.disconnect()).rejects.toMatchObject({ code: 'ERR_NOT_CONNECTED' });
  });

  it('hangs up a bound registration on close(), so the tracker forgets the peer', async () => {
    const tracker = await startTracker();
    const link = client();
    await link.connect(at(tracker));
    expect(tracker.registry.peerCount).toBe(1);
    link.close();
    expect(link.linkState).toBe('idle');
    expect(link.connected).toBe(false);
    await waitFor(() => tracker.registry.peerCount === 0 || undefined, 5_000, 20);
    // Gone with its connection, not expired later for missing heartbeats on a socket left open.
    expect((await tracker.metrics!.expired.get()).values[0]?.value ?? 0).toBe(0);
  });

  it('returns to idle when the first connect fails', async () => {
    const link = client();
    const port = await freePort();
    await expect(link.connect({ host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'ERR_TRACKER_UNREACHABLE' });
    expect(link.linkState).toBe('idle');
    expect(link.wantsConnection).toBe(false);
  });

  it('does not stay registered when disconnected while connecting', async () => {
    const tracker = await startTracker();
    const link = client();
    const connecting = link.connect(at(tracker));
    const disconnecting = link.disconnect();
    await expect(connecting).rejects.toMatchObject({ code: 'ERR_NOT_CONNECTED' });
    await disconnecting;
    expect(link.linkState).toBe('idle');
    expect(link.connected).toBe(false);
    // The registration made meanwhile was hung up: the tracker forgets it with its connection.
    await waitFor(() => tracker.registry.peerCount === 0 || undefined, 5_000, 20);
  });

  it('parks an idle leased connection and reopens it for a request', async () => {
    const tracker = await startTracker();
    const link = client(true);
    const peerId = await link.connect(at(tracker));
    await waitFor(() => link.linkState === 'parked' || undefined, 10_000, 20);
    expect(link.connected).toBe(true);
    expect(link.peerId).toBe(peerId);
    // Still listed heartbeat after heartbeat, renewed on short connections.
    await sleep(HEARTBEAT_MS * 4);
    expect(link.linkState).toBe('parked');
    expect(tracker.registry.peerCount).toBe(1);
    expect(await link.list()).toEqual([]);
    expect(link.linkState).toBe('registered');
    expect(link.peerId).toBe(peerId);
  });

  it('reconnects with backoff after losing the tracker, and registers again when it is back', async () => {
    const port = await freePort();
    const first = await startTracker(port);
    const link = client();
    await link.connect({ host: '127.0.0.1', port });
    const lost = new Promise<string>((resolve) => link.once('lost', resolve));
    await first.stop();
    await lost;
    expect(link.linkState).toBe('reconnecting');
    expect(link.connected).toBe(false);
    await expect(link.list()).rejects.toMatchObject({ code: 'ERR_TRACKER_UNAVAILABLE' });
    const registered = new Promise<string>((resolve) => link.once('registered', resolve));
    const second = await startTracker(port);
    const peerId = await registered;
    expect(link.linkState).toBe('registered');
    expect(link.peerId).toBe(peerId);
    expect(second.registry.peerCount).toBe(1);
  });

  it('stops retrying once closed while reconnecting', async () => {
    const port = await freePort();
    const first = await startTracker(port);
    const link = client();
    await link.connect({ host: '127.0.0.1', port });
    const lost = new Promise<string>((resolve) => link.once('lost', resolve));
    await first.stop();
    await lost;
    link.close();
    expect(link.linkState).toBe('idle');
    // Something listens on the tracker's port again and counts who knocks.
    let knocks = 0;
    const listener = createServer((socket) => {
      knocks += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(port, '127.0.0.1', resolve));
    try {
      // Longer than the longest backoff (2 s): a retry left running would have knocked by now.
      await sleep(2_500);
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
    expect(knocks).toBe(0);
    expect(link.linkState).toBe('idle');
  });
});
