import Decimal from 'decimal.js';
import type Stripe from 'stripe';
import { StripeGateway, stripeClient as gatewayClient } from '../../payments/stripe-gateway';
import { startStripeEmulator, type StripeEmulator } from '../../scripts/stripe-emulator';
import { freePort } from '../../scripts/wait-for-port';
import { invoiceWorkflowId } from '../../workflows/messages';
import { eventually } from '../integration/harness';
import { stripeClient } from '../support/stripe';
import { timeSkippingStack, type TimeSkippingStack } from '../support/time-skipping-stack';

/**
 * One-off invoices: issued through the API outside any subscription, taxed and discounted like every
 * invoice, numbered in the same sequence, and collected by card through Stripe (the localstripe
 * emulator) by their own collection workflow, or left open for a payment by hand.
 */
const WEBHOOK_SECRET = 'whsec_one_off_suite';

describe('one-off invoices', () => {
  let emulator: StripeEmulator;
  let stripe: Stripe;
  let stack: TimeSkippingStack;

  beforeAll(async () => {
    emulator = await startStripeEmulator({ port: await freePort(), quiet: true });
    stripe = stripeClient(emulator.apiBase);
    const gateway = new StripeGateway(gatewayClient({ secretKey: 'sk_test_one_off', webhookSecret: WEBHOOK_SECRET, apiBase: emulator.apiBase }));
    stack = await timeSkippingStack('one-off-invoices', { stripe: { gateway, webhookSecret: WEBHOOK_SECRET } });
  });

  afterAll(async () => {
    const invoices = await stack?.db.orm.em.fork().execute<Array<{ id: string }>>('select id from invoices');
    await stack?.terminateWhenIdle((invoices ?? []).map((i) => invoiceWorkflowId(i.id)), 'suite finished');
    await stack?.stop();
    await emulator?.stop();
  });

  let n = 0;
  async function customer(): Promise<string> {
    const created = await stack.api.post('/v1/customers', { name: `Buyer ${++n}`, email: `buyer${n}@example.test`, currency: 'USD' });
    expect(created.status).toBe(201);
    return created.body.id;
  }

  async function attachCard(customerId: string): Promise<void> {
    const method = await stripe.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 12, exp_year: 2034, cvc: '123' } });
    expect((await stack.api.post(`/v1/customers/${customerId}/payment_methods`, { payment_method: method.id })).status).toBe(201);
  }

  async function balances(): Promise<Array<{ account: string; currency: string; debits: string; credits: string }>> {
    return (await stack.api.get('/v1/ledger/balances')).body.data;
  }

  function expectBooksBalanced(rows: Array<{ debits: string; credits: string }>): void {
    const total = (side: 'debits' | 'credits') => rows.reduce((t, r) => t.plus(r[side]), new Decimal(0));
    expect(total('debits').toFixed(2)).toBe(total('credits').toFixed(2));
  }

  /** What one side of an account (USD) moved between two readings. */
  const moved = (before: Awaited<ReturnType<typeof balances>>, after: Awaited<ReturnType<typeof balances>>, account: string, side: 'debits' | 'credits'): string => {
    const of = (rows: typeof before) => new Decimal(rows.find((r) => r.account === account && r.currency === 'USD')?.[side] ?? 0);
    return of(after).minus(of(before)).toFixed(2);
  };

  it('taxes and discounts a one-off invoice, numbers it after the one before, and charges it to the card on file', async () => {
    // Given a customer with a card, 20% VAT (exclusive) and a 10% coupon for ever, and a one-off
    // invoice already issued to someone else (so the sequence has moved)
    const first = await stack.api.post('/v1/invoices', { customer_id: await customer(), currency: 'USD', lines: [{ description: 'Consulting', unit_amount: '10.00' }], collect: false });
    expect(first.status).toBe(201);
    const buyer = await customer();
    await attachCard(buyer);
    expect((await stack.api.post('/v1/tax_rates', { code: 'vat-20', name: 'VAT', percentage: '20' })).status).toBe(201);
    expect((await stack.api.post(`/v1/customers/${buyer}/tax_rates`, { tax_rates: ['vat-20'] })).status).toBeLessThan(300);
    expect((await stack.api.post('/v1/coupons', { code: 'ten-off', name: 'Ten percent', percent_off: '10', duration: 'forever' })).status).toBe(201);
    expect((await stack.api.post(`/v1/customers/${buyer}/applied_coupons`, { coupon_code: 'ten-off' })).status).toBe(201);
    const before = await balances();

    // When support invoices three workshop days and a travel fee, to be collected
    const created = await stack.api.post(
      '/v1/invoices',
      { customer_id: buyer, currency: 'USD', lines: [{ description: 'Workshop day', quantity: '3', unit_amount: '150.00' }, { description: 'Travel', unit_amount: '50.00' }] },
      { 'Idempotency-Key': 'one-off-workshop' },
    );

    // Then: lines 3 x 150.00 = 450.00 and 50.00, subtotal 500.00; 10% off = 45.00 + 5.00 = 50.00;
    // VAT 20% of 450.00 = 90.00; total 450.00 + 90.00 = 540.00, numbered right after the first invoice
    expect(created.status).toBe(201);
    const invoice = created.body;
    expect(invoice).toMatchObject({
      object: 'invoice',
      customer_id: buyer,
      subscription_id: null,
      billing_reason: 'manual',
      collection_method: 'charge_automatically',
      subtotal: '500.00',
      discount_total: '50.00',
      tax_total: '90.00',
      total: '540.00',
    });
    expect(Number(invoice.number.slice(4))).toBe(Number(first.body.number.slice(4)) + 1);
    expect(invoice.lines.map((l: any) => [l.kind, l.description, l.quantity, l.amount, l.discount_amount, l.tax_amount])).toEqual([
      ['one_off', 'Workshop day', '3', '450.00', '45.00', '81.00'],
      ['one_off', 'Travel', '1', '50.00', '5.00', '9.00'],
    ]);

    // And the card is charged the 540.00 once, by the invoice's own collection workflow
    const paid = await eventually('the one-off invoice is paid by card', async () => (await stack.api.get(`/v1/invoices/${invoice.id}`)).body, (i) => i.status === 'paid');
    expect(paid).toMatchObject({ amount_paid: '540.00', amount_due: '0.00' });
    const payments = (await stack.api.get(`/v1/invoices/${invoice.id}/payments`)).body.data;
    expect(payments.map((p: any) => [p.method, p.amount])).toEqual([['card', '540.00']]);

    // And a retry of the request gets the same invoice: no second number, no second charge
    const again = await stack.api.post(
      '/v1/invoices',
      { customer_id: buyer, currency: 'USD', lines: [{ description: 'Workshop day', quantity: '3', unit_amount: '150.00' }, { description: 'Travel', unit_amount: '50.00' }] },
      { 'Idempotency-Key': 'one-off-workshop' },
    );
    expect(again.body.id).toBe(invoice.id);
    expect((await stack.api.get(`/v1/invoices?customer_id=${buyer}`)).body.data).toHaveLength(1);

    // And the books: receivable 540.00 in and out, revenue 500.00 at list price (served at once,
    // nothing deferred), discounts 50.00, tax payable 90.00, Stripe's clearing account 540.00
    const after = await balances();
    expect({
      receivableDebited: moved(before, after, 'accounts_receivable', 'debits'),
      receivableCredited: moved(before, after, 'accounts_receivable', 'credits'),
      revenue: moved(before, after, 'revenue', 'credits'),
      deferred: moved(before, after, 'deferred_revenue', 'credits'),
      discounts: moved(before, after, 'discounts', 'debits'),
      tax: moved(before, after, 'tax_payable', 'credits'),
      clearing: moved(before, after, 'stripe_clearing', 'debits'),
    }).toEqual({ receivableDebited: '540.00', receivableCredited: '540.00', revenue: '500.00', deferred: '0.00', discounts: '50.00', tax: '90.00', clearing: '540.00' });
    expectBooksBalanced(after);
  });

  it('leaves an invoice not to be collected open, with no collection, until it is paid by hand', async () => {
    const buyer = await customer();
    await attachCard(buyer);
    const created = await stack.api.post('/v1/invoices', { customer_id: buyer, currency: 'USD', lines: [{ description: 'Audit', unit_amount: '120.00' }], collect: false });
    expect(created.body).toMatchObject({ status: 'open', collection_method: 'send_invoice', total: '120.00', amount_due: '120.00' });
    // No collection workflow was started for it: nothing charges the card.
    await expect(stack.env.client.workflow.getHandle(invoiceWorkflowId(created.body.id)).describe()).rejects.toThrow();
    const paid = await stack.api.post(`/v1/invoices/${created.body.id}/payments`, { amount: '120.00', reference: 'wire 42' });
    expect(paid.body.invoice).toMatchObject({ status: 'paid', amount_paid: '120.00' });
    expectBooksBalanced(await balances());
  });

  it('bills a one-time add-on by its code at its name and price, and refuses a recurring one', async () => {
    expect((await stack.api.post('/v1/add_ons', { code: 'setup-call', name: 'Setup call', amount: '80.00', currency: 'USD' })).status).toBe(201);
    expect((await stack.api.post('/v1/add_ons', { code: 'seat-pack', name: 'Seat pack', amount: '25.00', currency: 'USD', interval: 'month' })).status).toBe(201);
    const buyer = await customer();
    // 2 x 80.00 = 160.00, no tax or coupon for this customer.
    const created = await stack.api.post('/v1/invoices', { customer_id: buyer, currency: 'USD', lines: [{ add_on_code: 'setup-call', quantity: '2' }], collect: false });
    expect(created.status).toBe(201);
    expect(created.body.lines.map((l: any) => [l.kind, l.description, l.quantity, l.unit_amount, l.amount, l.add_on_id !== null])).toEqual([['one_off', 'Setup call', '2', '80', '160.00', true]]);
    const recurring = await stack.api.post('/v1/invoices', { customer_id: buyer, currency: 'USD', lines: [{ add_on_code: 'seat-pack' }] });
    expect(recurring.status).toBe(400);
    expect(recurring.body.error).toMatchObject({ code: 'add_on_recurring', param: 'lines.0.add_on_code' });
    const otherCurrency = await stack.api.post('/v1/invoices', { customer_id: buyer, currency: 'EUR', lines: [{ add_on_code: 'setup-call' }] });
    expect(otherCurrency.body.error).toMatchObject({ code: 'currency_mismatch', param: 'lines.0.add_on_code' });
  });

  it('refuses a line with neither an add-on nor a description and price, and an unknown customer', async () => {
    const bad = await stack.api.post('/v1/invoices', { customer_id: await customer(), currency: 'USD', lines: [{ description: 'No price' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ type: 'invalid_request_error', param: 'lines.0' });
    const unknown = await stack.api.post('/v1/invoices', { customer_id: 'cus_nobody', currency: 'USD', lines: [{ description: 'x', unit_amount: '1.00' }] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'resource_missing', param: 'customer_id' });
  });
});
