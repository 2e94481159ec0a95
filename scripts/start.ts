import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError, loadConfig } from '../config/env';
import type { EmbeddedPostgresHandle } from './embedded-postgres';
import { registerSearchAttributesAt } from './search-attributes';
import type { ServiceProcess } from './service-process';
import { prepareDatabase, ROOT, stackEnv, startEmbeddedDatabase, startNodeProcess, WORKER_READY } from './stack';
import { startTemporalDevServer } from './temporal-dev-server';
import { CLUSTER_MAX_CONNECTIONS, startApiCluster, startWorkerProcesses } from './cluster-stack';
import { startTemporalCluster, TEMPORAL_DATABASE, TEMPORAL_VISIBILITY_DATABASE } from './temporal-cluster';
import { TEMPORAL_SERVER_VERSION } from './temporal-server';
import { freePort, waitForPort } from './wait-for-port';
import { readableLogLine } from '../observability/log-format';

/**
 * `npm start`: the whole stack on one machine with embedded defaults. Postgres and Temporal are
 * started here unless DATABASE_URL / TEMPORAL_ADDRESS point at real ones; then migrations, the
 * worker and the API. Ctrl-C stops everything this script started; data stays under .data/.
 *
 * `npm run start:cluster` (`--cluster`) runs what a deployment runs instead of the dev server: the
 * Temporal server on Postgres (its own databases beside the application's), WORKER_PROCESSES worker
 * processes (default 2) and API_PROCESSES API processes (default 2) behind the one port.
 */
const clusterMode = process.argv.slice(2).includes('--cluster');
const workerProcesses = Math.max(1, Number(process.env.WORKER_PROCESSES ?? 2) || 2);
const apiProcesses = Math.max(1, Number(process.env.API_PROCESSES ?? 2) || 2);
const dataDir = resolve(ROOT, process.env.PERENNIAL_DATA_DIR ?? '.data');
const port = Number(process.env.PORT ?? 3000);
const temporalPort = Number(process.env.TEMPORAL_PORT ?? 7233);
const temporalUiPort = Number(process.env.TEMPORAL_UI_PORT ?? 8233);
const postgresPort = Number(process.env.POSTGRES_PORT ?? 5433);
const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';

const services: ServiceProcess[] = [];
let postgres: EmbeddedPostgresHandle | null = null;
let stopping = false;

async function apiKeys(): Promise<{ keys: string; printed: string }> {
  if (process.env.BILLING_API_KEYS) return { keys: process.env.BILLING_API_KEYS, printed: 'the keys in BILLING_API_KEYS' };
  // Kept under .data/ so a second start accepts the key the user already copied.
  const file = join(dataDir, 'admin-api-key');
  const key = existsSync(file) ? (await readFile(file, 'utf8')).trim() : `sk_admin_${randomBytes(18).toString('hex')}`;
  if (!existsSync(file)) await writeFile(file, `${key}\n`, { mode: 0o600 });
  return { keys: `admin:${key}`, printed: key };
}

/**
 * Postgres as two roles: the owner, which migrations run as, and the application's login (a member
 * of perennial_app: rows only, no DDL, an append-only ledger), which the worker and the API use.
 * Embedded: the owner is the server's superuser, the application's password is kept under .data/.
 */
async function startDatabase(): Promise<{ ownerUrl: string; appUrl: string }> {
  if (process.env.DATABASE_URL) return { ownerUrl: process.env.DATABASE_OWNER_URL || process.env.DATABASE_URL, appUrl: process.env.DATABASE_URL };
  console.log(`Starting embedded Postgres on port ${postgresPort} (data in ${join(dataDir, 'postgres')})`);
  const database = await startEmbeddedDatabase({ dataDir, port: postgresPort, database: 'perennial', maxConnections: clusterMode ? CLUSTER_MAX_CONNECTIONS : undefined });
  postgres = database.postgres;
  return { ownerUrl: database.ownerUrl, appUrl: database.appUrl };
}

