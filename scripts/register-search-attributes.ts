import { Connection } from '@temporalio/client';
import { loadConfig } from '../config/env';
import { ensureSearchAttributes } from './search-attributes';

/** Registers the subscription search attributes on TEMPORAL_ADDRESS (a deployment step). */
async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? 'unused' });
  const connection = await Connection.connect({ address: config.temporalAddress });
  try {
    const added = await ensureSearchAttributes(connection, config.temporalNamespace);
    console.log(added.length ? `registered: ${added.join(', ')}` : 'search attributes already registered');
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error('registering search attributes failed:', error);
  process.exit(1);
});
