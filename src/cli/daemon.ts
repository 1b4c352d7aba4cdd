/**
 * Runs a peer: the node, its control socket, and either the console or nothing (--daemon).
 */
import { createLogger, setLogLevel } from '../shared/logger';
import { errorMessage } from '../shared/errors';
import { ControlServer } from '../control/control-server';
import { PeerNode } from '../peer/peer-node';
import { MetricsServer } from '../shared/metrics-server';
import { runConsole } from './console';
import type { PeerConfig } from './peer-config';

export async function runPeer(config: PeerConfig, mode: 'daemon' | 'console'): Promise<void> {
  // On a terminal the prompt and progress bars matter more than info logs (LOG_LEVEL overrides).
  if (mode === 'console' && process.stdin.isTTY && process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');
  const logger = createLogger('peer', config.name ? { peer: config.name } : {});
  const node = new PeerNode({
    dir: config.dir,
    port: config.port,
    host: config.host,
    uploadRateBps: config.uploadRate,
    downloadRateBps: config.downloadRate,
    ...(config.name ? { name: config.name } : {}),
    ...(config.tracker ? { tracker: config.tracker } : {}),
    ...(config.chunkSize ? { chunkSize: config.chunkSize } : {}),
    ...(config.advertiseHost ? { advertiseHost: config.advertiseHost } : {}),
    ...(config.faults ? { faults: config.faults } : {}),
    ...(config.maxInflight ? { maxInflightPerSource: config.maxInflight } : {}),
    metrics: config.metricsPort !== undefined,
  });
  await node.start();
  const metricsServer = node.metrics ? new MetricsServer(node.metrics.registry, logger) : undefined;
  await metricsServer?.start(config.host, config.metricsPort ?? 0);
  const control = new ControlServer(node, { path: config.control }, logger);
  const tcpControl = config.controlTcp ? new ControlServer(node, { ...config.controlTcp, token: config.controlToken ?? '' }, logger) : undefined;
  try {
    await control.start();
    await tcpControl?.start();
  } catch (error) {
    // Without its control socket a peer cannot be driven: stop the node so the process exits. (The
    // socket path is left alone: it belongs to the peer that is using it.)
    await metricsServer?.stop().catch(() => undefined);
    await node.stop();
    throw error;
  }

  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await control.stop().catch(() => undefined);
    await tcpControl?.stop().catch(() => undefined);
    await metricsServer?.stop().catch(() => undefined);
    await node.stop().catch(() => undefined);
  };
  process.once('SIGTERM', () => void shutdown().then(() => process.exit(0)));
  process.once('SIGINT', () => void shutdown().then(() => process.exit(0)));

  if (config.autoConnect) await autoStart(node, config, logger);

  if (mode === 'console') {
    await runConsole(node);
    await shutdown();
    return;
  }
  // Daemon: live until a signal.
  await new Promise<never>(() => undefined);
}

/** SWARMLAB_AUTOCONNECT / SWARMLAB_AUTOPUBLISH: retry until the tracker is up (containers start in any order). */
async function autoStart(node: PeerNode, config: PeerConfig, logger: ReturnType<typeof createLogger>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await node.connect();
      break;
    } catch (error) {
      if (attempt % 5 === 1) logger.warn('tracker not reachable yet; retrying', { reason: errorMessage(error) });
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * attempt)));
    }
  }
  if (config.autoPublish) {
    await node.upload().catch((error: unknown) => logger.info('nothing published at start', { reason: errorMessage(error) }));
  }
}
