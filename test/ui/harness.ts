/**
 * Browser-test harness: Debian's headless Chromium (`/usr/bin/chromium`, or `MLOE_CHROMIUM`) driven by
 * playwright-core, launched once per test file. Each page records console errors and uncaught exceptions, and
 * screenshots go to `test-output/ui/` (gitignored).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';

/** Where screenshots go. */
export const SCREENSHOT_DIR = resolve(__dirname, '..', '..', 'test-output', 'ui');

/** The Chromium binary: `MLOE_CHROMIUM`, else Debian's package. */
export const CHROMIUM_PATH = process.env.MLOE_CHROMIUM ?? '/usr/bin/chromium';

/** A page with what went wrong on it. */
export interface WatchedPage {
  page: Page;
  /** Console messages of type `error` and uncaught exceptions, in order. */
  errors: string[];
}

/** One browser for a test file. */
export interface BrowserHarness {
  browser: Browser;
  /** Opens a page in a fresh context (own cookies), watching its console. */
  open(): Promise<WatchedPage>;
  /** Saves a full-page screenshot as `test-output/ui/<name>.png`; returns the path. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

/** Launches Chromium headless; call in `beforeAll`, and `close` in `afterAll`. */
export async function launchBrowser(): Promise<BrowserHarness> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Root in containers and CI: Chromium's sandbox needs user namespaces it may not have.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return {
    browser,
    open: async () => {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (message: ConsoleMessage) => {
        if (message.type() === 'error') errors.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
      return { page, errors };
    },
    screenshot: async (page, name) => {
      const path = join(SCREENSHOT_DIR, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    close: () => browser.close(),
  };
}
