import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { issueInvoice, issuePeriodInvoice } from '../../db/invoice-store';
import { closeUsageWindow } from '../../db/usage-store';
import { forkEm } from '../../db/orm';
import { expectBooksBalanced, balances, eventually, expectError, startStack, type Stack } from './harness';

/**
 * Usage billing through the API and the invoice activity's store, on real Postgres. The stack runs
 * no worker: subscriptions' workflows wait, and each test issues the invoices a workflow would, at
 * the instants it would, so the assertions are about what the invoice says.
 */
describe('usage-based billing', () => {
  let stack: Stack;
  const em = (): EntityManager => forkEm(stack.db.orm)();
  let n = 0;

  beforeAll(async () => {
    stack = await startStack('usage-billing', { worker: false });
    const metrics = [
      { code: 'api_calls', name: 'API calls', aggregation: 'sum', field: 'calls' },
      { code: 'storage_gb', name: 'Storage', aggregation: 'max', field: 'gb' },
      { code: 'seats', name: 'Seats', aggregation: 'weighted_sum', field: 'delta' },
      { code: 'sms', name: 'SMS', aggregation: 'count' },
      { code: 'active_users', name: 'Active users', aggregation: 'unique_count', field: 'user' },
      { code: 'payments', name: 'Payment volume', aggregation: 'sum', field: 'amount' },
    ];
    for (const m of metrics) expect((await stack.admin.post('/v1/metrics', m)).status).toBe(201);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function customer(currency = 'USD'): Promise<string> {
    const res = await stack.admin.post('/v1/customers', { name: `Usage ${++n}`, email: `usage${n}@example.test`, currency });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  async function plan(body: Record<string, unknown>): Promise<string> {
    const code = `usage-plan-${++n}`;
    const res = await stack.admin.post('/v1/plans', { code, name: `Usage plan ${n}`, currency: 'USD', interval: 'month', amount: '10.00', ...body });
    expect(res.status).toBe(201);
    return code;
  }

  async function subscription(planCode: string, options: { customerId?: string; startAt?: string; externalId?: string } = {}) {
    const res = await stack.admin.post('/v1/subscriptions', {
      customer_id: options.customerId ?? (await customer()),
      plan_code: planCode,
      start_at: options.startAt ?? '2027-01-01T00:00:00Z',
      ...(options.externalId ? { external_id: options.externalId } : {}),
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; customer_id: string };
  }

  const send = (events: unknown[]) => stack.admin.post('/v1/usage_events', { events });
  const month = (index: number) => ({ start: new Date(Date.UTC(2027, index, 1)), end: new Date(Date.UTC(2027, index + 1, 1)) });

  /** The invoice a workflow issues at the start of month `index` of 2027 (fee in advance, usage of the month before). */
  async function invoiceAt(subscriptionId: string, index: number) {
    const invoice = await issuePeriodInvoice(em(), {
      subscriptionId,
      periodIndex: index,
      periodStart: month(index).start,
      periodEnd: month(index).end,
      issuedAt: month(index).start,
    });
    const res = await stack.admin.get(`/v1/invoices/${invoice.id}`);
    expect(res.status).toBe(200);
    return res.body;
  }

  const legsOf = (invoiceId: string) =>
    em().execute(
      `select e.account_code, e.direction, e.amount::text from ledger_entries e join ledger_transactions t on t.id = e.transaction_id
       where t.invoice_id = ? and t.idempotency_key like '%:issued' order by e.account_code`,
      [invoiceId],
    );

  describe('POST /v1/usage_events', () => {
    it('keeps the valid events of a batch, rejects the others by index with a reason, and counts duplicates', async () => {
      const planCode = await plan({ charges: [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '0.0015' } }] });
      const sub = await subscription(planCode, { externalId: 'acme-prod-1' });
      const at = '2027-01-10T00:00:00Z';
      const res = await send([
        { transaction_id: 'b1-ok-1', subscription_id: sub.id, code: 'api_calls', timestamp: at, properties: { calls: 100 } },
        { transaction_id: 'b1-no-metric', subscription_id: sub.id, code: 'api_callz', timestamp: at, properties: { calls: 1 } },
        { transaction_id: 'b1-no-sub', subscription_id: 'sub_nope', code: 'api_calls', timestamp: at, properties: { calls: 1 } },
        { transaction_id: 'b1-no-field', subscription_id: sub.id, code: 'api_calls', timestamp: at, properties: { call: 1 } },
        { transaction_id: 'b1-not-numeric', subscription_id: sub.id, code: 'api_calls', timestamp: at, properties: { calls: 'lots' } },
        { transaction_id: 'b1-early', subscription_id: sub.id, code: 'api_calls', timestamp: '2026-12-31T23:59:59Z', properties: { calls: 1 } },
        { transaction_id: 'b1-ok-2', external_subscription_id: 'acme-prod-1', code: 'api_calls', timestamp: at, properties: { calls: '0.5' } },
        { transaction_id: 'b1-ok-1', subscription_id: sub.id, code: 'api_calls', timestamp: at, properties: { calls: 100 } },
        { transaction_id: 'b1-bad-time', subscription_id: sub.id, code: 'api_calls', timestamp: '2027-02-30T00:00:00Z', properties: { calls: 1 } },
        { subscription_id: sub.id, code: 'api_calls', timestamp: at, properties: { calls: 1 } },
      ]);
      expect(res.status).toBe(202);
      expect(res.body.accepted).toBe(2);
      expect(res.body.duplicates).toBe(1);
      expect(res.body.rejected.map((r: any) => [r.index, r.transaction_id, r.code])).toEqual([
        [1, 'b1-no-metric', 'metric_not_found'],
        [2, 'b1-no-sub', 'subscription_not_found'],
        [3, 'b1-no-field', 'field_missing'],
        [4, 'b1-not-numeric', 'value_not_numeric'],
        [5, 'b1-early', 'timestamp_before_billing_start'],
        [8, 'b1-bad-time', 'parameter_invalid'],
        [9, null, 'parameter_missing'],
      ]);
      for (const r of res.body.rejected) expect(r.message.length).toBeGreaterThan(10);
      const stored = await em().execute(`select transaction_id, value from usage_events where subscription_id = ? order by transaction_id`, [sub.id]);
      expect(stored).toEqual([
        { transaction_id: 'b1-ok-1', value: '100' },
        { transaction_id: 'b1-ok-2', value: '0.5' },
      ]);

      // The producer retries the whole batch: nothing is counted twice, and the answer says so.
      const again = await send([
        { transaction_id: 'b1-ok-1', subscription_id: sub.id, code: 'api_calls', timestamp: at, properties: { calls: 100 } },
        { transaction_id: 'b1-ok-2', external_subscription_id: 'acme-prod-1', code: 'api_calls', timestamp: at, properties: { calls: '0.5' } },
      ]);
      expect(again.body).toMatchObject({ accepted: 0, duplicates: 2, rejected: [] });
      expect(await em().execute(`select count(*)::int as n from usage_events where subscription_id = ?`, [sub.id])).toEqual([{ n: 2 }]);

      // A single event works too.
      const single = await stack.admin.post('/v1/usage_events', { event: { transaction_id: 'b1-single', subscription_id: sub.id, code: 'api_calls', timestamp: at, properties: { calls: 1 } } });
      expect(single.status).toBe(202);
      expect(single.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });
    });

    it('refuses a malformed request as a whole, naming what was wrong', async () => {
      expectError(await stack.admin.post('/v1/usage_events', {}), 400, { code: 'parameter_missing', param: 'events' });
      expectError(await stack.admin.post('/v1/usage_events', { events: {} }), 400, { code: 'parameter_invalid_type', param: 'events' });
      expectError(await stack.admin.post('/v1/usage_events', { events: [] }), 400, { param: 'events' });
      const tooMany = Array.from({ length: 1001 }, (_, i) => ({ transaction_id: `many-${i}`, subscription_id: 'x', code: 'api_calls' }));
      expectError(await stack.admin.post('/v1/usage_events', { events: tooMany }), 400, { code: 'too_many_events', param: 'events' });
      expectError(await stack.admin.post('/v1/usage_events', { events: [{}], extra: 1 }), 400, { code: 'parameter_unknown', param: 'extra' });
      expectError(await stack.readonly.post('/v1/usage_events', { events: [{}] }), 403, { type: 'permission_error' });
    });
  });

  describe('invoices', () => {
    it('bill a month of usage in arrears with the next fee, per model, each line rounded once, then a coupon and tax', async () => {
      const planCode = await plan({
        charges: [
          { metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '0.0015' } },
          {
            metric_code: 'storage_gb',
            model: 'graduated',
            properties: { tiers: [{ up_to: 10, unit_amount: '0', flat_amount: '0' }, { up_to: 100, unit_amount: '0.25', flat_amount: '1.00' }, { up_to: null, unit_amount: '0.10' }] },
          },
          { metric_code: 'sms', model: 'package', properties: { package_size: 100, amount: '5.00', free_units: 50 } },
          { metric_code: 'active_users', model: 'volume', properties: { tiers: [{ up_to: 2, unit_amount: '3.00' }, { up_to: null, unit_amount: '2.00', flat_amount: '0.50' }] } },
        ],
      });
      const customerId = await customer();
      const coupon = await stack.admin.post('/v1/coupons', { code: `ten-off-${n}`, name: '10% off', percent_off: '10', duration: 'once' });
      expect(coupon.status).toBe(201);
      expect((await stack.admin.post(`/v1/customers/${customerId}/applied_coupons`, { coupon_code: `ten-off-${n}` })).status).toBe(201);
      expect((await stack.admin.post('/v1/tax_rates', { code: `vat-${n}`, name: 'VAT 20%', percentage: '20' })).status).toBe(201);
      expect((await stack.admin.post(`/v1/customers/${customerId}/tax_rates`, { tax_rates: [`vat-${n}`] })).status).toBe(200);
      const sub = await subscription(planCode, { customerId });

      // January's first invoice: the fee only (no usage has been billed before the first period).
      // 10.00 - 10% (1.00) = 9.00, + 20% VAT (1.80) = 10.80.
      const first = await invoiceAt(sub.id, 0);
      expect(first).toMatchObject({ subtotal: '10.00', discount_total: '1.00', tax_total: '1.80', total: '10.80' });
      expect(first.lines).toHaveLength(1);
      expect(await legsOf(first.id)).toEqual([
        { account_code: 'accounts_receivable', direction: 'debit', amount: '10.800000' },
        // The fee waits net of its coupon (10.00 - 1.00): fee and discount are recognised together over January.
        { account_code: 'deferred_revenue', direction: 'credit', amount: '9.000000' },
        { account_code: 'tax_payable', direction: 'credit', amount: '1.800000' },
      ]);

      const events = [
        ...[1234, 2000, 333].map((calls, i) => ({ transaction_id: `inv-calls-${i}`, code: 'api_calls', timestamp: `2027-01-1${i}T08:00:00Z`, properties: { calls } })),
        ...[40, 120, 75].map((gb, i) => ({ transaction_id: `inv-gb-${i}`, code: 'storage_gb', timestamp: `2027-01-2${i}T08:00:00Z`, properties: { gb } })),
        ...Array.from({ length: 251 }, (_, i) => ({ transaction_id: `inv-sms-${i}`, code: 'sms', timestamp: '2027-01-31T23:59:59.999Z', properties: {} })),
        ...['ann', 'bob', 'ann', 'cy'].map((user, i) => ({ transaction_id: `inv-user-${i}`, code: 'active_users', timestamp: '2027-01-05T00:00:00Z', properties: { user } })),
        // February: not on this invoice.
        { transaction_id: 'inv-calls-feb', code: 'api_calls', timestamp: '2027-02-01T00:00:00Z', properties: { calls: 1_000_000 } },
      ].map((e) => ({ ...e, subscription_id: sub.id }));
      expect((await send(events)).body).toMatchObject({ accepted: events.length, rejected: [] });

      const invoice = await invoiceAt(sub.id, 1);
      const lines = invoice.lines.map((l: any) => [l.kind, l.metric_code, l.quantity, l.unit_amount, l.amount]);
      expect(lines).toEqual([
        ['fee', null, '1', '10', '10.00'],
        // 3567 calls x 0.0015 = 5.3505 -> 5.35 (rounded once, at the line)
        ['usage', 'api_calls', '3567', '0.0015', '5.35'],
        // max 120 GB: 10 free, then 90 x 0.25 + 1.00 = 23.50, then 20 x 0.10 = 2.00 -> 25.50
        ['usage', 'storage_gb', '120', null, '25.50'],
        // 251 SMS, 50 free: 201 -> 3 packages of 100 x 5.00 = 15.00
        ['usage', 'sms', '251', null, '15.00'],
        // 3 distinct users reach the second tier: 3 x 2.00 + 0.50 = 6.50
        ['usage', 'active_users', '3', '2', '6.50'],
      ]);
      expect(invoice.lines[2].tiers.map((t: any) => [t.from, t.up_to, t.units, t.amount])).toEqual([
        ['0', '10', '10', '0'],
        ['10', '100', '90', '23.5'],
        ['100', null, '20', '2'],
      ]);
      // Subtotal 10.00 + 5.35 + 25.50 + 15.00 + 6.50 = 62.35; the once-coupon is used up, so no discount.
      // VAT 20% of 62.35 = 12.47; total 74.82.
      expect(invoice).toMatchObject({ subtotal: '62.35', discount_total: '0.00', tax_total: '12.47', total: '74.82', discounts: [] });
      expect(invoice.taxes).toEqual([expect.objectContaining({ name: 'VAT 20%', percentage: '20', inclusive: false, base: '62.35', amount: '12.47' })]);
      expect(invoice.lines.reduce((t: Decimal, l: any) => t.plus(l.tax_amount), new Decimal(0)).toFixed(2)).toBe('12.47');
      expect(invoice.lines.every((l: any) => l.period_start === (l.kind === 'fee' ? '2027-02-01T00:00:00.000Z' : '2027-01-01T00:00:00.000Z'))).toBe(true);

      // The ledger: usage is revenue at once, the fee waits in deferred revenue, VAT is owed.
      expect(await legsOf(invoice.id)).toEqual([
        { account_code: 'accounts_receivable', direction: 'debit', amount: '74.820000' },
        { account_code: 'deferred_revenue', direction: 'credit', amount: '10.000000' },
        { account_code: 'revenue', direction: 'credit', amount: '52.350000' },
        { account_code: 'tax_payable', direction: 'credit', amount: '12.470000' },
      ]);
      expectBooksBalanced(await balances(stack.admin));
    });

    it('trues up a minimum commitment when usage falls short, and gives a percentage of a summed amount', async () => {
      const planCode = await plan({
        amount: '0.00',
        minimum_amount: '20.00',
        charges: [{ metric_code: 'payments', model: 'percentage', properties: { rate: '2.9', fixed_amount: '0.30', free_units: '100' } }],
      });
      const sub = await subscription(planCode);
      await invoiceAt(sub.id, 0);
      const sent = await send([
        { transaction_id: 'min-1', subscription_id: sub.id, code: 'payments', timestamp: '2027-01-03T00:00:00Z', properties: { amount: '250.00' } },
        { transaction_id: 'min-2', subscription_id: sub.id, code: 'payments', timestamp: '2027-01-04T00:00:00Z', properties: { amount: '99.99' } },
      ]);
      expect(sent.body.accepted).toBe(2);
      const invoice = await invoiceAt(sub.id, 1);
      // (349.99 - 100 free) x 2.9% = 7.24971, + 2 events x 0.30 = 7.84971 -> 7.85; minimum 20.00 -> true-up 12.15.
      expect(invoice.lines.map((l: any) => [l.kind, l.amount])).toEqual([
        ['fee', '0.00'],
        ['usage', '7.85'],
        ['minimum', '12.15'],
      ]);
      expect(invoice.total).toBe('20.00');
    });

    it('gives the first events of a period free and bounds each paying transaction (Lago free events, min and max)', async () => {
      const planCode = await plan({
        amount: '0.00',
        charges: [
          {
            metric_code: 'payments',
            model: 'percentage',
            properties: { rate: '2', fixed_amount: '0.25', free_units_per_events: 2, per_transaction_min_amount: '0.50', per_transaction_max_amount: '10.00' },
          },
        ],
      });
      const shown = await stack.admin.get(`/v1/plans/${planCode}`);
      expect(shown.body.charges[0].properties).toEqual({
        rate: '2',
        fixed_amount: '0.25',
        free_units: '0',
        free_units_per_events: 2,
        per_transaction_min_amount: '0.50',
        per_transaction_max_amount: '10.00',
      });
      const sub = await subscription(planCode);
      await invoiceAt(sub.id, 0);
      // Sent out of order: the period's first two events by timestamp are the free ones, whatever the arrival order.
      const sent = await send([
        { transaction_id: 'pct-3', subscription_id: sub.id, code: 'payments', timestamp: '2027-01-07T00:00:00Z', properties: { amount: '5.00' } },
        { transaction_id: 'pct-1', subscription_id: sub.id, code: 'payments', timestamp: '2027-01-03T00:00:00Z', properties: { amount: '900.00' } },
        { transaction_id: 'pct-4', subscription_id: sub.id, code: 'payments', timestamp: '2027-01-09T00:00:00Z', properties: { amount: '100.00' } },
        { transaction_id: 'pct-2', subscription_id: sub.id, code: 'payments', timestamp: '2027-01-05T00:00:00Z', properties: { amount: '800.00' } },
        { transaction_id: 'pct-5', subscription_id: sub.id, code: 'payments', timestamp: '2027-01-11T00:00:00Z', properties: { amount: '1000.00' } },
      ]);
      expect(sent.body.accepted).toBe(5);
      const invoice = await invoiceAt(sub.id, 1);
      // 900.00 and 800.00 (the first two by time) are free. 5.00: 0.10 + 0.25 = 0.35, raised to the 0.50 minimum;
      // 100.00: 2.00 + 0.25 = 2.25; 1000.00: 20.00 + 0.25 = 20.25, lowered to the 10.00 maximum. 0.50 + 2.25 + 10.00 = 12.75.
      expect(invoice.lines.map((l: any) => [l.kind, l.quantity, l.amount])).toEqual([
        ['fee', '1', '0.00'],
        ['usage', '2805', '12.75'],
      ]);
      expectBooksBalanced(await balances(stack.admin));
    });

    it('bills a fixed-amount coupon for three periods, never below zero, and then stops', async () => {
      const planCode = await plan({ amount: '4.00' });
      const customerId = await customer();
      expect((await stack.admin.post('/v1/coupons', { code: `five-${n}`, name: '$5 off', amount_off: '5.00', currency: 'USD', duration: 'repeating', duration_periods: 3 })).status).toBe(201);
      const sub = await subscription(planCode, { customerId });
      const applied = await stack.admin.post(`/v1/customers/${customerId}/applied_coupons`, { coupon_code: `five-${n}`, subscription_id: sub.id });
      expect(applied.body).toMatchObject({ periods_remaining: 3, status: 'active' });
      const totals = [];
      for (let i = 0; i < 4; i++) totals.push((await invoiceAt(sub.id, i)).total);
      // $5 off a $4 fee is $4 (never below zero) for three invoices; the fourth is full price.
      expect(totals).toEqual(['0.00', '0.00', '0.00', '4.00']);
    });

    it('computes tax included in the price out of the line, not on top of it', async () => {
      const planCode = await plan({ amount: '12.00' });
      const customerId = await customer();
      expect((await stack.admin.post('/v1/tax_rates', { code: `incl-${n}`, name: 'VAT 20% incl.', percentage: '20', inclusive: true })).status).toBe(201);
      expect((await stack.admin.post(`/v1/customers/${customerId}/tax_rates`, { tax_rates: [`incl-${n}`] })).status).toBe(200);
      const sub = await subscription(planCode, { customerId });
      // 12.00 includes 20% VAT: 12.00 x 20 / 120 = 2.00 of tax; the total stays 12.00.
      expect(await invoiceAt(sub.id, 0)).toMatchObject({ subtotal: '12.00', tax_total: '2.00', total: '12.00' });
    });
  });

  it.each([
    // 1234 calls x 0.35 JPY = 431.9 -> 432 yen; fee 980; total 1412.
    ['JPY', '980', '0.35', '1412'],
    // 1234 calls x 0.0004 KWD = 0.4936 -> 0.494; fee 3.500; total 3.994.
    ['KWD', '3.500', '0.0004', '3.994'],
  ])('bills usage exactly in %s', async (currency, fee, unit, total) => {
    const code = `usage-${currency}-${++n}`;
    expect(
      (await stack.admin.post('/v1/plans', { code, name: code, currency, interval: 'month', amount: fee, charges: [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: unit } }] }))
        .status,
    ).toBe(201);
    const sub = await subscription(code, { customerId: await customer(currency) });
    await invoiceAt(sub.id, 0);
    await send([{ transaction_id: `${code}-1`, subscription_id: sub.id, code: 'api_calls', timestamp: '2027-01-15T00:00:00Z', properties: { calls: 1234 } }]);
    expect((await invoiceAt(sub.id, 1)).total).toBe(total);
  });

  describe('the close of a period', () => {
    it('refuses usage for a period already invoiced and keeps the next period open', async () => {
      const planCode = await plan({ charges: [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '1' } }] });
      const sub = await subscription(planCode);
      await invoiceAt(sub.id, 0);
      await invoiceAt(sub.id, 1);
      const res = await send([
        { transaction_id: 'late-jan', subscription_id: sub.id, code: 'api_calls', timestamp: '2027-01-31T23:59:59.999Z', properties: { calls: 1 } },
        { transaction_id: 'early-feb', subscription_id: sub.id, code: 'api_calls', timestamp: '2027-02-01T00:00:00Z', properties: { calls: 1 } },
      ]);
      expect(res.body.accepted).toBe(1);
      expect(res.body.rejected).toEqual([expect.objectContaining({ index: 0, code: 'period_already_invoiced' })]);
    });

    it('makes an event that arrives while the close is running wait for it, then refuses it', async () => {
      const planCode = await plan({ charges: [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '1' } }] });
      const sub = await subscription(planCode);
      await invoiceAt(sub.id, 0);
      let answer: Promise<any> | undefined;
      await em().transactional(async (tx) => {
        await closeUsageWindow(tx, sub.id, month(1).start, false);
        answer = send([{ transaction_id: 'mid-close', subscription_id: sub.id, code: 'api_calls', timestamp: '2027-01-31T23:00:00Z', properties: { calls: 1 } }]);
        // The close commits only once the event's batch is seen waiting on the close's lock.
        await eventually(
          'the event batch waits for the close',
          () => em().execute(`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`),
          (rows) => rows[0].n > 0,
        );
      });
      expect((await answer!).body.rejected).toEqual([expect.objectContaining({ transaction_id: 'mid-close', code: 'period_already_invoiced' })]);
    });

    it('counts an event racing the close in exactly one invoice, or refuses it; never acknowledges and drops it', async () => {
      const planCode = await plan({ charges: [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '1' } }] });
      for (let round = 0; round < 12; round++) {
        const sub = await subscription(planCode);
        await invoiceAt(sub.id, 0);
        const racing = Array.from({ length: 20 }, (_, i) => ({
          transaction_id: `race-${round}-${i}`,
          subscription_id: sub.id,
          code: 'api_calls',
          timestamp: '2027-01-31T23:59:59Z',
          properties: { calls: 1 },
        }));
        // Twenty single-event requests and the close of January, all at once.
        const [closed, ...answers] = await Promise.all([invoiceAt(sub.id, 1), ...racing.map((e) => stack.admin.post('/v1/usage_events', { event: e }))]);
        const accepted = answers.filter((a) => a.body.accepted === 1).length;
        const refused = answers.filter((a) => a.body.rejected[0]?.code === 'period_already_invoiced').length;
        expect(accepted + refused).toBe(20);
        const billed = closed.lines.find((l: any) => l.kind === 'usage');
        expect(billed.quantity).toBe(String(accepted));
      }
    });

    it('bills usage since the last invoice when the subscription ends, and refuses usage after the end', async () => {
      const planCode = await plan({ charges: [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '0.01' } }] });
      const sub = await subscription(planCode);
      await invoiceAt(sub.id, 0);
      await send([{ transaction_id: 'end-1', subscription_id: sub.id, code: 'api_calls', timestamp: '2027-01-09T00:00:00Z', properties: { calls: 250 } }]);
      const endsAt = new Date('2027-01-10T12:00:00Z');
      const last = await issueInvoice(em(), {
        subscriptionId: sub.id,
        periodIndex: 1,
        billingKey: null,
        reason: 'subscription_cancel' as const,
        fees: [],
        usage: { until: endsAt, planId: null, wholePeriod: null, ends: true },
        issuedAt: endsAt,
      });
      // 250 x 0.01 = 2.50; cut short, so no fee and no minimum.
      expect(last?.total.toFixed(2)).toBe('2.50');
      const after = await send([{ transaction_id: 'end-2', subscription_id: sub.id, code: 'api_calls', timestamp: '2027-01-20T00:00:00Z', properties: { calls: 1 } }]);
      expect(after.body.rejected).toEqual([expect.objectContaining({ code: 'subscription_ended' })]);
      // A retry of the activity returns the same invoice and bills nothing new.
      const retried = await issueInvoice(em(), {
        subscriptionId: sub.id,
        periodIndex: 1,
        billingKey: null,
        reason: 'subscription_cancel' as const,
        fees: [],
        usage: { until: endsAt, planId: null, wholePeriod: null, ends: true },
        issuedAt: endsAt,
      });
      expect(retried?.id).toBe(last?.id);
    });
  });

  describe('GET /v1/subscriptions/:id/usage', () => {
    it('shows the current period usage per charge and the upcoming invoice, and changes nothing', async () => {
      const planCode = await plan({ charges: [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '0.002' } }] });
      const startAt = new Date(Date.now() - 5 * 86_400_000).toISOString();
      const sub = await subscription(planCode, { startAt });
      await send([
        { transaction_id: 'preview-1', subscription_id: sub.id, code: 'api_calls', timestamp: new Date(Date.now() - 86_400_000).toISOString(), properties: { calls: 1500 } },
      ]);
      const res = await stack.admin.get(`/v1/subscriptions/${sub.id}/usage`);
      expect(res.status).toBe(200);
      // 1500 x 0.002 = 3.00; the next invoice adds the next month's 10.00 fee.
      expect(res.body.charges).toEqual([expect.objectContaining({ metric_code: 'api_calls', quantity: '1500', amount: '3.00' })]);
      expect(res.body.upcoming_invoice).toMatchObject({ subtotal: '13.00', total: '13.00' });
      expect(res.body.from_datetime).toBe(new Date(startAt).toISOString());
      expect(await em().execute('select count(*)::int as n from invoices where subscription_id = ?', [sub.id])).toEqual([{ n: 0 }]);
    });
  });

  describe('plan validation', () => {
    it('refuses tiers that overlap or leave the top open, a percentage of a non-summed metric, and an unknown metric', async () => {
      const base = { code: `bad-${++n}`, name: 'Bad', currency: 'USD', interval: 'month', amount: '1.00' };
      const tiers = (t: unknown[]) => ({ ...base, charges: [{ metric_code: 'storage_gb', model: 'graduated', properties: { tiers: t } }] });
      expectError(await stack.admin.post('/v1/plans', tiers([{ up_to: 10, unit_amount: '1' }, { up_to: 5, unit_amount: '1' }, { up_to: null, unit_amount: '1' }])), 400, {
        param: 'charges.0.properties.tiers.1.up_to',
      });
      expectError(await stack.admin.post('/v1/plans', tiers([{ up_to: 10, unit_amount: '1' }])), 400, { param: 'charges.0.properties.tiers.0.up_to' });
      expectError(await stack.admin.post('/v1/plans', tiers([{ up_to: 10, unit_amount: 1 }, { up_to: null, unit_amount: '1' }])), 400, {
        param: 'charges.0.properties.tiers.0.unit_amount',
      });
      expectError(
        await stack.admin.post('/v1/plans', { ...base, charges: [{ metric_code: 'storage_gb', model: 'percentage', properties: { rate: '1' } }] }),
        400,
        { param: 'charges.0.model' },
      );
      expectError(
        await stack.admin.post('/v1/plans', {
          ...base,
          charges: [{ metric_code: 'payments', model: 'percentage', properties: { rate: '1', per_transaction_min_amount: '5.00', per_transaction_max_amount: '1.00' } }],
        }),
        400,
        { param: 'charges.0.properties.per_transaction_max_amount' },
      );
      expectError(
        await stack.admin.post('/v1/plans', { ...base, charges: [{ metric_code: 'payments', model: 'percentage', properties: { rate: '1', free_units_per_events: -1 } }] }),
        400,
        { param: 'charges.0.properties.free_units_per_events' },
      );
      expectError(
        await stack.admin.post('/v1/plans', { ...base, charges: [{ metric_code: 'nope', model: 'standard', properties: { unit_amount: '1' } }] }),
        400,
        { code: 'resource_missing', param: 'charges.0.metric_code' },
      );
      expect(await em().execute('select count(*)::int as n from plans where code = ?', [base.code])).toEqual([{ n: 0 }]);
    });

    it('refuses a metric without the field its aggregation reads', async () => {
      expectError(await stack.admin.post('/v1/metrics', { code: 'bad_sum', name: 'Bad', aggregation: 'sum' }), 400, { code: 'parameter_missing', param: 'field' });
      expectError(await stack.admin.post('/v1/metrics', { code: 'api_calls', name: 'Again', aggregation: 'count' }), 409, { code: 'resource_already_exists' });
    });
  });
});
