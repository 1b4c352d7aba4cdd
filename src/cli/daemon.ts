/**
 * Runs a peer: the node, its control socket, and either the console or nothing (--daemon).
 */
import { createLogger, setLogLevel } from '../shared/logger';
import { errorMessage } from '../shared/errors';
import { ControlServer } from '../control/control-server';
import { PeerNode } from '../peer/peer-node';
import { loadPicker } from '../peer/picker-loader';
import { loadUploader } from '../peer/uploader-loader';
import { MetricsServer } from '../shared/metrics-server';
import { runConsole } from './console';
import type { PeerConfig } from './peer-config';

export async function runPeer(config: PeerConfig, mode: 'daemon' | 'console'): Promise<void> {
  // On a terminal the prompt and progress bars matter more than info logs (LOG_LEVEL overrides).
  if (mode === 'console' && process.stdin.isTTY && process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');
  const logger = createLogger('peer', config.name ? { peer: config.name } : {});
  // Before anything listens: a picker module that does not load or answers nonsense fails the start.
  const picker =
    config.picker === undefined
      ? undefined
      : await loadPicker(config.picker, {
          logger,
          ...(config.pickerIsolation ? { isolation: config.pickerIsolation } : {}),
        });
  if (picker?.custom) logger.info('custom picker loaded', { picker: picker.name, isolation: picker.isolation });
  const uploader = config.uploader === undefined ? undefined : await loadUploader(config.uploader, { logger });
  if (uploader?.custom) logger.info('custom uploader loaded', { uploader: uploader.name });
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
    ...(picker?.pick ? { picker: picker.pick } : {}),
    ...(picker?.pickerFor ? { pickerFor: picker.pickerFor } : {}),
    ...(uploader?.policy ? { uploader: uploader.policy } : {}),
    ...(config.freeRide ? { freeRide: true } : {}),
    ...(config.endgame === 'off' ? { endgame: false } : {}),
    ...(config.superSeed ? { superSeed: config.superSeed } : {}),
    metrics: config.metricsPort !== undefined,
    ...(config.idleTimeoutMs ? { idleTimeoutMs: config.idleTimeoutMs } : {}),
    ...(config.trackerLease ? { trackerLease: true } : {}),
    controlPath: config.control,
    ...(config.links ? { links: config.links } : {}),
  });
  // Everything started so far, stopped in reverse order on shutdown or when a later part fails to
  // start (a port or socket in use), so that a failed start leaves no listener behind and exits.
  const started: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
    started.length = 0;
  };
  if (picker?.close) started.push(picker.close);
  if (uploader?.close) started.push(uploader.close);
  try {
    await node.start();
    started.push(() => node.stop());
    if (node.metrics) {
      const metricsServer = new MetricsServer(node.metrics.registry, logger);
      await metricsServer.start(config.host, config.metricsPort ?? 0);
      started.push(() => metricsServer.stop());
    }
    // Only a control socket we listened on is ours to remove: one in use belongs to another peer.
    const control = new ControlServer(node, { path: config.control }, logger);
    await control.start();
    started.push(() => control.stop());
    if (config.controlTcp) {
      const tcpControl = new ControlServer(node, { ...config.controlTcp, token: config.controlToken ?? '' }, logger);
      await tcpControl.start();
      started.push(() => tcpControl.stop());
    }
  } catch (error) {
    await stopAll();
    throw error;
  }

  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await stopAll();
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
