import Decimal from 'decimal.js';
import { eventually } from '../../support/eventually';
import { scenarios, type Scenarios } from '../../support/scenarios';

/**
 * Seats and contract prices, as support staff sell them. A subscription's quantity multiplies the
 * plan's fee per seat (or is priced on the plan's per-seat tiers); a change of seats now, with
 * proration, credits the rest of the period at the old quantity and charges it at the new one; a
 * contract price replaces the plan's for one customer and follows it across plan versions. Every
 * expected invoice is worked out by hand below.
 */
describe('seats and contract prices', () => {
  let s: Scenarios;

  beforeAll(async () => {
    s = await scenarios('seats-and-contract-prices');
    await s.plan('seat', { amount: '30.00' });
    await s.plan('desk', { amount: '12.00' });
    await s.plan('seat-graduated', {
      amount: '0.00',
      fee_tiers: { mode: 'graduated', tiers: [{ up_to: 5, unit_amount: '10.00' }, { up_to: null, unit_amount: '8.00' }] },
    });
    await s.plan('seat-volume', {
      amount: '0.00',
      fee_tiers: { mode: 'volume', tiers: [{ up_to: 5, unit_amount: '10.00' }, { up_to: null, unit_amount: '8.00', flat_amount: '5.00' }] },
    });
    const metric = await s.post('/v1/metrics', { code: 'seat_calls', name: 'API calls', aggregation: 'sum', field: 'calls' });
    if (metric.status !== 201) throw new Error(`metric: ${metric.status} ${JSON.stringify(metric.body)}`);
    await s.plan('metered', { amount: '50.00', minimum_amount: '20.00', charges: [{ metric_code: 'seat_calls', model: 'standard', properties: { unit_amount: '0.01' } }] });
  });
  afterEach(async () => s.cleanUp());
  afterAll(async () => s?.stop());

  const state = async (id: string) => (await s.get(`/v1/subscriptions/${id}`)).body;
  const lines = async (id: string) => (await s.invoiceBodies(id)).map((i) => i.lines.map((l: any) => ({ description: l.description, quantity: l.quantity, unit_amount: l.unit_amount, amount: l.amount })));
  /** The subscription's invoices once there are `count` of them (an invoice is committed a moment after the clock moves). */
  const billed = (id: string, count: number) => eventually(`${count} invoices of ${id}`, () => s.invoices(id), (list) => list.length >= count);

  /** Debits equal credits in every currency. */
  async function expectLedgerBalanced(): Promise<void> {
    const res = await s.get('/v1/ledger/balances');
    expect(res.status).toBe(200);
    const totals = new Map<string, Decimal>();
    for (const row of res.body.data as Array<{ currency: string; debits: string; credits: string }>) {
      totals.set(row.currency, (totals.get(row.currency) ?? new Decimal(0)).plus(row.debits).minus(row.credits));
    }
    for (const [currency, difference] of totals) expect(`${currency} ${difference.toFixed()}`).toBe(`${currency} 0`);
  }

  it('seats 5 to 8 on day 10 of 30, prorated: 5 seats x 20/30 credited, 8 seats x 20/30 charged, on one invoice', async () => {
    // Given 5 seats at 30.00 from 1 April 2027 (30 days): 5 x 30.00 = 150.00
    const id = await s.subscribe({ plan_code: 'seat', quantity: 5, start_at: '2027-04-01T00:00:00Z' });
    expect(await state(id)).toMatchObject({ quantity: 5, overrides: null });
    // When support previews, then makes, the increase to 8 seats on 11 April (10 days served, 20 left)
    await s.at('2027-04-10T00:00:00Z');
    const preview = await s.post(`/v1/subscriptions/${id}/change_quantity/preview`, { quantity: 8, at: '2027-04-11T00:00:00Z', proration: 'prorate' });
    expect(preview.status).toBe(200);
    // Credit 5 x 30.00 x 20/30 = 100.00; charge 8 x 30.00 x 20/30 = 160.00; 160.00 - 100.00 = 60.00.
    expect(preview.body).toMatchObject({ object: 'quantity_change_preview', quantity: 8, proration: 'prorate', invoice: { total: '60.00' } });
    await s.at('2027-04-11T00:00:00Z');
    const res = await s.post(`/v1/subscriptions/${id}/change_quantity`, { quantity: 8, at: 'now', proration: 'prorate' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ quantity: 8, latest_invoice: { total: '60.00' } });
    // Then the invoices say it seat by seat: the price per seat for the 20 days is 30.00 x 20/30 = 20.00
    expect(await billed(id, 2)).toEqual(['150.00 = fee 150.00 2027-04-01..2027-05-01', '60.00 = fee -100.00 2027-04-11..2027-05-01 + fee 160.00 2027-04-11..2027-05-01']);
    expect((await lines(id))[1]).toEqual([
      { description: 'Unused time on seat × 5 from 2027-04-11 to 2027-05-01', quantity: '5', unit_amount: '-20', amount: '-100.00' },
      { description: 'seat × 8 from 2027-04-11 to 2027-05-01 (prorated)', quantity: '8', unit_amount: '20', amount: '160.00' },
    ]);
    // And the renewal bills 8 seats: 8 x 30.00 = 240.00
    await s.at('2027-05-01T00:00:01Z');
    expect((await billed(id, 3)).at(-1)).toBe('240.00 = fee 240.00 2027-05-01..2027-06-01');
    expect((await lines(id)).at(-1)).toEqual([{ description: 'seat × 8', quantity: '8', unit_amount: '30', amount: '240.00' }]);
    await expectLedgerBalanced();
  });

  it('a decrease at period end bills nothing now, is listed and removable, and the renewal bills the new quantity', async () => {
    const id = await s.subscribe({ plan_code: 'seat', quantity: 8, start_at: '2027-06-01T00:00:00Z' });
    await s.at('2027-06-10T00:00:00Z');
    const first = await s.post(`/v1/subscriptions/${id}/change_quantity`, { quantity: 2, at: 'period_end' });
    expect(first.status).toBe(200);
    const removed = first.body.scheduled_changes[0].id;
    const unscheduled = await s.api.delete(`/v1/subscriptions/${id}/scheduled_changes/${removed}`);
    expect(unscheduled.status).toBe(200);
    expect(unscheduled.body).toMatchObject({ quantity: 8, scheduled_changes: [] });
    // Asked again: 8 to 3 seats at the end of June
    const res = await s.post(`/v1/subscriptions/${id}/change_quantity`, { quantity: 3, at: 'period_end' });
    expect(res.status).toBe(200);
    expect(res.body.quantity).toBe(8);
    expect(res.body.scheduled_changes).toEqual([expect.objectContaining({ type: 'change_quantity', quantity: 3, at: '2027-07-01T00:00:00.000Z', at_period_end: true })]);
    expect(res.body.upcoming).toContainEqual(expect.objectContaining({ event: 'quantity_change', at: '2027-07-01T00:00:00.000Z' }));
    // Nothing was billed for it: 8 x 30.00 = 240.00 in June only
    expect(await s.invoices(id)).toEqual(['240.00 = fee 240.00 2027-06-01..2027-07-01']);
    // At the boundary: 3 x 30.00 = 90.00
    await s.at('2027-07-01T00:00:01Z');
    expect(await billed(id, 2)).toEqual(['240.00 = fee 240.00 2027-06-01..2027-07-01', '90.00 = fee 90.00 2027-07-01..2027-08-01']);
    expect(await state(id)).toMatchObject({ quantity: 3, scheduled_changes: [] });
    await expectLedgerBalanced();
  });

  it('per-seat tiers price the quantity: graduated and volume, and a prorated increase on the whole-period tiered amount', async () => {
    // Graduated, 7 seats: 5 x 10.00 + 2 x 8.00 = 66.00. Volume, 7 seats: 7 x 8.00 + 5.00 flat = 61.00.
    const graduated = await s.subscribe({ plan_code: 'seat-graduated', quantity: 7, start_at: '2027-09-01T00:00:00Z' });
    const volume = await s.subscribe({ plan_code: 'seat-volume', quantity: 7, start_at: '2027-09-01T00:00:00Z' });
    await s.at('2027-09-01T00:00:01Z');
    expect(await billed(graduated, 1)).toEqual(['66.00 = fee 66.00 2027-09-01..2027-10-01']);
    expect(await billed(volume, 1)).toEqual(['61.00 = fee 61.00 2027-09-01..2027-10-01']);
    const [tiered] = (await s.invoiceBodies(graduated))[0].lines;
    expect(tiered.tiers.map((t: any) => `${t.units} x ${t.unit_amount}`)).toEqual(['5 x 10', '2 x 8']);
    // 7 to 10 seats on 16 September, half of the 30 days left. Graduated, 10 seats: 5 x 10.00 + 5 x 8.00 = 90.00.
    // Credit 66.00 x 15/30 = 33.00; charge 90.00 x 15/30 = 45.00; 45.00 - 33.00 = 12.00.
    await s.post(`/v1/subscriptions/${graduated}/change_quantity`, { quantity: 10, at: '2027-09-16T00:00:00Z' });
    await s.at('2027-09-16T00:00:01Z');
    expect((await billed(graduated, 2)).at(-1)).toBe('12.00 = fee -33.00 2027-09-16..2027-10-01 + fee 45.00 2027-09-16..2027-10-01');
    await s.at('2027-10-01T00:00:01Z');
    expect((await billed(graduated, 3)).at(-1)).toBe('90.00 = fee 90.00 2027-10-01..2027-11-01');
    await expectLedgerBalanced();
  });

  it('contract prices at creation replace the plan fee, minimum and charge, and show on the subscription and its invoices', async () => {
    const id = await s.subscribe({
      plan_code: 'metered',
      quantity: 2,
      start_at: '2027-11-01T00:00:00Z',
      overrides: { amount: '40.00', minimum_amount: '30.00', charges: [{ metric_code: 'seat_calls', properties: { unit_amount: '0.005' } }] },
    });
    await s.at('2027-11-01T00:00:01Z');
    expect(await state(id)).toMatchObject({
      quantity: 2,
      overrides: { amount: '40.00', minimum_amount: '30.00', charges: [{ metric_code: 'seat_calls', properties: { unit_amount: '0.005' } }] },
    });
    // 2 seats at the contract's 40.00 = 80.00 (the plan says 50.00)
    await billed(id, 1);
    expect((await lines(id))[0]).toEqual([{ description: 'metered × 2', quantity: '2', unit_amount: '40', amount: '80.00' }]);
    // 3000 calls in November at the contract's 0.005 = 15.00, below the contract's minimum 30.00: true-up 15.00
    const sent = await s.post('/v1/usage_events', { events: [{ transaction_id: 'seat-c-1', subscription_id: id, code: 'seat_calls', timestamp: '2027-11-10T00:00:00Z', properties: { calls: 3000 } }] });
    expect(sent.status).toBeLessThan(300);
    await s.at('2027-12-01T00:00:01Z');
    expect((await billed(id, 2)).at(-1)).toBe('110.00 = fee 80.00 2027-12-01..2028-01-01 + usage 15.00 2027-11-01..2027-12-01 + minimum 15.00 2027-11-01..2027-12-01');
    await expectLedgerBalanced();
  });

  it('contract prices are checked against the plan like its own prices', async () => {
    const customer = await s.customer();
    const tooPrecise = await s.post('/v1/subscriptions', { customer_id: customer, plan_code: 'seat', overrides: { amount: '10.001' } });
    expect(tooPrecise.status).toBe(400);
    expect(tooPrecise.body.error).toMatchObject({ code: 'amount_invalid', param: 'overrides.amount' });
    const notCharged = await s.post('/v1/subscriptions', { customer_id: customer, plan_code: 'seat', overrides: { charges: [{ metric_code: 'seat_calls', properties: { unit_amount: '1' } }] } });
    expect(notCharged.status).toBe(400);
    expect(notCharged.body.error).toMatchObject({ code: 'parameter_invalid', param: 'overrides.charges.0.metric_code' });
    const wrongShape = await s.post('/v1/subscriptions', { customer_id: customer, plan_code: 'metered', overrides: { charges: [{ metric_code: 'seat_calls', properties: { tiers: [] } }] } });
    expect(wrongShape.status).toBe(400);
    expect(wrongShape.body.error.param).toMatch(/^overrides\.charges\.0\.properties/);
    const noSeats = await s.post('/v1/subscriptions', { customer_id: customer, plan_code: 'seat', quantity: 0 });
    expect(noSeats.status).toBe(400);
  });

  it('a contract price by change_plan is prorated now and kept when the plan gets a new version', async () => {
    // 3 seats at 30.00 from 1 January 2028 (31 days): 90.00
    const id = await s.subscribe({ plan_code: 'seat', quantity: 3, start_at: '2028-01-01T00:00:00Z' });
    // On 11 January (21 of 31 days left) the customer signs for 20.00 per seat:
    // credit 3 x 30.00 x 21/31 = 60.967... = 60.97; charge 3 x 20.00 x 21/31 = 40.645... = 40.65; 40.65 - 60.97 = -20.32.
    const res = await s.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: 'seat', at: '2028-01-11T00:00:00Z', overrides: { amount: '20.00' } });
    expect(res.status).toBe(200);
    await s.at('2028-01-11T00:00:01Z');
    expect((await billed(id, 2)).at(-1)).toBe('-20.32 = fee -60.97 2028-01-11..2028-02-01 + fee 40.65 2028-01-11..2028-02-01');
    expect((await state(id)).overrides).toMatchObject({ amount: '20.00' });
    // The plan's price goes up to 45.00 in version 2; the subscription moves to it at period end, keeping its contract price
    expect((await s.post('/v1/plans/seat/versions', { amount: '45.00' })).status).toBe(201);
    const moved = await s.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: 'seat', plan_version: 2, at: 'period_end' });
    expect(moved.status).toBe(200);
    await s.at('2028-02-01T00:00:01Z');
    // 3 x 20.00 = 60.00, not 3 x 45.00; the 20.32 credit pays part of it (amount due 39.68)
    expect((await billed(id, 3)).at(-1)).toBe('60.00 = fee 60.00 2028-02-01..2028-03-01');
    expect(await state(id)).toMatchObject({ plan_version: 2, overrides: { amount: '20.00' } });
    expect((await lines(id)).at(-1)).toEqual([{ description: 'seat × 3', quantity: '3', unit_amount: '20', amount: '60.00' }]);
    await expectLedgerBalanced();
  });

  it('over four periods, seats go up, down at period end, up without proration and down with it; each invoice is worked out and the ledger balances after every step', async () => {
    // Given 2 desks at 12.00 from 1 March 2028 (31 days): 2 x 12.00 = 24.00
    const id = await s.subscribe({ plan_code: 'desk', quantity: 2, start_at: '2028-03-01T00:00:00Z' });
    await s.at('2028-03-01T00:00:01Z');
    expect(await billed(id, 1)).toEqual(['24.00 = fee 24.00 2028-03-01..2028-04-01']);
    await expectLedgerBalanced();

    // 11 March (10 of 31 days served): 2 to 6 desks, prorated. Each line is the whole period's fee less what was served by then:
    // credit 24.00 - 24.00 x 10/31 (7.741... = 7.74) = 16.26; charge 72.00 - 72.00 x 10/31 (23.225... = 23.23) = 48.77; 48.77 - 16.26 = 32.51.
    await s.post(`/v1/subscriptions/${id}/change_quantity`, { quantity: 6, at: '2028-03-11T00:00:00Z', proration: 'prorate' });
    await s.at('2028-03-11T00:00:01Z');
    expect((await billed(id, 2)).at(-1)).toBe('32.51 = fee -16.26 2028-03-11..2028-04-01 + fee 48.77 2028-03-11..2028-04-01');
    await expectLedgerBalanced();

    // Down to 4 at the end of March: nothing billed now; April's renewal is 4 x 12.00 = 48.00
    await s.post(`/v1/subscriptions/${id}/change_quantity`, { quantity: 4, at: 'period_end' });
    expect(await s.invoices(id)).toHaveLength(2);
    await s.at('2028-04-01T00:00:01Z');
    expect((await billed(id, 3)).at(-1)).toBe('48.00 = fee 48.00 2028-04-01..2028-05-01');
    expect((await state(id)).quantity).toBe(4);
    await expectLedgerBalanced();

    // 16 April: up to 5 without proration: no invoice now; May's renewal is 5 x 12.00 = 60.00
    await s.at('2028-04-16T00:00:00Z');
    const unprorated = await s.post(`/v1/subscriptions/${id}/change_quantity`, { quantity: 5, at: 'now', proration: 'none' });
    expect(unprorated.body.quantity).toBe(5);
    expect(await s.invoices(id)).toHaveLength(3);
    await s.at('2028-05-01T00:00:01Z');
    expect((await billed(id, 4)).at(-1)).toBe('60.00 = fee 60.00 2028-05-01..2028-06-01');
    await expectLedgerBalanced();

    // 21 May (20 of 31 days served): down to 1, prorated:
    // credit 60.00 - 60.00 x 20/31 (38.709... = 38.71) = 21.29; charge 12.00 - 12.00 x 20/31 (7.741... = 7.74) = 4.26; 4.26 - 21.29 = -17.03,
    // owed to the customer, which pays June's 1 x 12.00 = 12.00 in full (5.03 left).
    await s.post(`/v1/subscriptions/${id}/change_quantity`, { quantity: 1, at: '2028-05-21T00:00:00Z', proration: 'prorate' });
    await s.at('2028-05-21T00:00:01Z');
    expect((await billed(id, 5)).at(-1)).toBe('-17.03 = fee -21.29 2028-05-21..2028-06-01 + fee 4.26 2028-05-21..2028-06-01');
    await expectLedgerBalanced();
    await s.at('2028-06-01T00:00:01Z');
    await billed(id, 6);
    const june = (await s.invoiceBodies(id)).at(-1);
    expect({ total: june.total, credit_applied: june.credit_applied, amount_due: june.amount_due }).toEqual({ total: '12.00', credit_applied: '12.00', amount_due: '0.00' });
    expect(await state(id)).toMatchObject({ quantity: 1, scheduled_changes: [] });
    await expectLedgerBalanced();
  });
});
