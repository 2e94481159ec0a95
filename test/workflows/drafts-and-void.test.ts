import Decimal from 'decimal.js';
import type Stripe from 'stripe';
import { cardTimeSkippingStack, type CardStack } from '../support/card-stack';
import type { TimeSkippingStack } from '../support/time-skipping-stack';
import { eventually } from '../support/eventually';
import { invoiceWorkflowId } from '../../workflows/messages';

/**
 * Draft renewals finalised by their collection at the grace end (or early through the API), and a
 * void after a failed collection, on the time-skipping server with the Stripe emulator. Plan: $49.00
 * a month, no tax.
 */
describe('draft invoices and void over time', () => {
  let cards: CardStack;
  let stripe: Stripe;
  let stack: TimeSkippingStack;
  const running: string[] = [];

  beforeAll(async () => {
    cards = await cardTimeSkippingStack('drafts');
    ({ stack, stripe } = cards);
    expect((await stack.api.post('/v1/plans', { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', amount: '49.00' })).status).toBe(201);
  });

  afterEach(() => cards.endScenario(running.splice(0)));

  afterAll(async () => {
    await cards?.stop();
  });

  const customerWithCard = (card: string, graceDays?: number): Promise<string> =>
    cards.customerWithCard(card, graceDays !== undefined ? { invoice_grace_period_days: graceDays } : {});

  async function subscribe(customerId: string, startAt: string): Promise<string> {
    const res = await stack.api.post('/v1/subscriptions', { customer_id: customerId, plan_code: 'pro', start_at: startAt });
    expect(res.status).toBe(201);
    running.push(res.body.workflow_id);
    return res.body.id;
  }

  const at = (instant: string) => stack.skipTo(instant);
  /** Oldest first. */
  const invoicesOf = async (subscriptionId: string) => ((await stack.api.get(`/v1/invoices?subscription_id=${subscriptionId}`)).body.data as any[]).reverse();
  const invoice = async (id: string) => (await stack.api.get(`/v1/invoices/${id}`)).body;
  const status = async (subscriptionId: string) => (await stack.api.get(`/v1/subscriptions/${subscriptionId}`)).body.status;
  const numberOf = (invoiceNumber: string): number => Number(/^INV-(\d+)$/.exec(invoiceNumber)![1]);
  const payments = (invoiceId: string) => stack.db.orm.em.fork().execute(`select method, amount::text from payments where invoice_id = ?`, [invoiceId]);
  const attempts = async (invoiceId: string) =>
    (await stack.db.orm.em.fork().execute<Array<{ status: string }>>(`select status from payment_attempts where invoice_id = ? order by attempt`, [invoiceId])).map((a) => a.status);
  const postingsOf = async (invoiceId: string) =>
    (await stack.db.orm.em.fork().execute<Array<{ key: string }>>('select idempotency_key as key from ledger_transactions where invoice_id = ? order by created_at', [invoiceId])).map((p) => p.key);
  async function succeededCharges(customerId: string): Promise<number> {
    const [{ stripe_customer_id }] = await stack.db.orm.em.fork().execute<Array<{ stripe_customer_id: string }>>('select stripe_customer_id from customers where id = ?', [customerId]);
    const charges = await stripe.charges.list({ customer: stripe_customer_id, limit: 100 });
    return charges.data.filter((c) => c.status === 'succeeded' && c.paid).length;
  }
  async function expectBooksBalanced(): Promise<void> {
    const rows = (await stack.api.get('/v1/ledger/balances')).body.data as Array<{ debits: string; credits: string }>;
    const sum = (side: 'debits' | 'credits') => rows.reduce((t, r) => t.plus(r[side]), new Decimal(0));
    expect(sum('debits').toFixed(2)).toBe(sum('credits').toFixed(2));
  }
  /** Net (debit minus credit) per account of the entries the invoice's own postings made. */
  async function netByAccount(invoiceId: string): Promise<Record<string, Decimal>> {
    const rows = await stack.db.orm.em.fork().execute<Array<{ account: string; net: string }>>(
      `select e.account_code as account, sum(case when e.direction = 'debit' then e.amount else -e.amount end)::text as net
         from ledger_entries e join ledger_transactions t on t.id = e.transaction_id where t.invoice_id = ? group by e.account_code`,
      [invoiceId],
    );
    return Object.fromEntries(rows.map((r) => [r.account, new Decimal(r.net)]));
  }

  it('keeps three renewals as drafts until their grace ends, takes a line on one, finalises one early, numbers them without a gap and charges each once', async () => {
    // Given a customer with a good card and a 3-day grace period, subscribed from 1 January 2027
    const customer = await customerWithCard('4242424242424242', 3);
    const sub = await subscribe(customer, '2027-01-01T00:00:00Z');
    await at('2027-01-01T00:05:00Z');
    // Then the first invoice is finalised at once and paid by card
    const [first] = await eventually('the first invoice is paid', () => invoicesOf(sub), (list) => list[0]?.status === 'paid');
    expect(first).toMatchObject({ total: '49.00', amount_paid: '49.00' });
    await expectBooksBalanced();

    // Renewal 1 (1 February): a draft for 3 days, then finalised by its collection and charged.
    await at('2027-02-01T01:00:00Z');
    const [, renewal1] = await eventually('the February renewal exists', () => invoicesOf(sub), (list) => list.length === 2);
    expect(renewal1).toMatchObject({ status: 'draft', number: null, total: '49.00' });
    // Its grace ends 3 days (3 x 86 400 000 ms) after its issue.
    expect(Date.parse(renewal1.auto_finalizes_at) - Date.parse(renewal1.issued_at)).toBe(3 * 86_400_000);
    expect(await postingsOf(renewal1.id)).toEqual([]);
    expect(await payments(renewal1.id)).toEqual([]);
    await expectBooksBalanced();
    await at('2027-02-03T23:00:00Z');
    expect((await invoice(renewal1.id)).status).toBe('draft');
    await at('2027-02-04T01:00:00Z');
    const paid1 = await eventually('the February renewal is finalised and paid', () => invoice(renewal1.id), (i) => i.status === 'paid');
    expect(numberOf(paid1.number)).toBe(numberOf(first.number) + 1);
    expect(await payments(renewal1.id)).toEqual([{ method: 'card', amount: '49.000000' }]);
    expect(await postingsOf(renewal1.id)).toContain(`invoice:${renewal1.id}:issued`);
    await expectBooksBalanced();

    // Renewal 2 (1 March): a line added while it is a draft, then finalised at its grace end.
    await at('2027-03-01T01:00:00Z');
    const [, , renewal2] = await eventually('the March renewal exists', () => invoicesOf(sub), (list) => list.length === 3);
    expect(renewal2).toMatchObject({ status: 'draft', number: null });
    const added = await stack.api.post(`/v1/invoices/${renewal2.id}/lines`, { description: 'Extra seats', quantity: '2', unit_amount: '5.00' });
    expect(added.status).toBe(201);
    // 49.00 + 2 x 5.00 = 59.00
    expect(added.body).toMatchObject({ status: 'draft', number: null, total: '59.00', amount_due: '59.00' });
    expect(await postingsOf(renewal2.id)).toEqual([]);
    await expectBooksBalanced();
    await at('2027-03-04T01:00:00Z');
    const paid2 = await eventually('the March renewal is finalised and paid', () => invoice(renewal2.id), (i) => i.status === 'paid');
    expect(paid2).toMatchObject({ total: '59.00', amount_paid: '59.00' });
    expect(numberOf(paid2.number)).toBe(numberOf(first.number) + 2);
    expect(await payments(renewal2.id)).toEqual([{ method: 'card', amount: '59.000000' }]);
    await expectBooksBalanced();

    // Renewal 3 (1 April): finalised through the API a day into its grace, charged at once.
    await at('2027-04-02T00:00:00Z');
    const [, , , renewal3] = await eventually('the April renewal exists', () => invoicesOf(sub), (list) => list.length === 4);
    expect(renewal3).toMatchObject({ status: 'draft', number: null, total: '49.00' });
    expect(await postingsOf(renewal3.id)).toEqual([]);
    const finalised = await stack.api.post(`/v1/invoices/${renewal3.id}/finalize`, {});
    expect(finalised.status).toBe(200);
    expect(numberOf(finalised.body.number)).toBe(numberOf(first.number) + 3);
    const paid3 = await eventually('the April renewal is paid', () => invoice(renewal3.id), (i) => i.status === 'paid');
    expect(paid3.number).toBe(finalised.body.number);
    await expectBooksBalanced();
    // Its grace end passing changes nothing: no second charge, same number.
    await at('2027-04-05T00:00:00Z');
    expect((await invoice(renewal3.id)).number).toBe(finalised.body.number);
    expect(await payments(renewal3.id)).toEqual([{ method: 'card', amount: '49.000000' }]);

    // Four invoices, four card charges: 49.00 + 49.00 + 59.00 + 49.00.
    expect(await succeededCharges(customer)).toBe(4);
    // Each posted once when finalised.
    for (const i of [first, renewal1, renewal2, renewal3]) expect((await postingsOf(i.id)).filter((k) => k.endsWith(':issued'))).toEqual([`invoice:${i.id}:issued`]);
    await expectBooksBalanced();
  });

  it('voids an invoice whose collection failed: number kept, collection stops, suspension lifts, its postings net to zero', async () => {
    // Given a declining card and a subscription from 1 May 2027
    const customer = await customerWithCard('4000000000000341');
    const sub = await subscribe(customer, '2027-05-01T00:00:00Z');
    await at('2027-05-01T00:05:00Z');
    const [unpaid] = await eventually('the first charge fails', () => invoicesOf(sub), (list) => list[0]?.status === 'open');
    await eventually('the first attempt is recorded', () => attempts(unpaid.id), (a) => a.length >= 1 && a.every((s) => s === 'failed'));
    await eventually('the subscription is past due', () => status(sub), (s) => s === 'past_due');

    // When the dunning week runs out (final retry 7 days after the first failure)
    await at('2027-05-08T01:00:00Z');
    await eventually('the subscription is suspended', () => status(sub), (s) => s === 'suspended');
    const tried = await attempts(unpaid.id);
    expect(tried.every((s) => s === 'failed')).toBe(true);
    await expectBooksBalanced();

    // And revenue recognition has run through 8 May: 7 of May's 31 days, 49.00 x 7 / 31 = 11.0645... = 11.06
    await stack.recogniseRevenue('2027-05-08T00:00:00Z');
    const recognised = async () =>
      (await stack.db.orm.em.fork().execute<Array<{ r: string }>>('select coalesce(sum(recognized_revenue), 0)::text as r from revenue_obligations where invoice_id = ?', [unpaid.id]))[0].r;
    expect(new Decimal(await recognised()).toFixed(2)).toBe('11.06');
    await expectBooksBalanced();

    // When support voids the invoice
    const voided = await stack.api.post(`/v1/invoices/${unpaid.id}/void`, {});
    expect(voided.status).toBe(200);
    expect(voided.body).toMatchObject({ status: 'void', number: unpaid.number, total: '49.00' });
    expect(await postingsOf(unpaid.id)).toEqual([`invoice:${unpaid.id}:issued`, `invoice:${unpaid.id}:voided`]);

    // Then the subscription is active again and the collection has ended
    await eventually('the suspension lifts', () => status(sub), (s) => s === 'active');
    await eventually(
      'the collection workflow ends',
      async () => (await stack.env.client.workflow.getHandle(invoiceWorkflowId(unpaid.id)).describe()).status.name,
      (s) => s === 'COMPLETED',
    );
    // And time moving on (past where any retry would fall, before the June renewal) charges nothing more
    await at('2027-05-20T00:00:00Z');
    expect(await attempts(unpaid.id)).toEqual(tried);
    expect(await succeededCharges(customer)).toBe(0);
    expect((await invoice(unpaid.id)).status).toBe('void');
    // Nothing more is recognised of it after the void.
    await stack.recogniseRevenue('2027-05-20T00:00:00Z');
    expect(new Decimal(await recognised()).toFixed(2)).toBe('11.06');

    // Its issue and void postings, with the 11.06 recognition (deferred debit, revenue credit), net every account to zero:
    //   receivable  +49.00 (issue) - 49.00 (void)                                        = 0
    //   deferred    -49.00 (issue) + 11.06 (recognised) + 37.94 (void: 49.00 - 11.06)   = 0
    //   revenue     -11.06 (recognised) + 11.06 (void)                                    = 0
    const net = await netByAccount(unpaid.id);
    const withRecognition = {
      ...net,
      deferred_revenue: (net.deferred_revenue ?? new Decimal(0)).plus('11.06'),
      revenue: (net.revenue ?? new Decimal(0)).minus('11.06'),
    };
    expect(Object.keys(net).sort()).toEqual(['accounts_receivable', 'deferred_revenue', 'revenue']);
    expect(Object.fromEntries(Object.entries(withRecognition).map(([k, v]) => [k, v.toFixed(2)]))).toEqual({ accounts_receivable: '0.00', deferred_revenue: '0.00', revenue: '0.00' });
    await expectBooksBalanced();
  });
});
