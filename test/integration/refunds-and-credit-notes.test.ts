import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import type { Pool } from 'pg';
import type Stripe from 'stripe';
import { createApp } from '../../api/app';
import { usagePool } from '../../api/usage-ingest';
import { completePendingRefunds, issueCreditNote, refundInvoice } from '../../db/adjustment-store';
import { recordCardPayment } from '../../db/collection-store';
import { Subscription } from '../../db/entities/subscription';
import { issuePeriodInvoice } from '../../db/invoice-store';
import { forkEm } from '../../db/orm';
import { recordManualPayment } from '../../db/payment-store';
import { StripeGateway } from '../../payments/stripe-gateway';
import { startStripeEmulator, type StripeEmulator } from '../../scripts/stripe-emulator';
import { freePort } from '../../scripts/wait-for-port';
import { invoiceWorkflowId } from '../../workflows/messages';
import { apiClient, listen, type ApiClient } from '../support/http';
import { stripeClient } from '../support/stripe';
import {
  KEYS,
  balanceOf,
  balances,
  eventually,
  expectBooksBalanced,
  expectError,
  startStack,
  tableCounts,
  unique,
  waitForInvoices,
  type Balance,
  type Stack,
} from './harness';
import { parseApiKeySpec } from '../../config/env';

/**
 * Refunds, credit notes and write-offs of invoices issued by real subscription workflows, through
 * the API on real Postgres, with their effect on the double-entry ledger; card refunds go through
 * the Stripe emulator (localstripe). Every invoice here is a monthly plan's first invoice: 10.00 USD.
 */
