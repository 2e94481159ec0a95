import { loadConfig } from '../config/env';
import { migrate, openOrm } from '../db/orm';

/** Applies pending migrations to DATABASE_URL and exits; the deployment runs it before the API. */
async function main(): Promise<void> {
  const orm = await openOrm(loadConfig().databaseUrl);
  try {
    const applied = await migrate(orm);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema is up to date');
  } finally {
    await orm.close();
  }
}

main().catch((error: unknown) => {
  console.error('migration failed:', error);
  process.exit(1);
});
