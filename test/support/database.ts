import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { openOrm, type Orm } from '../../db/orm';
import { testServices } from '../setup/services';

export interface TestDatabase {
  orm: Orm;
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: testServices().postgresAdminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database per test file, cloned from the template the global setup migrated. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const { postgresAdminUrl, templateDatabase } = testServices();
  const name = `test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`create database ${name} template ${templateDatabase}`));
  const url = postgresAdminUrl.replace(/\/postgres$/, `/${name}`);
  const orm = await openOrm(url);
  return {
    orm,
    url,
    async drop() {
      await orm.close(true);
      await admin((c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}
