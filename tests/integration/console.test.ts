/**
 * The interactive peer console (`swarmlab peer` without --daemon) driven through a pipe: a scripted
 * session that ends by itself after its download, and bad input that gets one clear line each while
 * the console keeps going.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LocalSwarm } from '../../src/cli/local-swarm';
import { assertBuilt, ConsoleDriver, createSwarm, dumpLogs, runCli, sha256File } from '../helpers/local';

jest.setTimeout(60_000);

const CHUNK = 16_384;

describe('peer console', () => {
  let swarm: LocalSwarm;
  let logs: string[];
  let published: { sha256: string; name: string };
  const drivers: ConsoleDriver[] = [];

  beforeAll(() => assertBuilt());

  beforeEach(async () => {
    ({ swarm, logs } = await createSwarm());
    await swarm.startTracker();
    await swarm.startPeer('pub', { chunkSize: CHUNK });
    await swarm.control('pub', 'connect');
    const generated = await swarm.control('pub', 'generate', { name: 'theirs.bin', size: 20 * CHUNK + 5, seed: 'console' });
    published = { name: 'theirs.bin', sha256: generated.sha256 as string };
    await swarm.control('pub', 'upload');
  });

  afterEach(async () => {
    for (const driver of drivers.splice(0)) {
      driver.kill();
      await driver.exited;
    }
    dumpLogs(logs);
    await swarm.stop();
  });

  // Regression (fixed in 6dbb677): when stdin ended right after `d NAME`, the console settled before
  // the download was registered, stopped the node, and then hung with the scheduler running on it.
  test('c, u, f, d NAME from a pipe: lists, downloads, verifies, and exits 0 at the end of input', async () => {
    const dir = path.join(swarm.dir, 'console');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'mine.txt'), 'hello from the console peer\n'.repeat(100));

    const run = await runCli(['peer', '--tracker', swarm.trackerAddress, '--dir', dir, '--name', 'p', '--chunk-size', String(CHUNK)], {
      input: 'c\nu\nf\nd theirs.bin\n',
      timeoutMs: 30_000,
      env: { LOG_FORMAT: 'json' },
    });

    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(/connected to 127\.0\.0\.1:\d+ as [0-9a-f]+/);
    expect(out).toMatch(/published mine\.txt/);
    // The listing: a header and a row for each file on the network.
    expect(out).toMatch(/NAME\s+SIZE\s+CHUNKS\s+PEERS\s+SEEDERS\s+ID/);
    expect(out).toMatch(/^theirs\.bin\s.*$/m);
    expect(out).toMatch(/^mine\.txt\s.*$/m);
    expect(out).toMatch(/downloaded theirs\.bin .* -> .*theirs\.bin/);
    expect(out).toContain(`sha256 ${published.sha256}, verified yes; chunks from pub: 21`);
    expect(out).not.toMatch(/^\s+at /m);
    expect(await sha256File(path.join(dir, 'theirs.bin'))).toBe(published.sha256);
  });

  test('d alone, then the name on the next line (as the original console asks): downloads and verifies', async () => {
    const dir = path.join(swarm.dir, 'two-line');
    await mkdir(dir, { recursive: true });
    const run = await runCli(['peer', '--tracker', swarm.trackerAddress, '--dir', dir, '--name', 'p2', '--chunk-size', String(CHUNK)], {
      input: 'c\nd\ntheirs.bin\n',
      timeoutMs: 30_000,
      env: { LOG_FORMAT: 'json' },
    });

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('file to download (name or id):');
    expect(run.stdout).not.toMatch(/usage: d NAME|unknown command "theirs\.bin"/);
    expect(run.stdout).toContain(`sha256 ${published.sha256}, verified yes`);
    expect(await sha256File(path.join(dir, 'theirs.bin'))).toBe(published.sha256);
  });

  test('bad input gets one clear line each and the console keeps going', async () => {
    const dir = path.join(swarm.dir, 'empty');
    const trackerPort = swarm.trackerPort;
    const driver = new ConsoleDriver(['peer', '--tracker', swarm.trackerAddress, '--dir', dir, '--name', 'p']);
    drivers.push(driver);

    // Before connecting.
    let out = await driver.command('u', /error/);
    expect(out).toEqual([expect.stringMatching(/^error: .*not connected/)]);

    out = await driver.command('c', /connected to/);
    expect(out).toEqual([expect.stringMatching(/^connected to 127\.0\.0\.1:\d+ as /)]);

    // A second c.
    out = await driver.command('c', /error/);
    expect(out).toEqual([expect.stringMatching(/^error: already connected/)]);

    // u with an empty directory.
    out = await driver.command('u', /error/);
    expect(out).toEqual([expect.stringMatching(/^error: no files to publish/)]);

    // d of a file nobody has: the download is announced, then fails in one line.
    out = await driver.command('d nosuchfile', /failed/);
    expect(out.filter((line) => /nosuchfile/.test(line) && /failed|error/.test(line))).toEqual([
      expect.stringMatching(/download of nosuchfile failed: no file named "nosuchfile"/),
    ]);

    // d without a name asks for it on the next line; an empty answer downloads nothing.
    out = await driver.command('d', /file to download/);
    expect(out).toEqual(['file to download (name or id):']);
    out = await driver.command('', /no name given/);
    expect(out).toEqual(['no name given; nothing downloaded']);

    // An unknown command.
    out = await driver.command('frobnicate now', /unknown command/);
    expect(out).toEqual([expect.stringMatching(/^unknown command "frobnicate"/)]);

    // rate, status and help.
    out = await driver.command('rate 64K off', /upload/);
    expect(out).toEqual([expect.stringMatching(/^upload 64(\.0)? KiB\/s, download unlimited$/)]);
    out = await driver.command('rate fast', /error/);
    expect(out).toEqual([expect.stringMatching(/^error: /)]);
    out = await driver.command('s', /^}$/);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ name: 'p', connected: true, uploadRate: 64 * 1024, downloadRate: null });
    out = await driver.command('help', /exit/);
    expect(out.join('\n')).toMatch(/d, download NAME/);

    // Still working.
    out = await driver.command('f', /theirs\.bin/);
    expect(out.join('\n')).toMatch(/NAME\s+SIZE/);

    // c while the tracker is down.
    out = await driver.command('q', /disconnected/);
    await swarm.stopTracker();
    out = await driver.command('c', /error/);
    expect(out).toEqual([expect.stringMatching(/^error: .*(cannot reach|unreachable|did not answer)/i)]);

    // The tracker comes back on the same port; the console connects and downloads.
    await swarm.startTracker(trackerPort);
    await driver.command('c', /connected to/);
    // The publisher re-registers on its own (reconnect with backoff) and re-announces its file.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const listing = await driver.command('f', /theirs\.bin|no files on the network/);
      if (listing.some((line) => /theirs\.bin/.test(line))) break;
      if (Date.now() > deadline) throw new Error('the publisher did not come back to the tracker in 20 s');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await driver.command('d theirs.bin', /verified/);
    expect(driver.stdout).toContain(`sha256 ${published.sha256}, verified yes`);

    driver.end();
    expect(await driver.exited).toEqual({ code: 0, signal: null });
    expect(driver.stdout).not.toMatch(/^\s+at /m);
  });
});
