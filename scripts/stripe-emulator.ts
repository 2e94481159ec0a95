import { access, chmod, constants, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir } from './cache-dir';
import { withProgress } from './progress';
import { runLogged, whichCommand } from './run-command';
import { startService, type ServiceProcess } from './service-process';
import { waitForPort } from './wait-for-port';

/**
 * localstripe (https://github.com/adrienverge/localstripe, PyPI), a stateful Stripe emulator the tests
 * and the local stack talk to over HTTP with the official SDK. It is installed from PyPI into a Python
 * venv of its own, cached per version like the other tools, behind a small executable script.
 */
export const LOCALSTRIPE_VERSION = '1.15.10';

/**
 * Every package of the venv, pinned: localstripe declares open ranges (aiohttp >=2.3.2), so these are
 * the versions it was checked with on Python 3.11. Changing a pin reinstalls the venv.
 */
const REQUIREMENTS = [
  `localstripe==${LOCALSTRIPE_VERSION}`,
  'aiohttp==3.14.5',
  'aiohappyeyeballs==2.7.1',
  'aiosignal==1.4.0',
  'attrs==26.1.0',
  'frozenlist==1.8.0',
  'idna==3.20',
  'multidict==7.2.1',
  'propcache==0.5.4',
  'python-dateutil==4.0.0',
  'typing_extensions==4.16.0',
  'tzdata==2026.6',
  'yarl==1.25.1',
];

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * The `localstripe` command: LOCALSTRIPE_PATH when set, otherwise a script in the cache that runs
 * the pinned localstripe from its venv, which the first call creates with pip (needs python3 with
 * the venv module, and PyPI).
 */
export async function ensureLocalstripe(): Promise<string> {
  const explicit = process.env.LOCALSTRIPE_PATH;
  if (explicit) {
    if (await isExecutable(explicit)) return explicit;
    throw new Error(`LOCALSTRIPE_PATH=${explicit} is not an executable file`);
  }
  const dir = cacheDir('localstripe', LOCALSTRIPE_VERSION);
  const script = join(dir, 'localstripe');
  const pins = `# requirements: ${REQUIREMENTS.join(' ')}`;
  if ((await isExecutable(script)) && (await readFile(script, 'utf8')).includes(pins)) return script;

  const python = (await whichCommand('python3')) ?? (await whichCommand('python'));
  if (!python) throw new Error('The Stripe emulator (localstripe) needs Python 3.9+ on PATH (python3), or LOCALSTRIPE_PATH');
  await mkdir(dir, { recursive: true });
  const logFile = join(dir, 'pip.log');
  // Built aside and renamed into place, so a concurrent run sees either no venv or a complete one.
  // A moved venv still works when run as `<venv>/bin/python -m`, which is all the script does.
  const staging = join(dir, `venv-${process.pid}`);
  const venv = join(dir, 'venv');
  try {
    await rm(staging, { recursive: true, force: true });
    await withProgress(`Installing localstripe ${LOCALSTRIPE_VERSION} from PyPI into a venv (first run only; log: ${logFile})`, async () => {
      await runLogged(python, ['-m', 'venv', staging], { logFile }).catch((error: Error) => {
        throw new Error(`could not create a Python venv (on Debian: apt-get install python3-venv)\n${error.message}`);
      });
      await runLogged(join(staging, 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', ...REQUIREMENTS], {
        logFile,
      });
    });
    await rm(venv, { recursive: true, force: true });
    await rename(staging, venv);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const body = `#!/bin/sh\n# localstripe ${LOCALSTRIPE_VERSION}, usage: localstripe --port <port> [--from-scratch]\n${pins}\nexec '${join(venv, 'bin', 'python')}' -m localstripe "$@"\n`;
  await writeFile(`${script}.tmp`, body);
  await chmod(`${script}.tmp`, 0o755);
  await rename(`${script}.tmp`, script);
  return script;
}

export interface StripeEmulator {
  /** Where the SDK sends requests, e.g. http://127.0.0.1:8420 (see test/support/stripe.ts). */
  apiBase: string;
  port: number;
  service: ServiceProcess;
  stop(): Promise<void>;
}

/**
 * Starts localstripe on `port` (all interfaces, IPv4 and IPv6) and resolves once it accepts
 * connections. Its data lives in memory; `keepData` loads what an earlier run saved instead.
 * localstripe saves every change to /tmp/localstripe.pickle, one file for every instance on the
 * machine, so only one instance at a time should use `keepData`.
 */
export async function startStripeEmulator(options: { port: number; logFile?: string; quiet?: boolean; keepData?: boolean }): Promise<StripeEmulator> {
  const command = await ensureLocalstripe();
  const args = ['--port', String(options.port)];
  if (!options.keepData) args.push('--from-scratch');
  const service = startService('localstripe', command, args, { logFile: options.logFile, quiet: options.quiet });
  try {
    await Promise.race([
      waitForPort(options.port, { what: 'the Stripe emulator (localstripe)', timeoutMs: 30_000 }),
      service.exited.then((code) => {
        throw new Error(`localstripe exited with code ${code} before it was ready${options.logFile ? `; see ${options.logFile}` : ''}`);
      }),
    ]);
  } catch (error) {
    await service.stop();
    throw error;
  }
  return {
    apiBase: `http://127.0.0.1:${options.port}`,
    port: options.port,
    service,
    stop: () => service.stop(),
  };
}
