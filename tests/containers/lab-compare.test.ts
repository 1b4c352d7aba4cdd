/**
 * `lab compare` end to end on real containers: a small rate-limited swarm compared under two pickers with
 * one repeat each, through `compareCommand`. Checks the `--json` record's shape, the files on disk
 * (compare.json, compare.html, each run's report), that both variants generated the same file (the same
 * run seed), and opens compare.html in Chromium: one dot and one CDF line per variant, a working link to
 * each run's report, nothing fetched. COMPARE_SCREENSHOT=PATH saves the page as a PNG. Needs Docker and /usr/bin/chromium (see tests/helpers/browser.ts).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type { Browser } from 'playwright-core';

import { LABEL_RUN } from '../../lab/engine/lab-docker';
import { compareCommand } from '../../lab/experiment/compare-command';
import type { ScenarioReport } from '../../lab/report-types';
import { fileSeed } from '../../lab/replay/seed';
import { generateFile } from '../../src/shared/generate';
import { setLogLevel } from '../../src/shared/logger';
import { describeWithBrowser, launchBrowser, recordRequests } from '../helpers/browser';
import { createLabTestContext } from '../helpers/lab';

if (process.env['LOG_LEVEL'] === undefined) setLogLevel('warn');

const TIMEOUT_MS = 240_000;
const FILE_BYTES = 512 * 1024;

/** One seeder and two downloaders, every upload limited so that each run has a theoretical minimum. */
const SCENARIO = {
  name: 'compare-small',
  peers: [
    { name: 'peer-1', uploadRate: 262144 },
    { name: 'peer-2', uploadRate: 262144 },
    { name: 'peer-3', uploadRate: 262144 },
  ],
  chunkSize: 32768,
  timeoutSeconds: 150,
  steps: [
    { action: 'connect', peers: 'all' },
    { action: 'generate', peer: 'peer-1', file: 'small.bin', size: FILE_BYTES, text: false },
    { action: 'publish', peer: 'peer-1' },
    { action: 'download', peers: ['peer-2', 'peer-3'], file: 'small.bin', timeoutSeconds: 90 },
  ],
};

interface RunRecord {
  distributionS: number | null;
  minimumS: number | null;
  ratio: number | null;
  seederCopies: number | null;
  verified: boolean;
  reportPath: string;
}
interface CompareRecord {
  compare: {
    scenario: string;
    variants: { vary: Record<string, string>; runs: RunRecord[]; median: { distributionS: number; ratio: number } }[];
    reportPath: string;
  };
}

