import { findTemporalCli } from './temporal-cli';
import { searchAttributeFlags } from './search-attributes';
import { startService, type ServiceProcess } from './service-process';
import { waitForPort } from './wait-for-port';

export interface DevServerOptions {
  port: number;
  /** Web UI port; omitted means no UI (tests). */
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; omitted means in memory (tests). */
  dbFile?: string;
  logFile?: string;
}

/** `temporal server start-dev` with our search attributes registered at start. */
export async function startTemporalDevServer(options: DevServerOptions): Promise<ServiceProcess> {
  const cli = await findTemporalCli();
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(options.port), '--log-level', 'warn', ...searchAttributeFlags()];
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  else args.push('--headless');
  // Out of the terminal's process group: Ctrl-C must not stop the server before the worker has
  // told it it is leaving, or the server keeps routing the worker's workflows to the dead worker's
  // sticky queue and the next start answers its first queries only after that queue times out.
  const server = startService('temporal', cli, args, { logFile: options.logFile, ownProcessGroup: true });
  await Promise.race([
    waitForPort(options.port, { what: 'the Temporal dev server', timeoutMs: 60_000 }),
    server.exited.then((code) => {
      throw new Error(`the Temporal dev server exited with code ${code} before it was ready${options.logFile ? `; see ${options.logFile}` : ''}`);
    }),
  ]);
  return server;
}
