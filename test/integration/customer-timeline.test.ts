import { forkEm } from '../../db/orm';
import { StripeGateway, stripeClient as gatewayClient } from '../../payments/stripe-gateway';
import { startStripeEmulator } from '../../scripts/stripe-emulator';
import { freePort } from '../../scripts/wait-for-port';
import { customerBalance } from '../../services/customers';
import { attachPaymentMethod } from '../../services/payment-methods';
import { stripeClient } from '../support/stripe';
import { expectError, startStack, unique, waitForInvoices, type Stack } from './harness';

/**
 * Finding a customer (GET /v1/customers?q=) and reading what happened to one
 * (GET /v1/customers/:id/timeline, /balance): the support console's first two questions.
 */
describe('customer search, timeline and balance', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack('customer-timeline');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function customer(name: string, email: string, externalId?: string, currency = 'USD') {
    const res = await stack.admin.post('/v1/customers', { name, email, currency, ...(externalId ? { external_id: externalId } : {}) });
    expect(res.status).toBe(201);
    return res.body as { id: string; name: string };
  }

  const search = async (q: string): Promise<string[]> => {
    const res = await stack.readonly.get(`/v1/customers?q=${encodeURIComponent(q)}&limit=100`);
    expect(res.status).toBe(200);
    return (res.body.data as Array<{ name: string }>).map((c) => c.name);
  };

  it('q finds part of a name or e-mail in any case, and only an exact id or external id', async () => {
    const tag = unique('srch');
    const ada = await customer(`Ada Lovelace ${tag}`, `ada.${tag}@analytical.example`, `crm-${tag}-ada`);
    await customer(`Grace Hopper ${tag}`, `grace.${tag}@cobol.example`, `crm-${tag}-grace`);
    await customer(`100% Juice ${tag}`, `juice.${tag}@fruit.example`);

    expect(await search(`lovelace ${tag}`.toUpperCase())).toEqual([`Ada Lovelace ${tag}`]);
    expect(await search(`@COBOL.example`)).toContain(`Grace Hopper ${tag}`);
    expect(await search(`${tag}@`)).toHaveLength(3);
    expect(await search(ada.id)).toEqual([`Ada Lovelace ${tag}`]);
    expect(await search(ada.id.slice(0, -2))).toEqual([]);
    expect(await search(`crm-${tag}-grace`)).toEqual([`Grace Hopper ${tag}`]);
    expect(await search(`crm-${tag}`)).toEqual([]);
    // LIKE's own wildcards are searched for as themselves.
    expect(await search(`100% juice ${tag}`)).toEqual([`100% Juice ${tag}`]);
    expect(await search(`_ juice ${tag}`)).toEqual([]);
    expect(await search(`1__% Juice ${tag}`)).toEqual([]);

    // Paged like every list, newest first.
    const first = await stack.readonly.get(`/v1/customers?q=${tag}&limit=2`);
    expect({ names: first.body.data.map((c: { name: string }) => c.name), more: first.body.has_more }).toEqual({ names: [`100% Juice ${tag}`, `Grace Hopper ${tag}`], more: true });
    const second = await stack.readonly.get(`/v1/customers?q=${tag}&limit=2&starting_after=${first.body.data[1].id}`);
    expect({ names: second.body.data.map((c: { name: string }) => c.name), more: second.body.has_more }).toEqual({ names: [`Ada Lovelace ${tag}`], more: false });

    expectError(await stack.readonly.get('/v1/customers?q='), 400, { param: 'q' });
  });

  it("lists a customer's history newest first, each event naming what to open, paged by event id", async () => {
    const tag = unique('tl');
    const c = await customer(`Timeline Co ${tag}`, `billing.${tag}@timeline.example`);
    const plan = await stack.admin.post('/v1/plans', { code: `tl-${tag}`, name: 'Team', currency: 'USD', interval: 'month', amount: '49.00' });
    expect(plan.status).toBe(201);
    const sub = await stack.support.post('/v1/subscriptions', { customer_id: c.id, plan_code: `tl-${tag}` });
    expect(sub.status).toBe(201);
    const [renewal] = await waitForInvoices(stack.admin, sub.body.id, 1);

    const oneOff = await stack.support.post('/v1/invoices', { customer_id: c.id, currency: 'USD', lines: [{ description: 'Onboarding', unit_amount: '120.00' }], collect: false });
    expect(oneOff.status).toBe(201);
    expect((await stack.support.post(`/v1/invoices/${oneOff.body.id}/payments`, { amount: '20.00', reference: 'wire 1' })).status).toBe(201);
    expect((await stack.support.post(`/v1/invoices/${oneOff.body.id}/payments`, { amount: '100.00', reference: 'wire 2' })).status).toBe(201);
    expect((await stack.support.post(`/v1/invoices/${oneOff.body.id}/credit_notes`, { amount: '15.50', reason: 'goodwill' })).status).toBe(201);
    const refund = await stack.support.post(`/v1/invoices/${oneOff.body.id}/refunds`, { amount: '10.00', reason: 'duplicate seat' });
    expect(refund.status).toBe(201);

    const balance = await stack.readonly.get(`/v1/customers/${c.id}/balance`);
    expect(balance.body).toEqual({ object: 'customer_balance', customer_id: c.id, currency: 'USD', credit_balance: '15.50', amount_due: renewal.status === 'open' ? renewal.amount_due : '0.00', open_invoices: renewal.status === 'open' ? 1 : 0, default_payment_method: null });

    const all = await stack.readonly.get(`/v1/customers/${c.id}/timeline?limit=100`);
    expect(all.status).toBe(200);
    const events = all.body.data as Array<{ id: string; type: string; occurred_at: string; summary: string; resource: { object: string; id: string } }>;
    // Newest first.
    expect(events.map((e) => e.occurred_at)).toEqual([...events.map((e) => e.occurred_at)].sort().reverse());
    const byType = (type: string) => events.filter((e) => e.type === type);

    expect(byType('customer.created')).toEqual([expect.objectContaining({ object: 'timeline_event', summary: `Customer Timeline Co ${tag} created, billed in USD`, resource: { object: 'customer', id: c.id } })]);
    expect(byType('subscription.created')).toEqual([expect.objectContaining({ summary: `Subscribed to Team (tl-${tag} v1) at USD 49.00 per period`, resource: { object: 'subscription', id: sub.body.id } })]);
    expect(byType('invoice.issued').map((e) => e.summary).sort()).toEqual(
      [`Invoice ${oneOff.body.number} issued for USD 120.00 (one-off)`, `Invoice ${renewal.number} issued for USD 49.00 (renewal)`].sort(),
    );
    expect(byType('payment.succeeded').map((e) => e.summary)).toEqual([
      `Payment of USD 100.00 received on Invoice ${oneOff.body.number} (recorded by hand)`,
      `Payment of USD 20.00 received on Invoice ${oneOff.body.number} (recorded by hand)`,
    ]);
    expect(byType('invoice.paid')).toEqual([expect.objectContaining({ summary: `Invoice ${oneOff.body.number} paid`, resource: { object: 'invoice', id: oneOff.body.id } })]);
    expect(byType('credit_note.issued').map((e) => e.summary)).toEqual([expect.stringMatching(/^Credit note \S+ for USD 15\.50, added to the credit balance$/)]);
    expect(byType('credit.granted').map((e) => e.summary)).toEqual(['Credit of USD 15.50 granted (credit note)']);
    expect(byType('refund.created').map((e) => e.summary)).toEqual([`Refund of USD 10.00 on Invoice ${oneOff.body.number} (duplicate seat)`]);

    // What happened later comes first: the refund after the payments, the second payment after the first.
    const at = (type: string, summary?: RegExp) => events.findIndex((e) => e.type === type && (!summary || summary.test(e.summary)));
    expect(at('refund.created')).toBeLessThan(at('payment.succeeded', /100\.00/));
    expect(at('payment.succeeded', /100\.00/)).toBeLessThan(at('payment.succeeded', /20\.00/));
    expect(at('invoice.issued', /one-off/)).toBeLessThan(at('customer.created'));
    expect(at('customer.created')).toBe(events.length - 1);

    // Pages of three, forward then back, give the same events in the same order.
    const forward: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await stack.readonly.get(`/v1/customers/${c.id}/timeline?limit=3${cursor ? `&starting_after=${encodeURIComponent(cursor)}` : ''}`);
      forward.push(...page.body.data.map((e: { id: string }) => e.id));
      if (!page.body.has_more) break;
      cursor = page.body.data.at(-1).id;
    }
    expect(forward).toEqual(events.map((e) => e.id));
    const before = await stack.readonly.get(`/v1/customers/${c.id}/timeline?limit=2&ending_before=${encodeURIComponent(events[4].id)}`);
    expect({ ids: before.body.data.map((e: { id: string }) => e.id), more: before.body.has_more }).toEqual({ ids: [events[2].id, events[3].id], more: true });

    expectError(await stack.readonly.get(`/v1/customers/${c.id}/timeline?starting_after=nope`), 400, { code: 'resource_missing', param: 'starting_after' });
    expectError(await stack.readonly.get('/v1/customers/cus_missing/timeline'), 404, { code: 'resource_missing' });
    expectError(await stack.readonly.get('/v1/customers/cus_missing/balance'), 404, { code: 'resource_missing' });
  });

  it("names the customer's card by brand, last four digits and expiry, read from Stripe", async () => {
    const emulator = await startStripeEmulator({ port: await freePort(), quiet: true });
    try {
      const gateway = new StripeGateway(gatewayClient({ secretKey: 'sk_test_timeline', webhookSecret: null, apiBase: emulator.apiBase }));
      const c = await customer('Card Holder Ltd', `cards.${unique('pm')}@example.test`);
      const method = await stripeClient(emulator.apiBase).paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 7, exp_year: 2031, cvc: '123' } });
      const em = forkEm(stack.db.orm);
      await attachPaymentMethod(em(), gateway, stack.temporal.client, c.id, method.id);

      const balance = await customerBalance(em(), c.id, gateway);
      expect(balance.paymentMethod).toEqual({ id: method.id, card: { brand: 'visa', last4: '4242', expMonth: 7, expYear: 2031 } });
      // Without Stripe (or when it does not answer) the card is still named by its id.
      expect((await customerBalance(em(), c.id, null)).paymentMethod).toEqual({ id: method.id, card: null });
      const api = await stack.readonly.get(`/v1/customers/${c.id}/balance`);
      expect(api.body.default_payment_method).toEqual({ id: method.id, brand: null, last4: null, exp_month: null, exp_year: null });
    } finally {
      await emulator.stop();
    }
  });
});
