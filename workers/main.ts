import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../config/env';
import { openOrm } from '../db/orm';
import { createBillingWorker } from './billing-worker';

/** The worker process: runs subscription workflows and their activities until SIGINT or SIGTERM. */
async function main(): Promise<void> {
  const config = loadConfig();
  const orm = await openOrm(config.databaseUrl);
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  try {
    const worker = await createBillingWorker({ connection, namespace: config.temporalNamespace, taskQueue: config.taskQueue, orm });
    console.log(`worker: polling task queue "${config.taskQueue}" on ${config.temporalAddress}`);
    await worker.run();
  } finally {
    await connection.close();
    await orm.close();
  }
}

main().catch((error: unknown) => {
  console.error('worker failed:', error);
  process.exit(1);
});
