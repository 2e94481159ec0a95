import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
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
  options: { env?: NodeJS.ProcessEnv; cwd?: string; logFile?: string; quiet?: boolean },
): ServiceProcess {
  const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const sink = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : null;
  const relay = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream): void => {
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      sink?.write(chunk);
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
