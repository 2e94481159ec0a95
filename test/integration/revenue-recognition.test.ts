import Decimal from 'decimal.js';
import { recognisePeriod } from '../../db/revenue-store';
import { nextMonthStart } from '../../domain/months';
import { recognitionPeriodOf } from '../../domain/revenue-recognition';
import { REVENUE_RECOGNITION_WORKFLOW, revenueRecognitionWorkflowId, type RevenueRecognitionProgress, type RevenueRecognitionWorkflow } from '../../workflows/messages';
import { balanceOf, balances, expectBooksBalanced, startStack, unique, waitForInvoices, type Stack } from './harness';

/**
 * Given a yearly 1,200.00 plan started on 15 June 2026 with a 10 % coupon on its first invoice,
 * when the revenue recognition workflow runs for a few days and then to the end of June,
 * then deferred revenue, revenue and discounts hold the figures worked out by hand, one ledger
 * transaction per day, and running it again posts nothing.
 */
describe('ratable revenue recognition', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack('revenue-recognition');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  let runs = 0;
  const recognise = (through: string): Promise<RevenueRecognitionProgress> =>
    stack.temporal.client.workflow.execute<RevenueRecognitionWorkflow>(REVENUE_RECOGNITION_WORKFLOW, {
      taskQueue: stack.taskQueue,
      workflowId: revenueRecognitionWorkflowId(unique(`test-${++runs}`)),
      args: [{ through }],
    });

  const usd = async (account: string): Promise<string> => balanceOf(await balances(stack.admin), account, 'USD').toFixed(2);
  const recognitionPostings = async (): Promise<number> => {
    const [row] = await stack.db.orm.em.fork().execute<Array<{ n: number }>>(`select count(*)::int as n from ledger_transactions where idempotency_key like 'revenue_recognition:%'`);
    return row.n;
  };

  it('recognises a yearly plan day by day: 1,200 x 3/365 after three days, 1,200 x 16/365 by the end of June, and nothing twice', async () => {
    const plan = unique('yearly');
    expect((await stack.admin.post('/v1/plans', { code: plan, name: 'Yearly', currency: 'USD', interval: 'year', amount: '1200.00' })).status).toBe(201);
    const customer = await stack.admin.post('/v1/customers', { name: 'Ratable Ltd', email: 'ap@ratable.test', currency: 'USD' });
    const coupon = unique('ten');
    expect((await stack.admin.post('/v1/coupons', { code: coupon, name: '10% off', percent_off: '10', duration: 'once' })).status).toBe(201);
    expect((await stack.admin.post(`/v1/customers/${customer.body.id}/applied_coupons`, { coupon_code: coupon })).status).toBe(201);
    const subscription = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: plan, start_at: '2026-06-15T00:00:00Z' });
    expect(subscription.status).toBe(201);
    const [invoice] = await waitForInvoices(stack.admin, subscription.body.id, 1);
    expect(invoice).toMatchObject({ period_start: '2026-06-15T00:00:00.000Z', period_end: '2027-06-15T00:00:00.000Z', subtotal: '1200.00', discount_total: '120.00', total: '1080.00' });

    // Issued: the fee waits in deferred revenue net of its coupon, 1,200.00 - 120.00 = 1,080.00.
    expect([await usd('deferred_revenue'), await usd('revenue'), await usd('discounts')]).toEqual(['1080.00', '0.00', '0.00']);

    // 15, 16 and 17 June have ended: 1,200 x 3/365 = 9.863 -> 9.86 of revenue, 120 x 3/365 = 0.986 ->
    // 0.99 of discount; deferred revenue gives up the net 8.87: 1,080.00 - 8.87 = 1,071.13.
    const threeDays = await recognise('2026-06-18T00:00:00Z');
    expect(threeDays).toMatchObject({ periods: 3, skipped: 0, transactions: 3, lastPeriod: '2026-06-17' });
    // (Discounts is a contra-revenue account: what it is debited shows as a negative balance.)
    expect([await usd('deferred_revenue'), await usd('revenue'), await usd('discounts')]).toEqual(['1071.13', '9.86', '-0.99']);

    // To the end of June, 16 days: 1,200 x 16/365 = 52.60 revenue, 120 x 16/365 = 5.26 discount, net
    // 47.34; deferred 1,080.00 - 47.34 = 1,032.66.
    const june = await recognise('2026-07-01T00:00:00Z');
    expect(june).toMatchObject({ periods: 13, transactions: 13, lastPeriod: '2026-06-30' });
    expect([await usd('deferred_revenue'), await usd('revenue'), await usd('discounts')]).toEqual(['1032.66', '52.60', '-5.26']);
    expect(await recognitionPostings()).toBe(16);
    // The day's posting is dated in its day (its last millisecond), and named for it.
    const [day] = await stack.db.orm.em.fork().execute<Array<{ effective_at: string; description: string }>>(
      `select to_char(effective_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') as effective_at, description from ledger_transactions where idempotency_key = 'revenue_recognition:2026-06-30:USD'`,
    );
    expect(day).toEqual({ effective_at: '2026-06-30T23:59:59.999', description: 'Revenue recognised for 2026-06-30' });

    // Run again, through the same instant: nothing is left to post. A day posted already, asked for
    // directly, is skipped.
    expect(await recognise('2026-07-01T00:00:00Z')).toMatchObject({ periods: 0, transactions: 0 });
    expect(await recognisePeriod(stack.db.orm.em.fork(), 'daily', recognitionPeriodOf('daily', new Date('2026-06-20T12:00:00Z')))).toMatchObject({ skipped: true, transactions: 0 });
    expect(await recognitionPostings()).toBe(16);
    expect([await usd('deferred_revenue'), await usd('revenue'), await usd('discounts')]).toEqual(['1032.66', '52.60', '-5.26']);
    expectBooksBalanced(await balances(stack.admin));
    invoiceId = invoice.id;
  });

  let invoiceId = '';
  const journal = async (from: string, to: string) => (await stack.admin.get(`/v1/journal_entries?from=${from}&to=${to}&currency=USD`)).body.data as Array<{ source_type: string; description: string; lines: Array<{ account: string; debit: string | null; credit: string | null }> }>;

  it('a refund in a later month is given back in that month: June keeps its revenue, and the service goes on being recognised', async () => {
    expect((await stack.admin.post(`/v1/invoices/${invoiceId}/payments`, { amount: '1080.00' })).status).toBe(201);
    // Refunded today (this test runs on the real clock, months after June): a goodwill refund, not an end of service.
    const refund = await stack.admin.post(`/v1/invoices/${invoiceId}/refunds`, { amount: '100.00', reason: 'goodwill' });
    expect(refund.status).toBe(201);
    const month = String(refund.body.refunds[0].created_at).slice(0, 7);
    const next = nextMonthStart(month).toISOString().slice(0, 10);

    // June's journal is what it was: no refund reaches back into it.
    const june = await journal('2026-06-01', '2026-07-01');
    expect(june.some((j) => j.source_type === 'refund')).toBe(false);
    const juneRevenue = june.flatMap((j) => j.lines).filter((l) => l.account === 'revenue');
    expect(juneRevenue.reduce((t, l) => t.plus(l.credit ?? 0), new Decimal(0)).toFixed(2)).toBe('52.60');

    // The refund month shows it: contra-revenue `refunds` debited 100.00, cash credited 100.00.
    const refunds = (await journal(`${month}-01`, next)).filter((j) => j.source_type === 'refund');
    expect(refunds.map((j) => j.lines.map((l) => [l.account, l.debit, l.credit]))).toEqual([
      [
        ['refunds', '100.00', null],
        ['cash', null, '100.00'],
      ],
    ]);

    // 1 July is recognised as if nothing happened: 1,200 x 17/365 = 55.890 -> 55.89, so 3.29 more revenue.
    expect(await recognise('2026-07-02T00:00:00Z')).toMatchObject({ periods: 1, transactions: 1 });
    expect(await usd('revenue')).toBe('55.89');
    expect(await usd('refunds')).toBe('-100.00');
    expectBooksBalanced(await balances(stack.admin));
  });
});
