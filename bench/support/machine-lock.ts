import { spawn } from 'node:child_process';

/**
 * The machine's benchmark lock (`flock <file>`, as `flock /tmp/perennial-bench.lock npm run ...`
 * takes it), held for part of a run: a run whose slow set-up need not be measured alone takes it
 * for its measurements only. A child `flock` holds it while its stdin stays open, so it is released
 * however this process ends.
 */
export interface MachineLock {
  /** Milliseconds spent waiting for it. */
  waitedMs: number;
  release(): Promise<void>;
}

export async function takeMachineLock(file: string): Promise<MachineLock> {
  const started = Date.now();
  const holder = spawn('flock', [file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once('data', () => resolve());
    holder.once('error', reject);
    void exited.then(() => reject(new Error(`flock ${file} exited before taking the lock`)));
  });
  return {
    waitedMs: Date.now() - started,
    async release() {
      holder.stdin.end();
      await exited;
    },
  };
}
