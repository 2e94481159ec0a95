import Decimal from 'decimal.js';
import type { Pool } from 'pg';
import { createApp } from '../../../api/app';
import { usagePool } from '../../../api/usage-ingest';
import { listen } from '../../support/http';
import { eventually } from '../../support/eventually';
import { scenarios, type Scenarios } from '../../support/scenarios';
import { parseApiKeySpec } from '../../../config/env';

/**
 * Plan changes over time, as support staff make them, one scenario per month (or year) of a clock
 * that only moves forward. Prices (USD a month unless said): Starter 30.00, Growth 90.00, Scale 150.00,
 * Mid 60.00, Top 120.00, Low 30.00, Annual 300.00 a year, Free 0.00; metered Lo 10.00 + 0.01 a call and
 * Hi 20.00 + 0.02 a call; JPY 980 / 2480; KWD 5.250 / 12.750.
 *
 * Proration is to the millisecond with cumulative rounding: served(t) = price x elapsed / length,
 * rounded once (half away from zero); a credit for the rest is price - served(t), a charge for the rest
 * on the new plan is its price - served(t). Every expected amount is worked out in its scenario.
 *
 * Exact instants: a change "now" happens a few milliseconds after the clock was moved, so where the
 * amounts must be exact to the instant the change is scheduled for an ISO instant and the clock moved
 * one second past it. "now" is used only where the rounding absorbs those milliseconds.
 */
