import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ServiceProcess } from '../../scripts/service-process';
import { API_READY, prepareDatabase, stackEnv, startEmbeddedDatabase, startNodeProcess, WORKER_READY, type StackDatabase } from '../../scripts/stack';
import { startStripeFront, type StripeEmulator, type StripeFront } from '../../scripts/stripe-emulator';
import { CLUSTER_MAX_CONNECTIONS } from '../../scripts/cluster-stack';
import { startTemporalCluster } from '../../scripts/temporal-cluster';
import { startTemporalDevServer } from '../../scripts/temporal-dev-server';
import { freePort } from '../../scripts/wait-for-port';
import { TASK_QUEUE } from '../../workflows/messages';
import { startIndexedStripeEmulator } from './indexed-localstripe';
import { startWebhookRelay, type WebhookRelay } from './webhook-relay';
import { SETTINGS } from '../../config/env';

/**
 * The stack as `npm start` runs it (embedded Postgres, the Temporal dev server, migrations as the
 * owner, the worker and the API as the application's login), except that the worker and the API are
 * processes this harness supervises: it SIGKILLs the worker and starts another. Stripe is the
 * emulator (localstripe behind its idempotency front); the worker and the API reach it through a
 * second front sharing the first one's idempotency keys, which carries the fault rules (localstripe's
 * store is indexed: see indexed-localstripe.ts), and
 * localstripe's webhooks reach the API through a relay that can duplicate, delay and reorder them.
 */


/** Start failures in a row after which a supervised process is left stopped. */
const MAX_START_FAILURES = 3;

/** A worker or API process that is restarted when it dies, whether the harness killed it or not. */
export class SupervisedProcess {
  private service: ServiceProcess | null = null;
  private readyNow = false;
  private readonly killedByUs = new WeakSet<ServiceProcess>();
  private stopping = false;
  /** Exits the harness did not cause, once the process was ready (a crash): each is followed by a new process. */
  unexpectedExits = 0;
  /** Exits the harness did not cause while the process was starting (it gave up on a terminated connection, say). */
  startFailures = 0;
  starts = 0;
  /** Set when the process failed to start MAX_START_FAILURES times in a row: it is not started again. */
  gaveUp: string | null = null;
  private failuresInARow = 0;

  constructor(
    readonly name: string,
    private readonly entry: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
    private readonly readyText: string,
    private readonly log: (line: string) => void,
    private readonly nodeArgs: string[] = [],
  ) {}

  start(): void {
    const service = startNodeProcess(this.name, this.entry, this.env, { logFile: this.logFile, nodeArgs: this.nodeArgs });
    this.service = service;
    this.starts += 1;
    this.readyNow = false;
    let wasReady = false;
    // A process that dies before it is ready is handled by the exit below.
    service.printed(this.readyText).then(
      () => {
        wasReady = true;
        this.failuresInARow = 0;
        if (this.service === service) this.readyNow = true;
      },
      () => undefined,
    );
    void service.exited.then((code) => {
      if (this.service !== service) return;
      this.readyNow = false;
      if (this.stopping || this.killedByUs.has(service)) return;
      if (wasReady) this.unexpectedExits += 1;
      else this.startFailures += 1;
      // A process that cannot start (a bad flag, a setting it refuses) would otherwise be restarted without end.
      if (!wasReady && ++this.failuresInARow >= MAX_START_FAILURES) {
        this.gaveUp = `${this.name} exited while starting ${this.failuresInARow} times in a row (last code ${code}); not started again (log: ${this.logFile})`;
        this.log(this.gaveUp);
        return;
      }
      this.log(`${this.name} exited ${wasReady ? 'unexpectedly' : 'while starting'} (code ${code}); starting another (log: ${this.logFile})`);
      this.start();
    });
  }

  /** Started and said it is ready, and not killed since. */
  get ready(): boolean {
    return this.readyNow && !this.stopping;
  }

  get pid(): number | undefined {
    return this.service?.child.pid;
  }

  /** Resolves once the current process (or the one that replaced it) is ready. */
  async whenReady(timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // Polled: a process that died before it was ready has a settled promise, and awaiting that in a
    // loop would spin on microtasks and starve the exit event that starts its replacement.
    while (!this.ready) {
      if (this.gaveUp) throw new Error(this.gaveUp);
      if (this.stopping) throw new Error(`${this.name} is stopping`);
      if (Date.now() > deadline) throw new Error(`${this.name} was not ready within ${timeoutMs} ms (log: ${this.logFile})`);
      await sleep(100);
    }
  }

  /**
   * SIGKILL, as the kernel's OOM killer or a lost machine would end it: no shutdown, no drain. A new
   * process is started at once. False when there was no ready process to kill.
   */
  async kill(): Promise<boolean> {
    const service = this.service;
    if (!service || !this.ready) return false;
    this.killedByUs.add(service);
    this.readyNow = false;
    service.child.kill('SIGKILL');
    await service.exited;
    if (!this.stopping) this.start();
    return true;
  }

  /**
   * No more restarts, from now on: a Ctrl-C in a terminal reaches the whole process group, so the
   * worker and the API are already exiting when the harness starts stopping things.
   */
  halt(): void {
    this.stopping = true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.service?.stop();
  }
}

