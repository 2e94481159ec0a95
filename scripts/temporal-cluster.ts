import { status } from '@grpc/grpc-js';
import { Connection } from '@temporalio/client';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { ensureSearchAttributes } from './search-attributes';
import { ensureNamespace, NAMESPACE_RETENTION_DAYS } from './temporal-namespace';
import { startService, type ServiceProcess } from './service-process';
import { ROOT } from './stack';
import { findTemporalServer, type TemporalServerBuild } from './temporal-server';
import { runLogged } from './run-command';
import { freePort, waitForPort } from './wait-for-port';

/**
 * A Temporal server on Postgres, as a deployment runs it: its own `temporal` and
 * `temporal_visibility` databases (created and migrated by Temporal's SQL tool with the schema of
 * the server's version), the configuration in config/temporal/ (shared with docker-compose.yml),
 * then the namespace and the project's search attributes.
 */
export const TEMPORAL_DATABASE = 'temporal';
export const TEMPORAL_VISIBILITY_DATABASE = 'temporal_visibility';

export interface TemporalClusterOptions {
  /** A Postgres URL whose role may create databases (the owner's); Temporal connects as that role. */
  adminUrl: string;
  /** The frontend's gRPC port, where workers and clients connect. */
  port: number;
  namespace: string;
  /** The server's own log and the SQL tool's output. */
  logFile: string;
  /** Settings for config/temporal/cluster.yaml's template on top of ours (e.g. TEMPORAL_LOG_LEVEL). */
  settings?: Record<string, string>;
  log?: (line: string) => void;
}

export interface TemporalCluster {
  address: string;
  namespace: string;
  server: ServiceProcess;
  stop(): Promise<void>;
}

function databaseSettings(adminUrl: string): { host: string; port: string; user: string; password: string; tls: boolean } {
  const url = new URL(adminUrl);
  const sslmode = url.searchParams.get('sslmode');
  return {
    host: url.hostname,
    port: url.port || '5432',
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    tls: sslmode !== null && sslmode !== 'disable',
  };
}

