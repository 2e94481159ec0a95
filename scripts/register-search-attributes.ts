import { status } from '@grpc/grpc-js';
import { Connection } from '@temporalio/client';
import { loadConfig } from '../config/env';
import { ensureSearchAttributes } from './search-attributes';
import { ensureNamespace } from './temporal-namespace';

/**
 * Creates the namespace where it is missing (a fresh self-hosted server) and registers the
 * subscription search attributes on TEMPORAL_ADDRESS (a deployment step).
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env, { database: false });
  const connection = await Connection.connect({ address: config.temporalAddress });
  try {
    if (await ensureNamespace(connection, config.temporalNamespace)) console.log(`created namespace ${config.temporalNamespace}`);
    const added = await untilNamespaceKnown(() => ensureSearchAttributes(connection, config.temporalNamespace));
    console.log(added.length ? `registered: ${added.join(', ')}` : 'search attributes already registered');
  } finally {
    await connection.close();
  }
}

/** A namespace just created is unknown to the frontend until its registry refreshes (seconds). */
async function untilNamespaceKnown<T>(step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if ((error as { code?: number }).code !== status.NOT_FOUND || attempt >= 60) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

main().catch((error: unknown) => {
  console.error('registering search attributes failed:', error);
  process.exit(1);
});
