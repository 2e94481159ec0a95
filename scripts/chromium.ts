import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLogged, whichCommand } from './run-command';
import { withProgress } from './progress';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/**
 * The Chromium the browser tests drive through playwright-core. Playwright's own browser download
 * needs its CDN, so the browser is Debian's: CHROMIUM_PATH when set, else the first on PATH, else
 * `apt-get install chromium` when this process may (root), else an error saying what to install.
 */
export async function chromiumPath(): Promise<string> {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of NAMES) {
    const found = await whichCommand(name);
    if (found) return found;
  }
  if (process.getuid?.() !== 0) {
    throw new Error('No Chromium found: install Debian\'s "chromium" package (apt-get install chromium) or set CHROMIUM_PATH');
  }
  const logFile = join(tmpdir(), 'perennial-apt-chromium.log');
  await withProgress('Installing chromium and poppler-utils from Debian (once per machine)', async () => {
    await runLogged('apt-get', ['update', '-qq'], { logFile });
    await runLogged('apt-get', ['install', '-y', '-qq', 'chromium', 'poppler-utils'], { logFile, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  });
  const installed = await whichCommand('chromium');
  if (!installed) throw new Error(`apt-get installed chromium but it is not on PATH; see ${logFile}`);
  return installed;
}
