import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  /** Resolves when the process has printed a line containing `text`; rejects if it exits first. */
  printed(text: string): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface Watchdog {
  /** The guarded process ended normally: the watchdog goes away without signalling anything. */
  release(): void;
}

/**
 * The watchdog blocks reading a pipe whose only writer is this process and which nothing ever
 * writes to. Whatever ends this process (Ctrl-C, SIGKILL, a crash, an exit that skipped cleanup),
 * the kernel closes that pipe, the read returns, and the watchdog signals the guarded process, then
 * kills it if it is still there after the grace period.
 */
const WATCHDOG_SCRIPT = [
  'while read -r _; do :; done',
  'kill -s "$2" -- "$1" 2>/dev/null || exit 0',
  'i=0',
  'while [ "$i" -lt "$3" ] && kill -0 -- "$1" 2>/dev/null; do sleep 1; i=$((i + 1)); done',
  'kill -s KILL -- "$1" 2>/dev/null',
  'exit 0',
].join('\n');

/**
 * Makes sure process `pid` (its whole process group when `group`) does not outlive this process.
 * Services are separate programs (a JVM, Postgres, the Temporal CLI, Python), so nothing else
 * stops them when the test runner or `npm start` dies without running its cleanup.
 */
export function killWhenThisProcessDies(
  pid: number,
  options: { group?: boolean; signal?: NodeJS.Signals; graceSeconds?: number } = {},
): Watchdog {
  const target = options.group ? `-${pid}` : String(pid);
  // dash's kill takes signal names without the SIG prefix.
  const signal = (options.signal ?? 'SIGTERM').replace(/^SIG/, '');
  // Detached: a Ctrl-C sent to the terminal's process group must not take the watchdog with it.
  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'perennial-watchdog', target, signal, String(options.graceSeconds ?? 10)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  watchdog.on('error', (error) => console.error(`could not start the watchdog of process ${pid}: ${error.message}`));
  // Neither the watchdog nor its pipe may keep this process alive.
  watchdog.unref();
  const pipe = watchdog.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null;
  pipe?.unref?.();
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      // Killed first: closing the pipe alone would read as this process dying.
      if (watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGKILL');
      watchdog.stdin?.destroy();
    },
  };
}

/**
 * Starts a long-running child process. Its output goes to `logFile` when given, otherwise to this
 * terminal with a `[name]` prefix on each line (after `format`, e.g. JSON log lines made readable),
 * so the user sees which process said what. A
 * watchdog stops it if this process dies without stopping it.
 */
export function startService(
  name: string,
  command: string,
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    logFile?: string;
    quiet?: boolean;
    ownProcessGroup?: boolean;
    format?: (line: string) => string;
    /** False when the lines already say which process wrote them (`format` adds the label). */
    prefix?: boolean;
  },
): ServiceProcess {
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownProcessGroup ?? false,
  });
  const watchdog = child.pid === undefined ? null : killWhenThisProcessDies(child.pid, { group: options.ownProcessGroup ?? false });
  const sink = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : null;
  let output = '';
  const watchers: Array<{ text: string; done: () => void }> = [];
  const relay = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream): void => {
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      sink?.write(chunk);
      // Only a tail is kept: enough to find a line split across chunks.
      output = (output + chunk.toString()).slice(-8192);
      for (const watcher of watchers.filter((w) => output.includes(w.text))) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.done();
      }
      if (sink || options.quiet) return;
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) for (const shown of (options.format ? options.format(line) : line).split('\n')) out.write(options.prefix === false ? `${shown}\n` : `[${name}] ${shown}\n`);
    });
  };
  relay(child.stdout!, process.stdout);
  relay(child.stderr!, process.stderr);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      watchdog?.release();
      sink?.end();
      resolve(code);
    });
    child.once('error', (error) => {
      watchdog?.release();
      console.error(`[${name}] could not start ${command}: ${error.message}`);
      resolve(-1);
    });
  });
  return {
    name,
    child,
    exited,
    printed(text: string) {
      return new Promise<void>((resolve, reject) => {
        if (output.includes(text)) return resolve();
        watchers.push({ text, done: resolve });
        void exited.then((code) => reject(new Error(`${name} exited with code ${code} before printing "${text}"`)));
      });
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      // A process that ignores the polite signal for 15 s is killed, so Ctrl-C always ends everything.
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
