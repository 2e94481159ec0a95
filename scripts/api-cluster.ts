import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';

/**
 * Several API processes behind one port, with Node's cluster module: this process accepts the
 * connections and hands them to the API processes in turn (round-robin), each of them the same
 * `api/server.ts` that `npm run api` runs. API_PROCESSES says how many (default 2). A process that
 * dies after it was listening is replaced; one that dies while starting (a refused setting, say)
 * stops the whole group, since a replacement would fail the same way.
 *
 * Every line an API process prints is passed on prefixed with `[api-<n>]`, so one can tell which
 * process answered. Once all of them listen it says so (scripts/cluster-stack.ts API_CLUSTER_READY).
 */
const count = Math.max(1, Number(process.env.API_PROCESSES ?? 2) || 2);
const extension = __filename.endsWith('.ts') ? '.ts' : '.js';
let stopping = false;
const listening = new Set<number>();

function relay(stream: NodeJS.ReadableStream | null, out: NodeJS.WriteStream, label: string): void {
  let pending = '';
  stream?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) out.write(`[${label}] ${line}\n`);
  });
}

function fork(slot: number): void {
  const worker: Worker = cluster.fork({ API_PROCESS: String(slot) });
  const label = `api-${slot}`;
  relay(worker.process.stdout, process.stdout, label);
  relay(worker.process.stderr, process.stderr, label);
  let wasListening = false;
  worker.on('listening', () => {
    wasListening = true;
    listening.add(slot);
    if (listening.size === count) console.log(`api-cluster: all processes listening (${count}; pids ${Object.values(cluster.workers ?? {}).map((w) => w?.process.pid).join(', ')})`);
  });
  worker.on('exit', (code, signal) => {
    listening.delete(slot);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    // A clean exit is a process that was told to stop (a terminal's Ctrl-C reaches it before it reaches us).
    if (code === 0 && !signal) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    if (!wasListening) {
      console.error(`${label} exited while starting (${signal ?? `code ${code}`}); stopping the API processes`);
      void stop(1);
      return;
    }
    console.error(`${label} exited (${signal ?? `code ${code}`}); starting another`);
    fork(slot);
  });
}

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => Boolean(w));
  // Each API process closes its server and its pools on SIGTERM (a terminal's Ctrl-C has already
  // sent them SIGINT, which they treat the same way).
  for (const worker of workers) worker.process.kill('SIGTERM');
  await Promise.all(workers.map((worker) => new Promise((done) => (worker.isDead() ? done(undefined) : worker.once('exit', done)))));
  process.exit(code);
}

function main(): void {
  // `silent` pipes each process's output here, to be labelled; the execArgv (tsx's loader under
  // npm start) is inherited.
  cluster.setupPrimary({ exec: join(__dirname, '..', 'api', `server${extension}`), silent: true });
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  for (let slot = 1; slot <= count; slot++) fork(slot);
}

main();
