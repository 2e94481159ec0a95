import Decimal from 'decimal.js';
import type { ApiClient } from '../support/http';
import { timeSkippingStack, type TimeSkippingStack } from '../support/time-skipping-stack';

/**
 * Given a payments plan taking 2 % + 0.25 per transaction, the first 2 transactions of each month or
 * the first 1,000.00 free (whichever ends first), each paying transaction bounded to 0.50..10.00,
 * when transactions arrive over four months, then each month's free allowance starts again, each
 * renewal bills the month before exactly once, and the ledger balances after every renewal.
 */
describe('percentage charge with free events over four months', () => {
  let stack: TimeSkippingStack;
  let api: ApiClient;

  beforeAll(async () => {
    stack = await timeSkippingStack('percentage-months');
    api = stack.api;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const payment = (subscriptionId: string, id: string, timestamp: string, amount: string) => ({
    transaction_id: id,
    subscription_id: subscriptionId,
    code: 'payments',
    timestamp,
    properties: { amount },
  });

  async function expectBalanced() {
    const ledger = await api.get('/v1/ledger/balances');
    const total = (side: 'debits' | 'credits') => ledger.body.data.reduce((t: Decimal, b: any) => t.plus(b[side]), new Decimal(0));
    expect(total('debits').toFixed(2)).toBe(total('credits').toFixed(2));
  }

  it('gives each month its free transactions and bounds every paying one', async () => {
    expect((await api.post('/v1/metrics', { code: 'payments', name: 'Payments', aggregation: 'sum', field: 'amount' })).status).toBe(201);
    const plan = await api.post('/v1/plans', {
      code: 'payments-monthly',
      name: 'Payments',
      currency: 'USD',
      interval: 'month',
      amount: '0.00',
      charges: [
        {
          metric_code: 'payments',
          model: 'percentage',
          properties: { rate: '2', fixed_amount: '0.25', free_units: '1000', free_units_per_events: 2, per_transaction_min_amount: '0.50', per_transaction_max_amount: '10.00' },
        },
      ],
    });
    expect(plan.status).toBe(201);
    const customer = await api.post('/v1/customers', { name: 'Payments Co', email: 'ap@payments.test', currency: 'USD' });
    const sub = await api.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: 'payments-monthly', start_at: '2027-01-01T00:00:00Z' });
    expect(sub.status).toBe(201);
    const id = sub.body.id as string;
    const send = async (events: unknown[]) => (await api.post('/v1/usage_events', { events })).body;

    await stack.skipTo('2027-01-01T00:00:01Z');
    expect(await send([payment(id, 'jan-1', '2027-01-05T00:00:00Z', '300.00'), payment(id, 'jan-2', '2027-01-06T00:00:00Z', '400.00'), payment(id, 'jan-3', '2027-01-07T00:00:00Z', '500.00')])).toMatchObject({ accepted: 3 });
    await stack.skipTo('2027-02-01T00:00:01Z');
    await expectBalanced();
    expect(await send([payment(id, 'feb-1', '2027-02-02T00:00:00Z', '600.00'), payment(id, 'feb-2', '2027-02-03T00:00:00Z', '500.00'), payment(id, 'feb-3', '2027-02-04T00:00:00Z', '10.00')])).toMatchObject({ accepted: 3 });
    await stack.skipTo('2027-03-01T00:00:01Z');
    await expectBalanced();
    await stack.skipTo('2027-04-01T00:00:01Z');
    await expectBalanced();
    expect(await send([payment(id, 'apr-1', '2027-04-10T00:00:00Z', '5000.00')])).toMatchObject({ accepted: 1 });
    await stack.skipTo('2027-05-01T00:00:01Z');
    await expectBalanced();

    const res = await api.get(`/v1/invoices?subscription_id=${id}&limit=100`);
    const usage = [...res.body.data].reverse().flatMap((i: any) => i.lines.filter((l: any) => l.kind === 'usage').map((l: any) => `${l.period_start.slice(0, 7)} ${l.quantity} = ${l.amount}`));
    expect(usage).toEqual([
      // January: 300 and 400 free (2 events, 700 of 1000); 500 is the 3rd: 10.00 + 0.25 = 10.25, lowered to 10.00.
      '2027-01 1200 = 10.00',
      // February starts again: 600 free; 500 crosses 1000 and pays on 100: 2.00 + 0.25 = 2.25; 10: 0.20 + 0.25 = 0.45, raised to 0.50.
      '2027-02 1110 = 2.75',
      '2027-03 0 = 0.00',
      // April: the first event is past the free amount by 4000: 80.00 + 0.25, lowered to 10.00.
      '2027-04 5000 = 10.00',
    ]);
    await stack.terminateWhenIdle([`subscription-${id}`], 'scenario over');
  });
});
