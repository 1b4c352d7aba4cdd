/**
 * Switchable peer strategies with real processes (docs/strategies.md): a custom picker module drives a
 * real download (the example shipped in docs/examples, so the doc's example cannot rot); a picker that
 * throws at run time still finishes its download through the fallback to rarest; a picker that is broken
 * from the start stops the peer before it starts; and `--endgame off` sends no duplicate request where
 * the default endgame does; `--super-seed off` serves what a super-seeder refuses.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { encodeChunkRef, encodeJson, MessageType, PROTOCOL_VERSION, RejectReason } from '../../src/protocol';
import { assertBuilt, collector, createSwarm, dumpLogs, RawFrameClient, runCli, sha256File } from '../helpers/local';

jest.setTimeout(90_000);

const CHUNK = 16_384;
const CHUNKS = 48;
const FILE = 'strategies.bin';
const EXAMPLE_PICKER = 'docs/examples/picker-lowest-availability.js';

describe('peer strategies', () => {
  let swarm: LocalSwarm;
  let logs: string[];
  let sha256: string;

  beforeAll(async () => {
    assertBuilt();
    ({ swarm, logs } = await createSwarm());
    await swarm.startTracker();
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    sha256 = (await swarm.control('pub', 'generate', { name: FILE, size: CHUNKS * CHUNK, seed: 'strategies' }))[
      'sha256'
    ] as string;
    await swarm.control('pub', 'upload');
  });

  afterAll(async () => {
    dumpLogs(logs);
    await swarm.stop();
  });

  /** Downloads FILE on a new peer, then stops it, so that the publisher stays the one source of the next test. */
  async function downloadWith(
    name: string,
    extraArgs: string[],
    beforeStop: () => Promise<unknown> = () => Promise.resolve(),
  ): Promise<{ result: Record<string, unknown>; order: number[]; file: string }> {
    const peer = await swarm.startPeer(name, { extraArgs });
    await swarm.control(name, 'connect');
    const seen = collector();
    const result = await swarm.control(name, 'download', { name: FILE }, seen.onLine);
    await beforeStop();
    await swarm.stopPeer(name);
    return {
      result,
      order: seen.events('chunk').map((event) => event.index as number),
      file: path.join(peer.dir, FILE),
    };
  }

  test('the documented example picker (relative path, CommonJS) drives a download whose bytes match the publisher', async () => {
    // One request in flight: chunks then complete in the order they were asked for (with several in
    // flight, verification and the threadpool's writes may finish them out of order).
    const { result, order, file } = await downloadWith('custom', ['--picker', EXAMPLE_PICKER, '--max-inflight', '1']);
    expect(result['verified']).toBe(true);
    expect(await sha256File(file)).toBe(sha256);
    // One source, every chunk equally rare: the example takes the lowest index each time, so the chunks
    // arrive in file order. The built-in rarest breaks ties at random and does not (checked below).
    expect(order).toEqual(Array.from({ length: CHUNKS }, (_, i) => i));
    expect(logs.some((line) => line.startsWith('custom:') && line.includes('custom picker loaded'))).toBe(true);
  });

  test('the built-in rarest does not deliver in file order on the same swarm (the check above can fail)', async () => {
    const { result, order } = await downloadWith('builtin', ['--picker', 'rarest', '--max-inflight', '1']);
    expect(result['verified']).toBe(true);
    expect(order).not.toEqual(Array.from({ length: CHUNKS }, (_, i) => i));
  });

  test('an ES module picker that throws on every call after the start check: the download completes through rarest, with a warning', async () => {
    const dir = path.join(swarm.dir, 'pickers');
    await mkdir(dir, { recursive: true });
    const module = path.join(dir, 'throws-later.mjs');
    await writeFile(
      module,
      "let calls = 0;\nexport function pick() {\n  calls += 1;\n  if (calls > 1) throw new Error('picker bug on purpose');\n  return undefined;\n}\n",
    );
    const { result, file } = await downloadWith('faulty', ['--picker', module]);
    expect(result['verified']).toBe(true);
    expect(await sha256File(file)).toBe(sha256);
    const warnings = logs.filter((line) => line.startsWith('faulty:') && line.includes('custom picker failed'));
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings[0]).toContain('picker bug on purpose');
  });

  test.each([
    ['a missing file', 'no-such-picker.js', '', /does not load/],
    [
      'no pick export',
      'no-export.js',
      'module.exports = { choose() { return undefined; } };\n',
      /exports no function named "pick"/,
    ],
    [
      'a throw on the test input',
      'throws.js',
      "exports.pick = () => { throw new Error('nope'); };\n",
      /pick threw on a test input: nope/,
    ],
    ['a held chunk as its choice', 'held.js', 'exports.pick = () => 0;\n', /pick returned 0 on a test input/],
    ['a non-integer choice', 'half.js', 'exports.pick = () => 1.5;\n', /pick returned 1\.5 on a test input/],
  ])('a picker with %s stops the peer at start with one clear line', async (_, file, source, message) => {
    const dir = path.join(swarm.dir, 'bad-pickers');
    await mkdir(dir, { recursive: true });
    if (source) await writeFile(path.join(dir, file), source);
    const run = await runCli(
      [
        'peer',
        '--daemon',
        '--dir',
        dir,
        '--control',
        path.join(dir, `${file}.sock`),
        '--host',
        '127.0.0.1',
        '--picker',
        path.join(dir, file),
      ],
      { timeoutMs: 20_000, env: { LOG_FORMAT: 'json' } },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^swarmlab: --picker \\S+${file.replace('.', '\\.')}: `, 'm'));
    expect(run.stderr).toMatch(message);
    // One line: no stack, no require chain.
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('an unknown --endgame or --super-seed value is a config error naming the allowed values', async () => {
    const dir = path.join(swarm.dir, 'bad-settings');
    for (const [flag, allowed] of [
      ['--endgame', 'on, off'],
      ['--super-seed', 'auto, on, off'],
    ] as const) {
      const run = await runCli(['peer', '--daemon', '--dir', dir, flag, 'maybe'], { timeoutMs: 20_000 });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`(${allowed})`);
    }
  });

  test('--endgame off: no chunk is sent twice and the slow source is waited for; the default endgame takes its chunks from the quick one', async () => {
    // A second source that holds every chunk 1.5 s before sending it (and sends it even if it was
    // cancelled meanwhile): near the end of a download, the endgame asks the quick source for the chunks
    // still waiting there, and the slow copies go out anyway.
    await swarm.startPeer('slow', { chunkSize: CHUNK, extraArgs: ['--faults', 'delay=1500'] });
    await swarm.control('slow', 'connect');
    await swarm.control('slow', 'generate', { name: FILE, size: CHUNKS * CHUNK, seed: 'strategies' });
    await swarm.control('slow', 'upload');
    const uploaded = async (): Promise<number> =>
      Number((await swarm.control('pub', 'status'))['uploadedBytes']) +
      Number((await swarm.control('slow', 'status'))['uploadedBytes']);
    const settled = async (): Promise<number> => {
      // The slow source's last copy leaves 1.5 s after it was asked for: wait until nothing more goes out.
      let last = await uploaded();
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        const now = await uploaded();
        if (now === last) return now;
        last = now;
      }
    };

    // The downloader stays up until the sources are quiet: a closed connection would stop the slow copies.
    const beforeOff = await settled();
    let afterOff = 0;
    const off = await downloadWith('no-endgame', ['--endgame', 'off'], async () => (afterOff = await settled()));
    expect(off.result['verified']).toBe(true);
    expect(Object.keys(off.result['chunksBySource'] as object).sort()).toEqual(['pub', 'slow']);
    expect(afterOff - beforeOff).toBe(CHUNKS * CHUNK);

    // With the endgame the chunks still waiting at the slow source are asked of the quick one too, and
    // the download ends without the slow copies (a finished download closes its source connections, so
    // they are not sent either). Without it, they are waited for.
    const fromSlow = (outcome: { result: Record<string, unknown> }): number =>
      (outcome.result['chunksBySource'] as Record<string, number>)['slow'] ?? 0;
    const on = await downloadWith('endgame', [], settled);
    expect(on.result['verified']).toBe(true);
    expect(fromSlow(off)).toBeGreaterThan(0);
    expect(fromSlow(on)).toBeLessThan(fromSlow(off));
  });

  test.each([
    ['auto', 'refuses', RejectReason.Elsewhere],
    ['off', 'serves', undefined],
  ] as const)(
    '--super-seed %s: a rate-limited seeder %s a chunk it already gave another downloader while its upload is busy',
    async (mode, _, reason) => {
      const name = `seed-${mode}`;
      await swarm.startPeer(name, { chunkSize: CHUNK, uploadRate: 64 * 1024, extraArgs: ['--super-seed', mode] });
      const clients: RawFrameClient[] = [];
      try {
        await swarm.control(name, 'connect');
        await swarm.control(name, 'generate', { name: FILE, size: CHUNKS * CHUNK, seed: 'strategies' });
        const published = (await swarm.control(name, 'upload'))['published'] as Array<{ fileId: string }>;
        const fileId = published[0]!.fileId;
        const dataPort = (await swarm.control(name, 'status'))['dataPort'] as number;
        const open = async (peerId: string): Promise<RawFrameClient> => {
          const client = await RawFrameClient.open(dataPort);
          clients.push(client);
          client.write(encodeJson(MessageType.Hello, 0, { version: PROTOCOL_VERSION, peerId, name: peerId }));
          await client.exchange(encodeJson(MessageType.Interested, 1, { fileId }), 1);
          return client;
        };
        // The first downloader claims chunks 0..11 (192 KiB) in one write; past the bucket's burst they
        // keep the seeder's upload busy for about 2 s at 64 KiB/s, under the upload queue bound
        // (MAX_UPLOAD_QUEUE_MS), so none is refused as busy. Both connections are open before the
        // claim, and the second asks only once the first has its first chunk (so every claim was
        // read), for one of the last of them: `off` serves it after those (one upload, first come
        // first served), `auto` refuses it at once. Nothing slow stands between the two, so a loaded
        // machine cannot let the upload go idle first.
        const first = await open('first');
        const second = await open('second');
        const claims = Array.from({ length: 12 }, (_, index) => encodeChunkRef(MessageType.Request, 100 + index, fileId, index));
        expect((await first.exchange(Buffer.concat(claims), 100, 25_000)).type).toBe(MessageType.Chunk);
        const answer = await second.exchange(encodeChunkRef(MessageType.Request, 20, fileId, 10), 20, 25_000);
        if (reason === undefined) expect(answer.type).toBe(MessageType.Chunk);
        else expect(answer).toMatchObject({ type: MessageType.Reject, body: { index: 10, reason } });
      } finally {
        for (const client of clients) client.close();
        await swarm.stopPeer(name);
      }
    },
  );
});
