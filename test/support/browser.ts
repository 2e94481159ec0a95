import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumPath } from '../../scripts/chromium';

/** Debian's Chromium driven by playwright-core (scripts/chromium.ts finds or installs it). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: await chromiumPath(), args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** A page at a desktop size, downloads allowed. */
export async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  return context.newPage();
}

/**
 * `npm run screenshots` sets PERENNIAL_SCREENSHOTS to docs/screenshots, the images the README shows;
 * an ordinary test run writes them to the temporary directory, so it leaves the tree as it was.
 */
const SCREENSHOTS = process.env.PERENNIAL_SCREENSHOTS ? resolve(process.env.PERENNIAL_SCREENSHOTS) : join(tmpdir(), 'perennial-screenshots');

/** Saves the whole page as <name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Signs in to the console at `baseUrl` with `key`. */
export async function signIn(page: Page, baseUrl: string, key: string): Promise<void> {
  await page.goto(`${baseUrl}/console/sign_in`);
  await page.fill('input[name=api_key]', key);
  await Promise.all([page.waitForURL(/\/console\/(?!sign_in)/), page.click('button[type=submit]')]);
}
