/**
 * The run report of a real lab run, opened in a real browser: replays lab/scenarios/rate-limited.yaml
 * (with a 1 MiB file, to stay short) through `runCommand`, then loads the report.html it wrote via file://
 * in Chromium and checks that the plot has exactly one point per `transfer` event of events.jsonl, that
 * the minimum distribution time is drawn (every upload rate is set), and that the page requested nothing
 * but itself. Needs Docker and /usr/bin/chromium (see tests/helpers/browser.ts).
 *
 * UPDATE_SCREENSHOTS=1 also saves the screenshot of the report as docs/images/report.png.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type { Browser } from 'playwright-core';
import { parse as parseYaml } from 'yaml';

import { runCommand, shippedScenarioPath } from '../../lab/commands';
import { LABEL_RUN } from '../../lab/engine/lab-docker';
import type { RunEvent } from '../../lab/observe/run-events';
import type { ScenarioReport } from '../../lab/report-types';
import type { Scenario } from '../../lab/scenario/schema';
import { setLogLevel } from '../../src/shared/logger';
import { describeWithBrowser, launchBrowser, recordRequests } from '../helpers/browser';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 180_000;
const FILE_BYTES = 1024 * 1024;
const SCREENSHOT = join(__dirname, '..', '..', 'docs', 'images', 'report.png');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

/** The shipped rate-limited scenario with a smaller file: same rates, so still a minimum line. */
async function smallRateLimitedScenario(dir: string): Promise<string> {
  const scenario = parseYaml(await readFile(shippedScenarioPath('rate-limited.yaml'), 'utf8')) as Scenario;
  for (const step of scenario.steps) {
    if (step.action === 'generate') step.size = FILE_BYTES;
  }
  const file = join(dir, 'rate-limited-small.json');
  await writeFile(file, JSON.stringify(scenario));
  return file;
}

describeWithBrowser('lab run report (containers, browser)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const { labDocker, controller, lines, abort, ctx } = createLabTestContext();
  const run = `report-test-${process.pid}`;
  let dir: string | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    abort.abort();
    await controller.down(run);
    await browser?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('writes a report whose plot has one point per transfer and the minimum line, and fetches nothing', async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-report-'));
    const reportDir = join(dir, 'runs');
    const code = await runCommand(ctx, await smallRateLimitedScenario(dir), {
      run,
      json: true,
      printChunks: false,
      reportDir,
    });
    const record = JSON.parse(lines[lines.length - 1] ?? '{}') as ScenarioReport & { reportPath?: string };
    if (code !== 0) throw new Error(`scenario failed: ${record.error?.message}\n${lines.join('\n')}`);
    expect(await labDocker.listContainers({ [LABEL_RUN]: run })).toEqual([]);

    // The report is where the record and the transcript say, beside its data and event log.
    const reportPath = record.reportPath ?? '';
    expect(reportPath.startsWith(join(reportDir, `${run}-`))).toBe(true);
    expect(lines).toContain(`report: ${reportPath}`);
    expect(existsSync(join(dirname(reportPath), 'report.json'))).toBe(true);
    const events = (await readFile(join(dirname(reportPath), 'events.jsonl'), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as RunEvent);
    const transfers = events.filter((e) => e.type === 'transfer');
    const transferSeqs = transfers.map((e) => String(e.seq));
    // 16 chunks of 64 KiB to each of 3 downloaders.
    expect(new Set(transfers.map((e) => `${e.to}:${e.index}`)).size).toBe(3 * 16);

    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1060, height: 1300 } });
    const requests = recordRequests(page);
    const consoleMessages: string[] = [];
    page.on('console', (message) => consoleMessages.push(message.text()));
    const url = pathToFileURL(reportPath).href;
    await page.goto(url);

    const points = page.locator('svg.timeline circle.transfer');
    expect(await points.count()).toBe(transferSeqs.length);
    const drawnSeqs = await points.evaluateAll((circles) => circles.map((c) => c.getAttribute('data-seq')));
    expect(drawnSeqs.sort()).toEqual([...transferSeqs].sort());
    expect(await page.locator('svg.progress-plot polyline.progress').count()).toBe(3);
    expect(await page.locator('svg.progress-plot .minimum-line').count()).toBe(1);
    expect(await page.locator('.minimum-line text').textContent()).toMatch(/^min \d+\.\d+ s$/);

    expect(requests).toEqual([url]);
    expect(consoleMessages).toEqual([]);

    const screenshot = await page.screenshot({ fullPage: false });
    expect(screenshot.subarray(0, 4).equals(PNG_SIGNATURE)).toBe(true);
    if (process.env['UPDATE_SCREENSHOTS'] === '1') await writeFile(SCREENSHOT, screenshot);
  });
});
