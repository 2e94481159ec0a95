import type { ApiClient } from '../support/http';
import { timeSkippingStack, type TimeSkippingStack } from '../support/time-skipping-stack';
import { subscriptionWorkflowId } from '../../workflows/messages';

/**
 * Trials and cancellations on the time-skipping server, each invoice worked out by hand.
 */
describe('trials and cancellations over time', () => {
  let stack: TimeSkippingStack;
  let api: ApiClient;
  let customerId: string;
  const workflowIds: string[] = [];

  beforeAll(async () => {
    stack = await timeSkippingStack('trial');
    api = stack.api;
    const customer = await api.post('/v1/customers', { name: 'Gulf Trading', email: 'ap@gulf.test', currency: 'KWD' });
    customerId = customer.body.id;
    expect(
      (await api.post('/v1/plans', { code: 'kwd-weekly-trial', name: 'Weekly', currency: 'KWD', interval: 'week', trial_days: 10, amount: '12.500' })).status,
    ).toBe(201);
  });

  afterAll(async () => {
    // A scenario may end with a subscription still running; stop it before its worker goes away.
    for (const id of workflowIds) {
      await stack?.env.client.workflow
        .getHandle(id)
        .terminate('suite finished')
        .catch(() => undefined);
    }
    await stack?.stop();
  });

  const skipTo = (instant: string): Promise<void> => stack.skipTo(instant);

  async function subscribe(startAt: string): Promise<string> {
    const created = await api.post('/v1/subscriptions', { customer_id: customerId, plan_code: 'kwd-weekly-trial', start_at: startAt });
    expect(created.status).toBe(201);
    workflowIds.push(created.body.workflow_id);
    return created.body.id;
  }

  const invoicesOf = async (id: string) => (await api.get(`/v1/invoices?subscription_id=${id}&limit=100`)).body.data;

  it('a 10-day trial bills nothing, then the first week is billed when the trial ends; cancel now bills no more, and the paid week is recognised over its days', async () => {
    const id = await subscribe('2027-03-01T09:00:00Z');

    await skipTo('2027-03-05T00:00:00Z');
    const trialing = await api.get(`/v1/subscriptions/${id}`);
    expect(trialing.body).toMatchObject({ status: 'trialing', trial_end: '2027-03-11T09:00:00.000Z' });
    expect(trialing.body.upcoming).toContainEqual({ at: '2027-03-11T09:00:00.000Z', event: 'trial_end' });
    expect(await invoicesOf(id)).toEqual([]);

    // The trial ends on 11 March at 09:00; the first week runs to 18 March at 09:00.
    await skipTo('2027-03-12T00:00:00Z');
    const [first, ...others] = await invoicesOf(id);
    expect(others).toEqual([]);
    expect(first).toMatchObject({
      period_start: '2027-03-11T09:00:00.000Z',
      period_end: '2027-03-18T09:00:00.000Z',
      currency: 'KWD',
      total: '12.500',
      amount_due: '12.500',
    });

    await skipTo('2027-03-14T00:00:00Z');
    const canceled = await api.post(`/v1/subscriptions/${id}/cancel`, { at: 'now' });
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ status: 'canceled', next_billing_at: null, upcoming: [] });
    expect((await api.post(`/v1/subscriptions/${id}/cancel`, { at: 'period_end' })).body.error.code).toBe('subscription_canceled');

    await skipTo('2027-04-30T00:00:00Z');
    expect(await invoicesOf(id)).toHaveLength(1);
    // The week's 7 days (11 to 17 March) are recognised as the daily schedule runs.
    await stack.recogniseRevenue();
    const balances = (await api.get('/v1/ledger/balances')).body.data;
    const balance = (account: string) => balances.find((b: any) => b.account === account)?.balance;
    // No credit for the unused days (proration does not exist yet): the whole week is revenue.
    expect([balance('accounts_receivable'), balance('deferred_revenue'), balance('revenue')]).toEqual(['12.500', '0.000', '12.500']);
  });

  it('a subscription canceled at period end before it starts ends at its start without an invoice', async () => {
    const id = await subscribe('2027-06-01T00:00:00Z');
    const scheduled = await api.post(`/v1/subscriptions/${id}/cancel`, { at: 'period_end' });
    expect(scheduled.body).toMatchObject({ status: 'scheduled', cancel_at_period_end: true });

    await skipTo('2027-06-20T00:00:00Z');
    const result = await stack.env.client.workflow.getHandle(subscriptionWorkflowId(id)).result();
    expect(result).toMatchObject({ status: 'canceled', cancelAtPeriodEnd: true });
    expect(await invoicesOf(id)).toEqual([]);
  });
});
