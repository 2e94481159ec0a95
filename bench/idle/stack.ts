import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SETTINGS } from '../../config/env';
import type { ServiceProcess } from '../../scripts/service-process';
import { API_READY, prepareDatabase, stackEnv, startEmbeddedDatabase, startNodeProcess, WORKER_READY } from '../../scripts/stack';
import { startTemporalDevServer } from '../../scripts/temporal-dev-server';
import { freePort } from '../../scripts/wait-for-port';
import type { MemoryProbeReport } from './memory-probe';

/**
 * The stack as `npm start` runs it (embedded Postgres, the Temporal dev server on a SQLite file,
 * migrations as the owner, one worker and one API as the application's login), without Stripe or
 * e-mail, each service on a free port with its data and logs under `workDir`. The worker runs with
 * the memory probe (memory-probe.ts) and its SDK metrics on a free port, where the
 * benchmark reads the size of the workflow cache.
 */
export interface IdleStack {
  workDir: string;
  apiBase: string;
  adminKey: string;
  ownerUrl: string;
  /** The application's login, as the worker and the API connect. */
  appUrl: string;
  temporalAddress: string;
  namespace: string;
  workerMetricsUrl: string;
  pids: { worker: number; api: number; temporal: number; postgres: number };
  /** The worker's memory as its probe reports it; null when it did not answer. */
  probe(): Promise<MemoryProbeReport | null>;
  stop(): Promise<void>;
}

export interface IdleStackOptions {
  workDir: string;
  log: (line: string) => void;
  /** WORKER_* settings for the worker on top of the defaults (WORKER_MAX_CACHED_WORKFLOWS, say). */
  workerSettings?: Record<string, string>;
}


export async function startIdleStack(options: IdleStackOptions): Promise<IdleStack> {
  const { workDir, log } = options;
  const stops: Array<() => Promise<unknown>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((error: unknown) => log(`while stopping: ${error instanceof Error ? error.message : String(error)}`));
  };
  try {
    const database = await startEmbeddedDatabase({ dataDir: join(workDir, 'data'), port: await freePort(), database: 'perennial' });
    stops.push(() => database.postgres.stop());
    const postgresPid = Number((await readFile(join(workDir, 'data', 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const temporalPort = await freePort();
    const temporal = await startTemporalDevServer({ port: temporalPort, dbFile: join(workDir, 'temporal.db'), logFile: join(workDir, 'temporal.log') });
    stops.push(() => temporal.stop());
    await prepareDatabase(database.ownerUrl, database.appUrl, (applied) => log(`migrations: ${applied.length} applied`));

    const apiPort = await freePort();
    const adminKey = `sk_admin_${randomBytes(18).toString('hex')}`;
    const base: NodeJS.ProcessEnv = { ...process.env };
    // Nothing of this shell's settings reaches the processes: no Stripe, e-mail stays in the outbox.
    for (const name of SETTINGS) delete base[name];
    const namespace = 'default';
    const temporalAddress = `127.0.0.1:${temporalPort}`;
    const metricsAddress = `127.0.0.1:${await freePort()}`;
    const probeFile = join(workDir, 'worker-memory.json');
    const env: NodeJS.ProcessEnv = {
      ...stackEnv(base, { databaseUrl: database.appUrl, temporalAddress, namespace, apiKeys: `admin:${adminKey}`, port: apiPort }),
      ...options.workerSettings,
      WORKER_METRICS_ADDRESS: metricsAddress,
      MEMORY_PROBE_FILE: probeFile,
    };
    const worker: ServiceProcess = startNodeProcess('worker', 'bench/idle/probed-worker.ts', env, { logFile: join(workDir, 'worker.log') });
    stops.push(() => worker.stop());
    const api = startNodeProcess('api', 'api/server.ts', env, { logFile: join(workDir, 'api.log') });
    stops.push(() => api.stop());
    await Promise.all([worker.printed(WORKER_READY), api.printed(API_READY)]);

    return {
      workDir,
      apiBase: `http://127.0.0.1:${apiPort}`,
      adminKey,
      ownerUrl: database.ownerUrl,
      appUrl: database.appUrl,
      temporalAddress,
      namespace,
      workerMetricsUrl: `http://${metricsAddress}/metrics`,
      pids: { worker: worker.child.pid!, api: api.child.pid!, temporal: temporal.child.pid!, postgres: postgresPid },
      async probe() {
        // A report written after this call, so it shows the memory now.
        const asked = Date.now();
        for (let waited = 0; waited < 10_000; waited += 250) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          try {
            const report = JSON.parse(await readFile(probeFile, 'utf8')) as MemoryProbeReport;
            if (Date.parse(report.at) > asked) return report;
          } catch {
            // not written yet, or caught mid-write
          }
        }
        return null;
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
