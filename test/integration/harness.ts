import type { Worker } from '@temporalio/worker';
import Decimal from 'decimal.js';
import { createApp } from '../../api/app';
import type { ApiDeps } from '../../api/deps';
import { usagePool } from '../../api/usage-ingest';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { apiClient, listen, type ApiClient, type ApiResponse } from '../support/http';
import { billingWorker, devServer, uniqueTaskQueue, type DevServer } from '../support/temporal';
import { parseApiKeySpec } from '../../config/env';
import { eventually } from '../support/eventually';
import { EventRelay } from '../../workers/event-relay';
import { webhookDeliveryWorkflowId } from '../../workflows/messages';

/**
 * One suite's stack for the integration tests: a fresh migrated database, clients of the run's
 * Temporal dev server (the real server, with visibility), an in-process billing worker on a task
 * queue of its own, and the API on a random port with one key per role.
 */
export const KEYS = {
  admin: 'sk_test_integration_admin',
  support: 'sk_test_integration_support',
  readonly: 'sk_test_integration_readonly',
} as const;

export interface Stack {
  db: TestDatabase;
  temporal: DevServer;
  taskQueue: string;
  baseUrl: string;
  admin: ApiClient;
  support: ApiClient;
  readonly: ApiClient;
  /** A client presenting `key` (null: no Authorization header at all). */
  as(key: string | null): ApiClient;
  stop(): Promise<void>;
}

export async function startStack(label: string, options: { worker?: boolean; app?: Partial<ApiDeps> } = {}): Promise<Stack> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error(`${label} teardown:`, error));
    cleanups.length = 0;
  };
  try {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const temporal = await devServer();
    cleanups.push(() => temporal.close());
    const taskQueue = uniqueTaskQueue(label);

    let worker: Worker | undefined;
    if (options.worker !== false) {
      worker = await billingWorker({ connection: temporal.connection, taskQueue, orm: db.orm });
      const running = worker.run();
      const w = worker;
      cleanups.push(async () => {
        if (w.getState() === 'RUNNING') w.shutdown();
        await running;
      });
      // The worker process runs the relay beside the worker (workers/main.ts), so every stack delivers webhooks.
      const relay = await EventRelay.start({ orm: db.orm, temporal: temporal.client, taskQueue });
      cleanups.push(() => relay.stop());
    }
    // Runs before the worker stops: the suite's workflows would otherwise wait forever on a queue
    // nobody polls (they live on the shared dev server until the end of the run).
    cleanups.push(() => terminateWorkflows(db, temporal));

    const apiKeys = `admin:${KEYS.admin},support:${KEYS.support},readonly:${KEYS.readonly}`;
    const pool = usagePool(db.url);
    cleanups.push(() => pool.end());
    const server = await listen(createApp({ orm: db.orm, temporal: temporal.client, taskQueue, apiKeys: parseApiKeySpec(apiKeys), usagePool: pool, ...options.app }));
    cleanups.push(() => server.close());

    return {
      db,
      temporal,
      taskQueue,
      baseUrl: server.baseUrl,
      admin: apiClient(server.baseUrl, KEYS.admin),
      support: apiClient(server.baseUrl, KEYS.support),
      readonly: apiClient(server.baseUrl, KEYS.readonly),
      as: (key) => apiClient(server.baseUrl, key),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function terminateWorkflows(db: TestDatabase, temporal: DevServer): Promise<void> {
  const rows = await db.orm.em.fork().execute<Array<{ workflow_id: string }>>('select workflow_id from subscriptions');
  const deliveries = await db.orm.em.fork().execute<Array<{ id: string; resends: number }>>(`select id, resends from webhook_deliveries where status = 'pending'`);
  await Promise.all(
    [...rows.map((r) => r.workflow_id), ...deliveries.map((d) => webhookDeliveryWorkflowId(d.id, d.resends))].map((workflowId) =>
      temporal.client.workflow
        .getHandle(workflowId)
        .terminate('integration suite finished')
        .catch(() => undefined), // already completed
    ),
  );
}

/** Business tables: a rejected request must leave every one of them as it was. */
export const BUSINESS_TABLES = [
  'customers',
  'plans',
  'subscriptions',
  'invoices',
  'invoice_lines',
  'payments',
  'ledger_transactions',
  'ledger_entries',
] as const;

export type TableCounts = Record<(typeof BUSINESS_TABLES)[number], number>;

export async function tableCounts(db: TestDatabase): Promise<TableCounts> {
  const [row] = await db.orm.em
    .fork()
    .execute<TableCounts[]>(`select ${BUSINESS_TABLES.map((t) => `(select count(*)::int from ${t}) as ${t}`).join(', ')}`);
  return row;
}

export { eventually };

/** All invoices of a subscription, oldest first. */
export async function invoicesOf(api: ApiClient, subscriptionId: string): Promise<any[]> {
  const res = await api.get(`/v1/invoices?subscription_id=${subscriptionId}&limit=100`);
  expect(res.status).toBe(200);
  return [...res.body.data].reverse();
}

export async function waitForInvoices(api: ApiClient, subscriptionId: string, count: number): Promise<any[]> {
  return eventually(`subscription ${subscriptionId} has ${count} invoice(s)`, () => invoicesOf(api, subscriptionId), (list) => list.length >= count);
}

export function expectError(res: ApiResponse, status: number, expected: { type?: string; code?: string; param?: string }): void {
  expect({ status: res.status, body: res.body }).toEqual({
    status,
    body: {
      error: expect.objectContaining({
        type: expected.type ?? expect.any(String),
        code: expected.code ?? expect.any(String),
        message: expect.any(String),
        ...(expected.param !== undefined ? { param: expected.param } : {}),
      }),
    },
  });
}

export interface Balance {
  account: string;
  currency: string;
  debits: string;
  credits: string;
  balance: string;
}

export async function balances(api: ApiClient): Promise<Balance[]> {
  const res = await api.get('/v1/ledger/balances');
  expect(res.status).toBe(200);
  return res.body.data as Balance[];
}

/** The balance of `account` in `currency` as a Decimal (zero when the account has no entries yet). */
export function balanceOf(list: Balance[], account: string, currency: string): Decimal {
  const row = list.find((b) => b.account === account && b.currency === currency);
  return new Decimal(row?.balance ?? 0);
}

export function expectBooksBalanced(list: Balance[]): void {
  for (const currency of new Set(list.map((b) => b.currency))) {
    const rows = list.filter((b) => b.currency === currency);
    const debits = rows.reduce((s, b) => s.plus(b.debits), new Decimal(0));
    const credits = rows.reduce((s, b) => s.plus(b.credits), new Decimal(0));
    expect({ currency, debits: debits.toFixed() }).toEqual({ currency, debits: credits.toFixed() });
  }
}

const DAY_MS = 86_400_000;

/** A start instant `days` whole days and one hour ago, so exactly `days` daily periods have elapsed. */
export const daysAgo = (days: number): string => new Date(Date.now() - days * DAY_MS - 3_600_000).toISOString();

let counter = 0;
/** Unique per call, for plan codes and external ids in one database. */
export const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
