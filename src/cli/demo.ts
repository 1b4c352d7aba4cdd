/**
 * `swarmlab demo`: the classic demo as real processes on 127.0.0.1. A tracker and 4 peers; peer-1 and
 * peer-2 publish file1_dir1.txt, peer-3 and peer-4 download it concurrently. Every chunk transfer is
 * printed as "who downloads which chunk from whom", then a verified summary per downloader.
 */
import { LocalSwarm } from './local-swarm';
import type { ControlLine } from '../control/control-schemas';
import { formatBytes, table } from './format';
import { parseLinkFlags } from './link-spec';
import { out } from './output';
import type { DownloadSummary } from '../shared/download-report';

export const DEMO_FILE = 'file1_dir1.txt';
const DEMO_FILE_BYTES = 512 * 1024;
const DEMO_CHUNK_BYTES = 16 * 1024;
/** Slow enough that both publishers are asked, and the interleaving can be seen. */
const DEMO_UPLOAD_RATE = 1024 * 1024;


export async function runDemo(options: { json: boolean; cliPath: string; linkDefault?: string }): Promise<number> {
  // Every peer's links, e.g. latencyMs=40: the demo over a slow network (checked before anything starts).
  if (options.linkDefault !== undefined) parseLinkFlags(options.linkDefault, []);
  const linkArgs = options.linkDefault === undefined ? [] : ['--link-default', options.linkDefault];
  const swarm = await LocalSwarm.create({ cliPath: options.cliPath });
  const cleanup = (): void => void swarm.stop().then(() => process.exit(130));
  process.once('SIGINT', cleanup);
  try {
    await swarm.startTracker();
    out(`tracker listening on ${swarm.trackerAddress}`);
    const names = ['peer-1', 'peer-2', 'peer-3', 'peer-4'];
    const addresses = new Map<string, string>();
    for (const name of names) {
      await swarm.startPeer(name, { chunkSize: DEMO_CHUNK_BYTES, uploadRate: DEMO_UPLOAD_RATE, extraArgs: linkArgs });
      const connected = await swarm.control(name, 'connect');
      const status = await swarm.control(name, 'status');
      addresses.set(name, `127.0.0.1:${String(status['dataPort'])}`);
      out(`${name} c   -> connected as ${String(connected['peerId'])}, serving on ${addresses.get(name)}`);
    }
    let expectedSha = '';
    for (const name of ['peer-1', 'peer-2']) {
      const generated = await swarm.control(name, 'generate', { name: DEMO_FILE, size: DEMO_FILE_BYTES, seed: 'swarmlab-demo', text: true });
      expectedSha = String(generated['sha256']);
      const uploaded = await swarm.control(name, 'upload');
      const published = (uploaded['published'] as Array<{ name: string; chunks: number; fileId: string }>)[0]!;
      out(`${name} u   -> published ${published.name} (${formatBytes(DEMO_FILE_BYTES)}, ${published.chunks} chunks) ${published.fileId.slice(0, 12)}`);
    }
    const listing = await swarm.control('peer-3', 'files');
    const files = listing['files'] as Array<{ name: string; size: number; chunks: number; holders: number }>;
    out('peer-3 f   ->');
    out(table(['NAME', 'SIZE', 'CHUNKS', 'PEERS'], files.map((f) => [f.name, formatBytes(f.size), f.chunks, f.holders])).replace(/^/gm, '  '));

    out(`peer-3 d ${DEMO_FILE} and peer-4 d ${DEMO_FILE}, concurrently:`);
    const onLine =
      (name: string) =>
      (line: ControlLine): void => {
        if (!('event' in line) || line.event !== 'chunk') return;
        const event = line as unknown as { index: number; chunks: number; file: string; from: string; fromAddr: string; ms: number };
        out(`${name} <- chunk ${event.index + 1}/${event.chunks} of ${event.file} from ${event.from} (${event.fromAddr})`);
      };
    const results = await Promise.all(['peer-3', 'peer-4'].map((name) => swarm.control(name, 'download', { name: DEMO_FILE }, onLine(name))));
    const downloads: DownloadSummary[] = results.map((result, i) => ({
      peer: ['peer-3', 'peer-4'][i]!,
      file: String(result['file']),
      bytes: Number(result['bytes']),
      sha256: String(result['sha256']),
      verified: result['verified'] === true && result['sha256'] === expectedSha,
      chunksBySource: result['chunksBySource'] as Record<string, number>,
    }));
    out('');
    out('summary:');
    out(
      table(
        ['PEER', 'FILE', 'BYTES', 'SHA-256', 'VERIFIED', 'CHUNKS BY SOURCE'],
        downloads.map((d) => [d.peer, d.file, d.bytes, `${d.sha256.slice(0, 16)}...`, d.verified ? 'yes' : 'no', Object.entries(d.chunksBySource).map(([k, v]) => `${k}:${v}`).join(' ')]),
      ),
    );
    const ok = downloads.every((d) => d.verified);
    if (options.json) out(JSON.stringify({ downloads }));
    return ok ? 0 : 1;
  } finally {
    process.off('SIGINT', cleanup);
    await swarm.stop();
  }
}
