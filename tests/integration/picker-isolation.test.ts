/**
 * An isolated picker module (`--picker PATH`, docs/strategies.md) with real processes: each module
 * below passes the start check, then misbehaves at run time (reaches for the filesystem, the process,
 * the network, loops forever, answers garbage, exhausts its heap). Each time the download completes,
 * its bytes on disk match the publisher's, and the misbehaviour had no effect outside the sandbox.
 * The same filesystem module loaded with `--picker-isolation none` does write its file: the check
 * that it cannot is a real one.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { createSwarm, dumpLogs, sha256File } from '../helpers/local';

jest.setTimeout(120_000);

const CHUNK = 16_384;
const CHUNKS = 64;
const FILE = 'isolation.bin';

/**
 * A module whose first call (the start check) answers nothing, and every later call runs `body`, then
 * (if `body` did not return or throw) answers the lowest eligible chunk.
 */
function misbehaving(body: string): string {
  return [
    'let calls = 0;',
    'exports.pick = function (input) {',
    '  calls += 1;',
    '  if (calls === 1) return undefined;',
    body,
    '  for (let i = 0; i < input.chunks; i++) {',
    '    if (input.sourceHas.has(i) && !input.have.has(i) && !input.askedOfSource.has(i) && !input.writing.has(i) && input.requesters(i) === 0) return i;',
    '  }',
    '  return undefined;',
    '};',
    '',
  ].join('\n');
}

describe('isolated picker modules', () => {
  let swarm: LocalSwarm;
  let logs: string[];
  let sha256: string;
  let dir: string;
  let http: Server;
  let httpHits = 0;

  beforeAll(async () => {
    ({ swarm, logs } = await createSwarm());
    dir = path.join(swarm.dir, 'modules');
    await mkdir(dir, { recursive: true });
    http = createServer((_, response) => {
      httpHits++;
      response.end('ok');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    await swarm.startTracker();
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    sha256 = (await swarm.control('pub', 'generate', { name: FILE, size: CHUNKS * CHUNK, seed: 'isolation' }))[
      'sha256'
    ] as string;
    await swarm.control('pub', 'upload');
  });

  afterAll(async () => {
    dumpLogs(logs);
    await swarm.stop();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });

  async function downloadWith(name: string, source: string, extraArgs: string[] = []): Promise<string[]> {
    const module = path.join(dir, `${name}.js`);
    await writeFile(module, source);
    const peer = await swarm.startPeer(name, { extraArgs: ['--picker', module, ...extraArgs] });
    await swarm.control(name, 'connect');
    const result = await swarm.control(name, 'download', { name: FILE });
    expect(result['verified']).toBe(true);
    expect(await sha256File(path.join(peer.dir, FILE))).toBe(sha256);
    // Still alive and answering after the download.
    expect(await swarm.control(name, 'status')).toBeDefined();
    await swarm.stopPeer(name);
    return logs.filter((line) => line.startsWith(`${name}:`));
  }

  const marker = (name: string): string => path.join(dir, `${name}.written`);

  test('require("fs") is not there: nothing is written, the choice falls back to rarest', async () => {
    const own = await downloadWith(
      'fs',
      misbehaving(`require('fs').writeFileSync(${JSON.stringify(marker('fs'))}, 'x');`),
    );
    expect(existsSync(marker('fs'))).toBe(false);
    expect(own.some((line) => line.includes('custom picker failed') && line.includes('require is not defined'))).toBe(
      true,
    );
  });

  test('the same module with --picker-isolation none does write (the check above can fail)', async () => {
    await downloadWith(
      'fs-none',
      misbehaving(`require('fs').writeFileSync(${JSON.stringify(marker('fs-none'))}, 'x');`),
      ['--picker-isolation', 'none'],
    );
    expect(existsSync(marker('fs-none'))).toBe(true);
  });

  test('escaping through constructor.constructor finds no process: code generation is off', async () => {
    const own = await downloadWith(
      'escape',
      misbehaving(
        `const p = input.have.has.constructor('return process')(); p.mainModule.require('fs').writeFileSync(${JSON.stringify(marker('escape'))}, 'x');`,
      ),
    );
    expect(existsSync(marker('escape'))).toBe(false);
    expect(own.some((line) => line.includes('custom picker failed') && line.includes('EvalError'))).toBe(true);
  });

  test('process.exit is not there: the peer lives on', async () => {
    const own = await downloadWith('exit', misbehaving('process.exit(3);'));
    expect(own.some((line) => line.includes('process is not defined'))).toBe(true);
  });

  test('fetch is not there: no request reaches the network', async () => {
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
    const own = await downloadWith('fetch', misbehaving(`fetch(${JSON.stringify(url)});`));
    expect(httpHits).toBe(0);
    expect(own.some((line) => line.includes('fetch is not defined'))).toBe(true);
  });

  test('an infinite loop exceeds its budget; repeated, the module is disabled and the download completes', async () => {
    // A rate-limited download lasts long enough (4 s) for three failed rankings in a row.
    const own = await downloadWith('loop', misbehaving('for (;;) {}'), ['--download-rate', '256K']);
    expect(own.some((line) => line.includes('custom picker failed') && line.includes('budget'))).toBe(true);
    expect(own.some((line) => line.includes('custom picker disabled'))).toBe(true);
  });

  test('a loop in a promise job (beyond the vm timeout) gets its thread replaced', async () => {
    const own = await downloadWith(
      'microtask',
      misbehaving('Promise.resolve().then(function spin() { for (;;) {} });'),
    );
    expect(own.some((line) => line.includes('the thread was replaced'))).toBe(true);
  });

  test('garbage answers are invalid choices, answered by rarest', async () => {
    const own = await downloadWith(
      'garbage',
      misbehaving("const answers = ['7', -1, 1e9, 0.5, {}, null, NaN]; return answers[calls % answers.length];"),
    );
    expect(own.some((line) => line.includes('custom picker failed') && line.includes('invalid choice'))).toBe(true);
  });

  test('a heap exhausted by the module ends its thread, not the peer', async () => {
    const own = await downloadWith(
      'heap',
      misbehaving('const hoard = []; for (;;) hoard.push(new Array(1e6).fill(calls));'),
    );
    expect(own.some((line) => line.includes('custom picker failed'))).toBe(true);
  });
});
