/**
 * `swarmlab ctl --json watch` against real tracker and peer processes on 127.0.0.1: a watcher sees the
 * peer's own activity (files held, published, each chunk received with from/to, progress, the download's
 * end) as it happens, until it goes away; the lab's mapping turns those lines into the run events the
 * dashboard shows.
 */
import { spawn, type ChildProcess } from 'node:child_process';

import { runEventOfWatchLine } from '../../lab/observe/dashboard-watch';
import type { RunEventBody } from '../../lab/observe/run-events';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { assertBuilt, cliPath, createSwarm, dumpLogs, waitFor } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16_384;
const CHUNKS = 12;

/** `swarmlab ctl --json watch` on a peer's socket, as a child process; its JSON lines in `lines`. */
function watch(socket: string): {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [cliPath, 'ctl', '--socket', socket, '--json', 'watch'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

const events = (lines: Array<Record<string, unknown>>, name: string): Array<Record<string, unknown>> =>
  lines.filter((line) => line['event'] === name);

describe('ctl watch (local peers)', () => {
  let swarm: LocalSwarm;
  let logs: string[];
  const children: ChildProcess[] = [];

  beforeAll(() => assertBuilt());

  beforeEach(async () => {
    ({ swarm, logs } = await createSwarm());
    await swarm.startTracker();
  });

  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    dumpLogs(logs);
    await swarm.stop();
  });

  test('streams what the peer publishes and receives, chunk by chunk, until the client goes away', async () => {
    const publisher = await swarm.startPeer('pub', { chunkSize: CHUNK, uploadRate: 512 * 1024 });
    const downloader = await swarm.startPeer('dl', { chunkSize: CHUNK });
    const pubWatch = watch(publisher.socket);
    const dlWatch = watch(downloader.socket);
    children.push(pubWatch.child, dlWatch.child);
    await waitFor(() => events(pubWatch.lines, 'watching').length + events(dlWatch.lines, 'watching').length === 2);
    expect(events(dlWatch.lines, 'watching')[0]).toMatchObject({ peer: 'dl' });

    await swarm.control('pub', 'connect');
    await swarm.control('dl', 'connect');
    await swarm.control('pub', 'generate', { name: 'watched.txt', size: CHUNKS * CHUNK - 100, text: true });
    await swarm.control('pub', 'upload');
    const result = await swarm.control('dl', 'download', { name: 'watched.txt' });

    await waitFor(() => events(dlWatch.lines, 'download-finished').length === 1);
    await waitFor(() => events(pubWatch.lines, 'published').length === 1);
    expect(events(pubWatch.lines, 'published')[0]).toMatchObject({
      file: 'watched.txt',
      chunks: CHUNKS,
      size: CHUNKS * CHUNK - 100,
    });

    const started = events(dlWatch.lines, 'download-started');
    expect(started).toEqual([expect.objectContaining({ event: 'download-started', file: 'watched.txt' })]);
    const chunks = events(dlWatch.lines, 'chunk');
    expect(chunks.map((c) => c['index']).sort((a, b) => Number(a) - Number(b))).toEqual([...Array(CHUNKS).keys()]);
    for (const chunk of chunks)
      expect(chunk).toMatchObject({ file: 'watched.txt', from: 'pub', to: 'dl', chunks: CHUNKS });
    expect(events(dlWatch.lines, 'download-finished')[0]).toMatchObject({
      file: 'watched.txt',
      succeeded: true,
      verified: true,
      chunksBySource: result['chunksBySource'],
    });
    // Order: started, then the chunks, then the end.
    const order = dlWatch.lines
      .map((line) => line['event'])
      .filter((event) => event !== 'progress' && event !== 'watching');
    expect(order[0]).toBe('download-started');
    expect(order[order.length - 1]).toBe('download-finished');

    // A watcher joining late learns at once what the peer holds.
    const late = watch(downloader.socket);
    children.push(late.child);
    await waitFor(() => events(late.lines, 'held').length === 1);
    expect(events(late.lines, 'held')[0]).toMatchObject({
      file: 'watched.txt',
      have: CHUNKS,
      chunks: CHUNKS,
      complete: true,
    });

    // The lab's mapping: what the dashboard records from these lines.
    const names = new Map<string, string>();
    const recorded = dlWatch.lines
      .map((line) => runEventOfWatchLine('dl', line, names))
      .filter((event): event is RunEventBody => event !== undefined);
    const transfers = recorded.filter((event) => event.type === 'transfer');
    expect(transfers).toHaveLength(CHUNKS);
    expect(transfers[0]).toMatchObject({
      type: 'transfer',
      file: 'watched.txt',
      from: 'pub',
      to: 'dl',
      chunks: CHUNKS,
    });
    expect(recorded.filter((event) => event.type === 'download')).toEqual([
      expect.objectContaining({ type: 'download', peer: 'dl', file: 'watched.txt', ok: true, verified: true }),
    ]);

    // A watcher that goes away leaves the peer and its other watchers as they were.
    late.child.kill('SIGTERM');
    await late.exited;
    expect((await swarm.control('dl', 'status'))['name']).toBe('dl');
    await swarm.control('pub', 'generate', { name: 'second.txt', size: CHUNK, text: true });
    await swarm.control('pub', 'upload');
    await waitFor(() => events(pubWatch.lines, 'published').some((line) => line['file'] === 'second.txt'));
    expect(pubWatch.child.exitCode).toBeNull();
  });
});
