/**
 * A peer's Prometheus metrics: bytes and chunks up and down, verification failures, connections,
 * download progress. The PeerNode reports into it; the metrics server exposes it.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class PeerMetrics {
  readonly registry = new Registry();
  readonly bytesUploaded: Counter;
  readonly bytesDownloaded: Counter;
  readonly chunksServed: Counter;
  readonly chunksReceived: Counter;
  readonly verificationFailures: Counter;
  readonly connectedToTracker: Gauge;
  readonly dataConnections: Gauge;
  readonly downloadProgress: Gauge<'file'>;

  constructor(peer: string, dataConnections: () => number) {
    this.registry.setDefaultLabels({ peer });
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.bytesUploaded = new Counter({ name: 'swarmlab_peer_bytes_uploaded_total', help: 'Chunk bytes sent to other peers', registers });
    this.bytesDownloaded = new Counter({ name: 'swarmlab_peer_bytes_downloaded_total', help: 'Verified chunk bytes received', registers });
    this.chunksServed = new Counter({ name: 'swarmlab_peer_chunks_served_total', help: 'Chunks sent to other peers', registers });
    this.chunksReceived = new Counter({ name: 'swarmlab_peer_chunks_received_total', help: 'Verified chunks received', registers });
    this.verificationFailures = new Counter({ name: 'swarmlab_peer_verification_failures_total', help: 'Chunks rejected because their SHA-256 did not match', registers });
    this.connectedToTracker = new Gauge({ name: 'swarmlab_peer_tracker_connected', help: '1 while registered with the tracker', registers });
    this.dataConnections = new Gauge({
      name: 'swarmlab_peer_data_connections',
      help: 'Other peers connected to this peer’s data server',
      registers,
      collect() {
        this.set(dataConnections());
      },
    });
    this.downloadProgress = new Gauge({ name: 'swarmlab_peer_download_progress_ratio', help: 'Share of a download’s chunks held (0..1)', labelNames: ['file'], registers });
  }
}
