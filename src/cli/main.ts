/**
 * The `swarmlab` executable: tracker, peer, ctl, demo, bench, soak, ping.
 */
import { parseArgs } from 'node:util';
import { TrackerServer, DEFAULT_TRACKER_PORT } from '../tracker/tracker-server';
import { errorMessage } from '../shared/errors';
import { createLogger } from '../shared/logger';
import { MetricsServer } from '../shared/metrics-server';
import { runCtl } from './ctl';
import { runPeer } from './daemon';
import { runDemo } from './demo';
import { err, out } from './output';
import { peerConfig } from './peer-config';
import { pingTracker } from './ping';

const USAGE = `usage: swarmlab COMMAND [OPTIONS]

  tracker [--host H] [--port 7070] [--heartbeat-ms 5000] [--metrics-port P] [--trust-advertised-host]
  peer --tracker HOST:PORT [--dir DIR] [--name NAME] [--port P] [--control PATH]
       [--chunk-size 256K] [--upload-rate R] [--download-rate R] [--host H] [--daemon]
       [--picker rarest|random|sequential|PATH] [--picker-isolation worker|none] [--endgame on|off] [--super-seed auto|on|off]
       [--uploader default|tit-for-tat|PATH] [--free-ride]
       [--max-inflight 16] [--metrics-port P] [--idle-timeout-ms 120000] [--tracker-lease] [--faults delay=MS,drop=SHARE,corrupt=SHARE] [--control-tcp HOST:PORT (needs SWARMLAB_CONTROL_TOKEN)]
       [--link-default latencyMs=MS,jitterMs=MS,bandwidth=R] [--link HOST[:PORT]=latencyMs=MS,... (repeatable)]
  ctl [--socket PATH] [--json] COMMAND [ARGS]
       connect [HOST:PORT] | disconnect | upload | files | download NAME | status
       generate NAME SIZE [--seed S] [--text] | rate [--upload R] [--download R] | faults SPEC
       watch (streams the peer's activity until Ctrl-C)
       ping HOST:PORT [--count 10] (PING round trips to another peer; --json: {"target","rttMs","medianMs"})
       link set TARGET latencyMs=MS,jitterMs=MS,bandwidth=R | link clear [TARGET] | link show
  demo [--json] [--link-default latencyMs=MS,jitterMs=MS,bandwidth=R]
  bench [--json] [--quick] [--lab] [--lab-leechers N] [--lab-tmpfs] [--chunk-kib K] (--lab: also the swarm distribution with the peers as lab containers, needs Docker; --lab-leechers N: that run with N downloaders only, 64 MiB at 512 KiB/s per upload, e.g. 99 for the 100-peer swarm; --lab-tmpfs: the lab peers' data directories on tmpfs, memory instead of the host's disk; --chunk-kib K: the chunk size of a --lab-leechers or --local-leechers run, default 256)
       [--local-leechers N [--local-mib M]] (only that swarm as local processes: 1 seeder + N leechers, M MiB (default 8), 256 KiB chunks, 512 KiB/s per upload)
       [--only ceiling,pair,demo,swarm,tracker,bittorrent] (those sections only, their raw results as one JSON line)
  soak [--minutes 10] [--peers 30] [--seed N] [--no-hostile] (a tracker and N peers on 127.0.0.1 under churn; one JSON line; exit 1 when memory grew, a file is corrupt or lost, or a process crashed)
  ping HOST:PORT

Peers also read SWARMLAB_TRACKER, SWARMLAB_DIR, SWARMLAB_NAME, SWARMLAB_PORT, SWARMLAB_CONTROL,
SWARMLAB_CHUNK_SIZE, SWARMLAB_UPLOAD_RATE, SWARMLAB_DOWNLOAD_RATE, SWARMLAB_AUTOCONNECT, SWARMLAB_AUTOPUBLISH,
SWARMLAB_TRACKER_LEASE, SWARMLAB_PICKER, SWARMLAB_ENDGAME, SWARMLAB_SUPER_SEED, SWARMLAB_MAX_INFLIGHT
(docs/strategies.md), SWARMLAB_LINK_DEFAULT, SWARMLAB_LINKS (HOST=SPEC;...).
The tracker reads SWARMLAB_TRUST_ADVERTISED_HOST=1 (as --trust-advertised-host: take REGISTER's host,
e.g. behind a proxy or NAT, instead of the address the tracker sees).
Logs: LOG_FORMAT=json for JSON lines, LOG_LEVEL=debug|info|warn|error.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'tracker': {
      const { values } = parseArgs({
        args: rest,
        options: {
          host: { type: 'string' },
          port: { type: 'string' },
          'heartbeat-ms': { type: 'string' },
          'metrics-port': { type: 'string' },
          'trust-advertised-host': { type: 'boolean' },
        },
      });
      const metricsPort = values['metrics-port'] ?? process.env['SWARMLAB_METRICS_PORT'];
      const tracker = new TrackerServer({
        host: values.host ?? process.env['SWARMLAB_TRACKER_HOST'] ?? '0.0.0.0',
        port: Number(values.port ?? process.env['SWARMLAB_TRACKER_PORT'] ?? DEFAULT_TRACKER_PORT),
        ...(values['heartbeat-ms'] ? { heartbeatMs: Number(values['heartbeat-ms']) } : {}),
        metrics: metricsPort !== undefined,
        trustAdvertisedHost: values['trust-advertised-host'] ?? process.env['SWARMLAB_TRUST_ADVERTISED_HOST'] === '1',
      });
      await tracker.start();
      if (tracker.metrics) {
        try {
          await new MetricsServer(tracker.metrics.registry, createLogger('tracker')).start(values.host ?? '0.0.0.0', Number(metricsPort));
        } catch (error) {
          await tracker.stop();
          throw error;
        }
      }
      const stop = (): void => void tracker.stop().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      await new Promise<never>(() => undefined);
      return 0;
    }
    case 'peer': {
      const { values } = parseArgs({
        args: rest,
        options: {
          tracker: { type: 'string' },
          dir: { type: 'string' },
          name: { type: 'string' },
          port: { type: 'string' },
          host: { type: 'string' },
          control: { type: 'string' },
          'chunk-size': { type: 'string' },
          'upload-rate': { type: 'string' },
          'download-rate': { type: 'string' },
          'advertise-host': { type: 'string' },
          faults: { type: 'string' },
          'control-tcp': { type: 'string' },
          'max-inflight': { type: 'string' },
          'metrics-port': { type: 'string' },
          'idle-timeout-ms': { type: 'string' },
          'auto-connect': { type: 'boolean' },
          'auto-publish': { type: 'boolean' },
          'tracker-lease': { type: 'boolean' },
          picker: { type: 'string' },
          'picker-isolation': { type: 'string' },
          uploader: { type: 'string' },
          'free-ride': { type: 'boolean' },
          endgame: { type: 'string' },
          'super-seed': { type: 'string' },
          link: { type: 'string', multiple: true },
          'link-default': { type: 'string' },
          daemon: { type: 'boolean' },
        },
      });
      await runPeer(peerConfig(values), values.daemon ? 'daemon' : 'console');
      return 0;
    }
    case 'ctl': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          socket: { type: 'string' },
          json: { type: 'boolean' },
          seed: { type: 'string' },
          text: { type: 'boolean' },
          upload: { type: 'string' },
          download: { type: 'string' },
          count: { type: 'string' },
        },
      });
      const socket = values.socket ?? process.env['SWARMLAB_CONTROL'] ?? peerConfig({}).control;
      const [ctlCommand, ...args] = positionals;
      return runCtl(ctlCommand, args, {
        socket,
        json: values.json === true,
        ...(values.seed ? { seed: values.seed } : {}),
        ...(values.text ? { text: true } : {}),
        ...(values.upload ? { upload: values.upload } : {}),
        ...(values.download ? { download: values.download } : {}),
        ...(values.count ? { count: values.count } : {}),
      });
    }
    case 'demo': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' }, 'link-default': { type: 'string' } } });
      return runDemo({
        json: values.json === true,
        cliPath: process.argv[1] ?? __filename,
        ...(values['link-default'] === undefined ? {} : { linkDefault: values['link-default'] }),
      });
    }
    case 'bench': {
      const { runBench } = await import('../bench/run-bench.js');
      return runBench(rest, { cliPath: process.argv[1] ?? __filename });
    }
    case 'soak': {
      const { runSoak } = await import('../soak/run-soak.js');
      return runSoak(rest, { cliPath: process.argv[1] ?? __filename });
    }
    case 'ping': {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
      const files = await pingTracker(positionals[0] ?? `127.0.0.1:${DEFAULT_TRACKER_PORT}`);
      out(`tracker answers; ${files} files`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return command === undefined ? 2 : 0;
    default:
      err(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

// `swarmlab ctl status | head` closes our stdout early: that is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const logger = createLogger('cli');
    logger.debug('fatal', { stack: (error as Error).stack });
    err(`swarmlab: ${errorMessage(error)}`);
    process.exitCode = 1;
  },
);