describe('refunds, credit notes and write-offs', () => {
  let stack: Stack;
  let plan: string;
  const em = (): EntityManager => forkEm(stack.db.orm)();

  beforeAll(async () => {
    stack = await startStack('refunds');
    plan = unique('monthly-usd');
    expect((await stack.admin.post('/v1/plans', { code: plan, name: 'Monthly', currency: 'USD', interval: 'month', amount: '10.00' })).status).toBe(201);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  /** A new customer's subscription and its first invoice, issued by the subscription's workflow (open, 10.00 due). */
  async function freshInvoice(): Promise<{ invoice: any; customerId: string; subscriptionId: string }> {
    const name = unique('customer');
    const customer = await stack.admin.post('/v1/customers', { name, email: `${name}@example.test`, currency: 'USD' });
    expect(customer.status).toBe(201);
    const sub = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: plan });
    expect(sub.status).toBe(201);
    const [invoice] = await waitForInvoices(stack.admin, sub.body.id, 1);
    expect(invoice).toMatchObject({ status: 'open', total: '10.00', amount_due: '10.00', amount_refunded: '0.00', amount_credited: '0.00' });
    return { invoice, customerId: customer.body.id, subscriptionId: sub.body.id };
  }

  async function paidInvoice(): Promise<{ invoice: any; customerId: string; subscriptionId: string }> {
    const fresh = await freshInvoice();
    const paid = await stack.admin.post(`/v1/invoices/${fresh.invoice.id}/payments`, { amount: '10.00', reference: 'wire' });
    expect(paid.status).toBe(201);
    return { ...fresh, invoice: paid.body.invoice };
  }

  const getInvoice = async (id: string) => (await stack.readonly.get(`/v1/invoices/${id}`)).body;

  /** Everything a refused request could have written: row counts, the credit note sequence and every invoice's amounts. */
  async function footprint() {
    const [row] = await em().execute<Array<Record<string, unknown>>>(
      `select (select count(*)::int from refunds) as refunds,
              (select count(*)::int from credit_notes) as credit_notes,
              (select count(*)::int from customer_balance_transactions) as customer_balance_transactions,
              (select next_value::text from invoice_number_sequences where series = 'CN') as next_credit_note_number,
              (select string_agg(concat_ws(' ', id, status, amount_paid, amount_due, amount_refunded, amount_credited, written_off_at), ', ' order by id) from invoices) as invoices`,
    );
    return { ...row, ...(await tableCounts(stack.db)) };
  }

  /** How much `side` of `account` (USD) moved between two readings of the balances. */
  const moved = (before: Balance[], after: Balance[], account: string, side: 'debits' | 'credits'): string => {
    const of = (list: Balance[]) => new Decimal(list.find((b) => b.account === account && b.currency === 'USD')?.[side] ?? 0);
    return of(after).minus(of(before)).toFixed(2);
  };
  const balanceMoved = (before: Balance[], after: Balance[], account: string): string => balanceOf(after, account, 'USD').minus(balanceOf(before, account, 'USD')).toFixed(2);

  describe('refunds', () => {
    it('refunds a manual payment in part, then the rest; a third refund is refused with 422 and writes nothing', async () => {
      const { invoice } = await paidInvoice();
      const before = await balances(stack.admin);

      const part = await stack.support.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '4.00', reason: 'goodwill' });
      expect(part.status).toBe(201);
      expect(part.body).toMatchObject({ object: 'refund_summary', invoice_id: invoice.id, amount: '4.00', currency: 'USD' });
      expect(part.body.refunds).toEqual([
        expect.objectContaining({ object: 'refund', invoice_id: invoice.id, amount: '4.00', currency: 'USD', method: 'manual', stripe_refund_id: null, reason: 'goodwill' }),
      ]);
      // A refund gives money back; it does not reopen the invoice.
      expect(part.body.invoice).toMatchObject({ status: 'paid', amount_paid: '10.00', amount_due: '0.00', amount_refunded: '4.00' });

      // Without an amount: everything still refundable.
      const rest = await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, {});
      expect(rest.status).toBe(201);
      expect(rest.body).toMatchObject({ amount: '6.00', invoice: { status: 'paid', amount_refunded: '10.00' } });

      const untouched = await footprint();
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '0.01' }), 422, { code: 'amount_too_large', param: 'amount' });
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, {}), 409, { code: 'invoice_fully_refunded' });
      expect(await footprint()).toEqual(untouched);

      const listed = await stack.readonly.get(`/v1/invoices/${invoice.id}/refunds`);
      expect(listed.status).toBe(200);
      expect(listed.body.data.map((r: any) => r.amount)).toEqual(['4.00', '6.00']);

      const after = await balances(stack.admin);
      expect({ refundsDebited: moved(before, after, 'refunds', 'debits'), cashCredited: moved(before, after, 'cash', 'credits'), cash: balanceMoved(before, after, 'cash') }).toEqual({
        refundsDebited: '10.00',
        cashCredited: '10.00',
        cash: '-10.00',
      });
      expectBooksBalanced(after);
    });

    it('takes a refund out of the most recent payment first, one refund row per payment touched', async () => {
      const { invoice } = await freshInvoice();
      const first = await recordManualPayment(em(), { invoiceId: invoice.id, amount: new Decimal('3.00'), reference: 'first', receivedAt: new Date('2027-01-01T00:00:00Z') });
      const second = await recordManualPayment(em(), { invoiceId: invoice.id, amount: new Decimal('7.00'), reference: 'second', receivedAt: new Date('2027-01-02T00:00:00Z') });
      const res = await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '8.00' });
      expect(res.status).toBe(201);
      expect(res.body.refunds.map((r: any) => ({ payment: r.payment_id, amount: r.amount }))).toEqual([
        { payment: second.payment.id, amount: '7.00' },
        { payment: first.payment.id, amount: '1.00' },
      ]);
      // What is left to refund is what is left of the first payment.
      const last = await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, {});
      expect(last.body.refunds.map((r: any) => ({ payment: r.payment_id, amount: r.amount }))).toEqual([{ payment: first.payment.id, amount: '2.00' }]);
    });

    it('refunds a partly paid open invoice up to what was paid; its amount due is unchanged', async () => {
      const { invoice } = await freshInvoice();
      expect((await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '2.50' })).status).toBe(201);
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '2.51' }), 422, { code: 'amount_too_large' });
      const res = await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '2.50' });
      expect(res.status).toBe(201);
      expect(res.body.invoice).toMatchObject({ status: 'open', amount_paid: '2.50', amount_due: '7.50', amount_refunded: '2.50' });
    });

    it('refuses refunds that make no sense (unpaid invoice, zero, too many decimals, a number, unknown fields or invoice) and writes nothing', async () => {
      const open = (await freshInvoice()).invoice;
      const paid = (await paidInvoice()).invoice;
      const untouched = await footprint();
      expectError(await stack.admin.post(`/v1/invoices/${open.id}/refunds`, { amount: '1.00' }), 409, { code: 'invoice_not_paid' });
      expectError(await stack.admin.post(`/v1/invoices/${paid.id}/refunds`, { amount: '0.00' }), 400, { code: 'amount_invalid', param: 'amount' });
      expectError(await stack.admin.post(`/v1/invoices/${paid.id}/refunds`, { amount: '1.001' }), 400, { code: 'amount_invalid', param: 'amount' });
      expectError(await stack.admin.post(`/v1/invoices/${paid.id}/refunds`, { amount: 1 }), 400, { param: 'amount' });
      expectError(await stack.admin.post(`/v1/invoices/${paid.id}/refunds`, { amount: '1.00', colour: 'red' }), 400, { code: 'parameter_unknown' });
      expectError(await stack.admin.post('/v1/invoices/in_doesnotexist/refunds', { amount: '1.00' }), 404, { type: 'not_found_error' });
      expectError(await stack.readonly.post(`/v1/invoices/${paid.id}/refunds`, { amount: '1.00' }), 403, { type: 'permission_error' });
      expect(await footprint()).toEqual(untouched);
    });

    it('refunds once for the same Idempotency-Key, and again for a request without one (as Stripe does)', async () => {
      const { invoice } = await paidInvoice();
      const headers = { 'Idempotency-Key': unique('refund') };
      const first = await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '1.00' }, headers);
      const again = await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '1.00' }, headers);
      expect(first.status).toBe(201);
      expect(again.status).toBe(201);
      expect(again.body.refunds.map((r: any) => r.id)).toEqual(first.body.refunds.map((r: any) => r.id));
      expect((await getInvoice(invoice.id)).amount_refunded).toBe('1.00');

      expect((await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '1.00' })).status).toBe(201);
      expect((await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '1.00' })).status).toBe(201);
      expect((await getInvoice(invoice.id)).amount_refunded).toBe('3.00');
      expect((await stack.readonly.get(`/v1/invoices/${invoice.id}/refunds`)).body.data).toHaveLength(3);
    });

    it('the store itself refunds once per operation key: a retry returns the rows and posts nothing new', async () => {
      const { invoice } = await paidInvoice();
      const request = { invoiceId: invoice.id, amount: new Decimal('2.00'), idempotencyKey: unique('op') };
      const first = await refundInvoice(em(), null, request);
      const before = await footprint();
      const retry = await refundInvoice(em(), null, request);
      expect(retry.replayed).toBe(true);
      expect(retry.refunds.map((r) => r.id)).toEqual(first.refunds.map((r) => r.id));
      expect(await footprint()).toEqual(before);
      await expect(refundInvoice(em(), null, { ...request, invoiceId: (await paidInvoice()).invoice.id })).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    });
  });

  describe('credit notes', () => {
    it('a credit note on an open invoice lowers what it asks, and a manual payment of the rest pays it', async () => {
      const { invoice, customerId } = await freshInvoice();
      const before = await balances(stack.admin);
      const res = await stack.support.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '3.00', reason: 'service outage' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        id: expect.stringMatching(/^cn_/),
        object: 'credit_note',
        number: expect.stringMatching(/^CN-\d{6}$/),
        invoice_id: invoice.id,
        customer_id: customerId,
        amount: '3.00',
        currency: 'USD',
        kind: 'reduce_due',
        reason: 'service outage',
        created_at: expect.any(String),
      });
      expect(res.body.invoice).toMatchObject({ status: 'open', amount_due: '7.00', amount_credited: '3.00', amount_paid: '0.00' });

      const untouched = await footprint();
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '7.01' }), 422, { code: 'amount_too_large', param: 'amount' });
      expect(await footprint()).toEqual(untouched);

      const paid = await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '7.00' });
      expect(paid.status).toBe(201);
      expect(paid.body.invoice).toMatchObject({ status: 'paid', amount_paid: '7.00', amount_due: '0.00', amount_credited: '3.00' });

      const listed = await stack.readonly.get(`/v1/invoices/${invoice.id}/credit_notes`);
      expect(listed.body).toEqual({
        object: 'list',
        url: `/v1/invoices/${invoice.id}/credit_notes`,
        data: [expect.objectContaining({ id: res.body.id, number: res.body.number, kind: 'reduce_due' })],
        has_more: false,
      });

      const after = await balances(stack.admin);
      expect({
        creditNotesDebited: moved(before, after, 'credit_notes', 'debits'),
        cash: balanceMoved(before, after, 'cash'),
        receivable: balanceMoved(before, after, 'accounts_receivable'),
      }).toEqual({ creditNotesDebited: '3.00', cash: '7.00', receivable: '-10.00' });
      expectBooksBalanced(after);
    });

    it('voids an invoice that credit notes take off entirely (nothing paid), and stops its collection', async () => {
      const { invoice } = await freshInvoice();
      const collection = stack.temporal.client.workflow.getHandle(invoiceWorkflowId(invoice.id));
      await eventually('the invoice is being collected', () => collection.describe().then((d) => d.status.name).catch(() => 'NOT_FOUND'), (s) => s === 'RUNNING');
      expect((await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '4.00' })).status).toBe(201);
      const last = await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '6.00' });
      expect(last.body.invoice).toMatchObject({ status: 'void', amount_due: '0.00', amount_credited: '10.00', amount_paid: '0.00', paid_at: null });
      await eventually('collection ended', () => collection.describe().then((d) => d.status.name), (s) => s === 'COMPLETED');
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '1.00' }), 409, { code: 'invoice_not_creditable' });
    });

    it('marks an invoice paid when a credit note covers the rest of a partial payment', async () => {
      const { invoice } = await freshInvoice();
      expect((await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '6.00' })).status).toBe(201);
      const res = await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '4.00' });
      expect(res.body.invoice).toMatchObject({ status: 'paid', amount_paid: '6.00', amount_due: '0.00', amount_credited: '4.00', paid_at: expect.any(String) });
    });

    it('a credit note on a paid invoice becomes customer credit that the next invoice of that customer spends', async () => {
      const { invoice, customerId, subscriptionId } = await paidInvoice();
      expect((await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '2.00' })).status).toBe(201);
      const before = await balances(stack.admin);

      // At most the total less earlier credit notes and refunds: 10.00 - 2.00.
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '8.01' }), 422, { code: 'amount_too_large' });
      const note = await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '4.00', reason: 'downtime' });
      expect(note.status).toBe(201);
      expect(note.body).toMatchObject({ kind: 'customer_balance', amount: '4.00' });
      // The invoice itself is unchanged: it was paid, and stays paid.
      expect(note.body.invoice).toMatchObject({ status: 'paid', amount_paid: '10.00', amount_due: '0.00', amount_credited: '0.00', amount_refunded: '2.00' });
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '4.01' }), 422, { code: 'amount_too_large' });
      const afterNote = await balances(stack.admin);
      expect({ creditNotesDebited: moved(before, afterNote, 'credit_notes', 'debits'), customerCredit: balanceMoved(before, afterNote, 'customer_credit') }).toEqual({
        creditNotesDebited: '4.00',
        customerCredit: '4.00',
      });

      // The workflow would issue the next invoice a month on; the store issues it as its activity does.
      const subscription = await em().findOneOrFail(Subscription, { id: subscriptionId });
      const periodStart = new Date(invoice.period_end);
      const next = await issuePeriodInvoice(em(), {
        subscriptionId: subscription.id,
        periodIndex: 1,
        periodStart,
        periodEnd: new Date(periodStart.getTime() + 30 * 86_400_000),
        issuedAt: periodStart,
      });
      expect(await getInvoice(next.id)).toMatchObject({ customer_id: customerId, status: 'open', total: '10.00', credit_applied: '4.00', amount_due: '6.00' });
      const [credit] = await em().execute<Array<{ balance: string }>>('select coalesce(sum(amount), 0)::text as balance from customer_balance_transactions where customer_id = ?', [customerId]);
      expect(new Decimal(credit.balance).toFixed(2)).toBe('0.00');
      const afterNext = await balances(stack.admin);
      expect(balanceMoved(before, afterNext, 'customer_credit')).toBe('0.00');
      expectBooksBalanced(afterNext);
    });

    it('issues one credit note for the same Idempotency-Key, and numbers credit notes without gaps', async () => {
      const { invoice } = await freshInvoice();
      const headers = { 'Idempotency-Key': unique('credit') };
      const first = await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '1.00' }, headers);
      const again = await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '1.00' }, headers);
      expect(first.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect((await getInvoice(invoice.id)).amount_due).toBe('9.00');
      expect((await stack.readonly.get(`/v1/invoices/${invoice.id}/credit_notes`)).body.data).toHaveLength(1);

      // The store too: a retried operation returns its note and spends no number.
      const request = { invoiceId: invoice.id, amount: new Decimal('2.00'), idempotencyKey: unique('op') };
      const direct = await issueCreditNote(em(), request);
      const before = await footprint();
      const retried = await issueCreditNote(em(), request);
      expect({ replayed: retried.replayed, id: retried.creditNote.id }).toEqual({ replayed: true, id: direct.creditNote.id });
      expect(await footprint()).toEqual(before);

      const numbers = (await em().execute<Array<{ number: string }>>('select number from credit_notes order by number')).map((r) => r.number);
      expect(numbers).toEqual(numbers.map((_, n) => `CN-${String(n + 1).padStart(6, '0')}`));
    });

    it('refuses credit notes that make no sense and writes nothing', async () => {
      const { invoice } = await freshInvoice();
      const untouched = await footprint();
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, {}), 400, { code: 'parameter_missing', param: 'amount' });
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '0' }), 400, { code: 'amount_invalid' });
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '10.01' }), 422, { code: 'amount_too_large' });
      expectError(await stack.admin.post('/v1/invoices/in_doesnotexist/credit_notes', { amount: '1.00' }), 404, { type: 'not_found_error' });
      expectError(await stack.readonly.get('/v1/invoices/in_doesnotexist/credit_notes'), 404, { type: 'not_found_error' });
      expect(await footprint()).toEqual(untouched);
    });
  });

  describe('write-offs', () => {
    it('writes an open invoice off as bad debt, once; a later manual payment recovers it', async () => {
      const { invoice } = await freshInvoice();
      const before = await balances(stack.admin);
      const res = await stack.admin.post(`/v1/invoices/${invoice.id}/mark_uncollectible`, {});
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: invoice.id, status: 'uncollectible', amount_due: '10.00' });
      const writtenOff = await balances(stack.admin);
      expect({ badDebtDebited: moved(before, writtenOff, 'bad_debt', 'debits'), receivable: balanceMoved(before, writtenOff, 'accounts_receivable') }).toEqual({
        badDebtDebited: '10.00',
        receivable: '-10.00',
      });

      const untouched = await footprint();
      const again = await stack.admin.post(`/v1/invoices/${invoice.id}/mark_uncollectible`, {});
      expect(again.status).toBe(200);
      expect(again.body).toEqual(res.body);
      expect(await footprint()).toEqual(untouched);

      const paid = await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '10.00' });
      expect(paid.body.invoice).toMatchObject({ status: 'paid', amount_due: '0.00' });
      const after = await balances(stack.admin);
      expect({
        badDebtCredited: moved(before, after, 'bad_debt', 'credits'),
        badDebt: balanceMoved(before, after, 'bad_debt'),
        receivable: balanceMoved(before, after, 'accounts_receivable'),
        cash: balanceMoved(before, after, 'cash'),
      }).toEqual({
        badDebtCredited: '10.00',
        badDebt: '0.00',
        receivable: '-10.00',
        cash: '10.00',
      });
      expectBooksBalanced(after);
    });

    it('a credit note on a written-off invoice forgives the debt as credit: bad debt goes back to zero', async () => {
      const { invoice } = await freshInvoice();
      const before = await balances(stack.admin);
      expect((await stack.admin.post(`/v1/invoices/${invoice.id}/mark_uncollectible`, {})).status).toBe(200);
      expect((await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '4.00' })).body.invoice).toMatchObject({ status: 'uncollectible', amount_due: '6.00' });
      const note = await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: '6.00' });
      expect(note.body).toMatchObject({ kind: 'reduce_due', invoice: { status: 'paid', amount_paid: '4.00', amount_credited: '6.00', amount_due: '0.00' } });
      const after = await balances(stack.admin);
      expect({ badDebt: balanceMoved(before, after, 'bad_debt'), creditNotesDebited: moved(before, after, 'credit_notes', 'debits'), receivable: balanceMoved(before, after, 'accounts_receivable') }).toEqual({
        badDebt: '0.00',
        creditNotesDebited: '6.00',
        receivable: '-10.00',
      });
    });

    it('refuses to write off a paid invoice, or with a body, and writes nothing', async () => {
      const { invoice } = await paidInvoice();
      const untouched = await footprint();
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/mark_uncollectible`, {}), 409, { code: 'invoice_not_open' });
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/mark_uncollectible`, { at: 'now' }), 400, { code: 'parameter_unknown' });
      expectError(await stack.admin.post('/v1/invoices/in_doesnotexist/mark_uncollectible', {}), 404, { type: 'not_found_error' });
      expect(await footprint()).toEqual(untouched);
    });
  });

  describe('card refunds through Stripe (localstripe)', () => {
    let emulator: StripeEmulator;
    let stripe: Stripe;
    let withStripe: ApiClient;
    let server: { close(): Promise<void> };
    let pool: Pool;

    beforeAll(async () => {
      const logDir = await mkdtemp(join(tmpdir(), 'perennial-refunds-localstripe-'));
      emulator = await startStripeEmulator({ port: await freePort(), logFile: join(logDir, 'localstripe.log'), quiet: true });
      stripe = stripeClient(emulator.apiBase);
      pool = usagePool(stack.db.url);
      const apiKeys = `admin:${KEYS.admin},support:${KEYS.support},readonly:${KEYS.readonly}`;
      const app = createApp({ orm: stack.db.orm, temporal: stack.temporal.client, taskQueue: stack.taskQueue, apiKeys: parseApiKeySpec(apiKeys), usagePool: pool, stripe: { gateway: new StripeGateway(stripe), webhookSecret: null } });
      const listening = await listen(app);
      server = listening;
      withStripe = apiClient(listening.baseUrl, KEYS.admin);
    });

    afterAll(async () => {
      await server?.close();
      await pool?.end();
      await emulator?.stop();
    });

    /** An invoice paid in full by a PaymentIntent confirmed on the emulator, recorded as the charge activity records it. */
    async function cardPaidInvoice(): Promise<{ invoice: any; intent: Stripe.PaymentIntent }> {
      const { invoice } = await freshInvoice();
      const customer = await stripe.customers.create({ email: 'card@example.test' });
      const paymentMethod = await stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
      const intent = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: customer.id, payment_method: paymentMethod.id, off_session: true, confirm: true });
      expect(intent.status).toBe('succeeded');
      const recorded = await recordCardPayment(em(), { invoiceId: invoice.id, paymentIntentId: intent.id, amount: new Decimal('10.00'), currency: 'usd', fee: null, receivedAt: new Date() });
      expect(recorded.invoice.status).toBe('paid');
      return { invoice, intent };
    }

    const stripeRefunds = async (intent: Stripe.PaymentIntent) => (await stripe.refunds.list({ payment_intent: intent.id })).data.map((r) => ({ id: r.id, amount: r.amount }));

    it('refunds part of a card payment through Stripe, once for the same Idempotency-Key', async () => {
      const { invoice, intent } = await cardPaidInvoice();
      const before = await balances(stack.admin);
      const headers = { 'Idempotency-Key': unique('card-refund') };
      const res = await withStripe.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '2.50', reason: 'requested_by_customer' }, headers);
      expect(res.status).toBe(201);
      expect(res.body.refunds).toEqual([expect.objectContaining({ amount: '2.50', method: 'card', stripe_refund_id: expect.stringMatching(/^re_/) })]);
      expect(res.body.invoice).toMatchObject({ status: 'paid', amount_refunded: '2.50' });
      expect(await stripeRefunds(intent)).toEqual([{ id: res.body.refunds[0].stripe_refund_id, amount: 250 }]);

      // localstripe ignores Stripe's idempotency keys, so only our side can keep this from refunding twice.
      const again = await withStripe.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '2.50', reason: 'requested_by_customer' }, headers);
      expect(again.body).toEqual(res.body);
      expect(await stripeRefunds(intent)).toHaveLength(1);

      // The store's own retry (the HTTP replay record lost, say) calls Stripe no second time either.
      const request = { invoiceId: invoice.id, amount: new Decimal('1.50'), idempotencyKey: unique('op') };
      await refundInvoice(em(), new StripeGateway(stripe), request);
      const retried = await refundInvoice(em(), new StripeGateway(stripe), request);
      expect(retried.replayed).toBe(true);
      expect((await stripeRefunds(intent)).map((r) => r.amount).sort((a, b) => a - b)).toEqual([150, 250]);
      const charge = await stripe.charges.retrieve(typeof intent.latest_charge === 'string' ? intent.latest_charge : intent.latest_charge!.id);
      expect(charge.amount_refunded).toBe(400);

      const after = await balances(stack.admin);
      expect({
        refundsDebited: moved(before, after, 'refunds', 'debits'),
        clearingCredited: moved(before, after, 'stripe_clearing', 'credits'),
        cashCredited: moved(before, after, 'cash', 'credits'),
      }).toEqual({ refundsDebited: '4.00', clearingCredited: '4.00', cashCredited: '0.00' });
      expectBooksBalanced(after);
    });

    it('returns in full, automatically, a card payment that arrives for an invoice already paid (an old 3-D Secure finished late)', async () => {
      // Paid by bank transfer; then a PaymentIntent of the same invoice succeeds after all.
      const { invoice } = await paidInvoice();
      const customer = await stripe.customers.create({ email: 'late@example.test' });
      const paymentMethod = await stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
      const intent = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: customer.id, payment_method: paymentMethod.id, off_session: true, confirm: true });
      const before = await balances(stack.admin);
      const gateway = new StripeGateway(stripe);
      const recorded = await recordCardPayment(em(), { invoiceId: invoice.id, paymentIntentId: intent.id, amount: new Decimal('10.00'), currency: 'usd', fee: null, receivedAt: new Date() });
      expect(recorded).toMatchObject({ newlyPaid: false, excess: new Decimal('10.00') });
      expect(await completePendingRefunds(em(), gateway, invoice.id)).toBe(0);
      // Recorded twice (the webhook and the charge activity both saw it): still one refund.
      await recordCardPayment(em(), { invoiceId: invoice.id, paymentIntentId: intent.id, amount: new Decimal('10.00'), currency: 'usd', fee: null, receivedAt: new Date() });
      expect(await completePendingRefunds(em(), gateway, invoice.id)).toBe(0);

      expect((await stripeRefunds(intent)).map((r) => r.amount)).toEqual([1000]);
      expect(await getInvoice(invoice.id)).toMatchObject({ status: 'paid', amount_paid: '10.00', amount_refunded: '0.00' });
      const after = await balances(stack.admin);
      expect({
        excessCredited: moved(before, after, 'excess_payments', 'credits'),
        excessDebited: moved(before, after, 'excess_payments', 'debits'),
        clearingDebited: moved(before, after, 'stripe_clearing', 'debits'),
        clearingCredited: moved(before, after, 'stripe_clearing', 'credits'),
        receivable: moved(before, after, 'accounts_receivable', 'credits'),
      }).toEqual({ excessCredited: '10.00', excessDebited: '10.00', clearingDebited: '10.00', clearingCredited: '10.00', receivable: '0.00' });
      expectBooksBalanced(after);
      // Only what paid the invoice is refundable; the returned excess is not counted again.
      expectError(await withStripe.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '10.01' }), 422, { code: 'amount_too_large' });
    });

    it('refuses to record a card payment in another currency than its invoice', async () => {
      const { invoice } = await freshInvoice();
      await expect(
        recordCardPayment(em(), { invoiceId: invoice.id, paymentIntentId: 'pi_other_currency', amount: new Decimal('10.00'), currency: 'eur', fee: null, receivedAt: new Date() }),
      ).rejects.toMatchObject({ code: 'currency_mismatch' });
      expect(await getInvoice(invoice.id)).toMatchObject({ status: 'open', amount_due: '10.00' });
    });

    it('refuses to refund a card payment when Stripe is not configured (409) and writes nothing', async () => {
      const { invoice, intent } = await cardPaidInvoice();
      const untouched = await footprint();
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, { amount: '1.00' }), 409, { code: 'stripe_not_configured' });
      expect(await footprint()).toEqual(untouched);
      expect(await stripeRefunds(intent)).toEqual([]);
    });
  });
});
