/**
 * The run report in a real browser, without Docker: a report written from hand-built events (with file and
 * peer names as hostile as a remote peer could send) is opened via file:// in Chromium. Its plot has one
 * point per transfer, the names show as text, nothing runs and nothing is fetched.
 * Needs /usr/bin/chromium (see tests/helpers/browser.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type { Browser } from 'playwright-core';

import { writeRunReport } from '../../lab/observe/report-writer';
import type { RunEventBody } from '../../lab/observe/run-events';
import { describeWithBrowser, launchBrowser, recordRequests } from '../helpers/browser';
import { eventsOf, reportOf } from '../helpers/report-events';

const HOSTILE_FILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">.bin';
const HOSTILE_PEER = '"><svg onload="window.pwned=3">';
const CHUNKS = 5;

function hostileRun(): ReturnType<typeof eventsOf> {
  const timed: [number, RunEventBody][] = [
    [0, { type: 'run', run: 'hostile', scenario: 'hostile' }],
    [0, { type: 'node', name: HOSTILE_PEER, role: 'peer', ip: '10.0.0.3', state: 'running' }],
    [0, { type: 'node', name: 'peer-2', role: 'peer', ip: '10.0.0.4', state: 'running' }],
    [10, { type: 'file', peer: HOSTILE_PEER, file: HOSTILE_FILE, size: CHUNKS * 1024 }],
    [20, { type: 'rate', peer: HOSTILE_PEER, uploadBps: 1024 }],
    [20, { type: 'rate', peer: 'peer-2', uploadBps: 1024 }],
    [30, { type: 'step', index: 0, total: 2, action: 'download', targets: ['peer-2'], description: 'd', fault: false }],
  ];
  for (let index = 0; index < CHUNKS; index += 1) {
    timed.push([
      1000 * (index + 1),
      { type: 'transfer', file: HOSTILE_FILE, index, chunks: CHUNKS, from: HOSTILE_PEER, to: 'peer-2', bytes: 1024 },
    ]);
  }
  timed.push(
    [5500, { type: 'step', index: 1, total: 2, action: 'kill', targets: ['x'], description: 'kill x', fault: true }],
    [6000, { type: 'end', ok: true, ms: 6000 }],
  );
  return eventsOf(timed);
}

describeWithBrowser('run report in a browser', () => {
  jest.setTimeout(60_000);
  let dir: string;
  let browser: Browser;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-report-browser-'));
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows hostile names as text, runs nothing, fetches nothing, and plots one point per transfer', async () => {
    const events = hostileRun();
    const written = await writeRunReport({
      reportDir: dir,
      run: 'hostile',
      events,
      report: reportOf({ scenario: HOSTILE_FILE, downloads: [], steps: [] }),
      startedAt: Date.UTC(2026, 10, 25),
    });
    const page = await browser.newPage();
    const requests = recordRequests(page);
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const url = pathToFileURL(written.html).href;
    await page.goto(url);

    expect(await page.locator('svg.timeline circle.transfer').count()).toBe(CHUNKS);
    expect(await page.locator('.minimum-line').count()).toBe(1);
    expect(await page.locator('.mark-fault').count()).toBe(2);
    expect(await page.locator('h1').textContent()).toContain(HOSTILE_FILE);
    expect(await page.locator('.lane-label').first().textContent()).toContain(`peer-2 ← ${HOSTILE_FILE}`);
    expect(await page.evaluate(() => (globalThis as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.locator('script, img, svg[onload]').count()).toBe(0);
    expect(dialogs).toEqual([]);
    expect(requests).toEqual([url]);
  });
});
