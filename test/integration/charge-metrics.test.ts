import { cardTimeSkippingStack, type CardStack } from '../support/card-stack';
import { eventually } from '../support/eventually';
import { scrape } from '../support/prometheus';
import type { TimeSkippingStack } from '../support/time-skipping-stack';

/**
 * Charges by outcome as GET /metrics reports them, read from the collection's own records: two
 * customers subscribe to 10.00 USD a month through the Stripe emulator on the time-skipping server,
 * one card pays and one is declined, and the counters move by exactly one each.
 */
describe('charges in the metrics', () => {
  let cards: CardStack;
  let stack: TimeSkippingStack;
  const running: string[] = [];

  beforeAll(async () => {
    cards = await cardTimeSkippingStack('charge-metrics');
    stack = cards.stack;
    expect((await stack.api.post('/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', amount: '10.00' })).status).toBe(201);
  });

  afterAll(async () => {
    await cards?.endScenario(running);
    await cards?.stop();
  });

  const status = async (subscriptionId: string): Promise<string> => (await stack.api.get(`/v1/subscriptions/${subscriptionId}`)).body.status;

  async function subscribe(card: string): Promise<string> {
    const customerId = await cards.customerWithCard(card);
    const res = await stack.api.post('/v1/subscriptions', { customer_id: customerId, plan_code: 'basic', start_at: '2027-01-01T00:00:00Z' });
    expect(res.status).toBe(201);
    running.push(res.body.workflow_id);
    return res.body.id;
  }

  it('counts one charge succeeded and one failed when one card pays and the other is declined', async () => {
    const before = await scrape(`${stack.baseUrl}/metrics`);
    expect(before.series('perennial_charges_total').map((s) => [s.labels.outcome, s.value]).sort()).toEqual([['canceled', 0], ['failed', 0], ['succeeded', 0]]);

    // Given a customer whose card pays and one whose card is declined, both from 1 January 2027
    const paying = await subscribe('4242424242424242');
    const declined = await subscribe('4000000000000341');
    // When the first invoices are charged
    await stack.skipTo('2027-01-01T00:05:00Z');
    await eventually('one active, one past due', async () => [await status(paying), await status(declined)], (s) => s[0] === 'active' && s[1] === 'past_due');
    await eventually('the paying invoice is paid', async () => (await stack.api.get(`/v1/invoices?subscription_id=${paying}`)).body.data[0]?.status, (s) => s === 'paid');

    // Then the scrape shows exactly one of each, nothing still in flight, and both invoices issued
    const after = await scrape(`${stack.baseUrl}/metrics`);
    expect({
      succeeded: after.value('perennial_charges_total', { outcome: 'succeeded' }),
      failed: after.value('perennial_charges_total', { outcome: 'failed' }),
      canceled: after.value('perennial_charges_total', { outcome: 'canceled' }),
      inFlight: after.series('perennial_charges_in_flight').reduce((n, s) => n + s.value, 0),
      invoicesIssued: (after.value('perennial_invoices_issued_total') ?? NaN) - (before.value('perennial_invoices_issued_total') ?? NaN),
      pastDue: after.value('perennial_subscriptions', { status: 'past_due' }),
    }).toEqual({ succeeded: 1, failed: 1, canceled: 0, inFlight: 0, invoicesIssued: 2, pastDue: 1 });
  });
});
