import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SETTINGS } from '../config/env';
import type { ServiceProcess } from './service-process';
import { prepareDatabase, stackEnv, startEmbeddedDatabase, startNodeProcess, WORKER_READY, type StackDatabase } from './stack';
import { startTemporalCluster, type TemporalCluster } from './temporal-cluster';
import { freePort } from './wait-for-port';
import { TASK_QUEUE } from '../workflows/messages';

/**
 * The stack `npm run start:cluster` runs: Postgres, a Temporal server on it, several worker
 * processes polling the same task queue and several API processes behind one port. start.ts and the
 * benchmarks build it from the pieces here.
 */

/** What scripts/api-cluster.ts prints once every API process listens. */
export const API_CLUSTER_READY = 'api-cluster: all processes listening';

/** Postgres connections for the cluster: Temporal's pools (48 at most) beside 2 workers' and 2 APIs'. */
export const CLUSTER_MAX_CONNECTIONS = 200;

export interface WorkerProcess extends ServiceProcess {
  /** host:port of its Temporal SDK metrics, or null when WORKER_METRICS_ADDRESS is "off". */
  metricsAddress: string | null;
}

/**
 * `count` worker processes (`workers/main.ts`, named worker-1, worker-2, ...), each with a metrics
 * port of its own (they cannot share one) unless metrics are off. Resolves once every one polls the
 * task queue.
 */
export async function startWorkerProcesses(
  count: number,
  env: NodeJS.ProcessEnv,
  options: { logDir?: string; format?: (line: string) => string; onStart?: (worker: WorkerProcess) => void } = {},
): Promise<WorkerProcess[]> {
  const workers: WorkerProcess[] = [];
  for (let n = 1; n <= count; n++) {
    const metricsAddress = env.WORKER_METRICS_ADDRESS?.trim().toLowerCase() === 'off' ? null : `127.0.0.1:${await freePort()}`;
    const name = `worker-${n}`;
    const service = startNodeProcess(name, 'workers/main.ts', { ...env, WORKER_METRICS_ADDRESS: metricsAddress ?? 'off' }, {
      logFile: options.logDir && join(options.logDir, `${name}.log`),
      format: options.format,
    });
    const worker = Object.assign(service, { metricsAddress });
    workers.push(worker);
    options.onStart?.(worker);
  }
  await Promise.all(workers.map((worker) => worker.printed(WORKER_READY)));
  return workers;
}

/** scripts/api-cluster.ts with `count` API processes on PORT; resolves once all of them listen. */
export async function startApiCluster(
  count: number,
  env: NodeJS.ProcessEnv,
  options: { logFile?: string; format?: (line: string) => string; prefix?: boolean; onStart?: (api: ServiceProcess) => void } = {},
): Promise<ServiceProcess> {
  const api = startNodeProcess('api', 'scripts/api-cluster.ts', { ...env, API_PROCESSES: String(count) }, options);
  options.onStart?.(api);
  await api.printed(API_CLUSTER_READY);
  return api;
}

export interface ClusterStackOptions {
  /** Postgres's data and every process's log go here. */
  workDir: string;
  /** Worker processes (default 2). */
  workers?: number;
  /** API processes behind the one port (default 2). */
  apis?: number;
  /** The API's port; a free one when omitted (give it when Stripe's webhooks must know it first). */
  apiPort?: number;
  /** Settings for the workers and the APIs on top of the stack's own (Stripe, worker tuning). */
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface ClusterStack {
  workDir: string;
  apiBase: string;
  apiPort: number;
  /** An admin key the APIs accept. */
  adminKey: string;
  database: StackDatabase;
  temporal: TemporalCluster;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  /** worker-1 ... worker-N; `workers[0].child.kill('SIGKILL')` loses that worker, the others carry on. */
  workers: WorkerProcess[];
  /** The api-cluster process (its API processes are its children). */
  api: ServiceProcess;
  /** Stops the APIs and the workers, then Temporal, then Postgres. */
  stop(): Promise<void>;
}

/**
 * The cluster stack under `workDir` with its own ports: embedded Postgres, the Temporal server on
 * it, migrations, then the workers and the APIs as the application's login. Whatever was started
 * is stopped again if a later step fails.
 */
export async function startClusterStack(options: ClusterStackOptions): Promise<ClusterStack> {
  const { workDir } = options;
  const log = options.log ?? (() => undefined);
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((error: unknown) => log(`while stopping: ${error instanceof Error ? error.message : String(error)}`));
  };
  try {
    const database = await startEmbeddedDatabase({ dataDir: join(workDir, 'data'), port: await freePort(), database: 'perennial', maxConnections: CLUSTER_MAX_CONNECTIONS });
    stops.push(() => database.postgres.stop());
    const namespace = 'default';
    const temporal = await startTemporalCluster({ adminUrl: database.ownerUrl, port: await freePort(), namespace, logFile: join(workDir, 'temporal-server.log'), log });
    stops.push(() => temporal.stop());
    await prepareDatabase(database.ownerUrl, database.appUrl, (applied) => log(`migrations: ${applied.length ? applied.join(', ') : 'none'}`));

    const apiPort = options.apiPort ?? (await freePort());
    const adminKey = `sk_admin_${randomBytes(18).toString('hex')}`;
    const base: NodeJS.ProcessEnv = { ...process.env };
    // Nothing of this shell's settings reaches the processes unless passed in `env`.
    for (const name of SETTINGS) delete base[name];
    const env: NodeJS.ProcessEnv = {
      ...stackEnv(base, { databaseUrl: database.appUrl, temporalAddress: temporal.address, namespace, apiKeys: `admin:${adminKey}`, port: apiPort }),
      WORKER_METRICS_ADDRESS: 'off',
      ...options.env,
    };
    const started: ServiceProcess[] = [];
    stops.push(() => Promise.all(started.map((service) => service.stop())));
    const [workers, api] = await Promise.all([
      startWorkerProcesses(options.workers ?? 2, env, { logDir: workDir, onStart: (worker) => started.push(worker) }),
      startApiCluster(options.apis ?? 2, env, { logFile: join(workDir, 'api.log'), onStart: (service) => started.push(service) }),
    ]);
    return {
      workDir,
      apiBase: `http://127.0.0.1:${apiPort}`,
      apiPort,
      adminKey,
      database,
      temporal,
      temporalAddress: temporal.address,
      namespace,
      taskQueue: TASK_QUEUE,
      workers,
      api,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