describeWithBrowser('lab compare (containers, browser)', () => {
  jest.setTimeout(TIMEOUT_MS);
  const { labDocker, controller, lines, abort, ctx } = createLabTestContext();
  const prefix = `cmp-test-${process.pid}`;
  const runs = [`${prefix}-v1-r1`, `${prefix}-v2-r1`];
  let dir: string | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    abort.abort();
    for (const run of runs) await controller.down(run);
    await browser?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('compares two pickers, writes compare.json and compare.html, and the page shows and links both runs', async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarmlab-compare-'));
    const file = join(dir, 'compare-small.json');
    await writeFile(file, JSON.stringify(SCENARIO));
    const code = await compareCommand(ctx, file, {
      vary: ['picker=rarest,sequential'],
      repeat: 1,
      seed: 'compare-test',
      json: true,
      reportDir: join(dir, 'runs'),
      run: prefix,
    });
    const last = lines[lines.length - 1] ?? '{}';
    if (code !== 0) throw new Error(`compare failed (exit ${code}):\n${lines.join('\n')}`);
    for (const run of runs) expect(await labDocker.listContainers({ [LABEL_RUN]: run })).toEqual([]);

    // The last line is the one JSON record, in the contract's shape.
    const record = JSON.parse(last) as CompareRecord;
    expect(Object.keys(record)).toEqual(['compare']);
    expect(record.compare.scenario).toBe('compare-small');
    expect(record.compare.variants.map((v) => v.vary)).toEqual([{ picker: 'rarest' }, { picker: 'sequential' }]);
    for (const variant of record.compare.variants) {
      expect(variant.runs).toHaveLength(1);
      const run = variant.runs[0]!;
      expect(run.verified).toBe(true);
      expect(run.distributionS).toBeGreaterThan(0);
      // 512 KiB from a 256 KiB/s seeder: F/u_s = 2 s bounds the minimum.
      expect(run.minimumS).toBeCloseTo(2, 3);
      expect(run.ratio).toBeCloseTo(run.distributionS! / run.minimumS!, 2);
      expect(run.seederCopies).toBeGreaterThanOrEqual(0.99);
      expect(variant.median).toEqual({ distributionS: run.distributionS, ratio: run.ratio });
      expect(existsSync(run.reportPath)).toBe(true);
      expect(existsSync(join(dirname(run.reportPath), 'events.jsonl'))).toBe(true);
    }

    // compare.json beside compare.html, with every run.
    const reportPath = record.compare.reportPath;
    expect(reportPath.startsWith(join(dir, 'runs', 'compare-'))).toBe(true);
    expect(lines).toContain(`report: ${reportPath}`);
    const saved = JSON.parse(await readFile(join(dirname(reportPath), 'compare.json'), 'utf8')) as {
      complete: boolean;
      ok: boolean;
      seed: string;
      variants: { runs: { run: string; seed: string }[] }[];
    };
    expect(saved).toMatchObject({ complete: true, ok: true, seed: 'compare-test' });
    expect(saved.variants.flatMap((v) => v.runs.map((r) => [r.run, r.seed]))).toEqual([
      [runs[0], 'compare-test-1'],
      [runs[1], 'compare-test-1'],
    ]);

    // The same run seed gave both variants the same file.
    const shas = await Promise.all(
      record.compare.variants.map(async (variant) => {
        const report = JSON.parse(
          await readFile(join(dirname(variant.runs[0]!.reportPath), 'report.json'), 'utf8'),
        ) as ScenarioReport;
        return report.downloads.map((d) => d.sha256);
      }),
    );
    // ...the one the run seed decides: generated here with the seed derived for its repeat.
    const expected = await generateFile(
      join(dir, 'expected.bin'),
      FILE_BYTES,
      fileSeed('compare-test-1', 'small.bin'),
      false,
    );
    expect(new Set(shas.flat())).toEqual(new Set([expected]));

    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1060, height: 1300 } });
    const requests = recordRequests(page);
    const consoleMessages: string[] = [];
    page.on('console', (message) => consoleMessages.push(message.text()));
    const url = pathToFileURL(reportPath).href;
    await page.goto(url);
    expect(await page.locator('svg.distribution circle.run').count()).toBe(2);
    expect(await page.locator('svg.cdf-plot polyline.cdf').count()).toBe(2);
    expect(await page.locator('svg.distribution line.minimum').count()).toBe(2);
    expect(await page.locator('table.summary tbody tr').count()).toBe(2);
    const links = page.locator('a.run-report');
    expect(await links.count()).toBe(2);
    const hrefs = await links.evaluateAll((anchors) => anchors.map((a) => (a as unknown as { href: string }).href));
    expect(hrefs).toEqual(record.compare.variants.map((v) => pathToFileURL(v.runs[0]!.reportPath).href));
    expect(requests).toEqual([url]);
    expect(consoleMessages).toEqual([]);

    // A link leads to that run's own report.
    await links.first().click();
    await page.waitForURL(hrefs[0]!);
    expect(await page.title()).toContain(runs[0]);
    if (process.env['COMPARE_SCREENSHOT'] !== undefined) {
      await page.goto(url);
      await page.screenshot({ path: process.env['COMPARE_SCREENSHOT'], fullPage: true });
    }
  });
});
