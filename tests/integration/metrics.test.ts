/**
 * Prometheus metrics (issue 6): a real tracker and peers with --metrics-port, scraped over HTTP after
 * a download; the counters match what the control socket reported.
 */
import { freePort } from '../../src/shared/free-port';
import { createSwarm } from '../helpers/local';
import type { LoggedSwarm } from '../helpers/local';

jest.setTimeout(60_000);


async function scrape(port: number): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(response.status).toBe(200);
  const samples = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const match = /^(swarmlab_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

describe('metrics', () => {
  let logged: LoggedSwarm;
  const ports = { tracker: 0, seed: 0, leech: 0 };

  beforeAll(async () => {
    logged = await createSwarm();
    ports.tracker = await freePort();
    ports.seed = await freePort();
    ports.leech = await freePort();
    await logged.swarm.startTracker(0, ['--metrics-port', String(ports.tracker)]);
    await logged.swarm.startPeer('seed', { chunkSize: 16384, extraArgs: ['--metrics-port', String(ports.seed)] });
    await logged.swarm.startPeer('leech', { chunkSize: 16384, extraArgs: ['--metrics-port', String(ports.leech)] });
  });

  afterAll(async () => {
    await logged.swarm.stop();
  });

  test('counters follow a download, and the tracker counts peers, files and requests', async () => {
    const { swarm } = logged;
    await swarm.control('seed', 'connect');
    await swarm.control('leech', 'connect');
    await swarm.control('seed', 'generate', { name: 'm.bin', size: 320 * 1024, seed: 'metrics' });
    await swarm.control('seed', 'upload');
    const result = await swarm.control('leech', 'download', { name: 'm.bin' });
    expect(result['verified']).toBe(true);

    const leech = await scrape(ports.leech);
    expect(leech.get('swarmlab_peer_chunks_received_total{peer="leech"}')).toBe(20);
    expect(leech.get('swarmlab_peer_bytes_downloaded_total{peer="leech"}')).toBe(320 * 1024);
    expect(leech.get('swarmlab_peer_verification_failures_total{peer="leech"}')).toBe(0);
    expect(leech.get('swarmlab_peer_download_progress_ratio{file="m.bin",peer="leech"}')).toBe(1);
    expect(leech.get('swarmlab_peer_tracker_connected{peer="leech"}')).toBe(1);

    const seed = await scrape(ports.seed);
    expect(seed.get('swarmlab_peer_chunks_served_total{peer="seed"}')).toBe(20);
    expect(seed.get('swarmlab_peer_bytes_uploaded_total{peer="seed"}')).toBe(320 * 1024);

    const tracker = await scrape(ports.tracker);
    expect(tracker.get('swarmlab_tracker_peers')).toBe(2);
    expect(tracker.get('swarmlab_tracker_files')).toBe(1);
    expect(tracker.get('swarmlab_tracker_requests_total{type="Register"}')).toBe(2);
    expect(tracker.get('swarmlab_tracker_requests_total{type="Publish"}')).toBe(1);
  });

  test('anything but GET /metrics is a 404', async () => {
    const response = await fetch(`http://127.0.0.1:${ports.seed}/`);
    expect(response.status).toBe(404);
  });
});
