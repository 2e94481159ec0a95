import { Context } from '@temporalio/activity';
import Decimal from 'decimal.js';
import type { ApiClient } from '../support/http';
import { timeSkippingStack, type TimeSkippingStack } from '../support/time-skipping-stack';

/**
 * Given a $49.00 monthly plan and a subscription starting on 31 January 2027,
 * when 13 months pass (in seconds, on the time-skipping server),
 * then 13 invoices exist with anniversary periods clamped to month ends, the ledger balances,
 * a retried invoice activity issued nothing twice, and a cancel at period end stops billing.
 */
const DAY = 86_400_000;

describe('a monthly subscription started on 31 January', () => {
  let stack: TimeSkippingStack;
  let api: ApiClient;
  const issueAttempts = new Map<number, number>();

  beforeAll(async () => {
    stack = await timeSkippingStack('monthly', {
      // Fault injection: the third period's invoice is committed, then the activity "crashes" before
      // reporting success, so Temporal retries an activity whose work is already done.
      wrapActivities: (activities) => ({
        ...activities,
        async billSubscription(request: Parameters<typeof activities.billSubscription>[0]) {
          const result = await activities.billSubscription(request);
          if (request.periodIndex !== null) issueAttempts.set(request.periodIndex, Context.current().info.attempt);
          if (request.periodIndex === 2 && Context.current().info.attempt === 1) {
            throw new Error('simulated crash after the invoice was committed');
          }
          return result;
        },
      }),
    });
    api = stack.api;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const skipTo = (instant: string): Promise<void> => stack.skipTo(instant);

  it('bills 13 months in advance, balances the ledger, and stops after a cancel at period end', async () => {
    const customer = await api.post('/v1/customers', { name: 'Acme', email: 'billing@acme.test', currency: 'USD' });
    expect(customer.status).toBe(201);
    const plan = await api.post('/v1/plans', { code: 'pro-monthly', name: 'Pro', currency: 'USD', interval: 'month', amount: '49.00' });
    expect(plan.status).toBe(201);
    const created = await api.post('/v1/subscriptions', {
      customer_id: customer.body.id,
      plan_code: 'pro-monthly',
      start_at: '2027-01-31T00:00:00Z',
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe('scheduled');
    const id = created.body.id as string;

    // 15 February 2028 lies inside the 13th period (31 January - 29 February 2028).
    await skipTo('2028-02-15T00:00:00Z');

    const invoices = await api.get(`/v1/invoices?subscription_id=${id}&limit=100`);
    const chronological = [...invoices.body.data].reverse();
    // Worked out by hand: each period starts on the anchor's day (31) or the last day of a shorter month.
    expect(chronological.map((i: any) => [i.period_start.slice(0, 10), i.period_end.slice(0, 10)])).toEqual([
      ['2027-01-31', '2027-02-28'],
      ['2027-02-28', '2027-03-31'],
      ['2027-03-31', '2027-04-30'],
      ['2027-04-30', '2027-05-31'],
      ['2027-05-31', '2027-06-30'],
      ['2027-06-30', '2027-07-31'],
      ['2027-07-31', '2027-08-31'],
      ['2027-08-31', '2027-09-30'],
      ['2027-09-30', '2027-10-31'],
      ['2027-10-31', '2027-11-30'],
      ['2027-11-30', '2027-12-31'],
      ['2027-12-31', '2028-01-31'],
      ['2028-01-31', '2028-02-29'],
    ]);
    expect(chronological.map((i: any) => i.number)).toEqual(Array.from({ length: 13 }, (_, n) => `INV-${String(n + 1).padStart(6, '0')}`));
    expect(chronological.every((i: any) => i.total === '49.00' && i.amount_due === '49.00' && i.status === 'open')).toBe(true);
    expect(chronological[0].lines).toEqual([
      expect.objectContaining({ description: 'Pro', quantity: '1', amount: '49.00', period_start: '2027-01-31T00:00:00.000Z' }),
    ]);

    // The crash after commit was retried, and the retry issued nothing new.
    expect(issueAttempts.get(2)).toBe(2);

    // Revenue is recognised day by day, as the daily schedule would have, up to 15 February 2028.
    const recognition = await stack.recogniseRevenue('2028-02-15T00:00:00Z');
    // 31 January 2027 to 14 February 2028: 380 days.
    expect({ periods: recognition.periods, last: recognition.lastPeriod }).toEqual({ periods: 380, last: '2028-02-14' });
    // 13 invoices issued (13 x 49.00 = 637.00 receivable); 12 periods served (12 x 49.00 = 588.00), and
    // of the 13th (31 January - 29 February 2028, 29 days) 15 days: 49.00 x 15/29 = 25.34. Revenue
    // 613.34, deferred 637.00 - 613.34 = 23.66.
    const balances = await api.get('/v1/ledger/balances');
    const byAccount = Object.fromEntries(balances.body.data.map((b: any) => [b.account, b]));
    expect(byAccount.accounts_receivable.balance).toBe('637.00');
    expect(byAccount.deferred_revenue.balance).toBe('23.66');
    expect(byAccount.revenue.balance).toBe('613.34');
    const debits = balances.body.data.reduce((s: Decimal, b: any) => s.plus(b.debits), new Decimal(0));
    const credits = balances.body.data.reduce((s: Decimal, b: any) => s.plus(b.credits), new Decimal(0));
    expect(debits.toFixed(2)).toBe(credits.toFixed(2));

    const live = await api.get(`/v1/subscriptions/${id}`);
    expect(live.body).toMatchObject({ status: 'active', state_source: 'workflow', current_period_end: '2028-02-29T00:00:00.000Z' });

    const canceled = await api.post(`/v1/subscriptions/${id}/cancel`, { at: 'period_end' });
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ status: 'active', cancel_at_period_end: true });
    expect(canceled.body.upcoming).toEqual([{ at: '2028-02-29T00:00:00.000Z', event: 'cancellation', changeId: expect.any(String) }]);

    await skipTo(new Date(Date.parse('2028-02-29T00:00:00Z') + 40 * DAY).toISOString());
    const after = await api.get(`/v1/invoices?subscription_id=${id}&limit=100`);
    expect(after.body.data).toHaveLength(13);
    const result = await stack.env.client.workflow.getHandle(created.body.workflow_id).result();
    expect(result.status).toBe('canceled');
    const final = await api.get(`/v1/subscriptions/${id}`);
    expect(final.body).toMatchObject({ status: 'canceled', cancel_at_period_end: true });
    // The last period was served in full, so all 637.00 is revenue once its days are recognised.
    await stack.recogniseRevenue();
    const closing = await api.get('/v1/ledger/balances');
    expect(closing.body.data.find((b: any) => b.account === 'revenue').balance).toBe('637.00');
    // Recognising 430 days one workflow step per day takes about three minutes on two cores: a hang
    // guard above the suite's default, not a speed requirement (speed is measured in bench/).
  }, 360_000);
});
