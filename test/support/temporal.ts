import { readFileSync } from 'node:fs';
import { NativeConnection, Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client, Connection } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { createBillingWorker, type BillingWorkerDeps } from '../../workers/billing-worker';
import type { Orm } from '../../db/orm';
import { testServices } from '../setup/services';
import { ensureSearchAttributes } from '../../scripts/search-attributes';
import { startService, type ServiceProcess } from '../../scripts/service-process';
import { freePort, waitForPort } from '../../scripts/wait-for-port';

let runtimeInstalled = false;
/** Worker logs only errors in tests (injected faults log warnings by design), so a failing test's output is readable. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

/**
 * A time-skipping environment with a server of its own, so its clock starts at today and no other
 * suite moves it. Where the SDK cannot download its server, the executable chosen by the global
 * setup (the Java test server) is started here and waited for without the SDK's 5 s start limit
 * (a cold JVM on a busy 2-core machine can take longer), then reached through the SDK's internal
 * factory for an existing server.
 */
export async function timeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const choice = testServices().timeSkippingServer;
  let env: TestWorkflowEnvironment;
  let server: ServiceProcess | null = null;
  if (choice.kind === 'sdk') {
    env = await TestWorkflowEnvironment.createTimeSkipping();
  } else {
    const port = await freePort();
    server = startService('test-server', choice.path, [String(port)], { quiet: true });
    await waitForPort(port, { what: 'the time-skipping test server', timeoutMs: 120_000 });
    const factory = TestWorkflowEnvironment as unknown as { create(options: object): Promise<TestWorkflowEnvironment> };
    env = await factory.create({ server: { type: 'existing' }, supportsTimeSkipping: true, address: `127.0.0.1:${port}`, namespace: 'default' });
  }
  // The dev server registers them from its command line; the test server only through the API.
  await ensureSearchAttributes(env.connection, 'default');
  const teardown = env.teardown.bind(env);
  env.teardown = async () => {
    await teardown();
    await server?.stop();
  };
  return env;
}

export interface DevServer {
  client: Client;
  connection: NativeConnection;
  close(): Promise<void>;
}

/** Clients of the run's Temporal dev server (the real server with visibility and search attributes). */
export async function devServer(): Promise<DevServer> {
  quietRuntime();
  const address = testServices().temporalAddress;
  const clientConnection = await Connection.connect({ address });
  const connection = await NativeConnection.connect({ address });
  return {
    client: new Client({ connection: clientConnection, namespace: 'default' }),
    connection,
    async close() {
      await connection.close();
      await clientConnection.close();
    },
  };
}

/** A unique task queue per suite, so suites sharing a server never steal each other's tasks. */
export const uniqueTaskQueue = (label: string): string => `${label}-${randomBytes(4).toString('hex')}`;

export async function billingWorker(
  options: { connection: NativeConnection; taskQueue: string; orm: Orm } & Pick<BillingWorkerDeps, 'wrapActivities' | 'stripe' | 'mail' | 'provisioning'>,
): Promise<Worker> {
  return createBillingWorker({
    ...options,
    namespace: 'default',
    workflowBundle: { code: readFileSync(testServices().workflowBundlePath, 'utf8') },
  });
}
