import Decimal from 'decimal.js';
import { cardTimeSkippingStack, type CardStack } from '../support/card-stack';
import type { TimeSkippingStack } from '../support/time-skipping-stack';
import { Client } from '@temporalio/client';
import { eventually } from '../support/eventually';
import { WALLET_MAINTENANCE_WORKFLOW, walletMaintenanceWorkflowId, type WalletMaintenanceWorkflow } from '../../workflows/messages';

/**
 * Prepaid credit wallets spent by subscription invoices before the card, on the time-skipping
 * server with the Stripe emulator. Plan: $49.00 a month.
 */
describe('prepaid credit wallets', () => {
  let cards: CardStack;
  let stack: TimeSkippingStack;
  const running: string[] = [];

  beforeAll(async () => {
    cards = await cardTimeSkippingStack('wallets');
    ({ stack } = cards);
    expect((await stack.api.post('/v1/plans', { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', amount: '49.00' })).status).toBe(201);
  });

  afterEach(() => cards.endScenario(running.splice(0)));

  afterAll(async () => {
    await cards?.stop();
  });

  let n = 0;
  async function customerWithCard(): Promise<string> {
    return cards.customerWithCard('4242424242424242');
  }

  async function customerWithoutCard(): Promise<string> {
    return (await stack.api.post('/v1/customers', { name: `Holder ${++n}`, email: `holder${n}@example.test`, currency: 'USD' })).body.id;
  }

  /** The invoice that sold a wallet purchase (the wallet's transactions name it). */
  async function purchaseInvoice(walletId: string, which = 0): Promise<any> {
    const purchases = (await transactions(walletId)).filter((t) => t.kind === 'purchased');
    const invoiceId = await eventually('the purchase is invoiced', async () => (await transactions(walletId)).filter((t) => t.kind === 'purchased')[which]?.invoice_id, (id) => Boolean(id));
    expect(purchases.length).toBeGreaterThan(which);
    return (await stack.api.get(`/v1/invoices/${invoiceId}`)).body;
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

  /** The daily wallet run, as its Schedule starts it (the time-skipping server has no schedules), at the server's now. */
  async function runWalletMaintenance(): Promise<{ expired: number; collecting: number }> {
    const client = new Client({ connection: stack.env.connection, namespace: stack.env.namespace });
    return client.workflow.execute<WalletMaintenanceWorkflow>(WALLET_MAINTENANCE_WORKFLOW, {
      taskQueue: stack.taskQueue,
      workflowId: walletMaintenanceWorkflowId(`${Date.now()}-${Math.random().toString(36).slice(2, 8)}`),
      args: [{}],
    });
  }

  /** What the ledger holds as customer prepayments (credit balance of `prepaid`). */
  async function prepaidHeld(): Promise<Decimal> {
    const row = ((await stack.api.get('/v1/ledger/balances')).body.data as any[]).find((r) => r.account === 'prepaid');
    return row ? new Decimal(row.credits).minus(row.debits) : new Decimal(0);
  }

  async function expectReconciled(): Promise<void> {
    const reconciliation = await stack.api.get('/v1/reports/reconciliation?currency=USD&from=2026-01-01&to=2029-01-01');
    expect(reconciliation.body).toMatchObject({ balanced: true, differences: [] });
  }

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
      ['granted', '8', '20.00', null],
      ['consumed', '8', '20.00', invoice.id],
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
      ['granted', '30.00', expect.any(String)],
      ['expired', '30.00', '2027-05-15T00:00:00.000Z'],
    ]);
    await expectBooksBalanced();
  });

  it('over four months granted credits are spent, topped up and expire, the books balanced and reconciled after every step', async () => {
    // Given 100 granted credits at 1.00 expiring on 15 October 2027, and the $49.00 plan from 1 August
    const customer = await customerWithCard();
    const created = (await stack.api.post('/v1/wallets', { customer_id: customer, currency: 'USD', rate: '1.00', granted_credits: '100', expires_at: '2027-10-15T00:00:00Z' })).body;
    const id = await subscribe(customer, '2027-08-01T00:00:00Z');
    const step = async (instant: string, expected: { walletApplied: string; card: string; left: string }, index: number) => {
      await stack.skipTo(instant);
      const invoice = (await invoicesOf(id))[index];
      expect(invoice).toMatchObject({ total: '49.00', wallet_applied: expected.walletApplied, amount_paid: expected.card, amount_due: '0.00', status: 'paid' });
      expect((await wallet(created.id)).balance).toBe(expected.left);
      await expectBooksBalanced();
      await expectReconciled();
    };
    // August: the wallet pays all 49.00; 100 - 49 = 51 left
    await step('2027-08-01T00:01:00Z', { walletApplied: '49.00', card: '0.00', left: '51.00' }, 0);
    // September: again 49.00; 51 - 49 = 2 left
    await step('2027-09-01T00:01:00Z', { walletApplied: '49.00', card: '0.00', left: '2.00' }, 1);
    // A top-up of 60 granted credits: 2 + 60 = 62
    expect((await stack.api.post(`/v1/wallets/${created.id}/top_ups`, { granted_credits: '60' })).body).toMatchObject({ balance: '62.00', credits_balance: '62' });
    // October: 49.00 from the wallet; 62 - 49 = 13 left
    await step('2027-10-01T00:01:00Z', { walletApplied: '49.00', card: '0.00', left: '13.00' }, 2);
    // On 16 October the daily run expires the 13 credits left (granted: nothing to post)
    await stack.skipTo('2027-10-16T00:00:00Z');
    expect(await runWalletMaintenance()).toMatchObject({ expired: 1 });
    expect(await wallet(created.id)).toMatchObject({ status: 'terminated', balance: '0.00' });
    await expectBooksBalanced();
    // November: the card pays all 49.00
    await step('2027-11-01T00:01:00Z', { walletApplied: '0.00', card: '49.00', left: '0.00' }, 3);
    expect((await transactions(created.id)).map((t) => `${t.kind} ${t.amount}`)).toEqual(['granted 100.00', 'consumed 49.00', 'consumed 49.00', 'granted 60.00', 'consumed 49.00', 'expired 13.00']);
  });

  it('paid credits are invoiced and count only once that invoice is paid: a prepayment, never revenue', async () => {
    // Given a customer without a card who buys 40 credits at 1.00
    const customer = await customerWithoutCard();
    const created = (await stack.api.post('/v1/wallets', { customer_id: customer, currency: 'USD', rate: '1.00', paid_credits: '40' })).body;
    expect(created).toMatchObject({ balance: '0.00', credits_balance: '0', pending_credits: '40' });
    // Then an invoice of 40 x 1.00 = 40.00 sells them, a prepaid_credit line, posted to prepayments (not revenue)
    const sold = await purchaseInvoice(created.id);
    expect(sold).toMatchObject({ subscription_id: null, total: '40.00', tax_total: '0.00', amount_due: '40.00', status: 'open' });
    expect(sold.lines).toEqual([expect.objectContaining({ kind: 'prepaid_credit', quantity: '40', amount: '40.00' })]);
    expect(await postings(`invoice:${sold.id}:issued`)).toEqual([
      { account: 'accounts_receivable', direction: 'debit', amount: '40.000000' },
      { account: 'prepaid', direction: 'credit', amount: '40.000000' },
    ]);
    // When a $49.00 subscription bills before that invoice is paid, the wallet pays nothing
    const id = await subscribe(customer, '2027-12-01T00:00:00Z');
    await stack.skipTo('2027-12-01T00:01:00Z');
    const [december] = await invoicesOf(id);
    expect(december).toMatchObject({ wallet_applied: '0.00', amount_due: '49.00', status: 'open' });
    // When the purchase invoice is paid by bank transfer, the 40 credits count
    expect((await stack.api.post(`/v1/invoices/${sold.id}/payments`, { amount: '40.00', reference: 'wire 1' })).status).toBe(201);
    expect(await wallet(created.id)).toMatchObject({ balance: '40.00', paid_balance: '40.00', credits_balance: '40', pending_credits: '0' });
    await expectBooksBalanced();
    await expectReconciled();
  });

  it('paid credits pay part of an invoice and the card the rest: prepayments debited, the receivable credited (worked example)', async () => {
    // Given a customer with a card who buys 30 credits at 0.50 (30 x 0.50 = 15.00), charged to the card
    const prepaidBefore = await prepaidHeld();
    const customer = await customerWithCard();
    const created = (await stack.api.post('/v1/wallets', { customer_id: customer, currency: 'USD', rate: '0.50', paid_credits: '30' })).body;
    const sold = await purchaseInvoice(created.id);
    await eventually('the purchase is charged', () => wallet(created.id), (w) => w.balance === '15.00');
    expect(await payments(sold.id)).toEqual([{ method: 'card', amount: '15.000000' }]);
    // When the $49.00 subscription starts on 1 January 2028
    const id = await subscribe(customer, '2028-01-01T00:00:00Z');
    await stack.skipTo('2028-01-01T00:01:00Z');
    // Then the wallet pays 15.00 and the card 49.00 - 15.00 = 34.00
    const [january] = await invoicesOf(id);
    expect(january).toMatchObject({ wallet_applied: '15.00', amount_paid: '34.00', amount_due: '0.00', status: 'paid' });
    expect(await payments(january.id)).toEqual([{ method: 'card', amount: '34.000000' }]);
    expect(await postings(`invoice:${january.id}:wallet_applied`)).toEqual([
      { account: 'accounts_receivable', direction: 'credit', amount: '15.000000' },
      { account: 'prepaid', direction: 'debit', amount: '15.000000' },
    ]);
    // The prepayment is used up: 15.00 credited when sold, 15.00 debited when spent
    expect((await prepaidHeld()).equals(prepaidBefore)).toBe(true);
    await expectBooksBalanced();
    await expectReconciled();
  });

  it('a consumption that takes the wallet below its threshold tops it up once, invoiced and charged at once', async () => {
    // Given 50 granted credits at 1.00, topped up with 40 paid credits below 10
    const customer = await customerWithCard();
    const created = (
      await stack.api.post('/v1/wallets', { customer_id: customer, currency: 'USD', rate: '1.00', granted_credits: '50', top_up_threshold: '10', top_up_paid_credits: '40' })
    ).body;
    // When February's $49.00 invoice spends 49 of them (50 - 49 = 1, below 10)
    const id = await subscribe(customer, '2028-02-01T00:00:00Z');
    await stack.skipTo('2028-02-01T00:01:00Z');
    const [february] = await invoicesOf(id);
    expect(february).toMatchObject({ wallet_applied: '49.00', status: 'paid' });
    // Then one top-up of 40 credits is invoiced (40.00) and charged, and the wallet holds 1 + 40 = 41
    const topUp = await purchaseInvoice(created.id);
    expect(topUp).toMatchObject({ total: '40.00' });
    await eventually('the top-up is charged', () => wallet(created.id), (w) => w.balance === '41.00');
    const purchases = (await transactions(created.id)).filter((t) => t.kind === 'purchased');
    expect(purchases).toEqual([expect.objectContaining({ trigger: 'threshold', status: 'settled', credits: '40', triggered_by_invoice_id: february.id })]);
    // When March spends all 41 (the card pays 49 - 41 = 8.00), the wallet crosses the threshold again: a second top-up
    await stack.skipTo('2028-03-01T00:01:00Z');
    const [, march] = await invoicesOf(id);
    expect(march).toMatchObject({ wallet_applied: '41.00', amount_paid: '8.00', status: 'paid' });
    await eventually('the second top-up is charged', () => wallet(created.id), (w) => w.balance === '40.00');
    expect((await transactions(created.id)).filter((t) => t.kind === 'purchased').map((t) => t.triggered_by_invoice_id)).toEqual([february.id, march.id]);
    await expectBooksBalanced();
    await expectReconciled();
  });

  it('paid credit that expires, or is forfeited by terminating the wallet, becomes breakage', async () => {
    // Given a customer who bought 20 credits at 1.00 (paid by card) expiring on 10 April 2028
    const customer = await customerWithCard();
    const created = (await stack.api.post('/v1/wallets', { customer_id: customer, currency: 'USD', rate: '1.00', paid_credits: '20', granted_credits: '5', expires_at: '2028-04-10T00:00:00Z' })).body;
    await eventually('the purchase is charged', () => wallet(created.id), (w) => w.balance === '25.00');
    // When the daily run passes the expiry
    await stack.skipTo('2028-04-11T00:00:00Z');
    expect(await runWalletMaintenance()).toMatchObject({ expired: expect.any(Number) });
    // Then 20.00 of prepayments becomes breakage; the 5 granted credits post nothing
    const expired = (await transactions(created.id)).find((t) => t.kind === 'expired');
    expect(expired).toMatchObject({ amount: '25.00', paid_amount: '20.00', granted_amount: '5.00' });
    expect(await postings(`wallet_transaction:${expired.id}`)).toEqual([
      { account: 'breakage', direction: 'credit', amount: '20.000000' },
      { account: 'prepaid', direction: 'debit', amount: '20.000000' },
    ]);
    // And a wallet terminated by request forfeits its paid credit the same way
    const second = (await stack.api.post('/v1/wallets', { customer_id: customer, currency: 'USD', rate: '1.00', paid_credits: '7' })).body;
    await eventually('the purchase is charged', () => wallet(second.id), (w) => w.balance === '7.00');
    expect((await stack.api.post(`/v1/wallets/${second.id}/terminate`, {})).body).toMatchObject({ status: 'terminated', balance: '0.00' });
    const voided = (await transactions(second.id)).find((t) => t.kind === 'voided');
    expect(await postings(`wallet_transaction:${voided.id}`)).toEqual([
      { account: 'breakage', direction: 'credit', amount: '7.000000' },
      { account: 'prepaid', direction: 'debit', amount: '7.000000' },
    ]);
    await expectBooksBalanced();
    await expectReconciled();
  });
});
