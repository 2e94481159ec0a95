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

/**
 * Starts a long-running child process. Its output goes to `logFile` when given, otherwise to this
 * terminal with a `[name]` prefix on each line, so the user sees which process said what.
 */
export function startService(
  name: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; logFile?: string; quiet?: boolean; ownProcessGroup?: boolean },
): ServiceProcess {
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownProcessGroup ?? false,
  });
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
      for (const line of lines) out.write(`[${name}] ${line}\n`);
    });
  };
  relay(child.stdout!, process.stdout);
  relay(child.stderr!, process.stderr);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      sink?.end();
      resolve(code);
    });
    child.once('error', (error) => {
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
