/**
 * A real browser for the tests of the dashboard and the run report: Debian's Chromium driven by
 * playwright-core (which ships no browser of its own, so nothing is downloaded).
 *
 * Skip rule: when the Chromium binary is missing, a suite declared with `describeWithBrowser` is skipped
 * with a printed notice; with REQUIRE_BROWSER=1 (CI sets it) it fails instead, so a broken install cannot
 * pass silently.
 */
import { existsSync } from 'node:fs';

import { chromium, type Browser, type LaunchOptions, type Page } from 'playwright-core';

/** Debian's `chromium` package; `CHROMIUM_PATH` points elsewhere on other systems. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Headless, no sandbox (containers, root), and none of the background traffic a desktop browser makes. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const BROWSER_LAUNCH_TIMEOUT_MS = 60_000;

export function browserLaunchOptions(): LaunchOptions {
  return { executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS], timeout: BROWSER_LAUNCH_TIMEOUT_MS };
}

/** True when the browser binary is installed. */
export function isBrowserAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** True when a missing browser must fail the tests rather than skip them. */
export function isBrowserRequired(): boolean {
  return process.env['REQUIRE_BROWSER'] === '1';
}

/**
 * `describe` for a suite that needs the browser: runs it when Chromium is installed; otherwise prints a
 * notice and skips it, or, under REQUIRE_BROWSER=1, replaces it with one failing test that says why.
 */
export function describeWithBrowser(name: string, body: () => void): void {
  if (isBrowserAvailable()) {
    describe(name, body);
    return;
  }
  const reason = `${CHROMIUM_PATH} is missing (apt-get install -y chromium)`;
  if (isBrowserRequired()) {
    describe(name, () => {
      it('needs a browser', () => {
        throw new Error(`REQUIRE_BROWSER=1 but ${reason}`);
      });
    });
    return;
  }
  console.warn(`NOTICE: SKIPPING "${name}": ${reason}; set REQUIRE_BROWSER=1 to fail instead.`);
  describe.skip(name, body);
}

/** Launches Chromium with `browserLaunchOptions()`; close it in afterAll. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch(browserLaunchOptions());
}

/**
 * Records the URL of every request the page makes from now on, so a test can check that a page made none
 * it should not (a self-contained report fetches nothing but itself).
 */
export function recordRequests(page: Page): string[] {
  const urls: string[] = [];
  page.on('request', (request) => urls.push(request.url()));
  return urls;
}
