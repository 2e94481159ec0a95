import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { openOrm, type Orm } from '../../db/orm';
import { ensureAppLogin } from '../../db/roles';
import { testServices } from '../setup/services';

export interface TestDatabase {
  orm: Orm;
  /** As the application connects: a login member of perennial_app (rows only, an append-only ledger). */
  url: string;
  /** As the schema's owner, for what only a migration (or a test's fault injection) may do. */
  ownerUrl: string;
  drop(): Promise<void>;
}

/** The application's login in every test database (roles belong to the whole server). */
const APP_USER = 'perennial_test_app';
const APP_PASSWORD = 'perennial-test-app-password';

async function admin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: testServices().postgresAdminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh, migrated database per test file, cloned from the template the global setup migrated. The
 * code under test connects as the application does in production, with the rights of perennial_app.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const { postgresAdminUrl, templateDatabase } = testServices();
  const name = `test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`create database ${name} template ${templateDatabase}`));
  const ownerUrl = postgresAdminUrl.replace(/\/postgres$/, `/${name}`);
  const app = new URL(ownerUrl);
  app.username = APP_USER;
  app.password = APP_PASSWORD;
  const url = app.toString();
  await ensureAppLogin(ownerUrl, url);
  const orm = await openOrm(url);
  return {
    orm,
    url,
    ownerUrl,
    async drop() {
      await orm.close(true);
      await admin((c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}
