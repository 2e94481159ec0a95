import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { migrate, openOrm } from '../db/orm';
import { ensureAppLogin } from '../db/roles';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded-postgres';
import { startService, type ServiceProcess } from './service-process';

/**
 * The steps `npm start` takes to bring up the stack, shared with the harnesses that start the same
 * stack under their own control (bench/chaos runs the worker and the API as processes it kills and
 * restarts).
 */
export const ROOT = resolve(__dirname, '..');

/** The login the worker and the API connect as under `npm start`: a member of perennial_app. */
export const APP_LOGIN = 'perennial_app_user';

/** What the worker prints once it polls its task queue: before that, reads of live state time out. */
export const WORKER_READY = 'worker: polling task queue';

/** What the API prints once it accepts connections. */
export const API_READY = 'api: listening';

export interface StackDatabase {
  postgres: EmbeddedPostgresHandle;
  /** The server's superuser, which owns the schema: migrations run as it. */
  ownerUrl: string;
  /** The application's login (APP_LOGIN), whose password is kept in the data directory. */
  appUrl: string;
}

/**
 * Embedded Postgres with its data in `<dataDir>/postgres`, as two roles: the owner, and the
 * application's login, whose password is generated once and kept in `<dataDir>/postgres-app-password`
 * so a later start on the same data connects with it.
 */
export async function startEmbeddedDatabase(options: { dataDir: string; port: number; database?: string; maxConnections?: number }): Promise<StackDatabase> {
  const postgres = await startEmbeddedPostgres({
    dataDir: join(options.dataDir, 'postgres'),
    port: options.port,
    database: options.database ?? 'perennial',
    maxConnections: options.maxConnections,
  });
  const file = join(options.dataDir, 'postgres-app-password');
  let password: string;
  try {
    password = existsSync(file) ? (await readFile(file, 'utf8')).trim() : randomBytes(18).toString('hex');
    if (!existsSync(file)) await writeFile(file, `${password}\n`, { mode: 0o600 });
  } catch (error) {
    // The caller gets no handle to stop it with.
    await postgres.stop();
    throw error;
  }
  const appUrl = new URL(postgres.url);
  appUrl.username = APP_LOGIN;
  appUrl.password = password;
  return { postgres, ownerUrl: postgres.url, appUrl: appUrl.toString() };
}

/**
 * Migrations as the owner, then the application's login made a member of perennial_app with its
 * password. `onMigrated` hears which migrations ran before the login is touched.
 */
export async function prepareDatabase(ownerUrl: string, appUrl: string, onMigrated?: (applied: string[]) => void): Promise<void> {
  const orm = await openOrm(ownerUrl);
  try {
    onMigrated?.(await migrate(orm));
  } finally {
    await orm.close();
  }
  await ensureAppLogin(ownerUrl, appUrl);
}

/** The environment `npm start` gives the worker and the API, on top of `base`. */
export function stackEnv(
  base: NodeJS.ProcessEnv,
  settings: { databaseUrl: string; temporalAddress: string; namespace: string; apiKeys: string; port: number },
): NodeJS.ProcessEnv {
  return {
    ...base,
    DATABASE_URL: settings.databaseUrl,
    TEMPORAL_ADDRESS: settings.temporalAddress,
    TEMPORAL_NAMESPACE: settings.namespace,
    BILLING_API_KEYS: settings.apiKeys,
    PORT: String(settings.port),
  };
}

/** `workers/main.ts` or `api/server.ts` as a child process, run the way `npm run worker` / `npm run api` run it. */
export function startNodeProcess(
  name: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  options: { logFile?: string; format?: (line: string) => string; prefix?: boolean; nodeArgs?: string[] } = {},
): ServiceProcess {
  // Node refuses some flags in NODE_OPTIONS (--cpu-prof among them): those go on the command line.
  return startService(name, process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', entry], { env, cwd: ROOT, logFile: options.logFile, format: options.format, prefix: options.prefix });
}
