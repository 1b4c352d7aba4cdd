/**
 * `swarmlab ctl [--socket PATH | tcp://HOST:PORT] [--json] COMMAND [ARGS]`: one request to a running peer.
 * With --json every line received is printed unchanged; otherwise a human rendering.
 */
import { callControl } from '../control/control-client';
import type { ControlCommand, ControlLine } from '../control/control-schemas';
import { ConfigError } from '../shared/errors';
import { formatBytes, parseSize, progressLine, table } from './format';
import { parseLinkConditions } from './link-spec';
import { err, out } from './output';
import { parseFaults } from '../peer/fault-injector';

export interface CtlInit {
  socket: string;
  json: boolean;
  seed?: string;
  text?: boolean;
  upload?: string;
  download?: string;
  /** `ping --count N`. */
  count?: string;
}

function buildRequest(command: string, args: string[], init: CtlInit): { cmd: ControlCommand; args: Record<string, unknown> } {
  const rate = (value: string | undefined): number | null | undefined => (value === undefined ? undefined : value === 'off' ? null : parseSize(value));
  switch (command) {
    case 'connect':
    case 'c':
      return { cmd: 'connect', args: args[0] ? { tracker: args[0] } : {} };
    case 'disconnect':
    case 'q':
      return { cmd: 'disconnect', args: {} };
    case 'upload':
    case 'u':
      return { cmd: 'upload', args: {} };
    case 'files':
    case 'f':
      return { cmd: 'files', args: {} };
    case 'status':
    case 's':
      return { cmd: 'status', args: {} };
    case 'download':
    case 'd': {
      const target = args.join(' ');
      if (!target) throw new ConfigError('usage: swarmlab ctl download NAME');
      return { cmd: 'download', args: /^[0-9a-f]{64}$/.test(target) ? { fileId: target } : { name: target } };
    }
    case 'generate': {
      const [name, size] = args;
      if (!name || !size) throw new ConfigError('usage: swarmlab ctl generate NAME SIZE [--seed S] [--text]');
      return { cmd: 'generate', args: { name, size: parseSize(size), ...(init.seed ? { seed: init.seed } : {}), ...(init.text ? { text: true } : {}) } };
    }
    case 'rate': {
      const upload = rate(init.upload ?? args[0]);
      const download = rate(init.download ?? args[1]);
      return { cmd: 'rate', args: { ...(upload === undefined ? {} : { upload }), ...(download === undefined ? {} : { download }) } };
    }
    case 'faults':
      return { cmd: 'faults', args: { ...parseFaults(args.join(',') || 'drop=0') } };
    case 'watch':
      return { cmd: 'watch', args: {} };
    case 'ping': {
      const [target] = args;
      if (!target) throw new ConfigError('usage: swarmlab ctl ping HOST:PORT [--count N]');
      if (init.count !== undefined && !/^\d+$/.test(init.count)) throw new ConfigError(`--count must be a whole number, not "${init.count}"`);
      return { cmd: 'ping', args: { target, ...(init.count === undefined ? {} : { count: Number(init.count) }) } };
    }
    case 'link':
      return buildLinkRequest(args);
    default:
      throw new ConfigError(`unknown command "${command}" (connect, disconnect, upload, files, download NAME, status, generate NAME SIZE, rate, faults SPEC, watch, ping HOST:PORT, link set|clear|show)`);
  }
}

const LINK_USAGE = 'usage: swarmlab ctl link set TARGET latencyMs=50,jitterMs=5,bandwidth=4M | link clear [TARGET] | link show (TARGET: default, HOST or HOST:PORT)';

function buildLinkRequest(args: string[]): { cmd: ControlCommand; args: Record<string, unknown> } {
  const [action, to, ...spec] = args;
  switch (action) {
    case 'set':
      if (!to || spec.length === 0) throw new ConfigError(LINK_USAGE);
      return { cmd: 'link', args: { action, to, ...parseLinkConditions(spec.join(',')) } };
    case 'clear':
      return { cmd: 'link', args: { action, ...(to ? { to } : {}) } };
    case 'show':
      return { cmd: 'link', args: { action } };
    default:
      throw new ConfigError(LINK_USAGE);
  }
}