async function startTemporal(ownerUrl: string): Promise<{ address: string; ui: string | null; server: ServiceProcess | null }> {
  const given = process.env.TEMPORAL_ADDRESS;
  if (given) {
    const added = await registerSearchAttributesAt(given, namespace);
    if (added.length) console.log(`Registered search attributes on ${given}: ${added.join(', ')}`);
    return { address: given, ui: null, server: null };
  }
  if (clusterMode) {
    const logFile = join(dataDir, 'temporal-server.log');
    console.log(`Starting the Temporal server ${TEMPORAL_SERVER_VERSION} on Postgres, port ${temporalPort} (log: ${logFile})`);
    const cluster = await startTemporalCluster({ adminUrl: ownerUrl, port: temporalPort, namespace, logFile, log: (line) => console.log(line) });
    services.push(cluster.server);
    return { address: cluster.address, ui: null, server: cluster.server };
  }
  console.log(`Starting the Temporal dev server on port ${temporalPort} (workflows kept in ${join(dataDir, 'temporal.db')})`);
  const server = await startTemporalDevServer({
    port: temporalPort,
    uiPort: temporalUiPort,
    dbFile: join(dataDir, 'temporal.db'),
    logFile: join(dataDir, 'temporal.log'),
  });
  services.push(server);
  return { address: `127.0.0.1:${temporalPort}`, ui: `http://localhost:${temporalUiPort}`, server };
}

function startNode(name: string, entry: string, env: NodeJS.ProcessEnv): ServiceProcess {
  // The processes write JSON lines for a log collector; a terminal shows them as text.
  const service = startNodeProcess(name, entry, env, { format: readableLogLine });
  watch(service);
  return service;
}

/**
 * Any process's death stops the stack, except a worker's in cluster mode while another worker is
 * left: its workflows and activities move to the workers that remain, which is what several
 * workers are for.
 */
function watch(service: ServiceProcess): void {
  services.push(service);
  void service.exited.then((code) => {
    if (stopping) return;
    const how = service.child.signalCode ? `killed by ${service.child.signalCode}` : `code ${code}`;
    const workersLeft = services.filter((s) => s.name.startsWith('worker-') && s.child.exitCode === null && s.child.signalCode === null);
    if (clusterMode && service.name.startsWith('worker-') && workersLeft.length > 0) {
      console.error(`${service.name} exited (${how}); ${workersLeft.map((s) => s.name).join(', ')} carr${workersLeft.length === 1 ? 'ies' : 'y'} on`);
      return;
    }
    console.error(`${service.name} exited unexpectedly (${how}); stopping the stack`);
    void shutdown(1);
  });
}

