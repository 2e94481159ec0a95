import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { migrate, openOrm } from '../../db/orm';
import { startEmbeddedPostgres } from '../../scripts/embedded-postgres';
import { startTemporalDevServer } from '../../scripts/temporal-dev-server';
import { freePort } from '../../scripts/wait-for-port';
import { publishServices } from './services';
import { chooseTimeSkippingServer } from './time-skipping-server';
import { rememberForTeardown, stopEverything } from './teardown-registry';

/**
 * Starts, once per `npm test`, the real services the suites share: Postgres (embedded, from npm) with
 * a migrated template database each test file clones, and the Temporal dev server (the CLI). Picks
 * the time-skipping test server each time-skipping suite starts for itself (a clock of its own), and
 * bundles the workflow code once for all workers.
 */
export default async function globalSetup(): Promise<void> {
  try {
    await startServices();
  } catch (error) {
    // jest skips the global teardown when the setup fails; stop what did start.
    await stopEverything();
    throw error;
  }
}

async function startServices(): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), 'perennial-test-'));
  const [pgPort, temporalPort] = [await freePort(), await freePort()];

  const postgres = await startEmbeddedPostgres({ dataDir: join(scratch, 'postgres'), port: pgPort, database: 'perennial_template' });
  rememberForTeardown(() => postgres.stop());
  const orm = await openOrm(postgres.url);
  await migrate(orm);
  await orm.close();

  const temporal = await startTemporalDevServer({ port: temporalPort, logFile: join(scratch, 'temporal.log') });
  rememberForTeardown(() => temporal.stop());

  const timeSkippingServer = await chooseTimeSkippingServer();

  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: silentLogger() });
  const workflowBundlePath = join(scratch, 'workflow-bundle.js');
  await writeFile(workflowBundlePath, bundle.code);

  publishServices({
    postgresAdminUrl: postgres.url.replace(/\/perennial_template$/, '/postgres'),
    templateDatabase: 'perennial_template',
    temporalAddress: `127.0.0.1:${temporalPort}`,
    timeSkippingServer,
    workflowBundlePath,
  });
}

function silentLogger() {
  const noop = (): void => undefined;
  return { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: (message: string) => console.error(message) };
}