function render(cmd: ControlCommand, result: Record<string, unknown>): void {
  switch (cmd) {
    case 'files': {
      const files = result['files'] as Array<{ name: string; size: number; chunks: number; holders: number; seeders: number; fileId: string }>;
      if (files.length === 0) out('no files on the network');
      else out(table(['NAME', 'SIZE', 'CHUNKS', 'PEERS', 'SEEDERS', 'ID'], files.map((f) => [f.name, formatBytes(f.size), f.chunks, f.holders, f.seeders, f.fileId.slice(0, 12)])));
      return;
    }
    case 'upload':
      for (const file of result['published'] as Array<{ name: string; size: number; chunks: number; fileId: string }>) {
        out(`published ${file.name} (${formatBytes(file.size)}, ${file.chunks} chunks) ${file.fileId.slice(0, 12)}`);
      }
      return;
    case 'download':
      out(`downloaded ${String(result['file'])} (${formatBytes(Number(result['bytes']))}) -> ${String(result['path'])}`);
      out(`sha256 ${String(result['sha256'])} verified ${result['verified'] ? 'yes' : 'no'} chunks ${JSON.stringify(result['chunksBySource'])}`);
      return;
    case 'connect':
      out(`connected to ${String(result['tracker'])} as ${String(result['peerId'])}`);
      return;
    case 'disconnect':
      out('disconnected');
      return;
    case 'status':
    case 'generate':
    case 'rate':
    case 'faults':
      out(JSON.stringify(result, null, 2));
      return;
    case 'watch':
      out('watch ended');
      return;
    case 'ping': {
      const rttMs = result['rttMs'] as number[];
      rttMs.forEach((rtt, i) => out(`PONG from ${String(result['target'])}: seq=${i + 1} time=${rtt.toFixed(2)} ms`));
      out(`${rttMs.length} pings, median ${Number(result['medianMs']).toFixed(2)} ms`);
      return;
    }
    case 'link': {
      const links = result['links'] as Array<{ to: string; latencyMs: number; jitterMs: number; bandwidth: number | null }>;
      if (links.length === 0) out('no emulated links (every frame is sent at once)');
      else out(table(['TO', 'LATENCY', 'JITTER', 'BANDWIDTH'], links.map((l) => [l.to, `${l.latencyMs} ms`, `${l.jitterMs} ms`, l.bandwidth === null ? 'uncapped' : `${formatBytes(l.bandwidth)}/s`])));
      return;
    }
    default: {
      const unreachable: never = cmd;
      out(String(unreachable));
    }
  }
}

/** One human line per `watch` event (progress lines are left out: the chunk lines already show it). */
function describeActivity(line: Record<string, unknown>): string | undefined {
  const file = String(line['file'] ?? line['fileId'] ?? '?');
  switch (line['event']) {
    case 'held':
      return `holds ${file} (${String(line['have'])}/${String(line['chunks'])} chunks${line['complete'] ? ', complete' : ''})`;
    case 'published':
      return `published ${file} (${formatBytes(Number(line['size']))}, ${String(line['chunks'])} chunks)`;
    case 'download-started':
      return `download of ${file} started`;
    case 'chunk':
      return `<- chunk ${Number(line['index']) + 1}/${String(line['chunks'])} of ${file} from ${String(line['from'])} (${String(line['fromAddr'])}), ${formatBytes(Number(line['bytes']))} in ${String(line['ms'])} ms`;
    case 'download-finished':
      return line['succeeded']
        ? `download of ${file} finished: ${formatBytes(Number(line['bytes']))}, verified ${line['verified'] ? 'yes' : 'NO'}, chunks ${JSON.stringify(line['chunksBySource'])}`
        : `download of ${file} failed: ${String(line['error'])} (${String(line['code'])})`;
    default:
      return undefined;
  }
}

/** Returns the process exit code. */
export async function runCtl(command: string | undefined, args: string[], init: CtlInit): Promise<number> {
  if (!command) throw new ConfigError('usage: swarmlab ctl [--socket PATH] [--json] COMMAND [ARGS]');
  const request = buildRequest(command, args, init);
  const onLine = (line: ControlLine): void => {
    if (init.json) {
      if (!('ok' in line)) out(JSON.stringify(line));
      return;
    }
    if (request.cmd === 'watch' && 'event' in line) {
      const text = describeActivity(line);
      if (text !== undefined) out(text);
      return;
    }
    if ('event' in line && line.event === 'progress' && process.stderr.isTTY) {
      const progress = line as unknown as { bytes: number; size: number; rateBps: number };
      process.stderr.write(`\r${progressLine(String(args.join(' ')), progress.bytes, progress.size, progress.rateBps)}`);
    }
  };
  // A TCP listener (--socket tcp://HOST:PORT) wants the token from SWARMLAB_CONTROL_TOKEN.
  const token = process.env['SWARMLAB_CONTROL_TOKEN'];
  const response = await callControl(init.socket, request.cmd, request.args, { onLine, ...(token ? { token } : {}) });
  if (!init.json && process.stderr.isTTY && request.cmd === 'download') process.stderr.write('\n');
  // `ctl --json ping` prints the measurement alone: {"target", "rttMs", "medianMs"}.
  if (init.json && request.cmd === 'ping' && response.ok) out(JSON.stringify(response.result));
  else if (init.json) out(JSON.stringify(response));
  else if (response.ok) render(request.cmd, response.result as Record<string, unknown>);
  else err(`error: ${response.error.message} (${response.error.code})`);
  return response.ok ? 0 : 1;
}
