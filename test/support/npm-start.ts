import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { freePort } from '../../scripts/wait-for-port';
import { SETTINGS } from '../../config/env';

/**
 * `npm start` as a user runs it, for end-to-end tests: `node --import tsx scripts/start.ts` (what the
 * npm script runs) with its own data directory and free ports, in a process group of its own like a
 * terminal's foreground job, stopped with Ctrl-C (SIGINT to the group).
 */
const ROOT = resolve(__dirname, '../..');

export interface StackPorts {
  api: number;
  temporal: number;
  ui: number;
  postgres: number;
}

export async function freeStackPorts(): Promise<StackPorts> {
  return { api: await freePort(), temporal: await freePort(), ui: await freePort(), postgres: await freePort() };
}


export interface NpmStart {
  process: ChildProcess;
  dataDir: string;
  ports: StackPorts;
  /** http://127.0.0.1:<api port> */
  apiBase: string;
  /** Everything it printed so far, both streams, with the children's `[api]` / `[worker]` prefixes. */
  output(): string;
  exited: Promise<number | null>;
  hasExited(): boolean;
}

export interface RunningStack extends NpmStart {
  /** The admin key it printed (generated and kept in the data directory), or the one given in BILLING_API_KEYS. */
  adminKey: string;
}

/** Spawns `npm start`'s script and returns at once; see startNpmStart to wait until it is ready. */
export function launchNpmStart(options: { dataDir: string; ports: StackPorts; env?: Record<string, string>; args?: string[] }): NpmStart {
  const { dataDir, ports } = options;
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The runner's settings would point the stack elsewhere or turn features on; a test passes its own in `env`.
  for (const name of [...SETTINGS, 'PERENNIAL_TEST_SERVICES']) delete env[name];
  Object.assign(env, {
    PERENNIAL_DATA_DIR: dataDir,
    PORT: String(ports.api),
    TEMPORAL_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    POSTGRES_PORT: String(ports.postgres),
    ...options.env,
  });
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts', ...(options.args ?? [])], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exitedYet = false;
  const exited = new Promise<number | null>((done) =>
    child.once('exit', (code) => {
      exitedYet = true;
      done(code);
    }),
  );
  return { process: child, dataDir, ports, apiBase: `http://127.0.0.1:${ports.api}`, output: () => output, exited, hasExited: () => exitedYet };
}

/**
 * Starts the stack and resolves once it says it is running (the API answers and the worker polls).
 * If it exits or does not get there in time, it is stopped and the error carries its output.
 */
export async function startNpmStart(options: { dataDir: string; ports: StackPorts; env?: Record<string, string>; args?: string[]; timeoutMs?: number }): Promise<RunningStack> {
  const stack = launchNpmStart(options);
  const deadline = Date.now() + (options.timeoutMs ?? 150_000);
  while (!stack.output().includes('Perennial is running.') && !stack.hasExited() && Date.now() < deadline) await sleep(100);
  if (!stack.output().includes('Perennial is running.')) {
    const why = stack.hasExited() ? 'npm start exited before the stack was ready' : `npm start was not ready after ${options.timeoutMs ?? 150_000} ms`;
    await stopNpmStart(stack);
    throw new Error(`${why}:\n${stack.output()}`);
  }
  // With BILLING_API_KEYS given the banner names no key: the admin one is the test's own.
  const given = /(?:^|,)admin:([^,]+)/.exec(options.env?.BILLING_API_KEYS ?? '');
  const key = given ?? /admin key (sk_admin_[0-9a-f]+)/.exec(stack.output());
  if (!key) {
    await stopNpmStart(stack);
    throw new Error(`npm start did not print an admin key:\n${stack.output()}`);
  }
  return { ...stack, adminKey: key[1] };
}

export function pressCtrlC(stack: NpmStart): void {
  if (!stack.hasExited()) process.kill(-(stack.process.pid as number), 'SIGINT');
}

export interface Stopped {
  code: number | null;
  /** What it printed from the moment Ctrl-C was pressed. */
  outputAfterCtrlC: string;
  /** Processes of the stack still alive once it had exited (see leftoverProcesses); killed. */
  leftovers: string[];
}

/**
 * Ctrl-C, then waits for `npm start` to exit. Whatever of the stack is still alive after that, or
 * after `timeoutMs` (a hung shutdown), is killed so no test leaves processes behind, and reported.
 */
export async function stopNpmStart(stack: NpmStart, timeoutMs = 60_000): Promise<Stopped> {
  const mark = stack.output().length;
  pressCtrlC(stack);
  const code = await exitWithin(stack, timeoutMs);
  let leftovers = await leftoverProcesses(stack);
  // Postgres's helper processes go a moment after the postmaster is told to stop.
  for (let i = 0; i < 50 && leftovers.length > 0 && code !== 'timeout'; i++) {
    await sleep(100);
    leftovers = await leftoverProcesses(stack);
  }
  for (const line of leftovers) {
    try {
      process.kill(Number(line.split(' ')[0]), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (code === 'timeout') {
    try {
      process.kill(-(stack.process.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return { code: code === 'timeout' ? null : code, outputAfterCtrlC: stack.output().slice(mark), leftovers };
}

/**
 * Processes the stack started that are still alive, as "pid command line": those in `npm start`'s
 * process group (the API, the worker, Postgres) and those naming its data directory (the Temporal
 * dev server runs in a group of its own). Linux only: it reads /proc.
 */
export async function leftoverProcesses(stack: NpmStart): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name, which may itself hold spaces and parentheses: state, ppid, pgrp.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const commandLine = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ').trim();
      if (Number(pgrp) === stack.process.pid || commandLine.includes(stack.dataDir)) found.push(`${entry} ${commandLine}`);
    } catch {
      // It exited while being read.
    }
  }
  return found;
}

/** Lines a child of the stack (`api`, `worker`) printed that report an error or belong to a stack trace. */
export function errorLines(output: string, child: string): string[] {
  const prefix = `[${child}]`;
  return output.split('\n').filter((line) => line.startsWith(prefix) && (/error/i.test(line) || /^\S+\s+at\s/.test(line)));
}

/** Runs `npm start` to its end (for a start expected to refuse), stopping it if it does not end in time. */
export async function runNpmStartToExit(options: { dataDir: string; ports: StackPorts; env?: Record<string, string>; timeoutMs?: number }): Promise<{ code: number | null; output: string }> {
  const stack = launchNpmStart(options);
  const code = await exitWithin(stack, options.timeoutMs ?? 60_000);
  if (code === 'timeout') {
    await stopNpmStart(stack);
    throw new Error(`npm start was still running after ${options.timeoutMs ?? 60_000} ms:\n${stack.output()}`);
  }
  return { code, output: stack.output() };
}

export function portIsOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/** Its exit code, or 'timeout'; the timer is cleared so it cannot hold the test runner open. */
async function exitWithin(stack: NpmStart, ms: number): Promise<number | null | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([stack.exited, new Promise<'timeout'>((done) => (timer = setTimeout(() => done('timeout'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Polls `probe` until it returns a value (not undefined). Only the overall deadline is a limit, never
 * an expectation: the stack shares two cores with other work.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(options.intervalMs ?? 100);
  }
}