/** An API process's line as api-cluster passes it on (`[api-2] {json}`), made readable under its own label. */
function apiClusterLine(line: string): string {
  const labelled = /^\[(api-\d+)\] (.*)$/.exec(line);
  return labelled ? `[${labelled[1]}] ${readableLogLine(labelled[2])}` : `[api] ${readableLogLine(line)}`;
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\nStopping ...');
  // API and worker first (they drain in-flight work), then Temporal, then Postgres last.
  for (const service of [...services].reverse()) await service.stop();
  if (postgres) await postgres.stop().catch(() => undefined);
  console.log('Stopped. Data is kept in', dataDir);
  process.exit(code);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  // Every setting is checked before anything starts: a placeholder key or a half-configured Stripe
  // stops here with the list of problems, not after Postgres and Temporal have been started.
  loadConfig(process.env, { database: false });
  await mkdir(dataDir, { recursive: true });
  const { keys, printed } = await apiKeys();
  const { ownerUrl, appUrl: databaseUrl } = await startDatabase();
  const temporal = await startTemporal(ownerUrl);

  await prepareDatabase(ownerUrl, databaseUrl, (applied) =>
    console.log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database schema is up to date'),
  );

  const env = stackEnv(process.env, { databaseUrl, temporalAddress: temporal.address, namespace, apiKeys: keys, port });
  // The console links each subscription to its run in the dev server's Web UI.
  if (temporal.ui && !env.TEMPORAL_UI_URL) env.TEMPORAL_UI_URL = temporal.ui;
  // A free port rather than the fixed default, so a second stack on the machine starts too.
  if (!env.WORKER_METRICS_ADDRESS?.trim()) env.WORKER_METRICS_ADDRESS = `127.0.0.1:${await freePort()}`;
  if (clusterMode) return startCluster(env, temporal, databaseUrl, printed);
  const workerMetrics = env.WORKER_METRICS_ADDRESS.toLowerCase() === 'off' ? '(off: WORKER_METRICS_ADDRESS=off)' : `http://${env.WORKER_METRICS_ADDRESS}/metrics`;
  // Ready means the worker polls too: before that, reads of a subscription's live state time out.
  const worker = startNode('worker', 'workers/main.ts', env);
  const workerReady = worker.printed(WORKER_READY);
  startNode('api', 'api/server.ts', env);
  await Promise.all([workerReady, waitForPort(port, { what: 'the API', timeoutMs: 60_000 })]);

  console.log(
    [
      '',
      'Perennial is running.',
      `  API:          http://localhost:${port}   (GET /health needs no key)`,
      `  API reference: http://localhost:${port}/docs   (the OpenAPI document: /openapi.json)`,
      `  Console:      http://localhost:${port}/console   (sign in with an API key)`,
      `  Metrics:      http://localhost:${port}/metrics (API), ${workerMetrics} (worker's Temporal SDK)`,
      `  Temporal UI:  ${temporal.ui ?? `(TEMPORAL_ADDRESS=${temporal.address}; use that cluster's UI)`}`,
      `  Temporal:     ${temporal.address}, namespace "${namespace}"`,
      `  Postgres:     ${databaseUrl.replace(/:[^:@/]+@/, ':***@')}`,
      '',
      ...closingLines(printed),
    ].join('\n'),
  );
}

/** How to authenticate and how to stop: the end of either banner. */
function closingLines(printed: string): string[] {
  return [
    `Authenticate with "Authorization: Bearer <key>", using ${printed === 'the keys in BILLING_API_KEYS' ? printed : `the admin key ${printed}`}`,
    `  curl -H "Authorization: Bearer ${printed.startsWith('sk_') ? printed : '<key>'}" http://localhost:${port}/v1/invoices`,
    'Press Ctrl-C to stop everything.',
    '',
  ];
}

async function startCluster(env: NodeJS.ProcessEnv, temporal: { address: string; server: ServiceProcess | null }, databaseUrl: string, printed: string): Promise<void> {
  const [workers] = await Promise.all([
    startWorkerProcesses(workerProcesses, env, { format: readableLogLine, onStart: watch }),
    startApiCluster(apiProcesses, env, { format: apiClusterLine, prefix: false, onStart: watch }),
  ]);
  await waitForPort(port, { what: 'the API', timeoutMs: 60_000 });
  const server = temporal.server ? `Temporal server ${TEMPORAL_SERVER_VERSION} on Postgres, pid ${temporal.server.child.pid}, log ${join(dataDir, 'temporal-server.log')}` : 'given in TEMPORAL_ADDRESS';
  console.log(
    [
      '',
      'Perennial is running.',
      `  Cluster:      ${workers.length} worker processes and ${apiProcesses} API processes on a Temporal server`,
      `  API:          http://localhost:${port}   (${apiProcesses} processes behind this port, api-1 ... api-${apiProcesses}; GET /health needs no key)`,
      `  API reference: http://localhost:${port}/docs   (the OpenAPI document: /openapi.json)`,
      `  Console:      http://localhost:${port}/console   (sign in with an API key)`,
      ...workers.map((w) => `  ${`${w.name}:`.padEnd(14)}pid ${w.child.pid}, metrics ${w.metricsAddress ? `http://${w.metricsAddress}/metrics` : '(off: WORKER_METRICS_ADDRESS=off)'}`),
      `  Temporal:     ${temporal.address}, namespace "${namespace}" (${server})`,
      // The Web UI is a program of its own (temporalio/ui); the server has none.
      `  Temporal UI:  ${env.TEMPORAL_UI_URL || 'not started: the Web UI is not part of the Temporal server (docker-compose.yml runs temporalio/ui); set TEMPORAL_UI_URL to link one'}`,
      `  Postgres:     ${databaseUrl.replace(/:[^:@/]+@/, ':***@')}   (Temporal's databases beside it: ${TEMPORAL_DATABASE}, ${TEMPORAL_VISIBILITY_DATABASE})`,
      '',
      ...closingLines(printed),
    ].join('\n'),
  );
}

main().catch(async (error: unknown) => {
  console.error('npm start failed:', error instanceof Error ? error.message : error);
  // Refused settings are found before anything starts: nothing to stop, and no data directory yet.
  if (error instanceof ConfigError) process.exit(1);
  await shutdown(1);
});
