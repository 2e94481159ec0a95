import Decimal from 'decimal.js';
import type Stripe from 'stripe';
import { StripeGateway, stripeClient as gatewayClient } from '../../payments/stripe-gateway';
import { startStripeEmulator, type StripeEmulator } from '../../scripts/stripe-emulator';
import { freePort } from '../../scripts/wait-for-port';
import { registerEmulatorWebhook, stripeClient } from '../support/stripe';
import { timeSkippingStack, type TimeSkippingStack } from '../support/time-skipping-stack';
import { invoiceWorkflowId } from '../../workflows/messages';

/**
 * Prepaid credit wallets spent by subscription invoices before the card, on the time-skipping
 * server with the Stripe emulator. Plan: $49.00 a month.
 */
const WEBHOOK_SECRET = 'whsec_wallet_suite';

describe('prepaid credit wallets', () => {
  let emulator: StripeEmulator;
  let stripe: Stripe;
  let stack: TimeSkippingStack;
  const running: string[] = [];

  beforeAll(async () => {
    emulator = await startStripeEmulator({ port: await freePort(), quiet: true });
    stripe = stripeClient(emulator.apiBase);
    const gateway = new StripeGateway(gatewayClient({ secretKey: 'sk_test_wallets', webhookSecret: WEBHOOK_SECRET, apiBase: emulator.apiBase }));
    stack = await timeSkippingStack('wallets', { stripe: { gateway, webhookSecret: WEBHOOK_SECRET } });
    await registerEmulatorWebhook(emulator.apiBase, 'perennial', { url: `${stack.baseUrl}/webhooks/stripe`, secret: WEBHOOK_SECRET });
    expect((await stack.api.post('/v1/plans', { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', amount: '49.00' })).status).toBe(201);
  });

  afterEach(async () => {
    const invoices = await stack.db.orm.em.fork().execute<Array<{ id: string }>>('select id from invoices');
    await stack.terminateWhenIdle([...running.splice(0), ...invoices.map((i) => invoiceWorkflowId(i.id))], 'scenario finished');
  });

  afterAll(async () => {
    await stack?.stop();
    await emulator?.stop();
  });

  let n = 0;
  async function customerWithCard(): Promise<string> {
    const customer = await stack.api.post('/v1/customers', { name: `Holder ${++n}`, email: `holder${n}@example.test`, currency: 'USD' });
    const method = await stripe.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 12, exp_year: 2034, cvc: '123' } });
    expect((await stack.api.post(`/v1/customers/${customer.body.id}/payment_methods`, { payment_method: method.id })).status).toBe(201);
    return customer.body.id;
  }

  async function subscribe(customerId: string, startAt: string): Promise<string> {
    const res = await stack.api.post('/v1/subscriptions', { customer_id: customerId, plan_code: 'pro', start_at: startAt });
    expect(res.status).toBe(201);
    running.push(res.body.workflow_id);
    return res.body.id;
  }

  const invoicesOf = async (subscriptionId: string) => ((await stack.api.get(`/v1/invoices?subscription_id=${subscriptionId}`)).body.data as any[]).reverse();
  const wallet = async (id: string) => (await stack.api.get(`/v1/wallets/${id}`)).body;
  const transactions = async (id: string) => ((await stack.api.get(`/v1/wallets/${id}/transactions?limit=100`)).body.data as any[]).reverse();
  const payments = (invoiceId: string) => stack.db.orm.em.fork().execute(`select method, amount::text from payments where invoice_id = ?`, [invoiceId]);
  const postings = (key: string) =>
    stack.db.orm.em.fork().execute(
      `select e.account_code as account, e.direction, e.amount::text as amount from ledger_entries e join ledger_transactions t on t.id = e.transaction_id
        where t.idempotency_key = ? order by e.account_code, e.direction`,
      [key],
    );

  async function expectBooksBalanced(): Promise<void> {
    const rows = (await stack.api.get('/v1/ledger/balances')).body.data as Array<{ debits: string; credits: string }>;
    const sum = (side: 'debits' | 'credits') => rows.reduce((t, r) => t.plus(r[side]), new Decimal(0));
    expect(sum('debits').equals(sum('credits'))).toBe(true);
  }

  it('granted credits pay part of an invoice and the card the rest (worked example)', async () => {
    // Given a customer with a card and a wallet of 8 granted credits at 2.50 USD each (worth 8 x 2.50 = 20.00)
    const customer = await customerWithCard();
    const created = await stack.api.post('/v1/wallets', { customer_id: customer, currency: 'USD', rate: '2.50', granted_credits: '8', name: 'Welcome credit' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'active', credits_balance: '8', balance: '20.00', granted_balance: '20.00', paid_balance: '0.00', pending_credits: '0' });
    // When the $49.00 subscription starts on 1 February 2027
    const id = await subscribe(customer, '2027-02-01T00:00:00Z');
    await stack.skipTo('2027-02-01T00:01:00Z');
    // Then the wallet pays 20.00 of the invoice and the card the 49.00 - 20.00 = 29.00 left
    const [invoice] = await invoicesOf(id);
    expect(invoice).toMatchObject({ total: '49.00', wallet_applied: '20.00', amount_paid: '29.00', amount_due: '0.00', status: 'paid' });
    expect(await payments(invoice.id)).toEqual([{ method: 'card', amount: '29.000000' }]);
    // The granted credit is a discount when spent: discounts debited 20.00, the receivable credited 20.00
    expect(await postings(`invoice:${invoice.id}:wallet_applied`)).toEqual([
      { account: 'accounts_receivable', direction: 'credit', amount: '20.000000' },
      { account: 'discounts', direction: 'debit', amount: '20.000000' },
    ]);
    // And the wallet is empty, its consumption listed against the invoice
    expect(await wallet(created.body.id)).toMatchObject({ credits_balance: '0', balance: '0.00' });
    expect((await transactions(created.body.id)).map((t) => [t.kind, t.credits, t.amount, t.invoice_id])).toEqual([
      ['granted', '8', '20', null],
      ['consumed', '8', '20', invoice.id],
    ]);
    await expectBooksBalanced();
  });

  it('an invoice the wallet covers whole is paid without a card charge, and the next one spends what is left', async () => {
    // Given 60 granted credits at 1.00 (60.00)
    const customer = await customerWithCard();
    const created = await stack.api.post('/v1/wallets', { customer_id: customer, currency: 'USD', rate: '1.00', granted_credits: '60' });
    const id = await subscribe(customer, '2027-03-01T00:00:00Z');
    // When March and April are billed
    await stack.skipTo('2027-04-01T00:01:00Z');
    const [march, april] = await invoicesOf(id);
    // Then March is paid by the wallet alone (49.00, no card payment), April takes the 60.00 - 49.00 = 11.00 left and the card 38.00
    expect(march).toMatchObject({ wallet_applied: '49.00', amount_paid: '0.00', amount_due: '0.00', status: 'paid' });
    expect(await payments(march.id)).toEqual([]);
    expect(april).toMatchObject({ wallet_applied: '11.00', amount_paid: '38.00', status: 'paid' });
    expect(await wallet(created.body.id)).toMatchObject({ credits_balance: '0', balance: '0.00' });
    await expectBooksBalanced();
  });

  it('credit past its expiry is never spent: it is expired when the next invoice comes', async () => {
    // Given 30 granted credits at 1.00 expiring on 15 May 2027
    const customer = await customerWithCard();
    const created = await stack.api.post('/v1/wallets', { customer_id: customer, currency: 'USD', rate: '1.00', granted_credits: '30', expires_at: '2027-05-15T00:00:00Z' });
    const id = await subscribe(customer, '2027-06-01T00:00:00Z');
    // When June is billed, after the expiry
    await stack.skipTo('2027-06-01T00:01:00Z');
    // Then the card pays all 49.00 and the wallet's 30 credits expired on 15 May
    const [june] = await invoicesOf(id);
    expect(june).toMatchObject({ wallet_applied: '0.00', amount_paid: '49.00', status: 'paid' });
    expect(await wallet(created.body.id)).toMatchObject({ status: 'terminated', balance: '0.00', terminated_at: '2027-05-15T00:00:00.000Z' });
    expect((await transactions(created.body.id)).map((t) => [t.kind, t.amount, t.effective_at])).toEqual([
      ['granted', '30', expect.any(String)],
      ['expired', '30', '2027-05-15T00:00:00.000Z'],
    ]);
    await expectBooksBalanced();
  });
});
