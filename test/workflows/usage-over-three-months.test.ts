import Decimal from 'decimal.js';
import type { ApiClient } from '../support/http';
import { timeSkippingStack, type TimeSkippingStack } from '../support/time-skipping-stack';

/**
 * Given a $10.00 monthly plan with API calls at 0.0015 USD each, started on 1 March 2027,
 * when calls arrive over three months and the subscription is canceled on 10 June,
 * then each invoice carries exactly the previous month's calls next to the next month's fee, usage
 * after a close is refused, the last invoice bills 1-10 June, and the ledger balances.
 */
describe('usage billed in arrears over three months', () => {
  let stack: TimeSkippingStack;
  let api: ApiClient;

  beforeAll(async () => {
    stack = await timeSkippingStack('usage-months');
    api = stack.api;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const calls = (subscriptionId: string, id: string, timestamp: string, count: number | string) => ({
    transaction_id: id,
    subscription_id: subscriptionId,
    code: 'api_calls',
    timestamp,
    properties: { calls: count },
  });

  async function invoices(subscriptionId: string) {
    const res = await api.get(`/v1/invoices?subscription_id=${subscriptionId}&limit=100`);
    return [...res.body.data].reverse().map((i: any) => ({
      total: i.total,
      lines: i.lines.map((l: any) => `${l.kind} ${l.period_start.slice(0, 10)}..${l.period_end.slice(0, 10)} ${l.quantity} = ${l.amount}`),
    }));
  }

  it('puts each month of usage on the next invoice, once', async () => {
    expect((await api.post('/v1/metrics', { code: 'api_calls', name: 'API calls', aggregation: 'sum', field: 'calls' })).status).toBe(201);
    const plan = await api.post('/v1/plans', {
      code: 'api-monthly',
      name: 'API',
      currency: 'USD',
      interval: 'month',
      amount: '10.00',
      charges: [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '0.0015' } }],
    });
    expect(plan.status).toBe(201);
    const customer = await api.post('/v1/customers', { name: 'Usage Co', email: 'ap@usage.test', currency: 'USD' });
    const sub = await api.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: 'api-monthly', start_at: '2027-03-01T00:00:00Z', external_id: 'usage-co' });
    expect(sub.status).toBe(201);
    const id = sub.body.id as string;

    const send = async (events: unknown[]) => (await api.post('/v1/usage_events', { events })).body;

    await stack.skipTo('2027-03-01T00:00:01Z');
    expect(await send([calls(id, 'mar-1', '2027-03-05T10:00:00Z', 1000), calls(id, 'mar-2', '2027-03-31T23:59:59.999Z', 2000)])).toMatchObject({ accepted: 2 });

    await stack.skipTo('2027-04-01T00:00:01Z');
    // March is closed: a late March event is refused, an April one is taken.
    const late = await send([calls(id, 'mar-late', '2027-03-31T12:00:00Z', 5), calls(id, 'apr-1', '2027-04-15T00:00:00Z', 10_000)]);
    expect(late.accepted).toBe(1);
    expect(late.rejected).toEqual([expect.objectContaining({ transaction_id: 'mar-late', code: 'period_already_invoiced' })]);

    await stack.skipTo('2027-05-01T00:00:01Z');
    expect(await send([calls(id, 'may-1', '2027-05-01T00:00:00Z', 1), calls(id, 'may-2', '2027-05-20T00:00:00Z', '333')])).toMatchObject({ accepted: 2 });
    // The producer retries May's batch: counted once.
    expect(await send([calls(id, 'may-1', '2027-05-01T00:00:00Z', 1)])).toMatchObject({ accepted: 0, duplicates: 1 });

    await stack.skipTo('2027-06-01T00:00:01Z');
    expect(await send([calls(id, 'jun-1', '2027-06-05T00:00:00Z', 100)])).toMatchObject({ accepted: 1 });
    await stack.skipTo('2027-06-10T00:00:00Z');
    const canceled = await api.post(`/v1/subscriptions/${id}/cancel`, { at: 'now' });
    expect(canceled.status).toBe(200);

    expect(await invoices(id)).toEqual([
      { total: '10.00', lines: ['fee 2027-03-01..2027-04-01 1 = 10.00'] },
      // March: 1000 + 2000 = 3000 calls x 0.0015 = 4.50
      { total: '14.50', lines: ['fee 2027-04-01..2027-05-01 1 = 10.00', 'usage 2027-03-01..2027-04-01 3000 = 4.50'] },
      // April: 10000 x 0.0015 = 15.00
      { total: '25.00', lines: ['fee 2027-05-01..2027-06-01 1 = 10.00', 'usage 2027-04-01..2027-05-01 10000 = 15.00'] },
      // May: 1 + 333 = 334 x 0.0015 = 0.501 -> 0.50
      { total: '10.50', lines: ['fee 2027-06-01..2027-07-01 1 = 10.00', 'usage 2027-05-01..2027-06-01 334 = 0.50'] },
      // 1-10 June at cancellation: 100 x 0.0015 = 0.15, no fee
      { total: '0.15', lines: ['usage 2027-06-01..2027-06-10 100 = 0.15'] },
    ]);

    const after = await send([calls(id, 'jun-late', '2027-06-20T00:00:00Z', 1)]);
    expect(after.rejected).toEqual([expect.objectContaining({ code: 'subscription_ended' })]);

    await stack.recogniseRevenue('2027-06-10T00:00:00Z');
    const ledger = await api.get('/v1/ledger/balances');
    const total = (side: 'debits' | 'credits') => ledger.body.data.reduce((t: Decimal, b: any) => t.plus(b[side]), new Decimal(0));
    expect(total('debits').equals(total('credits'))).toBe(true);
    // Usage is revenue as soon as it is billed: 4.50 + 15.00 + 0.50 + 0.15 = 20.15. The fees are
    // recognised day by day: March to May in full, 3 x 10.00 = 30.00, and 1 to 9 June of June's 30
    // days, 10.00 x 9/30 = 3.00 (a cancel now does not prorate yet: the rest of June follows). Total 53.15.
    const revenue = ledger.body.data.find((b: any) => b.account === 'revenue');
    expect(revenue.credits).toBe('53.15');
  });
});
