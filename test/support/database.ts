import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { migrate, openOrm, type Orm } from '../../db/orm';
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

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const admin = <T>(work: (client: Client) => Promise<T>): Promise<T> => withClient(testServices().postgresAdminUrl, work);

/** A database the code under test connects to as the application does: a login member of perennial_app. */
async function asApplication(name: string, ownerUrl: string): Promise<TestDatabase> {
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

const databaseName = () => `test_${randomBytes(6).toString('hex')}`;
const ownerUrlOf = (name: string) => testServices().postgresAdminUrl.replace(/\/postgres$/, `/${name}`);

/**
 * A fresh, migrated database per test file, cloned from the template the global setup migrated. The
 * code under test connects as the application does in production, with the rights of perennial_app.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = databaseName();
  await admin((c) => c.query(`create database ${name} template ${testServices().templateDatabase}`));
  return asApplication(name, ownerUrlOf(name));
}

/**
 * A database an earlier version wrote: migrated up to `lastMigration`, given `rows` (SQL, in one
 * transaction, as that version wrote them), then migrated to the current schema as an upgrade would.
 */
export async function createUpgradedDatabase(lastMigration: string, rows: string): Promise<TestDatabase> {
  const name = databaseName();
  await admin((c) => c.query(`create database ${name}`));
  const ownerUrl = ownerUrlOf(name);
  const owner = await openOrm(ownerUrl);
  try {
    await owner.getMigrator().up({ to: lastMigration });
    await withClient(ownerUrl, async (c) => {
      await c.query('begin');
      await c.query(rows);
      await c.query('commit');
    });
    await migrate(owner);
  } finally {
    await owner.close(true);
  }
  return asApplication(name, ownerUrl);
}
