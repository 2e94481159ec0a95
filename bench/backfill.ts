import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createApp } from '../api/app';
import { migrate, openOrm } from '../db/orm';
import { startEmbeddedPostgres } from '../scripts/embedded-postgres';
import { startTemporalDevServer } from '../scripts/temporal-dev-server';
import { freePort } from '../scripts/wait-for-port';
import { createBillingWorker } from '../workers/billing-worker';
import { parseApiKeySpec } from '../config/env';
import { perennialClient } from '../client';

/**
 * How fast a migrated customer's history is billed: subscriptions backdated by DAYS days on a daily
 * plan, each of which must issue DAYS + 1 invoices (and post them, and recognise DAYS periods).
 * Real Postgres and the real Temporal dev server; prints figures, asserts nothing.
 *   npm run bench:backfill -- [subscriptions=10] [days=90]
 */
const SUBSCRIPTIONS = Number(process.argv[2] ?? 10);
const DAYS = Number(process.argv[3] ?? 90);
const KEY = 'sk_bench_backfill_admin_0193';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const scratch = await mkdtemp(join(tmpdir(), 'perennial-bench-'));
  const postgres = await startEmbeddedPostgres({ dataDir: join(scratch, 'pg'), port: await freePort(), database: 'bench' });
  const temporalPort = await freePort();
  const temporal = await startTemporalDevServer({ port: temporalPort, logFile: join(scratch, 'temporal.log') });
  const orm = await openOrm(postgres.url);
  await migrate(orm);
  const address = `127.0.0.1:${temporalPort}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const worker = await createBillingWorker({ connection: nativeConnection, namespace: 'default', taskQueue: 'bench', orm });
  const running = worker.run();
  const app = createApp({ orm, temporal: new Client({ connection }), taskQueue: 'bench', apiKeys: parseApiKeySpec(`admin:${KEY}`) });
  const server = app.listen(0);
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const api = perennialClient(base, KEY);
  /** The created resource, or the API's error as an exception. */
  const created = <T>({ data, error, response }: { data?: T; error?: unknown; response: Response }): T => {
    if (response.status !== 201 || !data) throw new Error(`${response.url}: ${response.status} ${JSON.stringify(error)}`);
    return data;
  };
  try {
    created(await api.POST('/v1/plans', { body: { code: 'daily', name: 'Daily', currency: 'USD', interval: 'day', amount: '1.00' } }));
    const startAt = new Date(Date.now() - DAYS * 86_400_000 - 60_000).toISOString();
    const started = Date.now();
    for (let i = 0; i < SUBSCRIPTIONS; i++) {
      const customer = created(await api.POST('/v1/customers', { body: { name: `Customer ${i}`, email: `c${i}@bench.test`, currency: 'USD' } }));
      created(await api.POST('/v1/subscriptions', { body: { customer_id: customer.id, plan_code: 'daily', start_at: startAt } }));
    }
    const expected = SUBSCRIPTIONS * (DAYS + 1);
    let issued = 0;
    let lastReport = 0;
    while (issued < expected) {
      await new Promise((r) => setTimeout(r, 250));
      const [row] = await orm.em.fork().getConnection().execute<Array<{ n: string }>>('select count(*) as n from invoices');
      issued = Number(row.n);
      if (Date.now() - lastReport > 5_000) {
        lastReport = Date.now();
        console.log(`  ${issued}/${expected} invoices after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    const [balance] = await orm.em.fork().getConnection().execute<Array<{ d: string; c: string }>>(
      `select sum(amount) filter (where direction = 'debit') as d, sum(amount) filter (where direction = 'credit') as c from ledger_entries`,
    );
    console.log(`backfill: ${SUBSCRIPTIONS} subscriptions x ${DAYS + 1} daily periods = ${expected} invoices in ${seconds.toFixed(1)} s`);
    console.log(`  ${(expected / seconds).toFixed(1)} periods/s (each: an invoice, its ledger posting and its revenue recognition)`);
    console.log(`  ledger debits ${balance.d} = credits ${balance.c}`);
  } finally {
    server.close();
    worker.shutdown();
    await running;
    await nativeConnection.close();
    await connection.close();
    await orm.close();
    await temporal.stop();
    await postgres.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
