import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config/env';
import { openOrm } from '../db/orm';
import { createApp } from './app';
import { usagePool } from './usage-ingest';

/** The API process: Express on PORT, Postgres through MikroORM, Temporal through its client. */
async function main(): Promise<void> {
  const config = loadConfig();
  const orm = await openOrm(config.databaseUrl);
  const connection = await Connection.connect({ address: config.temporalAddress });
  const temporal = new Client({ connection, namespace: config.temporalNamespace });
  const pool = usagePool(config.databaseUrl);
  const app = createApp({ orm, temporal, taskQueue: config.taskQueue, apiKeys: config.apiKeys, usagePool: pool });
  const server = app.listen(config.port, () => console.log(`api: listening on http://localhost:${config.port}`));
  const stop = (): void => {
    server.closeIdleConnections();
    server.close(() => {
      void Promise.all([connection.close(), orm.close(), pool.end()]).then(() => process.exit(0));
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error('api failed to start:', error);
  process.exit(1);
});
