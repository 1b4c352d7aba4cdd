/**
 * Leased registrations (`swarmlab peer --tracker-lease`) with real processes: an idle leased seeder
 * parks its tracker connection (the tracker then holds no socket for it, by the tracker's own
 * metrics), stays listed heartbeat after heartbeat by renewing on short connections, serves a download
 * while parked, reopens the connection for its next request, and after the tracker is killed and
 * restarted registers anew and re-announces its files by itself.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/shared/free-port';
import { assertBuilt, createSwarm, dumpLogs, sha256File, waitFor } from '../helpers/local';
import type { LoggedSwarm } from '../helpers/local';

jest.setTimeout(90_000);

const CHUNK = 16_384;
const CHUNKS = 24;
/** Long enough that a loaded machine does not stall a peer past the three heartbeats of a lease. */
const HEARTBEAT_MS = 1_000;


async function trackerGauges(metricsPort: number): Promise<{ connections: number; peers: number; expired: number }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const sample = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    connections: sample('swarmlab_tracker_connections'),
    peers: sample('swarmlab_tracker_peers'),
    expired: sample('swarmlab_tracker_expired_peers_total'),
  };
}

describe('leased tracker registrations (--tracker-lease)', () => {
  let logged: LoggedSwarm;

  beforeAll(async () => {
    assertBuilt();
    logged = await createSwarm();
  });

  afterAll(async () => {
    dumpLogs(logged.logs);
    await logged.swarm.stop();
  });

  test('an idle leased seeder holds no tracker socket, stays listed, serves, and survives a tracker restart', async () => {
    const { swarm } = logged;
    const metricsPort = await freePort();
    const trackerArgs = ['--heartbeat-ms', String(HEARTBEAT_MS), '--metrics-port', String(metricsPort)];
    await swarm.startTracker(0, trackerArgs);
    const trackerPort = swarm.trackerPort;
    await swarm.startPeer('seed', { chunkSize: CHUNK, extraArgs: ['--tracker-lease'] });
    await swarm.startPeer('viewer', { chunkSize: CHUNK });
    await swarm.control('seed', 'connect');
    await swarm.control('viewer', 'connect');
    const { sha256 } = (await swarm.control('seed', 'generate', { name: 'lease.bin', size: CHUNKS * CHUNK })) as { sha256: string };
    // Checked against the publisher's bytes on disk, so the comparisons below are too.
    expect(await sha256File(path.join(swarm.peer('seed').dir, 'lease.bin'))).toBe(sha256);
    await swarm.control('seed', 'upload');

    // Idle for two heartbeats, the seeder closes its connection: only the viewer's stays open.
    await waitFor(async () => (await swarm.control('seed', 'status')).trackerLink === 'parked' || undefined, 20_000, 100);
    await waitFor(async () => {
      const gauges = await trackerGauges(metricsPort);
      return (gauges.connections === 1 && gauges.peers === 2) || undefined;
    }, 20_000, 100);

    // Several lease lengths (three heartbeats each) later it is still listed, by its renewals alone.
    await sleep(6 * HEARTBEAT_MS);
    expect((await trackerGauges(metricsPort)).expired).toBe(0);
    const listed = (await swarm.control('viewer', 'files')).files as Array<{ name: string; holders: number }>;
    expect(listed).toEqual([expect.objectContaining({ name: 'lease.bin', holders: 1 })]);

    // It serves while parked: the data path never needed the tracker connection.
    const done = await swarm.control('viewer', 'download', { name: 'lease.bin' });
    expect(done.verified).toBe(true);
    expect(done.sha256).toBe(sha256);
    expect(await sha256File(done.path as string)).toBe(sha256);
    expect(done.chunksBySource).toEqual({ seed: CHUNKS });

    // Its next request reopens the connection.
    expect((await swarm.control('seed', 'files')).files).toEqual([expect.objectContaining({ name: 'lease.bin' })]);
    expect((await swarm.control('seed', 'status')).trackerLink).toBe('open');

    // A new tracker knows no lease: the seeder's renewal is refused, so it registers anew and
    // re-announces; the viewer reconnects as a bound peer does.
    await swarm.stopTracker('SIGKILL');
    await swarm.startTracker(trackerPort, trackerArgs);
    const row = await waitFor(async () => {
      const answer = await swarm.call('viewer', 'files');
      if (!answer.ok) return undefined;
      const files = (answer.result as { files: Array<{ name: string; holders: number; seeders: number }> }).files;
      return files.find((file) => file.name === 'lease.bin' && file.seeders === 2);
    }, 30_000, 250);
    expect(row).toMatchObject({ name: 'lease.bin', holders: 2, seeders: 2 });
    expect((await swarm.control('seed', 'status')).connected).toBe(true);

    // Stopped cleanly, it ends its lease itself (UNREGISTER) rather than leave it to expire.
    await swarm.stopPeer('seed');
    const left = await waitFor(async () => {
      const files = (await swarm.control('viewer', 'files')).files as Array<{ name: string; holders: number }>;
      return files.find((file) => file.name === 'lease.bin' && file.holders === 1);
    }, 20_000, 100);
    expect(left).toBeDefined();
    expect((await trackerGauges(metricsPort)).expired).toBe(0);
  });
});
