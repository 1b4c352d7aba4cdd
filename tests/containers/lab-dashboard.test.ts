/**
 * The live dashboard during a real lab demo: the demo runs through the lab's own command functions with
 * `--dashboard` on a free port, Debian's Chromium opens the page while the demo is still running, waits
 * until both downloaders' chunk maps are complete, and the test checks what the page shows against the
 * controller's own record: each downloader's chunks by source (the demo's --json record, from the peers'
 * download results) and every node's name and address (the controller's view of the run's containers).
 * Saves a screenshot of the page in the OS temp directory (UPDATE_SCREENSHOTS=1: as docs/images/dashboard.png,
 * the README's picture). Needs Docker and Chromium.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Browser, Page } from 'playwright-core';

import { demoCommand, downCommand } from '../../lab/commands';
import { upWithDashboard, withDashboard } from '../../lab/observe/dashboard-command';
import type { RunRecorder } from '../../lab/observe/run-events';
import type { DownloadSummary } from '../../src/shared/download-report';
import { describeWithBrowser, launchBrowser } from '../helpers/browser';
import { createLabTestContext } from '../helpers/lab';

// Generous: on a loaded machine the demo alone can take minutes; it usually takes well under one.
const TIMEOUT_MS = 300_000;
const PAGE_WAIT_MS = 240_000;
// A test run must not rewrite a committed file; the README's picture is refreshed on request.
const SCREENSHOT =
  process.env['UPDATE_SCREENSHOTS'] === '1'
    ? join(__dirname, '..', '..', 'docs', 'images', 'dashboard.png')
    : join(tmpdir(), 'swarmlab-dashboard.png');
const DOWNLOADERS = ['peer-3', 'peer-4'];
const FILE = 'file1_dir1.txt';

function mapSelector(peer: string, file = FILE): string {
  return `[data-peer="${peer}"][data-file="${file}"]`;
}

async function sourcesOf(page: Page, peer: string, file = FILE): Promise<Record<string, number>> {
  return page.$$eval(`${mapSelector(peer, file)} [data-from]`, (spans) =>
    Object.fromEntries(spans.map((span) => [span.getAttribute('data-from'), Number(span.getAttribute('data-count'))])),
  );
}

describeWithBrowser('lab demo --dashboard (containers, browser)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const lab = createLabTestContext();
  const run = `dash-test-${process.pid}`;
  let browser: Browser | undefined;
  // After the demo the dashboard keeps serving until this signal (Ctrl-C for a user); it also stops the
  // demo itself if the test fails half way.
  const stopViewing = new AbortController();
  let demo: Promise<number> | undefined;
  const upRun = `dash-up-${process.pid}`;
  const stopUp = new AbortController();
  let up: Promise<number> | undefined;

  afterAll(async () => {
    stopViewing.abort();
    stopUp.abort();
    lab.abort.abort();
    await Promise.all([demo?.catch(() => undefined), up?.catch(() => undefined)]);
    await browser?.close();
    await downCommand(lab.ctx, run, false).catch(() => undefined);
    await downCommand(lab.ctx, upRun, false).catch(() => undefined);
  }, 60_000);

  it('shows both downloads filling in while the demo runs, matching the controller', async () => {
    browser ??= await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    let listening!: (value: { url: string; recorder: RunRecorder }) => void;
    const ready = new Promise<{ url: string; recorder: RunRecorder }>((resolve) => (listening = resolve));

    const ctx = { ...lab.ctx, signal: stopViewing.signal };
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    const notices: string[] = [];
    demo = withDashboard(
      ctx,
      {
        port: 0,
        onListening: (url, recorder) => listening({ url, recorder }),
        onHold: () => held(),
        notice: (line) => notices.push(line),
      },
      (recorder) => demoCommand(ctx, { run, keep: true, json: true, ...(recorder ? { recorder } : {}) }),
    );
    const { url, recorder } = await ready;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(lab.lines).toContain(`dashboard: ${url}`);

    await page.goto(url);
    // The page is open before the run has ended: what follows arrives live.
    expect(recorder.events.some((event) => event.type === 'end')).toBe(false);
    // A demo that fails ends the wait at once, with its transcript, rather than after PAGE_WAIT_MS.
    const demoFailed = holding.then(() => {
      const end = recorder.events.find((event) => event.type === 'end');
      if (end?.type === 'end' && end.ok) return new Promise<never>(() => undefined);
      throw new Error(`the demo failed before both chunk maps were complete:\n${lab.lines.slice(-40).join('\n')}`);
    });
    demoFailed.catch(() => undefined);
    for (const peer of DOWNLOADERS) {
      await Promise.race([
        page.waitForSelector(`${mapSelector(peer)}[data-complete="true"]`, { timeout: PAGE_WAIT_MS }),
        demoFailed,
      ]);
    }

    // The demo is over and the page still shows it, live, until the user stops viewing.
    await holding;
    expect(notices).toEqual([`the dashboard still shows the run at ${url}; Ctrl-C to exit`]);
    await page.waitForSelector('body[data-ended="true"][data-connection="live"]', { timeout: PAGE_WAIT_MS });
    await page.screenshot({ path: SCREENSHOT });
    stopViewing.abort();
    const code = await demo;
    const last = lab.lines[lab.lines.length - 1] ?? '';
    expect({ code, last: last.slice(0, 300) }).toEqual({ code: 0, last: expect.stringMatching(/^\{"downloads"/) });
    const { downloads } = JSON.parse(last) as { downloads: DownloadSummary[] };

    // Chunks by source: the page (from the transfer events) against the peers' own download results.
    for (const peer of DOWNLOADERS) {
      const download = downloads.find((d) => d.peer === peer);
      expect(download?.verified).toBe(true);
      const chunks = Number(await page.getAttribute(mapSelector(peer), 'data-chunks'));
      expect(await page.getAttribute(mapSelector(peer), 'data-have')).toBe(String(chunks));
      expect(await sourcesOf(page, peer)).toEqual(download?.chunksBySource);
      expect(Object.values(download?.chunksBySource ?? {}).reduce((a, b) => a + b, 0)).toBe(chunks);
    }

    // Nodes: the page's names, roles and addresses against the controller's view of the run.
    const labRun = await lab.controller.attach(run);
    const expected = labRun
      .all()
      .map((c) => ({ name: c.shortName ?? c.name, ip: c.ip ?? '', state: c.state }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const shown = (
      await page.$$eval('[data-node]', (cards) =>
        cards.map((card) => ({
          name: card.getAttribute('data-node') ?? '',
          ip: card.getAttribute('data-ip') ?? '',
          state: card.getAttribute('data-state') ?? '',
        })),
      )
    ).sort((a, b) => a.name.localeCompare(b.name));
    expect(shown).toEqual(expected);
    expect(shown.map((node) => node.name)).toEqual(['peer-1', 'peer-2', 'peer-3', 'peer-4', 'tracker']);
    expect(await page.getAttribute('body', 'data-ok')).toBe('true');
  });

  it('up --dashboard shows a download started by hand, and leaves the run up on Ctrl-C', async () => {
    browser ??= await launchBrowser();
    const ctx = { ...lab.ctx, signal: stopUp.signal };
    let listening!: (value: { url: string; recorder: RunRecorder }) => void;
    const ready = new Promise<{ url: string; recorder: RunRecorder }>((resolve) => (listening = resolve));
    const notices: string[] = [];
    up = upWithDashboard(
      ctx,
      { run: upRun, peers: 2, chunkSize: 16 * 1024 },
      { port: 0, onListening: (url, recorder) => listening({ url, recorder }), notice: (line) => notices.push(line) },
    );
    const { url, recorder } = await ready;
    // Both peers' watches are attached before anything happens by hand.
    const watching = (): number =>
      recorder.events.filter((e) => e.type === 'info' && e.text.endsWith('following its activity (ctl watch)')).length;
    for (let waitedMs = 0; watching() < 2; waitedMs += 250) {
      if (waitedMs > PAGE_WAIT_MS)
        throw new Error(`the peers' watches did not attach: ${JSON.stringify(recorder.events)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(url);

    // By hand, as a student would with docker exec: generate and publish on peer-1, download on peer-2.
    const labRun = await lab.controller.attach(upRun);
    // The watches travel on the peers' control channels: no `swarmlab ctl watch` Node process in a peer.
    for (const peer of ['peer-1', 'peer-2']) {
      const processes = await labRun.peer(peer).control.shell(['sh', '-c', 'cat /proc/[0-9]*/cmdline | tr "\\0" " "']);
      expect(processes).toContain('peer --daemon');
      expect(processes).not.toContain(' ctl ');
    }
    // Healthy means the control socket answers; the peers' own connect to the tracker may still be retrying.
    for (const peer of ['peer-1', 'peer-2']) {
      for (
        let waitedMs = 0;
        (await labRun.peer(peer).control.request('status', {})).connected !== true;
        waitedMs += 500
      ) {
        if (waitedMs > PAGE_WAIT_MS) throw new Error(`${peer} did not connect to the tracker`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    await labRun.peer('peer-1').control.request('generate', { name: 'by-hand.txt', size: 200 * 1024, text: true });
    await labRun.peer('peer-1').control.request('upload', {});
    const result = await labRun.peer('peer-2').control.request('download', { name: 'by-hand.txt' });

    await page.waitForSelector(`${mapSelector('peer-2', 'by-hand.txt')}[data-complete="true"]`, {
      timeout: PAGE_WAIT_MS,
    });
    expect(await page.getAttribute(mapSelector('peer-2', 'by-hand.txt'), 'data-have')).toBe('13');
    expect(await sourcesOf(page, 'peer-2', 'by-hand.txt')).toEqual(result.chunksBySource);
    expect(await page.getAttribute(`${mapSelector('peer-1', 'by-hand.txt')}`, 'data-source')).toBe('publisher');
    expect(await page.locator('#transfers li[data-from="peer-1"][data-to="peer-2"]').count()).toBeGreaterThan(0);

    // Ctrl-C: the dashboard and the watchers stop, the run stays up, no watch process is left behind.
    stopUp.abort();
    expect(await up).toBe(0);
    expect(notices[notices.length - 1]).toBe(`dashboard stopped; run ${upRun} is still up`);
    expect(await lab.controller.listRuns()).toContain(upRun);
    for (const peer of ['peer-1', 'peer-2']) {
      const processes = await labRun.peer(peer).control.shell(['sh', '-c', 'cat /proc/[0-9]*/cmdline | tr "\\0" " "']);
      expect(processes).not.toContain('ctl --json watch');
    }
  });
});
