/** The tracker's Prometheus metrics: peers, files, requests and refusals by type. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class TrackerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'type'>;
  readonly refused: Counter<'code'>;
  readonly expired: Counter;

  constructor(counts: { peers: () => number; files: () => number; connections: () => number }) {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    new Gauge({
      name: 'swarmlab_tracker_peers',
      help: 'Registered peers',
      registers,
      collect() {
        this.set(counts.peers());
      },
    });
    new Gauge({
      name: 'swarmlab_tracker_files',
      help: 'Files in the catalogue',
      registers,
      collect() {
        this.set(counts.files());
      },
    });
    new Gauge({
      name: 'swarmlab_tracker_connections',
      help: 'Open connections',
      registers,
      collect() {
        this.set(counts.connections());
      },
    });
    this.requests = new Counter({
      name: 'swarmlab_tracker_requests_total',
      help: 'Messages handled, by type',
      labelNames: ['type'],
      registers,
    });
    this.refused = new Counter({
      name: 'swarmlab_tracker_refused_total',
      help: 'Requests answered with ERROR, by code',
      labelNames: ['code'],
      registers,
    });
    this.expired = new Counter({
      name: 'swarmlab_tracker_expired_peers_total',
      help: 'Peers expired after missed heartbeats',
      registers,
    });
  }
}
