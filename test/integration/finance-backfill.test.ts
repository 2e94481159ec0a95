import { createRevenueRecognitionActivities } from '../../activities/revenue-recognition';
import { createApp } from '../../api/app';
import { usagePool } from '../../api/usage-ingest';
import { parseApiKeySpec } from '../../config/env';
import { createUpgradedDatabase, type TestDatabase } from '../support/database';
import { apiClient, listen, type ApiClient } from '../support/http';
import { devServer, uniqueTaskQueue, type DevServer } from '../support/temporal';

/**
 * A database written by the version before finance reporting (its last migration is
 * least_privilege) is migrated to the current schema; the back-fills must make it report as if it
 * had been written by the current version: obligations for its fee lines (recognised ones closed),
 * sources on its ledger transactions, due dates, and the prices MRR reads.
 *
 * The old rows are inserted in SQL, column for column as the old code wrote them (invoice store,
 * ledger posting rules of that version), because the old code no longer exists to write them.
 */
const LAST_MIGRATION_BEFORE = 'Migration20261130300000_least_privilege';
const KEY = 'sk_test_finance_backfill_admin';

const OLD_WORLD = `
insert into customers (id, name, email, currency, created_at) values
  ('cus_annual', 'Annual Ltd', 'annual@example.com', 'USD', '2026-05-01T00:00:00Z'),
  ('cus_monthly', 'Monthly GmbH', 'monthly@example.com', 'USD', '2026-05-01T00:00:00Z');
insert into plans (id, code, name, currency, interval, interval_count, amount, created_at) values
  ('pln_annual', 'annual', 'Annual', 'USD', 'year', 1, 1200, '2026-05-01T00:00:00Z'),
  ('pln_monthly', 'monthly', 'Monthly', 'USD', 'month', 1, 30, '2026-05-01T00:00:00Z');
insert into subscriptions (id, customer_id, plan_id, status, start_at, billing_anchor, current_period_start, current_period_end, workflow_id, usage_closed_until, created_at) values
  ('sub_annual', 'cus_annual', 'pln_annual', 'active', '2026-06-15T00:00:00Z', '2026-06-15T00:00:00Z', '2026-06-15T00:00:00Z', '2027-06-15T00:00:00Z', 'subscription-sub_annual', '2026-06-15T00:00:00Z', '2026-06-15T00:00:00Z'),
  ('sub_monthly', 'cus_monthly', 'pln_monthly', 'canceled', '2026-05-01T00:00:00Z', '2026-05-01T00:00:00Z', '2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z', 'subscription-sub_monthly', '2026-06-01T00:00:00Z', '2026-05-01T00:00:00Z');
update invoice_number_sequences set next_value = 3 where series = 'INV';
-- The monthly plan's May invoice: never paid, and its period served, so recognised in one lump.
insert into invoices (id, sequence, number, customer_id, subscription_id, period_index, status, currency, subtotal, total, deferred_amount, amount_paid, amount_due, period_start, period_end, issued_at, revenue_recognized_at, created_at) values
  ('in_may', 1, 'INV-000001', 'cus_monthly', 'sub_monthly', 0, 'open', 'USD', 30, 30, 30, 0, 30, '2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z', '2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z', '2026-05-01T00:00:00Z'),
  ('in_annual', 2, 'INV-000002', 'cus_annual', 'sub_annual', 0, 'paid', 'USD', 1200, 1200, 1200, 1200, 0, '2026-06-15T00:00:00Z', '2027-06-15T00:00:00Z', '2026-06-15T00:00:00Z', null, '2026-06-15T00:00:00Z');
update invoices set paid_at = '2026-06-16T00:00:00Z' where id = 'in_annual';
insert into invoice_lines (id, invoice_id, position, kind, description, quantity, unit_amount, amount, period_start, period_end) values
  ('il_may', 'in_may', 0, 'fee', 'Monthly', 1, 30, 30, '2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z'),
  ('il_annual', 'in_annual', 0, 'fee', 'Annual', 1, 1200, 1200, '2026-06-15T00:00:00Z', '2027-06-15T00:00:00Z');
insert into payments (id, invoice_id, amount, currency, method, received_at, created_at) values
  ('pay_annual', 'in_annual', 1200, 'USD', 'manual', '2026-06-16T00:00:00Z', '2026-06-16T00:00:00Z');
insert into ledger_transactions (id, idempotency_key, description, currency, customer_id, invoice_id, effective_at) values
  ('txn_may_issued', 'invoice:in_may:issued', 'Invoice INV-000001 issued', 'USD', 'cus_monthly', 'in_may', '2026-05-01T00:00:00Z'),
  ('txn_may_recognized', 'invoice:in_may:recognized', 'Revenue recognised for invoice INV-000001', 'USD', 'cus_monthly', 'in_may', '2026-06-01T00:00:00Z'),
  ('txn_annual_issued', 'invoice:in_annual:issued', 'Invoice INV-000002 issued', 'USD', 'cus_annual', 'in_annual', '2026-06-15T00:00:00Z'),
  ('txn_annual_paid', 'payment:pay_annual', 'Payment for invoice INV-000002', 'USD', 'cus_annual', 'in_annual', '2026-06-16T00:00:00Z');
insert into ledger_entries (transaction_id, account_code, direction, amount) values
  ('txn_may_issued', 'accounts_receivable', 'debit', 30), ('txn_may_issued', 'deferred_revenue', 'credit', 30),
  ('txn_may_recognized', 'deferred_revenue', 'debit', 30), ('txn_may_recognized', 'revenue', 'credit', 30),
  ('txn_annual_issued', 'accounts_receivable', 'debit', 1200), ('txn_annual_issued', 'deferred_revenue', 'credit', 1200),
  ('txn_annual_paid', 'cash', 'debit', 1200), ('txn_annual_paid', 'accounts_receivable', 'credit', 1200);
`;

