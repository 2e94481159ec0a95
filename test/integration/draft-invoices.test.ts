import Decimal from 'decimal.js';
import { balanceOf, balances, daysAgo, eventually, expectBooksBalanced, expectError, startStack, unique, waitForInvoices, type Stack } from './harness';

/**
 * Draft invoices and void through the API, with subscription workflows on the dev server. A daily
 * plan of 30.00 and customers with a 3-day grace period: the first invoice of a subscription is
 * finalised at once, each renewal waits as a draft (no number, nothing posted) until its grace
 * ends (days from now, so here only the API finalises them).
 */
describe('draft invoices and void', () => {
  let stack: Stack;
  let plan: string;
  let taxRate: string;

  beforeAll(async () => {
    stack = await startStack('drafts');
    plan = unique('daily-drafts');
    expect((await stack.admin.post('/v1/plans', { code: plan, name: 'Daily', currency: 'USD', interval: 'day', amount: '30.00' })).status).toBe(201);
    taxRate = unique('vat');
    expect((await stack.admin.post('/v1/tax_rates', { code: taxRate, name: 'VAT', percentage: '10', inclusive: false })).status).toBe(201);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function customer(name: string, graceDays?: number): Promise<string> {
    const res = await stack.admin.post('/v1/customers', {
      name,
      email: `${name.toLowerCase()}@drafts.test`,
      currency: 'USD',
      ...(graceDays !== undefined ? { invoice_grace_period_days: graceDays } : {}),
    });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  async function subscribe(customerId: string, daysBack: number): Promise<string> {
    const res = await stack.admin.post('/v1/subscriptions', { customer_id: customerId, plan_code: plan, start_at: daysAgo(daysBack) });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  const numberOf = (invoiceNumber: string): number => Number(/^INV-(\d+)$/.exec(invoiceNumber)![1]);
  const postingsOf = (invoiceId: string) =>
    stack.db.orm.em.fork().execute<Array<{ key: string }>>('select idempotency_key as key from ledger_transactions where invoice_id = ? order by created_at', [invoiceId]);

  it('takes a grace period on a customer, 0 by default, and refuses one out of bounds', async () => {
    const plain = await stack.admin.get(`/v1/customers/${await customer('Plain')}`);
    expect(plain.body.invoice_grace_period_days).toBe(0);
    const id = await customer('Graced', 3);
    expect((await stack.admin.get(`/v1/customers/${id}`)).body.invoice_grace_period_days).toBe(3);
    const changed = await stack.admin.post(`/v1/customers/${id}`, { invoice_grace_period_days: 5 });
    expect(changed.status).toBe(200);
    expect(changed.body.invoice_grace_period_days).toBe(5);
    expectError(await stack.admin.post(`/v1/customers/${id}`, { invoice_grace_period_days: 91 }), 400, { type: 'invalid_request_error', param: 'invoice_grace_period_days' });
    expectError(await stack.admin.post(`/v1/customers/${id}`, { invoice_grace_period_days: 1.5 }), 400, { type: 'invalid_request_error', param: 'invoice_grace_period_days' });
  });

  it('keeps renewals as drafts, adjusts one with a line and a credit line, and numbers it when finalised, without a gap', async () => {
    const graced = await customer('Dora', 3);
    expect((await stack.admin.post(`/v1/customers/${graced}/tax_rates`, { tax_rates: [taxRate] })).status).toBe(200);
    // Started 1 day and 1 hour ago: period 0 (finalised at once) and period 1 (a renewal: a draft).
    const sub = await subscribe(graced, 1);
    const [first, renewal] = await waitForInvoices(stack.admin, sub, 2);
    expect(first).toMatchObject({ status: 'open', total: '33.00', amount_due: '33.00' });
    expect(renewal).toMatchObject({ status: 'draft', number: null, finalized_at: null, subtotal: '30.00', tax_total: '3.00', total: '33.00' });
    // Its grace ends 3 days after its issue.
    expect(Date.parse(renewal.auto_finalizes_at) - Date.parse(renewal.issued_at)).toBe(3 * 86_400_000);
    // Nothing of a draft is in the ledger, and it is not a receivable.
    expect(await postingsOf(renewal.id)).toEqual([]);
    const aging = await stack.admin.get('/v1/reports/ar_aging?currency=USD');
    expect(aging.status).toBe(200);
    expect(JSON.stringify(aging.body)).not.toContain(renewal.id);

    // Another customer's invoice is numbered meanwhile: the next number of the sequence.
    const other = await subscribe(await customer('Otto'), 0);
    const [between] = await waitForInvoices(stack.admin, other, 1);
    expect(numberOf(between.number)).toBeGreaterThan(numberOf(first.number));

    // A workshop, 2 x 12.50 = 25.00, and a goodwill credit of -5.00 (unit amount negative).
    const workshop = await stack.support.post(`/v1/invoices/${renewal.id}/lines`, { description: 'Onboarding workshop', quantity: '2', unit_amount: '12.50' });
    expect(workshop.status).toBe(201);
    const credited = await stack.support.post(`/v1/invoices/${renewal.id}/lines`, { description: 'Goodwill credit', quantity: '1', unit_amount: '-5.00' });
    expect(credited.status).toBe(201);
    // subtotal 30.00 + 25.00 - 5.00 = 50.00; VAT 10% of 50.00 = 5.00 (3.00 + 2.50 - 0.50 by line); total 55.00.
    expect(credited.body).toMatchObject({ status: 'draft', number: null, subtotal: '50.00', tax_total: '5.00', total: '55.00', amount_due: '55.00' });
    expect(credited.body.lines.map((l: any) => [l.kind, l.description, l.quantity, l.amount])).toEqual([
      ['fee', 'Daily', '1', '30.00'],
      ['one_off', 'Onboarding workshop', '2', '25.00'],
      ['one_off', 'Goodwill credit', '1', '-5.00'],
    ]);
    expect(credited.body.taxes).toEqual([expect.objectContaining({ tax_rate_id: expect.any(String), base: '50.00', amount: '5.00' })]);

    const finalised = await stack.support.post(`/v1/invoices/${renewal.id}/finalize`, {});
    expect(finalised.status).toBe(200);
    // Numbered at finalisation: the number after Otto's, so the sequence has no gap for the draft.
    expect(finalised.body).toMatchObject({ status: 'open', total: '55.00', amount_due: '55.00' });
    expect(numberOf(finalised.body.number)).toBe(numberOf(between.number) + 1);
    expect(finalised.body.finalized_at).not.toBeNull();
    // Finalising again answers with the invoice as it is.
    const again = await stack.support.post(`/v1/invoices/${renewal.id}/finalize`, {});
    expect(again.status).toBe(200);
    expect(again.body.number).toBe(finalised.body.number);
    // Posted once: receivable 55.00 = deferred fee 30.00 + revenue 20.00 (25.00 - 5.00) + tax 5.00.
    expect((await postingsOf(renewal.id)).map((p) => p.key)).toEqual([`invoice:${renewal.id}:issued`]);
    const [entries] = await stack.db.orm.em.fork().execute<Array<{ ar: string; deferred: string; revenue: string; tax: string }>>(
      `select sum(amount) filter (where account_code = 'accounts_receivable' and direction = 'debit')::text as ar,
              sum(amount) filter (where account_code = 'deferred_revenue' and direction = 'credit')::text as deferred,
              sum(amount) filter (where account_code = 'revenue' and direction = 'credit')::text as revenue,
              sum(amount) filter (where account_code = 'tax_payable' and direction = 'credit')::text as tax
         from ledger_entries e join ledger_transactions t on t.id = e.transaction_id where t.idempotency_key = ?`,
      [`invoice:${renewal.id}:issued`],
    );
    expect(Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, new Decimal(v).toFixed(2)]))).toEqual({ ar: '55.00', deferred: '30.00', revenue: '20.00', tax: '5.00' });
    expectBooksBalanced(await balances(stack.admin));

    // A finalised invoice takes no more lines.
    expectError(await stack.support.post(`/v1/invoices/${renewal.id}/lines`, { description: 'Late', quantity: '1', unit_amount: '1.00' }), 409, { code: 'invoice_not_draft' });
  });

  it('voids an open invoice: it keeps its number, the ledger nets it to zero and customer credit used on it goes back', async () => {
    const id = await customer('Vera');
    const sub = await subscribe(id, 0);
    const [invoice] = await waitForInvoices(stack.admin, sub, 1);
    expect(invoice).toMatchObject({ status: 'open', total: '30.00' });
    const receivableBefore = balanceOf(await balances(stack.admin), 'accounts_receivable', 'USD');

    expectError(await stack.readonly.post(`/v1/invoices/${invoice.id}/void`, {}), 403, { type: 'permission_error' });
    const voided = await stack.support.post(`/v1/invoices/${invoice.id}/void`, {});
    expect(voided.status).toBe(200);
    expect(voided.body).toMatchObject({ status: 'void', number: invoice.number, total: '30.00' });
    expect(voided.body.voided_at).not.toBeNull();
    // The receivable falls by the 30.00 the invoice asked.
    const after = await balances(stack.admin);
    expect(balanceOf(after, 'accounts_receivable', 'USD').toFixed(2)).toBe(receivableBefore.minus(30).toFixed(2));
    expectBooksBalanced(after);
    expect((await postingsOf(invoice.id)).map((p) => p.key)).toEqual([`invoice:${invoice.id}:issued`, `invoice:${invoice.id}:voided`]);
    // Its collection stops.
    await eventually(
      'the collection workflow ends as void',
      async () => (await stack.temporal.client.workflow.getHandle(`invoice-${invoice.id}`).describe()).status.name,
      (s) => s === 'COMPLETED',
    );

    expectError(await stack.support.post(`/v1/invoices/${invoice.id}/void`, {}), 409, { code: 'invoice_already_void' });
    expectError(await stack.support.post(`/v1/invoices/in_missing/void`, {}), 404, { code: 'resource_missing' });
  });

  it('refuses to void a paid invoice or a draft, and says what to do instead', async () => {
    const id = await customer('Paula', 3);
    const sub = await subscribe(id, 1);
    const [first, draft] = await waitForInvoices(stack.admin, sub, 2);
    expect((await stack.support.post(`/v1/invoices/${first.id}/payments`, { amount: '30.00' })).status).toBe(201);
    expectError(await stack.support.post(`/v1/invoices/${first.id}/void`, {}), 409, { code: 'invoice_not_voidable' });
    expectError(await stack.support.post(`/v1/invoices/${draft.id}/void`, {}), 409, { code: 'invoice_draft' });
    expectError(await stack.support.post(`/v1/invoices/${draft.id}/lines`, { description: 'Bad', quantity: '0', unit_amount: '1.00' }), 400, { param: 'quantity' });
  });
});
