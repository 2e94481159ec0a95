import { loadConfig } from '../config/env';
import { migrate, openOrm } from '../db/orm';
import { ensureAppLogin } from '../db/roles';

/**
 * Applies pending migrations as the schema's owner (DATABASE_OWNER_URL, else DATABASE_URL) and, when
 * the two differ, makes DATABASE_URL's user a login member of perennial_app; the deployment runs it
 * before the API and the worker.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const ownerUrl = config.databaseOwnerUrl ?? config.databaseUrl;
  const orm = await openOrm(ownerUrl);
  try {
    const applied = await migrate(orm);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema is up to date');
  } finally {
    await orm.close();
  }
  if (config.databaseOwnerUrl) await ensureAppLogin(config.databaseOwnerUrl, config.databaseUrl);
}

main().catch((error: unknown) => {
  console.error('migration failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
