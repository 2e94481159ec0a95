import { chmod, cp, mkdir, rename, rm, stat } from 'node:fs/promises';
import { isExecutable } from './is-executable';
import { join } from 'node:path';
import { cacheDir } from './cache-dir';
import { withProgress } from './progress';
import { runLogged, whichCommand } from './run-command';

/**
 * The Temporal server (`temporal-server`), its SQL schema tool (`temporal-sql-tool`) and the
 * Postgres schema they apply, all of one version. The dev server of the CLI keeps workflows in
 * SQLite in one process; this is the server a deployment runs, on Postgres.
 */
export const TEMPORAL_SERVER_VERSION = process.env.TEMPORAL_SERVER_VERSION ?? 'v1.29.1';

export interface TemporalServerBuild {
  server: string;
  sqlTool: string;
  /** `schema/postgresql/v12` of the same version: `temporal/` and `visibility/`, each with `versioned/`. */
  schemaDir: string;
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

/**
 * TEMPORAL_SERVER_PATH + TEMPORAL_SQL_TOOL_PATH + TEMPORAL_SCHEMA_DIR when all are set (an
 * installation of one's own), else the copy cached by an earlier run, else a build from the Go
 * module proxy into the cache (Temporal publishes no server binary the SDK could download).
 */
export async function findTemporalServer(): Promise<TemporalServerBuild> {
  const { TEMPORAL_SERVER_PATH: server, TEMPORAL_SQL_TOOL_PATH: sqlTool, TEMPORAL_SCHEMA_DIR: schemaDir } = process.env;
  if (server || sqlTool || schemaDir) {
    if (!server || !sqlTool || !schemaDir) throw new Error('TEMPORAL_SERVER_PATH, TEMPORAL_SQL_TOOL_PATH and TEMPORAL_SCHEMA_DIR go together: set all three or none');
    for (const [name, path] of [['TEMPORAL_SERVER_PATH', server], ['TEMPORAL_SQL_TOOL_PATH', sqlTool]]) {
      if (!(await isExecutable(path))) throw new Error(`${name}=${path} is not an executable file`);
    }
    if (!(await isDirectory(join(schemaDir, 'temporal', 'versioned')))) throw new Error(`TEMPORAL_SCHEMA_DIR=${schemaDir} has no temporal/versioned directory`);
    return { server, sqlTool, schemaDir };
  }
  const dir = cacheDir('temporal-server', TEMPORAL_SERVER_VERSION);
  const cached: TemporalServerBuild = { server: join(dir, 'temporal-server'), sqlTool: join(dir, 'temporal-sql-tool'), schemaDir: join(dir, 'schema', 'postgresql', 'v12') };
  // The schema is copied last, so its presence means the binaries beside it are complete.
  if ((await isDirectory(cached.schemaDir)) && (await isExecutable(cached.server)) && (await isExecutable(cached.sqlTool))) return cached;
  await buildFromGoModuleProxy(dir, cached);
  return cached;
}

async function buildFromGoModuleProxy(dir: string, target: TemporalServerBuild): Promise<void> {
  const go = await whichCommand('go');
  if (!go) {
    throw new Error(
      'The Temporal server was not found and cannot be built: install Go (https://go.dev/dl), set TEMPORAL_SERVER_PATH, ' +
        'TEMPORAL_SQL_TOOL_PATH and TEMPORAL_SCHEMA_DIR, or point TEMPORAL_ADDRESS at a running Temporal cluster.',
    );
  }
  await mkdir(dir, { recursive: true });
  const logFile = join(dir, 'build.log');
  const staging = join(dir, `staging-${process.pid}`);
  await mkdir(staging, { recursive: true });
  const module = `go.temporal.io/server@${TEMPORAL_SERVER_VERSION}`;
  const label = `Building the Temporal server ${TEMPORAL_SERVER_VERSION} and its SQL tool from the Go module proxy (first run only; minutes; log: ${logFile})`;
  try {
    await withProgress(label, () =>
      runLogged(go, ['install', `go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`, `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`], {
        env: { ...process.env, GOBIN: staging, GOFLAGS: '-buildvcs=false' },
        logFile,
      }),
    );
    // The schema ships in the module, not in the binaries: kept beside them so the module cache may be cleaned.
    const info = JSON.parse(await runLogged(go, ['mod', 'download', '-json', module], { logFile })) as { Dir: string };
    await cp(join(info.Dir, 'schema', 'postgresql', 'v12'), join(staging, 'schema'), { recursive: true });
    await runLogged('chmod', ['-R', 'u+w', join(staging, 'schema')], { logFile });
    for (const [built, path] of [['server', target.server], ['sql', target.sqlTool]]) {
      await chmod(join(staging, built), 0o755);
      // Rename is atomic: a concurrent run sees either no binary or a complete one.
      await rename(join(staging, built), path);
    }
    await rm(target.schemaDir, { recursive: true, force: true });
    await mkdir(join(target.schemaDir, '..'), { recursive: true });
    await rename(join(staging, 'schema'), target.schemaDir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
