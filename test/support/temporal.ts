import { readFileSync } from 'node:fs';
import { NativeConnection, Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client, Connection } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { createBillingWorker } from '../../workers/billing-worker';
import type { Orm } from '../../db/orm';
import type { createActivities } from '../../activities';
import { testServices } from '../setup/services';

let runtimeInstalled = false;
/** Worker logs only errors in tests (injected faults log warnings by design), so a failing test's output is readable. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

/**
 * An environment on the run's shared time-skipping server. The SDK's public constructors start a
 * server each; this reaches its internal factory to connect to the one already running instead.
 */
export async function timeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const factory = TestWorkflowEnvironment as unknown as {
    create(options: object): Promise<TestWorkflowEnvironment>;
  };
  return factory.create({ server: { type: 'existing' }, supportsTimeSkipping: true, address: testServices().timeSkippingAddress, namespace: 'default' });
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

export async function billingWorker(options: {
  connection: NativeConnection;
  taskQueue: string;
  orm: Orm;
  wrapActivities?: (activities: ReturnType<typeof createActivities>) => object;
}): Promise<Worker> {
  return createBillingWorker({
    connection: options.connection,
    namespace: 'default',
    taskQueue: options.taskQueue,
    orm: options.orm,
    workflowBundle: { code: readFileSync(testServices().workflowBundlePath, 'utf8') },
    wrapActivities: options.wrapActivities,
  });
}