describe('plan changes over time', () => {
  let s: Scenarios;
  // The scenario helper's client speaks GET and POST only; DELETE goes to a second API on the same
  // database and Temporal client.
  const SIDE_KEY = 'sk_test_plan_changes_over_time';
  let side: { baseUrl: string; close(): Promise<void> } | undefined;
  let sidePool: Pool | undefined;

  beforeAll(async () => {
    s = await scenarios('plan-changes-over-time');
    sidePool = usagePool(s.stack.db.url);
    side = await listen(createApp({ orm: s.stack.db.orm, temporal: s.stack.env.client, taskQueue: 'plan-changes-over-time-side', apiKeys: parseApiKeySpec(`admin:${SIDE_KEY}`), usagePool: sidePool }));

    await s.plan('starter', { amount: '30.00' });
    await s.plan('growth', { amount: '90.00' });
    await s.plan('scale', { amount: '150.00' });
    await s.plan('mid', { amount: '60.00' });
    await s.plan('top', { amount: '120.00' });
    await s.plan('low', { amount: '30.00' });
    await s.plan('annual', { amount: '300.00', interval: 'year' });
    await s.plan('trial-basic', { amount: '30.00', trial_days: 14 });
    await s.plan('free', { amount: '0.00' });
    await s.plan('versioned', { amount: '25.00' });
    await s.plan('legacy', { amount: '20.00' });
    await s.plan('yen-basic', { amount: '980', currency: 'JPY' });
    await s.plan('yen-pro', { amount: '2480', currency: 'JPY' });
    await s.plan('dinar-basic', { amount: '5.250', currency: 'KWD' });
    await s.plan('dinar-pro', { amount: '12.750', currency: 'KWD' });
    const metric = await s.post('/v1/metrics', { code: 'api_calls', name: 'API calls', aggregation: 'sum', field: 'calls' });
    if (metric.status !== 201) throw new Error(`metric: ${metric.status} ${JSON.stringify(metric.body)}`);
    await s.plan('meter-lo', { amount: '10.00', charges: [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '0.01' } }] });
    await s.plan('meter-hi', { amount: '20.00', charges: [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '0.02' } }] });
  });
  afterEach(async () => s.cleanUp());
  afterAll(async () => {
    await side?.close();
    await sidePool?.end();
    await s?.stop();
  });

  const state = async (id: string) => (await s.get(`/v1/subscriptions/${id}`)).body;
  const changePlan = (id: string, body: Record<string, unknown>) => s.post(`/v1/subscriptions/${id}/change_plan`, body);
  async function del(path: string): Promise<{ status: number; body: any }> {
    const response = await fetch(`${side!.baseUrl}${path}`, { method: 'DELETE', headers: { authorization: `Bearer ${SIDE_KEY}` } });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }
  const calls = (subscriptionId: string, transactionId: string, timestamp: string, count: number) => ({
    transaction_id: transactionId,
    subscription_id: subscriptionId,
    code: 'api_calls',
    timestamp,
    properties: { calls: count },
  });
  /** Debits and credits of the whole ledger, per currency, summed with decimal.js. */
  async function ledgerTotals(): Promise<Record<string, { debits: string; credits: string }>> {
    const res = await s.get('/v1/ledger/balances');
    expect(res.status).toBe(200);
    const totals = new Map<string, { debits: Decimal; credits: Decimal }>();
    for (const row of res.body.data as Array<{ currency: string; debits: string; credits: string }>) {
      const t = totals.get(row.currency) ?? { debits: new Decimal(0), credits: new Decimal(0) };
      totals.set(row.currency, { debits: t.debits.plus(row.debits), credits: t.credits.plus(row.credits) });
    }
    return Object.fromEntries([...totals].map(([currency, t]) => [currency, { debits: t.debits.toFixed(), credits: t.credits.toFixed() }]));
  }
  const lineFields = (l: any) => ({
    kind: l.kind,
    description: l.description,
    metric_code: l.metric_code,
    charge_model: l.charge_model,
    quantity: l.quantity,
    unit_amount: l.unit_amount,
    amount: l.amount,
    discount_amount: l.discount_amount,
    tax_amount: l.tax_amount,
    period_start: l.period_start,
    period_end: l.period_end,
    tiers: l.tiers,
  });
  const invoiceFields = (i: any) => ({
    currency: i.currency,
    subtotal: i.subtotal,
    discount_total: i.discount_total,
    tax_total: i.tax_total,
    total: i.total,
    lines: i.lines.map(lineFields),
  });

  it('a change now with proration "none" bills nothing now; the new price starts at the renewal', async () => {
    // Given Starter from 1 December 2026
    const id = await s.subscribe({ plan_code: 'starter', start_at: '2026-12-01T00:00:00Z' });
    // When support moves it to Growth on 10 December without proration
    await s.at('2026-12-10T00:00:00Z');
    const res = await changePlan(id, { plan_code: 'growth', at: 'now', proration: 'none' });
    // Then it is on Growth at once, the period runs on, and no invoice is issued
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      plan_code: 'growth',
      status: 'active',
      current_period_start: '2026-12-01T00:00:00.000Z',
      current_period_end: '2027-01-01T00:00:00.000Z',
      scheduled_changes: [],
    });
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2026-12-01..2027-01-01']);
    // And the renewal on 1 January is Growth in full: 90.00
    await s.at('2027-01-01T00:00:01Z');
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2026-12-01..2027-01-01', '90.00 = fee 90.00 2027-01-01..2027-02-01']);
  });

  it('a change at a future instant is listed as scheduled and upcoming, then happens at that instant', async () => {
    // Given Starter from 1 February 2027 (28 days = 672 hours)
    const id = await s.subscribe({ plan_code: 'starter', start_at: '2027-02-01T00:00:00Z' });
    await s.at('2027-02-03T00:00:00Z');
    // When support schedules Growth for 15 February 08:30
    const res = await changePlan(id, { plan_code: 'growth', at: '2027-02-15T08:30:00Z' });
    // Then nothing changes yet: the change is listed, and shown as the next event
    expect(res.status).toBe(200);
    expect(res.body.plan_code).toBe('starter');
    expect(res.body.scheduled_changes).toEqual([
      expect.objectContaining({ type: 'change_plan', plan_code: 'growth', plan_version: 1, at: '2027-02-15T08:30:00.000Z', at_period_end: false, proration: 'prorate' }),
    ]);
    const changeId = res.body.scheduled_changes[0].id;
    expect((await state(id)).upcoming).toEqual([
      { at: '2027-02-15T08:30:00.000Z', event: 'plan_change', changeId },
      { at: '2027-03-01T00:00:00.000Z', event: 'renewal' },
    ]);
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2027-02-01..2027-03-01']);
    // And at 15 February 08:30 it happens: 14 d 8.5 h = 344.5 of 672 hours served.
    // Starter served 30.00 x 344.5/672 = 15.3795 -> 15.38, so 30.00 - 15.38 = 14.62 back;
    // Growth served 90.00 x 344.5/672 = 46.1384 -> 46.14, so 90.00 - 46.14 = 43.86 charged; 43.86 - 14.62 = 29.24.
    await s.at('2027-02-15T08:30:01Z');
    const invoices = await s.invoiceBodies(id);
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2027-02-01..2027-03-01', '29.24 = fee -14.62 2027-02-15..2027-03-01 + fee 43.86 2027-02-15..2027-03-01']);
    expect(invoices[1]).toMatchObject({ issued_at: '2027-02-15T08:30:00.000Z', period_start: '2027-02-15T08:30:00.000Z', period_end: '2027-03-01T00:00:00.000Z' });
    expect(invoices[1].lines.map((l: any) => [l.period_start, l.period_end])).toEqual([
      ['2027-02-15T08:30:00.000Z', '2027-03-01T00:00:00.000Z'],
      ['2027-02-15T08:30:00.000Z', '2027-03-01T00:00:00.000Z'],
    ]);
    expect(await state(id)).toMatchObject({ plan_code: 'growth', scheduled_changes: [], latest_invoice: { total: '29.24' } });
    // And the renewal on 1 March is Growth in full
    await s.at('2027-03-01T00:00:01Z');
    expect((await s.invoices(id)).at(-1)).toBe('90.00 = fee 90.00 2027-03-01..2027-04-01');
  });

  it('a downgrade now gives a negative invoice, paid with nothing due, whose credit pays the next renewals; the ledger balances', async () => {
    // Given Growth from 1 May 2027 (31 days)
    const id = await s.subscribe({ plan_code: 'growth', start_at: '2027-05-01T00:00:00Z' });
    // When support downgrades to Starter now, on 11 May (10 of 31 days served; the few ms of "now" change no cent)
    await s.at('2027-05-11T00:00:00Z');
    const res = await changePlan(id, { plan_code: 'starter', at: 'now', proration: 'prorate' });
    // Then Growth served 90.00 x 10/31 = 29.0323 -> 29.03: 90.00 - 29.03 = 60.97 back;
    // Starter served 30.00 x 10/31 = 9.6774 -> 9.68: 30.00 - 9.68 = 20.32 charged; 20.32 - 60.97 = -40.65.
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ plan_code: 'starter', latest_invoice: { total: '-40.65' } });
    // And the renewals on Starter (30.00) are paid from the 40.65 credit: 30.00 on 1 June, the 10.65 left on 1 July.
    await s.at('2027-06-01T00:00:01Z');
    await s.at('2027-07-01T00:00:01Z');
    expect(await s.invoices(id)).toEqual([
      '90.00 = fee 90.00 2027-05-01..2027-06-01',
      '-40.65 = fee -60.97 2027-05-11..2027-06-01 + fee 20.32 2027-05-11..2027-06-01',
      '30.00 = fee 30.00 2027-06-01..2027-07-01',
      '30.00 = fee 30.00 2027-07-01..2027-08-01',
    ]);
    // And the ledger balances in every currency; the customer credit account was credited 40.65 and
    // debited 30.00 + 10.65 = 40.65.
    const totals = await ledgerTotals();
    for (const [currency, t] of Object.entries(totals)) expect({ currency, debits: t.debits }).toEqual({ currency, debits: t.credits });
    const credit = ((await s.get('/v1/ledger/balances')).body.data as any[]).find((b) => b.account === 'customer_credit' && b.currency === 'USD');
    expect(credit).toMatchObject({ debits: '40.65', credits: '40.65', balance: '0.00' });
    // And the negative invoice asks nothing; each renewal says how much credit it used and what is left to pay:
    // 1 June: 30.00 of credit, 0.00 due (paid); 1 July: 40.65 - 30.00 = 10.65 of credit, 30.00 - 10.65 = 19.35 due.
    const bodies = await s.invoiceBodies(id);
    expect(bodies.slice(1).map((i) => ({ total: i.total, status: i.status, amount_due: i.amount_due, credit_applied: i.credit_applied }))).toEqual([
      { total: '-40.65', status: 'paid', amount_due: '0.00', credit_applied: '0.00' },
      { total: '30.00', status: 'paid', amount_due: '0.00', credit_applied: '30.00' },
      { total: '30.00', status: 'open', amount_due: '19.35', credit_applied: '10.65' },
    ]);
  });

  it('an upgrade then a downgrade in one period: the parts of the period add up exactly', async () => {
    // Given a plan A at 19.99 and B at 49.99, and A from 1 August 2027 (31 days)
    await s.plan('plan-a', { amount: '19.99' });
    await s.plan('plan-b', { amount: '49.99' });
    const id = await s.subscribe({ plan_code: 'plan-a', start_at: '2027-08-01T00:00:00Z' });
    // When it is upgraded to B on 8 August (7 days) and back to A on 19 August 12:00 (18.5 days)
    await s.at('2027-08-02T00:00:00Z');
    expect((await changePlan(id, { plan_code: 'plan-b', at: '2027-08-08T00:00:00Z' })).status).toBe(200);
    await s.at('2027-08-08T00:00:01Z');
    expect((await changePlan(id, { plan_code: 'plan-a', at: '2027-08-19T12:00:00Z' })).status).toBe(200);
    await s.at('2027-08-19T12:00:01Z');
    // Then, with served_A(t) and served_B(t) rounded once each:
    //   served_A(7d)    = 19.99 x 7/31    = 4.5139  -> 4.51     served_B(7d)    = 49.99 x 7/31    = 11.2881 -> 11.29
    //   served_A(18.5d) = 19.99 x 18.5/31 = 11.9295 -> 11.93    served_B(18.5d) = 49.99 x 18.5/31 = 29.8327 -> 29.83
    // upgrade:   A back 19.99 - 4.51 = 15.48, B charged 49.99 - 11.29 = 38.70: 23.22
    // downgrade: B back 49.99 - 29.83 = 20.16, A charged 19.99 - 11.93 = 8.06: -12.10
    const invoices = await s.invoices(id);
    expect(invoices).toEqual([
      '19.99 = fee 19.99 2027-08-01..2027-09-01',
      '23.22 = fee -15.48 2027-08-08..2027-09-01 + fee 38.70 2027-08-08..2027-09-01',
      '-12.10 = fee -20.16 2027-08-19..2027-09-01 + fee 8.06 2027-08-19..2027-09-01',
    ]);
    // And August cost 19.99 + 23.22 - 12.10 = 31.11, exactly A[1, 8) 4.51 + B[8, 19.5) 29.83 - 11.29 = 18.54
    // + A[19.5, 32) 19.99 - 11.93 = 8.06 = 31.11; A's three parts 4.51 + 7.42 + 8.06 are its 19.99.
    const bodies = await s.invoiceBodies(id);
    expect(bodies.reduce((t, i) => t.plus(i.total), new Decimal(0)).toFixed(2)).toBe('31.11');
    expect(new Decimal('4.51').plus('18.54').plus('8.06').toFixed(2)).toBe('31.11');
    // And the renewal is on A, paid first from the 12.10 credit: 19.99 - 12.10 = 7.89 due
    await s.at('2027-09-01T00:00:01Z');
    expect((await s.invoices(id)).at(-1)).toBe('19.99 = fee 19.99 2027-09-01..2027-10-01');
    expect((await s.invoiceBodies(id)).at(-1)).toMatchObject({ status: 'open', amount_due: '7.89' });
  });

  it('a scheduled change is replaced by a later change_plan, and one removed with DELETE leaves the renewal on the original plan', async () => {
    // Given Starter from 1 October 2027, with Growth scheduled for 20 October
    const id = await s.subscribe({ plan_code: 'starter', start_at: '2027-10-01T00:00:00Z' });
    await s.at('2027-10-05T00:00:00Z');
    const first = await changePlan(id, { plan_code: 'growth', at: '2027-10-20T00:00:00Z' });
    expect(first.body.scheduled_changes).toEqual([expect.objectContaining({ type: 'change_plan', plan_code: 'growth', at: '2027-10-20T00:00:00.000Z' })]);
    // When support asks instead for Scale at the period's end
    await s.at('2027-10-06T00:00:00Z');
    const second = await changePlan(id, { plan_code: 'scale', at: 'period_end' });
    // Then the Scale change replaces the Growth one
    expect(second.status).toBe(200);
    expect(second.body.scheduled_changes).toEqual([
      expect.objectContaining({ type: 'change_plan', plan_code: 'scale', at: '2027-11-01T00:00:00.000Z', at_period_end: true }),
    ]);
    const scaleChange = second.body.scheduled_changes[0].id;
    // And nothing happens on 20 October
    await s.at('2027-10-20T00:00:01Z');
    expect(await state(id)).toMatchObject({ plan_code: 'starter', scheduled_changes: [expect.objectContaining({ id: scaleChange })] });
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2027-10-01..2027-11-01']);
    // When support removes the Scale change
    const removed = await del(`/v1/subscriptions/${id}/scheduled_changes/${scaleChange}`);
    // Then nothing is scheduled, the next event is the renewal, and removing it again is refused
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ plan_code: 'starter', scheduled_changes: [] });
    expect((await state(id)).upcoming).toEqual([{ at: '2027-11-01T00:00:00.000Z', event: 'renewal' }]);
    const again = await del(`/v1/subscriptions/${id}/scheduled_changes/${scaleChange}`);
    expect(again.body.error.code).toBe('scheduled_change_missing');
    // And the renewal is on Starter
    await s.at('2027-11-01T00:00:01Z');
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2027-10-01..2027-11-01', '30.00 = fee 30.00 2027-11-01..2027-12-01']);
    expect((await state(id)).plan_code).toBe('starter');
  });

  it('a change during a trial bills nothing, the trial runs on, and the first invoice is on the new plan', async () => {
    // Given a 14-day trial from 1 December 2027 (it ends on 15 December)
    const id = await s.subscribe({ plan_code: 'trial-basic', start_at: '2027-12-01T00:00:00Z' });
    await s.at('2027-12-05T00:00:00Z');
    expect((await state(id)).status).toBe('trialing');
    // When support moves it to Growth now
    const res = await changePlan(id, { plan_code: 'growth', at: 'now' });
    // Then only the plan changes: still trialing until 15 December, no invoice
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ plan_code: 'growth', status: 'trialing', trial_end: '2027-12-15T00:00:00.000Z', latest_invoice: null, scheduled_changes: [] });
    expect(await s.invoices(id)).toEqual([]);
    // And the first invoice, at the trial's end, is a full month of Growth
    await s.at('2027-12-15T00:00:01Z');
    expect(await s.invoices(id)).toEqual(['90.00 = fee 90.00 2027-12-15..2028-01-15']);
    expect(await state(id)).toMatchObject({ status: 'active', plan_code: 'growth', current_period_end: '2028-01-15T00:00:00.000Z' });
  });

  it('usage up to a change is billed on its invoice at the old price, usage after it on the renewal at the new price', async () => {
    // Given metered Lo (10.00 + 0.01 a call) from 1 January 2028 (31 days), with Hi (20.00 + 0.02) scheduled for 16 January
    const id = await s.subscribe({ plan_code: 'meter-lo', start_at: '2028-01-01T00:00:00Z' });
    await s.at('2028-01-10T00:00:00Z');
    expect((await changePlan(id, { plan_code: 'meter-hi', at: '2028-01-16T00:00:00Z' })).status).toBe(200);
    // And 1000 + 500 calls before the change
    await s.at('2028-01-15T12:00:00Z');
    const before = await s.post('/v1/usage_events', { events: [calls(id, 'ot-u-1', '2028-01-05T00:00:00Z', 1000), calls(id, 'ot-u-2', '2028-01-15T10:00:00Z', 500)] });
    expect(before.body).toMatchObject({ accepted: 2, rejected: [] });
    // When the change happens
    await s.at('2028-01-16T00:00:01Z');
    // Then its invoice: Lo served 10.00 x 15/31 = 4.8387 -> 4.84: 5.16 back; Hi served 20.00 x 15/31 = 9.6774 -> 9.68:
    // 10.32 charged; 1500 calls x 0.01 (Lo's price) = 15.00. -5.16 + 10.32 + 15.00 = 20.16.
    expect((await s.invoices(id)).at(-1)).toBe('20.16 = fee -5.16 2028-01-16..2028-02-01 + fee 10.32 2028-01-16..2028-02-01 + usage 15.00 2028-01-01..2028-01-16');
    expect((await s.invoiceBodies(id)).at(-1).lines[2]).toMatchObject({ metric_code: 'api_calls', quantity: '1500', unit_amount: '0.01' });
    // And a call dated before the change is refused now; 2000 + 300 calls after it are taken
    const after = await s.post('/v1/usage_events', {
      events: [calls(id, 'ot-u-3', '2028-01-15T23:00:00Z', 7), calls(id, 'ot-u-4', '2028-01-20T00:00:00Z', 2000), calls(id, 'ot-u-5', '2028-01-31T23:00:00Z', 300)],
    });
    expect(after.body).toMatchObject({ accepted: 2, rejected: [expect.objectContaining({ transaction_id: 'ot-u-3', code: 'period_already_invoiced' })] });
    // And the renewal on 1 February: Hi's fee 20.00 + 2300 calls x 0.02 (Hi's price) = 46.00: 66.00
    await s.at('2028-02-01T00:00:01Z');
    expect(await s.invoices(id)).toEqual([
      '10.00 = fee 10.00 2028-01-01..2028-02-01',
      '20.16 = fee -5.16 2028-01-16..2028-02-01 + fee 10.32 2028-01-16..2028-02-01 + usage 15.00 2028-01-01..2028-01-16',
      '66.00 = fee 20.00 2028-02-01..2028-03-01 + usage 46.00 2028-01-16..2028-02-01',
    ]);
    expect((await s.invoiceBodies(id)).at(-1).lines[1]).toMatchObject({ quantity: '2300', unit_amount: '0.02' });
  });

  it('the preview of a change is exactly the invoice the change then issues, and changes nothing', async () => {
    // Given metered Lo from 1 March 2028 (31 days), with 700 + 45 calls
    const id = await s.subscribe({ plan_code: 'meter-lo', start_at: '2028-03-01T00:00:00Z' });
    await s.at('2028-03-21T00:00:00Z');
    const sent = await s.post('/v1/usage_events', { events: [calls(id, 'ot-p-1', '2028-03-03T00:00:00Z', 700), calls(id, 'ot-p-2', '2028-03-21T05:00:00Z', 45)] });
    expect(sent.body).toMatchObject({ accepted: 2 });
    const stateBefore = await state(id);
    // When support previews Hi at 21 March 06:00 (20.25 of 31 days served)
    const request = { plan_code: 'meter-hi', at: '2028-03-21T06:00:00Z', proration: 'prorate' };
    const preview = await s.post(`/v1/subscriptions/${id}/change_plan/preview`, request);
    // Then: Lo served 10.00 x 20.25/31 = 6.5323 -> 6.53: 3.47 back; Hi served 20.00 x 20.25/31 = 13.0645 -> 13.06:
    // 6.94 charged; 745 calls x 0.01 = 7.45. -3.47 + 6.94 + 7.45 = 10.92.
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ plan_code: 'meter-hi', plan_version: 1, at: '2028-03-21T06:00:00.000Z', invoice: { total: '10.92', subtotal: '10.92' } });
    expect(preview.body.invoice.lines.map((l: any) => [l.kind, l.amount, l.period_start, l.period_end])).toEqual([
      ['fee', '-3.47', '2028-03-21T06:00:00.000Z', '2028-04-01T00:00:00.000Z'],
      ['fee', '6.94', '2028-03-21T06:00:00.000Z', '2028-04-01T00:00:00.000Z'],
      ['usage', '7.45', '2028-03-01T00:00:00.000Z', '2028-03-21T06:00:00.000Z'],
    ]);
    // And nothing changed: no invoice, no scheduled change, the same state
    expect(await s.invoices(id)).toEqual(['10.00 = fee 10.00 2028-03-01..2028-04-01']);
    expect(await state(id)).toEqual(stateBefore);
    // When the change is made with the same request
    expect((await changePlan(id, request)).status).toBe(200);
    await s.at('2028-03-21T06:00:01Z');
    // Then the invoice it issues is the preview, line for line
    const invoices = await s.invoiceBodies(id);
    expect(invoices).toHaveLength(2);
    expect(invoiceFields(invoices[1])).toEqual(invoiceFields(preview.body.invoice));
  });

  it('a new plan version: an existing subscription keeps version 1 at its renewal, a new one gets version 2', async () => {
    // Given a subscription on Versioned v1 (25.00) from 1 April 2028
    const old = await s.subscribe({ plan_code: 'versioned', start_at: '2028-04-01T00:00:00Z' });
    await s.at('2028-04-10T00:00:00Z');
    // When the price is raised to 35.00
    const version = await s.post('/v1/plans/versioned/versions', { amount: '35.00' });
    expect(version.status).toBe(201);
    expect(version.body).toMatchObject({ code: 'versioned', version: 2, amount: '35.00', currency: 'USD', interval: 'month' });
    const versions = (await s.get('/v1/plans/versioned/versions')).body.data;
    expect(versions.map((v: any) => [v.version, v.amount])).toEqual([
      [1, '25.00'],
      [2, '35.00'],
    ]);
    // And a new customer subscribes from 15 April
    const fresh = await s.subscribe({ plan_code: 'versioned', start_at: '2028-04-15T00:00:00Z' });
    await s.at('2028-04-15T00:00:01Z');
    // Then the new subscription is on version 2 at 35.00
    expect(await s.invoices(fresh)).toEqual(['35.00 = fee 35.00 2028-04-15..2028-05-15']);
    expect((await state(fresh)).plan_version).toBe(2);
    // And the existing one renews on version 1 at 25.00 (grandfathered)
    await s.at('2028-05-01T00:00:01Z');
    expect(await s.invoices(old)).toEqual(['25.00 = fee 25.00 2028-04-01..2028-05-01', '25.00 = fee 25.00 2028-05-01..2028-06-01']);
    expect(await state(old)).toMatchObject({ plan_code: 'versioned', plan_version: 1 });
  });

  it('a plan migration: the dry run lists both invoices and changes nothing; the migration moves each subscription at its renewal', async () => {
    // Given two subscriptions on Legacy v1 (20.00), from 1 June and 11 June 2028
    const p = await s.subscribe({ plan_code: 'legacy', start_at: '2028-06-01T00:00:00Z' });
    const q = await s.subscribe({ plan_code: 'legacy', start_at: '2028-06-11T00:00:00Z' });
    // And version 2 at 26.00 from 12 June, with a third subscription already on it
    await s.at('2028-06-12T00:00:00Z');
    expect((await s.post('/v1/plans/legacy/versions', { amount: '26.00' })).status).toBe(201);
    const r = await s.subscribe({ plan_code: 'legacy', start_at: '2028-06-13T00:00:00Z' });
    await s.at('2028-06-20T00:00:00Z');
    // When an admin asks for a dry run
    const dry = await s.post('/v1/plans/legacy/migrations/preview', {});
    // Then each older subscription is listed with its next invoice on v1 (20.00) and on v2 (26.00)
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ plan_code: 'legacy', to_version: 2, dry_run: true });
    const entry = (id: string, at: string, end: string) => ({
      subscription_id: id,
      from_version: 1,
      to_version: 2,
      status: 'would_migrate',
      at,
      current_invoice: expect.objectContaining({ total: '20.00', lines: [expect.objectContaining({ kind: 'fee', amount: '20.00', period_start: at, period_end: end })] }),
      new_invoice: expect.objectContaining({ total: '26.00', lines: [expect.objectContaining({ kind: 'fee', amount: '26.00', period_start: at, period_end: end })] }),
    });
    expect(dry.body.data).toEqual([
      entry(p, '2028-07-01T00:00:00.000Z', '2028-08-01T00:00:00.000Z'),
      entry(q, '2028-07-11T00:00:00.000Z', '2028-08-11T00:00:00.000Z'),
    ]);
    // And nothing changed
    for (const id of [p, q]) expect(await state(id)).toMatchObject({ plan_version: 1, scheduled_changes: [] });
    // When the migration is run
    const run = await s.post('/v1/plans/legacy/migrations', {});
    // Then it is started as a workflow of its own, which moves both
    expect(run.status).toBe(202);
    expect(run.body).toMatchObject({ object: 'plan_migration', plan_code: 'legacy', to_version: 2, total: 2 });
    const done = await eventually(
      'the migration has completed',
      async () => (await s.get(`/v1/plans/legacy/migrations/${run.body.id}`)).body,
      (m) => m.status === 'completed',
    );
    // And both are scheduled to move at their next renewal, without proration
    expect(done.data).toEqual([
      { subscription_id: p, from_version: 1, to_version: 2, status: 'scheduled', at: '2028-07-01T00:00:00.000Z' },
      { subscription_id: q, from_version: 1, to_version: 2, status: 'scheduled', at: '2028-07-11T00:00:00.000Z' },
    ]);
    expect((await state(p)).scheduled_changes).toEqual([
      expect.objectContaining({ type: 'change_plan', plan_code: 'legacy', plan_version: 2, at: '2028-07-01T00:00:00.000Z', at_period_end: true, proration: 'none' }),
    ]);
    // And each renewal is at the new price
    await s.at('2028-07-01T00:00:01Z');
    expect(await s.invoices(p)).toEqual(['20.00 = fee 20.00 2028-06-01..2028-07-01', '26.00 = fee 26.00 2028-07-01..2028-08-01']);
    await s.at('2028-07-11T00:00:01Z');
    expect(await s.invoices(q)).toEqual(['20.00 = fee 20.00 2028-06-11..2028-07-11', '26.00 = fee 26.00 2028-07-11..2028-08-11']);
    for (const id of [p, q]) expect(await state(id)).toMatchObject({ plan_version: 2, scheduled_changes: [] });
    expect(await s.invoices(r)).toEqual(['26.00 = fee 26.00 2028-06-13..2028-07-13']);
  });

  it('two support staff change one subscription at the same moment: both succeed, one after the other, each billed exactly', async () => {
    // Given Mid (60.00) from 1 August 2028 (31 days)
    const id = await s.subscribe({ plan_code: 'mid', start_at: '2028-08-01T00:00:00Z' });
    await s.at('2028-08-11T00:00:00Z');
    // When one upgrades to Top (120.00) and the other downgrades to Low (30.00) at once
    const [up, down] = await Promise.all([changePlan(id, { plan_code: 'top', at: 'now' }), changePlan(id, { plan_code: 'low', at: 'now' })]);
    // Then both are answered with the state their change produced
    expect([up.status, down.status]).toEqual([200, 200]);
    expect([up.body.plan_code, down.body.plan_code]).toEqual(['top', 'low']);
    // With 10 of 31 days served (milliseconds apart change no cent):
    //   Mid served 60.00 x 10/31 = 19.3548 -> 19.35: 40.65 back
    //   Top served 120.00 x 10/31 = 38.7097 -> 38.71: 81.29 for the rest
    //   Low served 30.00 x 10/31 = 9.6774 -> 9.68: 20.32 for the rest
    const final = (await state(id)).plan_code;
    const expected =
      final === 'low'
        ? // Top first (-40.65 + 81.29 = 40.64), then Low (-81.29 + 20.32 = -60.97)
          {
            up: '40.64',
            down: '-60.97',
            invoices: ['40.64 = fee -40.65 2028-08-11..2028-09-01 + fee 81.29 2028-08-11..2028-09-01', '-60.97 = fee -81.29 2028-08-11..2028-09-01 + fee 20.32 2028-08-11..2028-09-01'],
          }
        : // Low first (-40.65 + 20.32 = -20.33), then Top (-20.32 + 81.29 = 60.97)
          {
            up: '60.97',
            down: '-20.33',
            invoices: ['-20.33 = fee -40.65 2028-08-11..2028-09-01 + fee 20.32 2028-08-11..2028-09-01', '60.97 = fee -20.32 2028-08-11..2028-09-01 + fee 81.29 2028-08-11..2028-09-01'],
          };
    expect(['low', 'top']).toContain(final);
    expect(await s.invoices(id)).toEqual(['60.00 = fee 60.00 2028-08-01..2028-09-01', ...expected.invoices]);
    expect([up.body.latest_invoice?.total, down.body.latest_invoice?.total]).toEqual([expected.up, expected.down]);
  });

  it('two simultaneous pauses: one is applied, the other refused', async () => {
    // Given Mid (60.00) from 1 September 2028 (30 days)
    const id = await s.subscribe({ plan_code: 'mid', start_at: '2028-09-01T00:00:00Z' });
    await s.at('2028-09-11T00:00:00Z');
    // When two support staff pause it at once
    const answers = await Promise.all([s.post(`/v1/subscriptions/${id}/pause`, { at: 'now' }), s.post(`/v1/subscriptions/${id}/pause`, { at: 'now' })]);
    // Then one is applied and the other refused with a conflict, and the rest of the period is credited
    // once: 10 of 30 days served, 60.00 x 10/30 = 20.00, so 40.00 back
    expect({ statuses: answers.map((a) => a.status).sort(), invoices: await s.invoices(id) }).toEqual({
      statuses: [200, 409],
      invoices: ['60.00 = fee 60.00 2028-09-01..2028-10-01', '-40.00 = fee -40.00 2028-09-11..2028-10-01'],
    });
    const refused = answers.find((a) => a.status === 409)!;
    expect(['pause_already_scheduled', 'subscription_paused']).toContain(refused.body.error.code);
    expect(answers.find((a) => a.status === 200)!.body.status).toBe('paused');
    expect((await state(id)).status).toBe('paused');
  });

  it('a $0 plan upgraded mid-period: nothing to credit, the rest of the period charged', async () => {
    // Given Free (0.00) from 1 October 2028: a $0 invoice, marked paid
    const id = await s.subscribe({ plan_code: 'free', start_at: '2028-10-01T00:00:00Z' });
    await s.at('2028-10-05T00:00:00Z');
    expect(await s.invoices(id)).toEqual(['0.00 = fee 0.00 2028-10-01..2028-11-01']);
    expect((await s.invoiceBodies(id))[0]).toMatchObject({ status: 'paid', amount_due: '0.00' });
    // When it is upgraded to Growth on 11 October (10 of 31 days served)
    expect((await changePlan(id, { plan_code: 'growth', at: '2028-10-11T00:00:00Z' })).status).toBe(200);
    await s.at('2028-10-11T00:00:01Z');
    // Then Free's unused rest is 0.00, and Growth served 90.00 x 10/31 = 29.0323 -> 29.03, so 60.97 is charged
    expect(await s.invoices(id)).toEqual(['0.00 = fee 0.00 2028-10-01..2028-11-01', '60.97 = fee 0.00 2028-10-11..2028-11-01 + fee 60.97 2028-10-11..2028-11-01']);
    expect((await s.invoiceBodies(id))[1]).toMatchObject({ status: 'open', amount_due: '60.97' });
  });

  it('a change in JPY (no decimals) is rounded to whole yen', async () => {
    // Given a JPY customer on Yen Basic (980) from 1 November 2028 (30 days)
    const customer = await s.customer({ currency: 'JPY' });
    const id = await s.subscribe({ customer_id: customer, plan_code: 'yen-basic', start_at: '2028-11-01T00:00:00Z' });
    await s.at('2028-11-02T00:00:00Z');
    // When it is upgraded to Yen Pro (2480) on 8 November (7 of 30 days served)
    expect((await changePlan(id, { plan_code: 'yen-pro', at: '2028-11-08T00:00:00Z' })).status).toBe(200);
    await s.at('2028-11-08T00:00:01Z');
    // Then Basic served 980 x 7/30 = 228.67 -> 229: 751 back; Pro served 2480 x 7/30 = 578.67 -> 579: 1901 charged; 1150.
    expect(await s.invoices(id)).toEqual(['980 = fee 980 2028-11-01..2028-12-01', '1150 = fee -751 2028-11-08..2028-12-01 + fee 1901 2028-11-08..2028-12-01']);
    expect((await s.invoiceBodies(id))[1]).toMatchObject({ currency: 'JPY', total: '1150', amount_due: '1150' });
  });

  it('a change in KWD (three decimals) is rounded to the fils', async () => {
    // Given a KWD customer on Dinar Basic (5.250) from 1 December 2028 (31 days)
    const customer = await s.customer({ currency: 'KWD' });
    const id = await s.subscribe({ customer_id: customer, plan_code: 'dinar-basic', start_at: '2028-12-01T00:00:00Z' });
    await s.at('2028-12-02T00:00:00Z');
    // When it is upgraded to Dinar Pro (12.750) on 11 December (10 of 31 days served)
    expect((await changePlan(id, { plan_code: 'dinar-pro', at: '2028-12-11T00:00:00Z' })).status).toBe(200);
    await s.at('2028-12-11T00:00:01Z');
    // Then Basic served 5.250 x 10/31 = 1.69355 -> 1.694: 3.556 back; Pro served 12.750 x 10/31 = 4.11290 -> 4.113:
    // 8.637 charged; 8.637 - 3.556 = 5.081.
    expect(await s.invoices(id)).toEqual(['5.250 = fee 5.250 2028-12-01..2029-01-01', '5.081 = fee -3.556 2028-12-11..2029-01-01 + fee 8.637 2028-12-11..2029-01-01']);
    // And the ledger balances in USD, JPY and KWD alike
    const totals = await ledgerTotals();
    expect(Object.keys(totals).sort()).toEqual(['JPY', 'KWD', 'USD']);
    for (const [currency, t] of Object.entries(totals)) expect({ currency, debits: t.debits }).toEqual({ currency, debits: t.credits });
  });

  it('malformed changes and a pause of a canceled subscription are refused and change nothing', async () => {
    // Given Starter from 1 January 2029
    const id = await s.subscribe({ plan_code: 'starter', start_at: '2029-01-01T00:00:00Z' });
    await s.at('2029-01-10T00:00:00Z');
    const before = await state(id);
    // When support asks for a version that does not exist, a proration "maybe" and a date "yesterday"
    const version = await changePlan(id, { plan_code: 'growth', plan_version: 9 });
    const maybe = await changePlan(id, { plan_code: 'growth', proration: 'maybe' });
    const yesterday = await changePlan(id, { plan_code: 'growth', at: 'yesterday' });
    // Then each is a 400 naming the parameter, and nothing changed
    expect([version.status, version.body.error.code, version.body.error.param]).toEqual([400, 'resource_missing', 'plan_version']);
    expect([maybe.status, maybe.body.error.code, maybe.body.error.param]).toEqual([400, 'parameter_invalid', 'proration']);
    expect([yesterday.status, yesterday.body.error.code, yesterday.body.error.param]).toEqual([400, 'parameter_invalid', 'at']);
    expect(await state(id)).toEqual(before);
    // When it is canceled now, then paused, then changed
    expect((await s.post(`/v1/subscriptions/${id}/cancel`, { at: 'now' })).body.status).toBe('canceled');
    const pause = await s.post(`/v1/subscriptions/${id}/pause`, { at: 'now' });
    const change = await changePlan(id, { plan_code: 'growth' });
    // Then both are refused as conflicts with a canceled subscription, which stays canceled with its one invoice
    expect([pause.status, pause.body.error.code]).toEqual([409, 'subscription_canceled']);
    expect([change.status, change.body.error.code]).toEqual([409, 'subscription_canceled']);
    expect(await state(id)).toMatchObject({ status: 'canceled', plan_code: 'starter' });
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2029-01-01..2029-02-01']);
  });

  it('a coupon applies to renewals but not to the proration invoice of a change', async () => {
    // Given a customer with a 50% coupon forever, on Starter from 1 March 2029 (31 days)
    expect((await s.post('/v1/coupons', { code: 'half-off', name: 'Half off', percent_off: '50', duration: 'forever' })).status).toBe(201);
    const customer = await s.customer();
    expect((await s.post(`/v1/customers/${customer}/applied_coupons`, { coupon_code: 'half-off' })).status).toBe(201);
    const id = await s.subscribe({ customer_id: customer, plan_code: 'starter', start_at: '2029-03-01T00:00:00Z' });
    // When it is upgraded to Growth on 11 March (10 of 31 days served)
    await s.at('2029-03-02T00:00:00Z');
    expect((await changePlan(id, { plan_code: 'growth', at: '2029-03-11T00:00:00Z' })).status).toBe(200);
    await s.at('2029-03-11T00:00:01Z');
    // Then the renewal was half price (30.00 - 15.00), the change is at list prices:
    // Starter served 9.68: 20.32 back; Growth served 29.03: 60.97 charged; 40.65, no discount
    await s.at('2029-04-01T00:00:01Z');
    // And the next renewal is Growth at half price: 90.00 - 45.00 = 45.00
    expect(await s.invoices(id)).toEqual([
      '15.00 = fee 30.00 2029-03-01..2029-04-01',
      '40.65 = fee -20.32 2029-03-11..2029-04-01 + fee 60.97 2029-03-11..2029-04-01',
      '45.00 = fee 90.00 2029-04-01..2029-05-01',
    ]);
    expect((await s.invoiceBodies(id)).map((i) => i.discount_total)).toEqual(['15.00', '0.00', '45.00']);
  });

  it('while paused a change now is refused, a dated change only switches the plan, and the resume bills the new plan', async () => {
    // Given Mid (60.00) from 1 May 2029 (31 days), paused on 11 May
    const id = await s.subscribe({ plan_code: 'mid', start_at: '2029-05-01T00:00:00Z' });
    await s.at('2029-05-03T00:00:00Z');
    expect((await s.post(`/v1/subscriptions/${id}/pause`, { at: '2029-05-11T00:00:00Z' })).body.scheduled_changes).toEqual([
      expect.objectContaining({ type: 'pause', at: '2029-05-11T00:00:00.000Z' }),
    ]);
    await s.at('2029-05-11T00:00:01Z');
    // (Mid served 60.00 x 10/31 = 19.3548 -> 19.35: 40.65 back)
    expect(await state(id)).toMatchObject({ status: 'paused', paused_at: '2029-05-11T00:00:00.000Z' });
    expect(await s.invoices(id)).toEqual(['60.00 = fee 60.00 2029-05-01..2029-06-01', '-40.65 = fee -40.65 2029-05-11..2029-06-01']);
    // When support changes to Top now, then for 15 May, and schedules the resume for 20 May
    const now = await changePlan(id, { plan_code: 'top', at: 'now' });
    expect([now.status, now.body.error.code]).toEqual([409, 'subscription_paused']);
    expect((await changePlan(id, { plan_code: 'top', at: '2029-05-15T00:00:00Z' })).status).toBe(200);
    expect((await s.post(`/v1/subscriptions/${id}/resume`, { at: '2029-05-20T00:00:00Z' })).status).toBe(200);
    // Then on 15 May only the plan changes
    await s.at('2029-05-15T00:00:01Z');
    expect(await state(id)).toMatchObject({ status: 'paused', plan_code: 'top' });
    expect(await s.invoices(id)).toHaveLength(2);
    // And the resume on 20 May starts a month of Top, billed in full (120.00), the 40.65 credit first: 79.35 due
    await s.at('2029-05-20T00:00:01Z');
    expect(await state(id)).toMatchObject({ status: 'active', plan_code: 'top', current_period_start: '2029-05-20T00:00:00.000Z', current_period_end: '2029-06-20T00:00:00.000Z' });
    expect((await s.invoices(id)).at(-1)).toBe('120.00 = fee 120.00 2029-05-20..2029-06-20');
    expect((await s.invoiceBodies(id)).at(-1)).toMatchObject({ amount_due: '79.35' });
  });

  it('monthly to yearly without proration restarts the period: no credit, the year charged in full', async () => {
    // Given Starter from 1 July 2029
    const id = await s.subscribe({ plan_code: 'starter', start_at: '2029-07-01T00:00:00Z' });
    await s.at('2029-07-05T00:00:00Z');
    // When it moves to Annual (300.00 a year) on 11 July without proration
    expect((await changePlan(id, { plan_code: 'annual', at: '2029-07-11T00:00:00Z', proration: 'none' })).status).toBe(200);
    await s.at('2029-07-11T00:00:01Z');
    // Then the year from 11 July is charged in full and nothing of July is credited
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2029-07-01..2029-08-01', '300.00 = fee 300.00 2029-07-11..2030-07-11']);
    expect(await state(id)).toMatchObject({ plan_code: 'annual', current_period_start: '2029-07-11T00:00:00.000Z', current_period_end: '2030-07-11T00:00:00.000Z' });
  });

  it('a dated cancellation with proration after a dated upgrade credits the new plan: the period is paid for exactly what was served', async () => {
    // Given Starter from 1 August 2029 (31 days), with Growth scheduled for 11 August and a prorated cancellation for 21 August
    const id = await s.subscribe({ plan_code: 'starter', start_at: '2029-08-01T00:00:00Z' });
    await s.at('2029-08-05T00:00:00Z');
    expect((await changePlan(id, { plan_code: 'growth', at: '2029-08-11T00:00:00Z' })).status).toBe(200);
    const cancel = await s.post(`/v1/subscriptions/${id}/cancel`, { at: '2029-08-21T00:00:00Z', prorate: true });
    expect(cancel.body.scheduled_changes).toEqual([
      expect.objectContaining({ type: 'change_plan', at: '2029-08-11T00:00:00.000Z' }),
      expect.objectContaining({ type: 'cancel', at: '2029-08-21T00:00:00.000Z', prorate: true }),
    ]);
    // When both happen
    await s.at('2029-08-21T00:00:01Z');
    // Then: Starter served(10d) 9.68: 20.32 back; Growth served(10d) 29.03: 60.97 charged (40.65);
    // Growth served(20d) = 90.00 x 20/31 = 58.0645 -> 58.06: 31.94 back at the cancellation.
    expect(await s.invoices(id)).toEqual([
      '30.00 = fee 30.00 2029-08-01..2029-09-01',
      '40.65 = fee -20.32 2029-08-11..2029-09-01 + fee 60.97 2029-08-11..2029-09-01',
      '-31.94 = fee -31.94 2029-08-21..2029-09-01',
    ]);
    expect(await state(id)).toMatchObject({ status: 'canceled', canceled_at: '2029-08-21T00:00:00.000Z', plan_code: 'growth' });
    // And 30.00 + 40.65 - 31.94 = 38.71 = Starter[1, 11) 9.68 + Growth[11, 21) 58.06 - 29.03 = 29.03
    expect((await s.invoiceBodies(id)).reduce((t, i) => t.plus(i.total), new Decimal(0)).toFixed(2)).toBe('38.71');
  });

  it('a change retried with the same Idempotency-Key is applied once', async () => {
    // Given Starter from 1 September 2029 (30 days)
    const id = await s.subscribe({ plan_code: 'starter', start_at: '2029-09-01T00:00:00Z' });
    await s.at('2029-09-11T00:00:00Z');
    // When support's tool sends the upgrade twice with one key
    const body = { plan_code: 'growth', at: 'now' };
    const first = await s.api.post(`/v1/subscriptions/${id}/change_plan`, body, { 'Idempotency-Key': 'upgrade-over-time-1' });
    const retry = await s.api.post(`/v1/subscriptions/${id}/change_plan`, body, { 'Idempotency-Key': 'upgrade-over-time-1' });
    // Then the retry replays the first answer
    expect(first.status).toBe(200);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    // And there is one change invoice: 10 of 30 days served: Starter 10.00 served, 20.00 back; Growth 30.00 served, 60.00 charged
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2029-09-01..2029-10-01', '40.00 = fee -20.00 2029-09-11..2029-10-01 + fee 60.00 2029-09-11..2029-10-01']);
  });

  it('with calendar alignment, a change in the short first period is prorated over the whole calendar month', async () => {
    // Given Starter aligned to the calendar from 11 October 2029: the first period is 11 October - 1 November,
    // priced as part of October (31 days): served(11 Oct) = 30.00 x 10/31 = 9.6774 -> 9.68, so 30.00 - 9.68 = 20.32
    const id = await s.subscribe({ plan_code: 'starter', start_at: '2029-10-11T00:00:00Z', billing_alignment: 'calendar' });
    await s.at('2029-10-12T00:00:00Z');
    expect(await s.invoices(id)).toEqual(['20.32 = fee 20.32 2029-10-11..2029-11-01']);
    // When it is upgraded to Growth on 21 October (20 of October's 31 days)
    expect((await changePlan(id, { plan_code: 'growth', at: '2029-10-21T00:00:00Z' })).status).toBe(200);
    await s.at('2029-10-21T00:00:01Z');
    // Then Starter served(21 Oct) = 30.00 x 20/31 = 19.3548 -> 19.35: 10.65 back; Growth served 90.00 x 20/31 = 58.0645 -> 58.06:
    // 31.94 charged; 21.29. (Starter's part 11-21 October: 19.35 - 9.68 = 9.67; 20.32 + 21.29 = 41.61 = 9.67 + 31.94.)
    expect((await s.invoices(id)).at(-1)).toBe('21.29 = fee -10.65 2029-10-21..2029-11-01 + fee 31.94 2029-10-21..2029-11-01');
    // And November is a whole calendar month of Growth
    await s.at('2029-11-01T00:00:01Z');
    expect((await s.invoices(id)).at(-1)).toBe('90.00 = fee 90.00 2029-11-01..2029-12-01');
  });

  it("in a New York customer's time zone the period spans the clock change, and the proration follows its real length", async () => {
    // Given a New York customer on Starter from local midnight 1 November 2029 (04:00Z, EDT); clocks fall back on
    // 4 November, so the period ends at local midnight 1 December = 05:00Z: 30 days and 1 hour = 721 hours
    const customer = await s.customer({ timezone: 'America/New_York' });
    const id = await s.subscribe({ customer_id: customer, plan_code: 'starter', start_at: '2029-11-01T04:00:00Z' });
    await s.at('2029-11-05T00:00:00Z');
    expect(await state(id)).toMatchObject({ current_period_start: '2029-11-01T04:00:00.000Z', current_period_end: '2029-12-01T05:00:00.000Z' });
    // When it is upgraded at local midnight 11 November (05:00Z): 10 days and 1 hour = 241 hours served
    expect((await changePlan(id, { plan_code: 'growth', at: '2029-11-11T05:00:00Z' })).status).toBe(200);
    await s.at('2029-11-11T05:00:01Z');
    // Then Starter served 30.00 x 241/721 = 10.0277 -> 10.03: 19.97 back; Growth served 90.00 x 241/721 = 30.0832 -> 30.08:
    // 59.92 charged; 39.95 (not the 40.00 a 10/30 split would give)
    expect((await s.invoices(id)).at(-1)).toBe('39.95 = fee -19.97 2029-11-11..2029-12-01 + fee 59.92 2029-11-11..2029-12-01');
    // And the renewal is at local midnight 1 December, on Growth
    await s.at('2029-12-01T05:00:01Z');
    expect((await s.invoices(id)).at(-1)).toBe('90.00 = fee 90.00 2029-12-01..2030-01-01');
    expect(await state(id)).toMatchObject({ current_period_start: '2029-12-01T05:00:00.000Z', current_period_end: '2030-01-01T05:00:00.000Z' });
  });

  it('yearly to monthly at the period end: the renewal starts a monthly period on the new plan', async () => {
    // Given Annual (300.00 a year) from 1 January 2030
    const id = await s.subscribe({ plan_code: 'annual', start_at: '2030-01-01T00:00:00Z' });
    await s.at('2030-06-01T00:00:00Z');
    // When support previews Starter at the period's end, then makes the change
    const preview = await s.post(`/v1/subscriptions/${id}/change_plan/preview`, { plan_code: 'starter', at: 'period_end' });
    expect(preview.body).toMatchObject({ at: '2031-01-01T00:00:00.000Z', invoice: { total: '30.00' } });
    const res = await changePlan(id, { plan_code: 'starter', at: 'period_end' });
    // Then nothing is billed now; the change is listed for 1 January 2031
    expect(res.status).toBe(200);
    expect(res.body.scheduled_changes).toEqual([expect.objectContaining({ type: 'change_plan', plan_code: 'starter', at: '2031-01-01T00:00:00.000Z', at_period_end: true })]);
    expect((await state(id)).upcoming).toContainEqual(expect.objectContaining({ event: 'plan_change', at: '2031-01-01T00:00:00.000Z' }));
    expect(await s.invoices(id)).toEqual(['300.00 = fee 300.00 2030-01-01..2031-01-01']);
    // And the renewal on 1 January 2031 is a month of Starter, then the next month
    await s.at('2031-01-01T00:00:01Z');
    expect(await state(id)).toMatchObject({ plan_code: 'starter', current_period_start: '2031-01-01T00:00:00.000Z', current_period_end: '2031-02-01T00:00:00.000Z', scheduled_changes: [] });
    await s.at('2031-02-01T00:00:01Z');
    expect(await s.invoices(id)).toEqual([
      '300.00 = fee 300.00 2030-01-01..2031-01-01',
      '30.00 = fee 30.00 2031-01-01..2031-02-01',
      '30.00 = fee 30.00 2031-02-01..2031-03-01',
    ]);
    // And the renewal is the invoice the preview showed
    expect(invoiceFields((await s.invoiceBodies(id))[1])).toEqual(invoiceFields(preview.body.invoice));
  });

  it('a change now replaces a change scheduled for later', async () => {
    // Given Starter from 1 March 2031 (31 days), with Growth scheduled for 20 March
    const id = await s.subscribe({ plan_code: 'starter', start_at: '2031-03-01T00:00:00Z' });
    await s.at('2031-03-02T00:00:00Z');
    expect((await changePlan(id, { plan_code: 'growth', at: '2031-03-20T00:00:00Z' })).body.scheduled_changes).toHaveLength(1);
    // When support changes to Scale now, on 11 March (10 of 31 days served; the milliseconds change no cent)
    await s.at('2031-03-11T00:00:00Z');
    const res = await changePlan(id, { plan_code: 'scale', at: 'now' });
    // Then the scheduled change is gone, and Starter served 9.68: 20.32 back; Scale served 150.00 x 10/31 = 48.3871 -> 48.39:
    // 150.00 - 48.39 = 101.61 charged; 81.29
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ plan_code: 'scale', scheduled_changes: [], latest_invoice: { total: '81.29' } });
    // And nothing happens on 20 March
    await s.at('2031-03-20T00:00:01Z');
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2031-03-01..2031-04-01', '81.29 = fee -20.32 2031-03-11..2031-04-01 + fee 101.61 2031-03-11..2031-04-01']);
    expect((await state(id)).plan_code).toBe('scale');
  });

  it('a change dated exactly at the renewal bills no proration and the renewal is on the new plan', async () => {
    // Given Starter from 1 April 2031, with Growth dated for 1 May 00:00, the instant the period ends
    const id = await s.subscribe({ plan_code: 'starter', start_at: '2031-04-01T00:00:00Z' });
    await s.at('2031-04-10T00:00:00Z');
    expect((await changePlan(id, { plan_code: 'growth', at: '2031-05-01T00:00:00Z' })).status).toBe(200);
    // When that instant comes
    await s.at('2031-05-01T00:00:01Z');
    // Then there is nothing left of April to credit or charge (no invoice for it), and May is Growth in full
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2031-04-01..2031-05-01', '90.00 = fee 90.00 2031-05-01..2031-06-01']);
    expect(await state(id)).toMatchObject({ plan_code: 'growth', scheduled_changes: [], current_period_end: '2031-06-01T00:00:00.000Z' });
  });

  it('a metered change at the period end bills the ending period\'s usage at the old price on the renewal', async () => {
    // Given metered Lo from 1 June 2031, moving to Hi at the period's end
    const id = await s.subscribe({ plan_code: 'meter-lo', start_at: '2031-06-01T00:00:00Z' });
    await s.at('2031-06-05T00:00:00Z');
    expect((await changePlan(id, { plan_code: 'meter-hi', at: 'period_end' })).body.scheduled_changes).toEqual([
      expect.objectContaining({ plan_code: 'meter-hi', at: '2031-07-01T00:00:00.000Z', at_period_end: true }),
    ]);
    // And 400 + 100 calls in June
    await s.at('2031-06-30T23:30:00Z');
    const sent = await s.post('/v1/usage_events', { events: [calls(id, 'ot-pe-1', '2031-06-10T00:00:00Z', 400), calls(id, 'ot-pe-2', '2031-06-30T23:00:00Z', 100)] });
    expect(sent.body).toMatchObject({ accepted: 2 });
    // When the period ends
    await s.at('2031-07-01T00:00:01Z');
    // Then the renewal is Hi's fee (20.00) with June's 500 calls at Lo's 0.01 = 5.00: 25.00
    expect(await s.invoices(id)).toEqual(['10.00 = fee 10.00 2031-06-01..2031-07-01', '25.00 = fee 20.00 2031-07-01..2031-08-01 + usage 5.00 2031-06-01..2031-07-01']);
    expect((await s.invoiceBodies(id))[1].lines[1]).toMatchObject({ quantity: '500', unit_amount: '0.01' });
    expect((await state(id)).plan_code).toBe('meter-hi');
  });
});