function withDatabase(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function query<T>(url: string, work: (client: PgClient) => Promise<T>): Promise<T> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * The three steps of docker-compose.yml's schema job, each a no-op where it was done before:
 * create the database, give it the versioning tables (version 0.0 only on an empty database), then
 * apply every versioned schema step it has not had yet.
 */
async function prepareTemporalDatabase(build: TemporalServerBuild, adminUrl: string, database: string, schema: 'temporal' | 'visibility', logFile: string): Promise<void> {
  const db = databaseSettings(adminUrl);
  const env = { ...process.env, SQL_PLUGIN: 'postgres12', SQL_HOST: db.host, SQL_PORT: db.port, SQL_USER: db.user, SQL_PASSWORD: db.password, SQL_DATABASE: database, SQL_TLS: String(db.tls) };
  await runLogged(build.sqlTool, ['create-database'], { env, logFile });
  await runLogged(build.sqlTool, ['setup-schema', '-v', '0.0'], { env, logFile });
  await runLogged(build.sqlTool, ['update-schema', '-d', join(build.schemaDir, schema, 'versioned')], { env, logFile });
}

/** The databases' schema version after preparation, e.g. "1.17" (what the banner shows). */
async function schemaVersion(adminUrl: string, database: string): Promise<string> {
  return query(withDatabase(adminUrl, database), async (client) => String((await client.query('select curr_version from schema_version where version_partition = 0')).rows[0]?.curr_version ?? '?'));
}

/** A free loopback port below the kernel's ephemeral range, where freePort's come from. */
async function freeMembershipPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** Retries `step` while the server is still joining its own membership ring (UNAVAILABLE and friends). */
async function whileStarting<T>(what: string, step: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await step();
    } catch (error) {
      const code = (error as { code?: number }).code;
      const transient = code === status.UNAVAILABLE || code === status.NOT_FOUND || code === status.DEADLINE_EXCEEDED || code === status.INTERNAL || code === status.UNKNOWN;
      if (!transient || Date.now() > deadline) throw new Error(`Temporal server: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/**
 * Builds or finds the server, prepares its databases, starts it in a process group of its own and
 * returns once the namespace answers with the search attributes registered. If a step fails, the
 * server is stopped again.
 */
export async function startTemporalCluster(options: TemporalClusterOptions): Promise<TemporalCluster> {
  const log = options.log ?? (() => undefined);
  const build = await findTemporalServer();
  await prepareTemporalDatabase(build, options.adminUrl, TEMPORAL_DATABASE, 'temporal', options.logFile);
  await prepareTemporalDatabase(build, options.adminUrl, TEMPORAL_VISIBILITY_DATABASE, 'visibility', options.logFile);
  log(`Temporal databases ready: ${TEMPORAL_DATABASE} (schema ${await schemaVersion(options.adminUrl, TEMPORAL_DATABASE)}), ${TEMPORAL_VISIBILITY_DATABASE} (schema ${await schemaVersion(options.adminUrl, TEMPORAL_VISIBILITY_DATABASE)})`);

  const db = databaseSettings(options.adminUrl);
  const ports: Record<string, number> = {};
  // The services other than the frontend talk only to each other: any free port will do, below
  // 32768 for membership, which Temporal's Postgres schema keeps in a smallint.
  for (const name of ['FRONTEND_HTTP', 'HISTORY', 'MATCHING', 'WORKER']) ports[name] = await freePort();
  for (const name of ['FRONTEND_MEMBERSHIP', 'HISTORY_MEMBERSHIP', 'MATCHING_MEMBERSHIP', 'WORKER_MEMBERSHIP']) ports[name] = await freeMembershipPort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_DB_HOST: db.host,
    TEMPORAL_DB_PORT: db.port,
    TEMPORAL_DB_USER: db.user,
    TEMPORAL_DB_PASSWORD: db.password,
    TEMPORAL_DB_TLS: String(db.tls),
    TEMPORAL_DB_NAME: TEMPORAL_DATABASE,
    TEMPORAL_VISIBILITY_DB_NAME: TEMPORAL_VISIBILITY_DATABASE,
    TEMPORAL_BIND_IP: '127.0.0.1',
    TEMPORAL_FRONTEND_PORT: String(options.port),
    ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [`TEMPORAL_${name}_PORT`, String(port)])),
    TEMPORAL_DYNAMIC_CONFIG_FILE: join(ROOT, 'config', 'temporal', 'dynamicconfig.yaml'),
    ...options.settings,
  };
  // Its own process group, as the dev server: Ctrl-C must not stop it before the workers have told
  // it they are leaving; whoever started it stops it last but one (before Postgres).
  const server = startService('temporal', build.server, ['--root', ROOT, '--config', 'config/temporal', '--env', 'cluster', '--allow-no-auth', 'start'], {
    env,
    cwd: ROOT,
    logFile: options.logFile,
    ownProcessGroup: true,
  });
  const address = `127.0.0.1:${options.port}`;
  try {
    await Promise.race([
      (async () => {
        await waitForPort(options.port, { what: 'the Temporal server', timeoutMs: 120_000 });
        const connection = await Connection.connect({ address });
        try {
          await prepareNamespace(connection, options.namespace, log);
        } finally {
          await connection.close();
        }
      })(),
      server.exited.then((code) => {
        throw new Error(`the Temporal server exited with code ${code} before it was ready; see ${options.logFile}`);
      }),
    ]);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { address, namespace: options.namespace, server, stop: () => server.stop() };
}

async function prepareNamespace(connection: Connection, namespace: string, log: (line: string) => void): Promise<void> {
  const service = connection.workflowService;
  if (await whileStarting('registering the namespace', () => ensureNamespace(connection, namespace))) {
    log(`Registered the Temporal namespace "${namespace}" (closed workflows kept ${NAMESPACE_RETENTION_DAYS} days)`);
  }
  // The frontend learns of a new namespace on its next registry refresh; a worker polling before
  // that is told the namespace does not exist.
  await whileStarting('waiting for the namespace', () => service.listWorkflowExecutions({ namespace, pageSize: 1 }));
  const added = await whileStarting('registering search attributes', () => ensureSearchAttributes(connection, namespace));
  if (added.length) log(`Registered search attributes: ${added.join(', ')}`);
}