export interface ChaosStack {
  workDir: string;
  apiBase: string;
  adminKey: string;
  database: StackDatabase;
  temporalAddress: string;
  /** The dev server's process, for a CPU meter. */
  temporal: ServiceProcess;
  namespace: string;
  taskQueue: string;
  secretKey: string;
  webhookSecret: string;
  emulator: StripeEmulator;
  /** The front the worker and the API use, where fault rules go. */
  chaosFront: StripeFront;
  relay: WebhookRelay;
  /** The first of `workers`: the one a chaos run kills. */
  worker: SupervisedProcess;
  workers: SupervisedProcess[];
  api: SupervisedProcess;
  /** Stops restarting the worker and the API (see SupervisedProcess.halt). */
  halt(): void;
  stop(): Promise<void>;
}

/**
 * Starts everything under `workDir` (data and logs). Whatever was started is stopped again if a later
 * step fails; `stop()` stops it all, the worker and the API first, Postgres last.
 */
export async function startChaosStack(options: {
  workDir: string;
  log: (line: string) => void;
  /** Added to the worker's environment: the WORKER_* tuning. */
  workerEnv?: NodeJS.ProcessEnv;
  /** Node flags for the worker processes (--cpu-prof, which NODE_OPTIONS does not take). */
  workerNodeArgs?: string[];
  /**
   * `cluster`: the Temporal server on this Postgres, as `npm run start:cluster` runs it, instead of the
   * dev server; `workers` worker processes on its task queue (1 unless given).
   */
  temporal?: 'dev' | 'cluster';
  workers?: number;
}): Promise<ChaosStack> {
  const { workDir, log } = options;
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((error: unknown) => log(`while stopping: ${error instanceof Error ? error.message : String(error)}`));
  };
  try {
    const cluster = options.temporal === 'cluster';
    const database = await startEmbeddedDatabase({
      dataDir: join(workDir, 'data'),
      port: await freePort(),
      database: 'perennial',
      ...(cluster ? { maxConnections: CLUSTER_MAX_CONNECTIONS } : {}),
    });
    stops.push(() => database.postgres.stop());
    const temporalPort = await freePort();
    let temporal: ServiceProcess;
    if (cluster) {
      const server = await startTemporalCluster({ adminUrl: database.ownerUrl, port: temporalPort, namespace: 'default', logFile: join(workDir, 'temporal.log'), log });
      stops.push(() => server.stop());
      temporal = server.server;
    } else {
      temporal = await startTemporalDevServer({ port: temporalPort, logFile: join(workDir, 'temporal.log') });
      stops.push(() => temporal.stop());
    }
    await prepareDatabase(database.ownerUrl, database.appUrl, (applied) => log(`migrations: ${applied.join(', ')}`));

    const { emulator, indexed } = await startIndexedStripeEmulator({ workDir, port: await freePort(), logFile: join(workDir, 'localstripe.log') });
    stops.push(() => emulator.stop());
    if (!indexed) log('localstripe runs unindexed (LOCALSTRIPE_PATH names another executable): lists slow down as the run goes on');
    const chaosFront = await startStripeFront({ upstreamBase: emulator.upstreamBase, keys: emulator.front.keys });
    stops.push(() => chaosFront.close());

    const apiPort = await freePort();
    const apiBase = `http://127.0.0.1:${apiPort}`;
    const webhookSecret = `whsec_${randomBytes(16).toString('hex')}`;
    const relay = await startWebhookRelay({ target: `${apiBase}/webhooks/stripe`, log });
    stops.push(() => relay.close());
    const response = await fetch(`${emulator.apiBase}/_config/webhooks/chaos-relay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: relay.url, secret: webhookSecret }),
    });
    if (!response.ok) throw new Error(`localstripe refused the relay's webhook endpoint: HTTP ${response.status} ${await response.text()}`);

    const adminKey = `sk_admin_${randomBytes(18).toString('hex')}`;
    const secretKey = `sk_test_chaos_${randomBytes(8).toString('hex')}`;
    const base: NodeJS.ProcessEnv = { ...process.env };
    // Nothing of this shell's settings reaches the processes: e-mail stays in the outbox, nothing is provisioned.
    for (const name of SETTINGS) delete base[name];
    const namespace = 'default';
    const temporalAddress = `127.0.0.1:${temporalPort}`;
    const env: NodeJS.ProcessEnv = {
      ...stackEnv(base, { databaseUrl: database.appUrl, temporalAddress, namespace, apiKeys: `admin:${adminKey}`, port: apiPort }),
      STRIPE_SECRET_KEY: secretKey,
      STRIPE_API_BASE: chaosFront.apiBase,
      STRIPE_WEBHOOK_SECRET: webhookSecret,
      // Nothing scrapes it here, and the default port may be another stack's on this machine.
      WORKER_METRICS_ADDRESS: 'off',
    };
    const count = Math.max(1, options.workers ?? 1);
    const workers = Array.from({ length: count }, (_, i) => {
      const name = count > 1 ? `worker-${i + 1}` : 'worker';
      return new SupervisedProcess(name, 'workers/main.ts', { ...env, ...options.workerEnv }, join(workDir, `${name}.log`), WORKER_READY, log, options.workerNodeArgs);
    });
    const api = new SupervisedProcess('api', 'api/server.ts', env, join(workDir, 'api.log'), API_READY, log);
    for (const worker of workers) stops.push(() => worker.stop());
    stops.push(() => api.stop());
    for (const worker of workers) worker.start();
    api.start();
    await Promise.all([...workers.map((w) => w.whenReady()), api.whenReady()]);

    return {
      workDir,
      apiBase,
      adminKey,
      database,
      temporalAddress,
      temporal,
      namespace,
      taskQueue: TASK_QUEUE,
      secretKey,
      webhookSecret,
      emulator,
      chaosFront,
      relay,
      worker: workers[0],
      workers,
      api,
      halt: () => {
        for (const worker of workers) worker.halt();
        api.halt();
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
