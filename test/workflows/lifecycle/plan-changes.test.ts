import { scenarios, type Scenarios } from '../../support/scenarios';
import { subscriptionWorkflowId } from '../../../workflows/messages';

/**
 * Plan changes, as support staff make them. Prices: Basic $30/month, Pro $90/month, Team $300/year.
 * Proration is to the millisecond; a period's parts are rounded cumulatively, so they add up to the
 * full price. Every expected invoice is worked out in the scenario.
 */
describe('plan changes', () => {
  let s: Scenarios;

  beforeAll(async () => {
    s = await scenarios('plan-changes');
    await s.plan('basic', { amount: '30.00' });
    await s.plan('pro', { amount: '90.00' });
    await s.plan('team', { amount: '300.00', interval: 'year' });
  });
  afterEach(async () => s.cleanUp());
  afterAll(async () => s?.stop());

  it('upgrade mid-period: the unused part of Basic is credited and the rest of the period on Pro is charged at once', async () => {
    // Given Basic from 1 April 2027 (30 days)
    const id = await s.subscribe({ plan_code: 'basic', start_at: '2027-04-01T00:00:00Z' });
    // When support upgrades to Pro on 11 April, a third of the way through
    await s.at('2027-04-11T00:00:00Z');
    const res = await s.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: 'pro', at: 'now', proration: 'prorate' });
    // Then the answer is the subscription on Pro, with the invoice the change issued
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ plan_code: 'pro', status: 'active', latest_invoice: { total: '40.00' } });
    // Basic: 20 of 30 days unused = 20.00 back; Pro: 20 of 30 days = 60.00. 60.00 - 20.00 = 40.00.
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2027-04-01..2027-05-01', '40.00 = fee -20.00 2027-04-11..2027-05-01 + fee 60.00 2027-04-11..2027-05-01']);
    // And the next renewal is Pro in full
    await s.at('2027-05-01T00:00:01Z');
    expect((await s.invoices(id)).at(-1)).toBe('90.00 = fee 90.00 2027-05-01..2027-06-01');
  });

  it('downgrade at period end: nothing is billed now, the change is listed, and the renewal is on Basic', async () => {
    const id = await s.subscribe({ plan_code: 'pro', start_at: '2027-06-01T00:00:00Z' });
    await s.at('2027-06-10T00:00:00Z');
    const res = await s.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: 'basic', at: 'period_end' });
    expect(res.status).toBe(200);
    expect(res.body.plan_code).toBe('pro');
    expect(res.body.scheduled_changes).toEqual([expect.objectContaining({ type: 'change_plan', at: '2027-07-01T00:00:00.000Z', at_period_end: true, plan_code: 'basic' })]);
    expect((await s.get(`/v1/subscriptions/${id}`)).body.upcoming).toContainEqual(expect.objectContaining({ event: 'plan_change', at: '2027-07-01T00:00:00.000Z' }));
    await s.at('2027-07-01T00:00:01Z');
    expect(await s.invoices(id)).toEqual(['90.00 = fee 90.00 2027-06-01..2027-07-01', '30.00 = fee 30.00 2027-07-01..2027-08-01']);
    expect((await s.get(`/v1/subscriptions/${id}`)).body).toMatchObject({ plan_code: 'basic', scheduled_changes: [] });
  });

  it('monthly to yearly restarts the period at the change, crediting the unused month', async () => {
    const id = await s.subscribe({ plan_code: 'basic', start_at: '2027-09-01T00:00:00Z' });
    // 1 September to 1 October is 30 days; the change on 16 September leaves 15 unused.
    await s.at('2027-09-10T00:00:00Z');
    const res = await s.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: 'team', at: '2027-09-16T00:00:00Z' });
    expect(res.body.scheduled_changes).toEqual([expect.objectContaining({ type: 'change_plan', plan_code: 'team', at: '2027-09-16T00:00:00.000Z' })]);
    await s.at('2027-09-16T00:00:01Z');
    expect((await s.get(`/v1/subscriptions/${id}`)).body).toMatchObject({
      plan_code: 'team',
      current_period_start: '2027-09-16T00:00:00.000Z',
      current_period_end: '2028-09-16T00:00:00.000Z',
      scheduled_changes: [],
    });
    // 15/30 of 30.00 = 15.00 back; the year on Team 300.00: 285.00.
    expect((await s.invoices(id)).at(-1)).toBe('285.00 = fee -15.00 2027-09-16..2027-10-01 + fee 300.00 2027-09-16..2028-09-16');
  });

  it('a change to the current plan, a date in the past, and a plan in another currency are refused and leave no trace', async () => {
    await s.plan('euro', { amount: '10.00', currency: 'EUR' });
    const id = await s.subscribe({ plan_code: 'basic', start_at: '2027-11-01T00:00:00Z' });
    await s.at('2027-11-05T00:00:00Z');
    const handle = s.stack.env.client.workflow.getHandle(subscriptionWorkflowId(id));
    const stateBefore = (await s.get(`/v1/subscriptions/${id}`)).body;
    const same = await s.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: 'basic' });
    expect(same.status).toBe(400);
    expect(same.body.error.code).toBe('plan_unchanged');
    const past = await s.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: 'pro', at: '2027-11-01T00:00:00Z' });
    expect(past.body.error.code).toBe('date_in_past');
    const euro = await s.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: 'euro' });
    expect(euro.status).toBe(422);
    expect(euro.body.error.code).toBe('currency_mismatch');
    // No update was accepted into the history, and nothing changed.
    const history = await handle.fetchHistory();
    expect(history.events?.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toEqual([]);
    expect((await s.get(`/v1/subscriptions/${id}`)).body).toEqual(stateBefore);
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2027-11-01..2027-12-01']);
  });
});
