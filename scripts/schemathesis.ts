import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir } from './cache-dir';
import { runLogged } from './run-command';

/**
 * Schemathesis (PyPI), pinned, in a virtualenv under the cache directory: installed once per
 * version and reused by every clone. Needs python3 with venv (Debian: python3-venv; .ci/run
 * installs it where it is missing).
 */
export const SCHEMATHESIS_VERSION = '4.32.5';

export async function ensureSchemathesis(log: (line: string) => void = console.log): Promise<string> {
  const home = cacheDir(`schemathesis-${SCHEMATHESIS_VERSION}`);
  const binary = join(home, 'venv', 'bin', 'schemathesis');
  if (existsSync(binary)) return binary;
  await mkdir(home, { recursive: true });
  const logFile = join(home, 'install.log');
  log(`Installing Schemathesis ${SCHEMATHESIS_VERSION} into ${join(home, 'venv')} (log: ${logFile})`);
  // A half-made venv (an interrupted install) is made again from scratch.
  await rm(join(home, 'venv'), { recursive: true, force: true });
  try {
    await runLogged('python3', ['-m', 'venv', join(home, 'venv')], { logFile });
  } catch (error) {
    throw new Error(`python3 -m venv failed: install python3 and python3-venv (Debian: apt-get install python3-venv)\n${error instanceof Error ? error.message : String(error)}`);
  }
  await runLogged(join(home, 'venv', 'bin', 'pip'), ['install', '--disable-pip-version-check', '--quiet', `schemathesis==${SCHEMATHESIS_VERSION}`], { logFile });
  if (!existsSync(binary)) throw new Error(`pip installed Schemathesis but ${binary} is missing; see ${logFile}`);
  return binary;
}
