/**
 * The dashboard page in a real browser (Debian Chromium through playwright-core), fed by a recorder that
 * this test fills by hand with the events a lab run records: nodes, steps, files, transfers. Checks that
 * the page shows what was recorded, follows live events, keeps up with thousands of transfers, and
 * renders a hostile file name as text.
 */
import type { Browser, Page } from 'playwright-core';

import { DashboardServer } from '../../lab/observe/dashboard-server';
import { RunRecorder } from '../../lab/observe/run-events';
import { describeWithBrowser, launchBrowser } from '../helpers/browser';

const PAGE_TIMEOUT_MS = 20_000;

/** The page's per-source counts of one chunk map, read from its data-* hooks. */
async function sourcesOf(page: Page, peer: string, file: string): Promise<Record<string, number>> {
  return page.$$eval(`[data-peer="${peer}"][data-file="${file}"] [data-from]`, (spans) =>
    Object.fromEntries(spans.map((span) => [span.getAttribute('data-from'), Number(span.getAttribute('data-count'))])),
  );
}

function mapSelector(peer: string, file: string): string {
  return `[data-peer="${peer}"][data-file="${file}"]`;
}

describeWithBrowser('dashboard page (browser)', () => {
  jest.setTimeout(90_000);
  let browser: Browser;
  let recorder: RunRecorder;
  let server: DashboardServer;

  beforeAll(async () => {
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    recorder = new RunRecorder();
    server = new DashboardServer({ recorder }, { port: 0 });
    await server.start();
  });

  afterEach(async () => {
    await server.stop();
  });

  it('shows nodes, steps, faults and chunk maps as they are recorded, live', async () => {
    recorder.record({ type: 'run', run: 'page-test', scenario: 'demo' });
    recorder.record({ type: 'node', name: 'tracker', role: 'tracker', ip: '10.9.0.2', state: 'running' });
    for (let i = 1; i <= 3; i++) {
      recorder.record({ type: 'node', name: `peer-${i}`, role: 'peer', ip: `10.9.0.${i + 2}`, state: 'running' });
    }
    recorder.record({ type: 'file', peer: 'peer-1', file: 'a.txt', size: 8 * 1024, chunks: 8 });
    recorder.record({ type: 'file', peer: 'peer-2', file: 'a.txt', size: 8 * 1024, chunks: 8 });
    recorder.record({
      type: 'step',
      index: 0,
      total: 2,
      action: 'download',
      targets: ['peer-3'],
      description: 'download a.txt on peer-3',
      fault: false,
    });
    for (let index = 0; index < 3; index++) {
      recorder.record({ type: 'transfer', file: 'a.txt', index, chunks: 8, from: 'peer-1', to: 'peer-3', bytes: 1024 });
    }

    const page = await browser.newPage();
    try {
      await page.goto(server.url);
      // History first: the page shows what happened before it opened.
      await page.waitForSelector(`${mapSelector('peer-3', 'a.txt')}[data-have="3"]`, { timeout: PAGE_TIMEOUT_MS });
      expect(await page.getAttribute('[data-node="tracker"]', 'data-ip')).toBe('10.9.0.2');
      expect(await page.getAttribute('[data-node="peer-2"]', 'data-state')).toBe('running');
      expect(await page.getAttribute(mapSelector('peer-1', 'a.txt'), 'data-complete')).toBe('true');
      expect(await page.getAttribute(mapSelector('peer-1', 'a.txt'), 'data-have')).toBe('8');

      // Then live: the rest of the chunks, from the other publisher, and a fault.
      for (let index = 3; index < 8; index++) {
        recorder.record({
          type: 'transfer',
          file: 'a.txt',
          index,
          chunks: 8,
          from: 'peer-2',
          to: 'peer-3',
          bytes: 1024,
        });
      }
      recorder.record({
        type: 'step',
        index: 1,
        total: 2,
        action: 'kill',
        targets: ['peer-1'],
        description: 'kill peer-1',
        fault: true,
      });
      recorder.record({ type: 'node', name: 'peer-1', role: 'peer', state: 'exited' });
      await page.waitForSelector(`${mapSelector('peer-3', 'a.txt')}[data-complete="true"]`, {
        timeout: PAGE_TIMEOUT_MS,
      });
      expect(await sourcesOf(page, 'peer-3', 'a.txt')).toEqual({ 'peer-1': 3, 'peer-2': 5 });
      await page.waitForSelector('[data-node="peer-1"][data-state="exited"]', { timeout: PAGE_TIMEOUT_MS });
      expect(await page.getAttribute('#step', 'data-fault')).toBe('true');
      expect(await page.locator('#timeline li[data-kind="fault"]').count()).toBeGreaterThanOrEqual(2);
      expect(await page.locator('#transfers li[data-from="peer-2"][data-to="peer-3"]').count()).toBe(5);
      expect(await page.locator('#graph line[data-from="peer-1"][data-to="peer-3"]').getAttribute('data-count')).toBe(
        '3',
      );

      recorder.record({ type: 'end', ok: true, ms: 1234 });
      await page.waitForSelector('body[data-ended="true"][data-ok="true"]', { timeout: PAGE_TIMEOUT_MS });
    } finally {
      await page.close();
    }
  });

  it('keeps up with thousands of transfers and shows a hostile file name as text', async () => {
    const hostile = '<img src=x onerror="document.body.dataset.pwned=1">.txt';
    recorder.record({ type: 'run', run: 'burst' });
    recorder.record({ type: 'node', name: 'peer-1', role: 'peer', ip: '10.9.0.3', state: 'running' });
    recorder.record({ type: 'node', name: 'peer-2', role: 'peer', ip: '10.9.0.4', state: 'running' });
    recorder.record({ type: 'file', peer: 'peer-1', file: hostile, size: 4096, chunks: 4 });
    const page = await browser.newPage();
    try {
      await page.goto(server.url);
      await page.waitForSelector('[data-node="peer-2"]', { timeout: PAGE_TIMEOUT_MS });
      const chunks = 4000;
      for (let index = 0; index < chunks; index++) {
        recorder.record({
          type: 'transfer',
          file: 'big.bin',
          index,
          chunks,
          from: 'peer-1',
          to: 'peer-2',
          bytes: 65536,
        });
      }
      await page.waitForSelector(`${mapSelector('peer-2', 'big.bin')}[data-have="${chunks}"]`, {
        timeout: PAGE_TIMEOUT_MS,
      });
      expect(await sourcesOf(page, 'peer-2', 'big.bin')).toEqual({ 'peer-1': chunks });
      // A 4,000-chunk map is drawn as at most 1,024 cells.
      expect(await page.locator(`${mapSelector('peer-2', 'big.bin')} .cells span`).count()).toBe(1024);

      expect(await page.locator(`[data-file="${hostile.replace(/"/g, '\\"')}"] .file`).textContent()).toBe(hostile);
      expect(await page.locator('.map img').count()).toBe(0);
      expect(await page.getAttribute('body', 'data-pwned')).toBeNull();
    } finally {
      await page.close();
    }
  });
});