describe('a database from before finance reporting, migrated', () => {
  let db: TestDatabase;
  let temporal: DevServer;
  let pool: ReturnType<typeof usagePool>;
  let server: Awaited<ReturnType<typeof listen>>;
  let api: ApiClient;

  beforeAll(async () => {
    db = await createUpgradedDatabase(LAST_MIGRATION_BEFORE, OLD_WORLD);
    temporal = await devServer();
    pool = usagePool(db.url);
    server = await listen(createApp({ orm: db.orm, temporal: temporal.client, taskQueue: uniqueTaskQueue('backfill'), apiKeys: parseApiKeySpec(`admin:${KEY}`), usagePool: pool }));
    api = apiClient(server.baseUrl, KEY);
  });

  afterAll(async () => {
    await server?.close();
    await pool?.end();
    await temporal?.close();
    await db?.drop();
  });

  it('gives old invoices due dates and ages what is still owed', async () => {
    const invoice = await api.get('/v1/invoices/in_may');
    expect(invoice.status).toBe(200);
    expect(invoice.body).toMatchObject({ due_at: '2026-05-01T00:00:00.000Z', days_until_due: 0 });
    // 30 June is 60 days after 1 May.
    const aging = await api.get('/v1/reports/ar_aging?currency=USD&as_of=2026-06-30T00:00:00Z');
    expect(aging.status).toBe(200);
    expect(aging.body.data).toEqual([
      {
        currency: 'USD',
        customers: [{ customer_id: 'cus_monthly', name: 'Monthly GmbH', not_yet_due: '0.00', days_1_30: '0.00', days_31_60: '30.00', days_61_90: '0.00', days_91_120: '0.00', days_over_120: '0.00', total: '30.00' }],
        totals: { not_yet_due: '0.00', days_1_30: '0.00', days_31_60: '30.00', days_61_90: '0.00', days_91_120: '0.00', days_over_120: '0.00', total: '30.00' },
      },
    ]);
  });

  it('names the source of every old ledger transaction in the journal export', async () => {
    const csv = await fetch(`${server.baseUrl}/v1/journal_entries?from=2026-05-01&to=2026-06-30&format=csv&currency=USD`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(csv.status).toBe(200);
    const text = await csv.text();
    expect(text).toContain('invoice,in_may');
    expect(text).toContain('payment,pay_annual');
  });

  it('reconciles to zero', async () => {
    const report = await api.get('/v1/reports/reconciliation?currency=USD&from=2026-05-01&to=2026-07-01');
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ balanced: true, differences: [] });
  });

  it('recognises the open old invoice ratably and leaves the one recognised in a lump alone', async () => {
    // What the revenue recognition workflow runs, period by period, through the end of June.
    const recognition = createRevenueRecognitionActivities({ orm: db.orm, method: 'daily' });
    const due = await recognition.revenueRecognitionPeriodsDue({ through: '2026-07-01T00:00:00Z', limit: 1000 });
    for (const period of due) await recognition.recogniseRevenueForPeriod(period);
    expect(await recognition.revenueRecognitionPeriodsDue({ through: '2026-07-01T00:00:00Z', limit: 1000 })).toEqual([]);

    const report = await api.get('/v1/reports/deferred_revenue?currency=USD&from=2026-05&to=2026-06');
    expect(report.status).toBe(200);
    expect(report.body.balanced).toBe(true);
    expect(report.body.months.map((m: Record<string, unknown>) => [m.month, m.opening, m.billed, m.recognized, m.closing])).toEqual([
      ['2026-05', '0.00', '30.00', '0.00', '30.00'],
      // The May invoice's lump (dated 1 June, when its period ended) counts as recognised, and nothing of it
      // is posted again; the annual invoice's 16 June days of 365: 1,200 x 16 / 365 = 52.6027... -> 52.60.
      ['2026-06', '30.00', '1200.00', '82.60', '1147.40'],
    ]);
  });

  it('prices old fee lines for MRR: the monthly customer churns in June as the annual one starts', async () => {
    const report = await api.get('/v1/reports/mrr?currency=USD&from=2026-05&to=2026-06');
    expect(report.status).toBe(200);
    const [usd] = report.body.data;
    expect(usd.unpriced_fee_lines).toBe(0);
    expect(usd.months.map((m: Record<string, unknown>) => [m.month, m.start, m.new, m.churn, m.mrr])).toEqual([
      ['2026-05', '0.00', '30.00', '0.00', '30.00'],
      // The annual plan's 1,200.00 a year is 100.00 a month.
      ['2026-06', '30.00', '100.00', '30.00', '100.00'],
    ]);
  });
});
