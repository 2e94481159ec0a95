import { forkEm } from '../../db/orm';
import { expectError, startStack, unique, waitForInvoices, type Stack } from './harness';

/**
 * The ledger's reports over invoices issued by real subscription workflows and adjusted through the
 * API: the reconciliation ties each record to its postings, and the deferred revenue waterfall ties
 * to the ledger. Every invoice is a monthly plan's first invoice, 10.00 USD, all of it a fee for the
 * month to come (deferred at issue).
 */
describe('ledger reports', () => {
  let stack: Stack;
  let plan: string;
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  // Yesterday to the day after tomorrow (excluded): everything this suite writes, even across midnight UTC.
  const reconciliation = () => stack.readonly.get(`/v1/reports/reconciliation?currency=USD&from=${day(-1)}&to=${day(2)}`);

  beforeAll(async () => {
    stack = await startStack('ledger-reports');
    plan = unique('monthly-usd');
    expect((await stack.admin.post('/v1/plans', { code: plan, name: 'Monthly', currency: 'USD', interval: 'month', amount: '10.00' })).status).toBe(201);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function freshInvoice(): Promise<{ id: string }> {
    const name = unique('customer');
    const customer = await stack.admin.post('/v1/customers', { name, email: `${name}@example.test`, currency: 'USD' });
    const sub = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: plan });
    expect(sub.status).toBe(201);
    const [invoice] = await waitForInvoices(stack.admin, sub.body.id, 1);
    expect(invoice).toMatchObject({ status: 'open', total: '10.00', amount_due: '10.00' });
    return invoice;
  }

  const post = async (path: string, body: object, status = 201) => {
    const res = await stack.admin.post(path, body);
    expect({ path, status: res.status }).toEqual({ path, status });
    return res.body;
  };

  let written: { id: string };

  it('ties every invoice, payment, refund, credit note and write-off to its postings, and the trial balance holds', async () => {
    // Paid 10.00 by transfer, 4.00 of it refunded.
    const refunded = await freshInvoice();
    await post(`/v1/invoices/${refunded.id}/payments`, { amount: '10.00', reference: 'wire' });
    await post(`/v1/invoices/${refunded.id}/refunds`, { amount: '4.00' });
    // 3.00 credited off what is due, the 7.00 left written off, then 2.00 paid after all (recovering 2.00 of the bad debt).
    written = await freshInvoice();
    await post(`/v1/invoices/${written.id}/credit_notes`, { amount: '3.00' });
    await post(`/v1/invoices/${written.id}/mark_uncollectible`, {}, 200);
    await post(`/v1/invoices/${written.id}/payments`, { amount: '2.00' });
    // Paid, then 2.50 credited to the customer's balance.
    const credited = await freshInvoice();
    await post(`/v1/invoices/${credited.id}/payments`, { amount: '10.00' });
    await post(`/v1/invoices/${credited.id}/credit_notes`, { amount: '2.50' });

    const res = await reconciliation();
    expect(res.status).toBe(200);
    const section = (type: string, records: number, amount: string) => ({ type, records, expected: amount, posted: amount, difference: '0.00' });
    expect(res.body).toMatchObject({
      object: 'reconciliation_report',
      currency: 'USD',
      balanced: true,
      differences: [],
      sections: [
        section('invoice', 3, '30.00'),
        section('credit_applied', 0, '0.00'),
        // 10.00 + 2.00 + 10.00
        section('payment', 3, '22.00'),
        section('refund', 1, '4.00'),
        // 3.00 + 2.50
        section('credit_note', 2, '5.50'),
        // 10.00 - 3.00 credited = 7.00 written off, less 2.00 paid since: 5.00 still bad debt
        section('write_off', 1, '5.00'),
        section('wallet_applied', 0, '0.00'),
      ],
    });
    // Debits: receivable 30 + cash 22 + refunds 4 + credit notes 5.50 + bad debt 7 + receivable 2 recovered = 70.50, credits the same.
    expect(res.body.trial_balance).toMatchObject({ debits: '70.50', credits: '70.50', balanced: true });
  });

  it('a payment without its posting is listed by id, and the report no longer balances', async () => {
    // No code path writes a payment without posting it, in the same transaction; the only way to
    // show a real difference is a row inserted behind the application's back, as here.
    await forkEm(stack.db.orm)().execute(
      `insert into payments (id, invoice_id, amount, currency, method, reference, amount_excess, received_at, created_at)
       values ('py_unposted', ?, 6.00, 'USD', 'manual', 'inserted without a posting', 0, now(), now())`,
      [written.id],
    );
    const res = await reconciliation();
    expect(res.status).toBe(200);
    expect(res.body.balanced).toBe(false);
    expect(res.body.differences).toEqual([{ type: 'payment', id: 'py_unposted', expected: '6.00', posted: '0.00', difference: '-6.00' }]);
    expect(res.body.sections.find((s: { type: string }) => s.type === 'payment')).toEqual({ type: 'payment', records: 4, expected: '28.00', posted: '22.00', difference: '-6.00' });
    // The ledger itself still balances: what is missing is a posting, not half of one.
    expect(res.body.trial_balance.balanced).toBe(true);
  });

  it('the deferred revenue waterfall: this month billed the three invoices, nothing recognised yet, closing at the ledger balance', async () => {
    const now = new Date();
    const month = now.toISOString().slice(0, 7);
    const previous = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
    const res = await stack.readonly.get(`/v1/reports/deferred_revenue?currency=usd&from=${previous}&to=${month}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      object: 'deferred_revenue_report',
      currency: 'USD',
      from: previous,
      to: month,
      balanced: true,
      months: [
        { month: previous, opening: '0.00', billed: '0.00', recognized: '0.00', other: [], closing: '0.00', ledger_closing: '0.00', balanced: true },
        // Credit notes, refunds and the write-off move the receivable, not the service still owed.
        { month, opening: '0.00', billed: '30.00', recognized: '0.00', other: [], closing: '30.00', ledger_closing: '30.00', balanced: true },
      ],
    });
  });

  it('refuses a range that ends before it starts, a month that does not exist and a missing currency', async () => {
    expectError(await stack.readonly.get('/v1/reports/deferred_revenue?currency=USD&from=2026-05&to=2026-04'), 400, { code: 'parameter_invalid', param: 'to' });
    expectError(await stack.readonly.get('/v1/reports/deferred_revenue?currency=USD&from=2026-13&to=2027-01'), 400, { code: 'parameter_invalid', param: 'from' });
    // Ten years at most: 2016-01 to 2026-01 is 121 months.
    expectError(await stack.readonly.get('/v1/reports/deferred_revenue?currency=USD&from=2016-01&to=2026-01'), 400, { code: 'parameter_invalid', param: 'to' });
    expectError(await stack.readonly.get('/v1/reports/reconciliation?currency=USD&from=2026-02-30&to=2026-03-02'), 400, { code: 'parameter_invalid', param: 'from' });
    expectError(await stack.readonly.get('/v1/reports/reconciliation?from=2026-02-01&to=2026-03-01'), 400, { code: 'parameter_missing', param: 'currency' });
    // `to` is excluded: a range of no day is refused.
    expectError(await stack.readonly.get('/v1/reports/reconciliation?currency=USD&from=2026-02-01&to=2026-02-01'), 400, { code: 'parameter_invalid', param: 'to' });
  });
});
