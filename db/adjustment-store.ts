import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { BillingError } from '../domain/errors';
import { creditNoteIssued, excessRefunded, invoiceWrittenOff, refundIssued, writeOffRecovered } from '../domain/ledger';
import { decimalString, fitsCurrency, formatAmount } from '../domain/money';
import { StripeRequestRefused, type StripeGateway } from '../payments/stripe-gateway';
import { toMinorUnits } from './collection-store';
import { CustomerBalanceTransaction } from './entities/adjustments';
import { Invoice, invoiceName } from './entities/invoice';
import { Payment } from './entities/payment';
import { CreditNote, Refund, type CreditNoteKind } from './entities/refund';
import { newId } from './ids';
import { postTransaction } from './ledger-store';
import { creditNoteCreated, invoiceEvent, refundCreated } from './resource-events';
import { logger } from '../observability/logger';

/**
 * Corrections to an issued invoice, each a new immutable record with its ledger posting: refunds
 * (money given back out of its payments), credit notes (less asked, or credit for later invoices)
 * and write-offs (the amount due becomes bad debt). Every operation is idempotent on a key.
 */

const invoiceMissing = (id: string) => new BillingError('not_found_error', 'resource_missing', `No such invoice: '${id}'`, 'id');

function assertPositiveAmount(amount: Decimal, currency: string): void {
  if (amount.lte(0)) {
    throw new BillingError('invalid_request_error', 'amount_invalid', 'amount must be greater than zero', 'amount');
  }
  if (!fitsCurrency(amount, currency)) {
    throw new BillingError('invalid_request_error', 'amount_invalid', `amount has more decimals than ${currency} allows`, 'amount');
  }
}

function tooLarge(amount: Decimal, limit: Decimal, currency: string, what: string): BillingError {
  return new BillingError('invalid_request_error', 'amount_too_large', `amount ${decimalString(amount)} exceeds the ${formatAmount(limit, currency)} ${currency} ${what}`, 'amount');
}

// ---------------------------------------------------------------------------------------------
// Refunds
// ---------------------------------------------------------------------------------------------

export interface RefundRequest {
  invoiceId: string;
  /** Default: everything still refundable (amount paid less amount refunded or being refunded). */
  amount?: Decimal | null;
  reason?: string | null;
  /** The operation's key; each payment touched gets `${idempotencyKey}:${paymentId}`, also Stripe's key. */
  idempotencyKey: string;
  at?: Date;
}

export interface RefundOutcome {
  refunds: Refund[];
  invoice: Invoice;
  /** True when the key had already been used: the rows it wrote then, nothing new. */
  replayed: boolean;
}

interface RefundPart {
  payment: Payment;
  amount: Decimal;
  key: string;
}

const refundKey = (operationKey: string, paymentId: string): string => `${operationKey}:${paymentId}`;

/** The refunds an operation key already wrote (one per payment it touched). */
async function refundsOfKey(em: EntityManager, operationKey: string): Promise<Refund[]> {
  const rows = await em.execute<Array<{ id: string }>>(`select r.id from refunds r where r.idempotency_key = ? || ':' || r.payment_id`, [operationKey]);
  return rows.length ? em.find(Refund, { id: rows.map((r) => r.id) }, { orderBy: { createdAt: 'asc', id: 'asc' } }) : [];
}

/**
 * What a refund takes out of which payment: the most recent payments first (the money that came in
 * last goes back first), each up to what it paid of the invoice less what was refunded or is being
 * refunded from it. Runs with the invoice locked.
 */
async function planRefund(tx: EntityManager, gateway: StripeGateway | null, invoice: Invoice, request: RefundRequest): Promise<RefundPart[]> {
  if (invoice.amountPaid.lte(0)) {
    throw new BillingError('state_error', 'invoice_not_paid', `invoice ${invoice.number} has no payment to refund`);
  }
  const [reserved] = await tx.execute<Array<{ amount: string | null }>>(
    `select sum(amount)::text as amount from refunds where invoice_id = ? and kind = 'requested' and status = 'pending'`,
    [invoice.id],
  );
  const refundable = invoice.amountPaid.minus(invoice.amountRefunded).minus(reserved.amount ?? 0);
  const amount = request.amount ?? refundable;
  if ((request.amount === undefined || request.amount === null) && refundable.isZero()) {
    throw new BillingError('state_error', 'invoice_fully_refunded', `invoice ${invoice.number} has been refunded in full`);
  }
  assertPositiveAmount(amount, invoice.currency);
  if (amount.greaterThan(refundable)) throw tooLarge(amount, refundable, invoice.currency, `refundable on invoice ${invoice.number}`);

  const payments = await tx.find(Payment, { invoiceId: invoice.id }, { orderBy: { receivedAt: 'desc', createdAt: 'desc', id: 'desc' } });
  const refunded = await tx.execute<Array<{ payment_id: string; amount: string }>>(
    `select payment_id, sum(amount)::text as amount from refunds where invoice_id = ? and kind = 'requested' and status <> 'failed' group by payment_id`,
    [invoice.id],
  );
  const refundedOf = new Map(refunded.map((r) => [r.payment_id, new Decimal(r.amount)]));
  const parts: RefundPart[] = [];
  let left = amount;
  for (const payment of payments) {
    if (left.isZero()) break;
    const available = payment.amount.minus(payment.amountExcess).minus(refundedOf.get(payment.id) ?? 0);
    if (available.lte(0)) continue;
    const take = Decimal.min(available, left);
    parts.push({ payment, amount: take, key: refundKey(request.idempotencyKey, payment.id) });
    left = left.minus(take);
  }
  // amount_paid is the sum of what payments paid of the invoice, so they always cover what is refundable.
  if (!left.isZero()) throw new Error(`invoice ${invoice.number}: payments cover ${decimalString(amount.minus(left))} of a ${decimalString(amount)} refund`);
  if (!gateway && parts.some((p) => p.payment.stripePaymentIntentId)) {
    throw new BillingError('state_error', 'stripe_not_configured', `invoice ${invoice.number} was paid by card and Stripe is not configured (STRIPE_SECRET_KEY), so it cannot be refunded`);
  }
  return parts;
}

/**
 * Reserves a refund: one row per payment it takes from, with the invoice locked, so two refunds
 * cannot both spend the same refundable amount. A manual payment's part is complete at once (it is
 * paid back by hand) with its posting; a card payment's part is pending until Stripe has refunded it.
 */
async function reserveRefunds(em: EntityManager, gateway: StripeGateway | null, request: RefundRequest, at: Date): Promise<{ replayed: boolean; order: string[] }> {
  return em.fork().transactional(async (tx) => {
    const invoice = await tx.findOne(Invoice, { id: request.invoiceId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!invoice) throw invoiceMissing(request.invoiceId);
    const earlier = await refundsOfKey(tx, request.idempotencyKey);
    if (earlier.length > 0) {
      if (earlier.some((r) => r.invoiceId !== request.invoiceId)) {
        throw new BillingError('idempotency_error', 'idempotency_key_reused', `idempotency key ${request.idempotencyKey} was used for a refund of another invoice`);
      }
      return { replayed: true, order: earlier.map((r) => r.id) };
    }
    const order: string[] = [];
    const made: Refund[] = [];
    for (const part of await planRefund(tx, gateway, invoice, request)) {
      const byCard = Boolean(part.payment.stripePaymentIntentId);
      const refund = tx.create(Refund, {
        id: newId('rf'),
        invoiceId: invoice.id,
        paymentId: part.payment.id,
        amount: part.amount,
        currency: invoice.currency,
        reason: request.reason ?? null,
        idempotencyKey: part.key,
        kind: 'requested',
        status: byCard ? 'pending' : 'succeeded',
        completedAt: byCard ? null : at,
        createdAt: at,
      });
      order.push(refund.id);
      made.push(refund);
      if (byCard) continue;
      invoice.amountRefunded = invoice.amountRefunded.plus(refund.amount);
      await tx.flush();
      const posting = refundIssued({ id: refund.id, invoiceNumber: invoiceName(invoice), currency: invoice.currency, amount: refund.amount, at, via: 'cash' });
      if (posting) await postTransaction(tx, posting, { customerId: invoice.customerId, invoiceId: invoice.id });
    }
    await tx.flush();
    for (const refund of made) await refundCreated(tx, refund, invoice.customerId);
    return { replayed: false, order };
  });
}

/** Records Stripe's answer to a pending refund, with its posting, once. */
async function completeRefund(em: EntityManager, refundId: string, result: { stripeRefundId: string } | { failure: string }, at: Date): Promise<void> {
  await em.fork().transactional(async (tx) => {
    const refund = await tx.findOneOrFail(Refund, { id: refundId });
    const invoice = await tx.findOneOrFail(Invoice, { id: refund.invoiceId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    await tx.refresh(refund);
    if (refund.status !== 'pending') return;
    refund.completedAt = at;
    if ('failure' in result) {
      refund.status = 'failed';
      refund.failureMessage = result.failure;
      await tx.flush();
      return;
    }
    refund.status = 'succeeded';
    refund.stripeRefundId = result.stripeRefundId;
    const refs = { customerId: invoice.customerId, invoiceId: invoice.id };
    if (refund.kind === 'excess') {
      await tx.flush();
      const posting = excessRefunded({ id: refund.id, invoiceNumber: invoiceName(invoice), currency: invoice.currency, amount: refund.amount, at });
      if (posting) await postTransaction(tx, posting, refs);
      return;
    }
    invoice.amountRefunded = invoice.amountRefunded.plus(refund.amount);
    if (invoice.amountRefunded.greaterThan(invoice.amountPaid)) {
      throw new Error(`invoice ${invoice.number}: refunded ${decimalString(invoice.amountRefunded)} exceeds paid ${decimalString(invoice.amountPaid)}`);
    }
    await tx.flush();
    const posting = refundIssued({ id: refund.id, invoiceNumber: invoiceName(invoice), currency: invoice.currency, amount: refund.amount, at, via: 'stripe_clearing' });
    if (posting) await postTransaction(tx, posting, refs);
  });
}

/**
 * Asks Stripe for every pending refund of an invoice (requested ones and excess payments), outside
 * any database transaction, each under its own key so a repeat gets Stripe's same refund back. A
 * refusal (the charge was refunded in Stripe's dashboard, say) marks the refund failed and releases
 * its amount; a network error or a 5xx leaves it pending for the next call. Returns how many are
 * still pending.
 */
export async function completePendingRefunds(em: EntityManager, gateway: StripeGateway | null, invoiceId: string): Promise<number> {
  const pending = await em.fork().find(Refund, { invoiceId, status: 'pending' }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  if (pending.length === 0 || !gateway) return pending.length;
  let left = 0;
  for (const refund of pending) {
    const payment = await em.fork().findOneOrFail(Payment, { id: refund.paymentId });
    try {
      const stripeRefundId = await gateway.refund({
        key: refund.idempotencyKey,
        paymentIntentId: payment.stripePaymentIntentId!,
        amountMinor: toMinorUnits(refund.amount, refund.currency),
        reason: refund.reason ?? undefined,
      });
      await completeRefund(em, refund.id, { stripeRefundId }, new Date());
    } catch (error) {
      if (error instanceof StripeRequestRefused) {
        await completeRefund(em, refund.id, { failure: error.message }, new Date());
        continue;
      }
      logger.warn({ refundId: refund.id, invoiceId, err: error }, 'refund is still pending: Stripe did not take it yet');
      left += 1;
    }
  }
  return left;
}

/**
 * Gives money back on a paid (or partly paid) invoice, out of its most recent payments first: the
 * amount is reserved in one transaction, card parts are then refunded through Stripe outside it
 * (with the row's key as Stripe's idempotency key), and each answer is recorded in a transaction of
 * its own. A retry with the same key resumes what was reserved instead of refunding again; pending
 * refunds of the invoice left by an earlier interruption are completed first. The invoice keeps its
 * status: a refund does not reopen it.
 */
export async function refundInvoice(em: EntityManager, gateway: StripeGateway | null, request: RefundRequest): Promise<RefundOutcome> {
  const at = request.at ?? new Date();
  const { replayed, order } = await reserveRefunds(em, gateway, request, at);
  const pending = await completePendingRefunds(em, gateway, request.invoiceId);
  // In the order they were taken: the most recent payment first.
  const refunds = (await refundsOfKey(em.fork(), request.idempotencyKey)).sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  const invoice = await em.fork().findOneOrFail(Invoice, { id: request.invoiceId });
  if (pending > 0 && refunds.some((r) => r.status === 'pending')) {
    throw new BillingError(
      'api_error',
      'refund_pending',
      `Stripe did not answer; the refund of invoice ${invoice.number} is reserved and completes when this request is retried with the same Idempotency-Key`,
    );
  }
  const failed = refunds.find((r) => r.status === 'failed');
  if (failed && !replayed) throw new BillingError('state_error', 'refund_failed', `invoice ${invoice.number}: ${failed.failureMessage ?? 'Stripe refused the refund'}`);
  return { refunds, invoice, replayed };
}

// ---------------------------------------------------------------------------------------------
// Credit notes
// ---------------------------------------------------------------------------------------------

export interface CreditNoteRequest {
  invoiceId: string;
  amount: Decimal;
  reason?: string | null;
  idempotencyKey: string;
  at?: Date;
}

export interface CreditNoteOutcome {
  creditNote: CreditNote;
  invoice: Invoice;
  replayed: boolean;
  /** The credit note settled what the invoice asked (it became paid or void). */
  settled: boolean;
}

/** Gapless like invoice numbers: the sequence row is locked by the update until the note commits. */
async function nextCreditNoteNumber(em: EntityManager): Promise<string> {
  const [row] = await em.execute<Array<{ value: string }>>(
    `update invoice_number_sequences set next_value = next_value + 1 where series = 'CN' returning next_value - 1 as value`,
  );
  return `CN-${row.value.padStart(6, '0')}`;
}

async function earlierCreditNote(em: EntityManager, request: CreditNoteRequest): Promise<CreditNoteOutcome | null> {
  const note = await em.findOne(CreditNote, { idempotencyKey: request.idempotencyKey });
  if (!note) return null;
  if (note.invoiceId !== request.invoiceId) {
    throw new BillingError('idempotency_error', 'idempotency_key_reused', `idempotency key ${request.idempotencyKey} was used for a credit note on another invoice`);
  }
  return { creditNote: note, invoice: await em.findOneOrFail(Invoice, { id: note.invoiceId }), replayed: true, settled: false };
}

/**
 * A credit note on an invoice.
 * - Open (or written-off) invoice: kind reduce_due, at most the amount due; it comes off amount_due
 *   and adds to amount_credited. When nothing is left due, the invoice is settled: `void` if credit
 *   notes took off its whole total (nothing was paid and no customer credit was spent on it),
 *   otherwise `paid` (what was paid or covered by credit, plus the credit notes, settle it).
 * - Paid invoice: kind customer_balance, at most the total less earlier credit notes and refunds
 *   (nothing is given back twice); the customer's credit balance grows by the amount and the next
 *   invoice spends it. The invoice itself is unchanged.
 * Numbered CN-000001… without gaps; idempotent on the key. `inTransaction` runs last inside the
 * transaction that issues the note (the API records its idempotency key's phase there).
 */
export async function issueCreditNote(
  em: EntityManager,
  request: CreditNoteRequest,
  inTransaction?: (tx: EntityManager, outcome: CreditNoteOutcome) => Promise<void>,
): Promise<CreditNoteOutcome> {
  const earlier = await earlierCreditNote(em.fork(), request);
  if (earlier) return earlier;
  try {
    return await em.fork().transactional(async (tx) => {
      const invoice = await tx.findOne(Invoice, { id: request.invoiceId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!invoice) throw invoiceMissing(request.invoiceId);
      assertPositiveAmount(request.amount, invoice.currency);
      let kind: CreditNoteKind;
      if (invoice.status === 'open' || invoice.status === 'uncollectible') {
        kind = 'reduce_due';
        if (request.amount.greaterThan(invoice.amountDue)) throw tooLarge(request.amount, invoice.amountDue, invoice.currency, `due on invoice ${invoice.number}`);
      } else if (invoice.status === 'paid') {
        kind = 'customer_balance';
        const [row] = await tx.execute<Array<{ credited: string | null }>>('select sum(amount)::text as credited from credit_notes where invoice_id = ?', [invoice.id]);
        const creditable = Decimal.max(0, Decimal.max(invoice.total, 0).minus(row.credited ?? 0).minus(invoice.amountRefunded));
        if (request.amount.greaterThan(creditable)) {
          throw tooLarge(request.amount, creditable, invoice.currency, `creditable on invoice ${invoice.number} (its total less earlier credit notes and refunds)`);
        }
      } else {
        throw new BillingError('state_error', 'invoice_not_creditable', `invoice ${invoice.number} is ${invoice.status}; only open, written-off or paid invoices take credit notes`);
      }
      const at = request.at ?? new Date();
      const note = tx.create(CreditNote, {
        id: newId('cn'),
        number: await nextCreditNoteNumber(tx),
        invoiceId: invoice.id,
        customerId: invoice.customerId,
        amount: request.amount,
        currency: invoice.currency,
        kind,
        reason: request.reason ?? null,
        idempotencyKey: request.idempotencyKey,
        createdAt: at,
      });
      await tx.flush();
      const refs = { customerId: invoice.customerId, invoiceId: invoice.id };
      let settled = false;
      if (kind === 'reduce_due') {
        if (invoice.status === 'uncollectible') {
          // The bad debt forgiven is a credit, not a loss: it goes back to the receivable the note then clears.
          const recovered = writeOffRecovered({ id: invoice.id, number: invoiceName(invoice), currency: invoice.currency, amount: note.amount, at });
          if (recovered) await postTransaction(tx, { ...recovered, idempotencyKey: `${recovered.idempotencyKey}:${note.id}` }, refs);
        }
        invoice.amountDue = invoice.amountDue.minus(note.amount);
        invoice.amountCredited = invoice.amountCredited.plus(note.amount);
        if (invoice.amountDue.isZero()) {
          settled = true;
          if (invoice.amountCredited.equals(Decimal.max(invoice.total, 0))) {
            invoice.status = 'void';
            invoice.voidedAt = at;
          } else {
            invoice.status = 'paid';
            invoice.paidAt = at;
          }
        }
      } else {
        tx.create(CustomerBalanceTransaction, { id: newId('cbt'), customerId: invoice.customerId, currency: invoice.currency, amount: note.amount, invoiceId: invoice.id, kind: 'credit_note', createdAt: at });
      }
      await tx.flush();
      const posting = creditNoteIssued({ id: note.id, number: note.number, invoiceNumber: invoiceName(invoice), currency: invoice.currency, amount: note.amount, at, kind });
      if (posting) await postTransaction(tx, posting, refs);
      await creditNoteCreated(tx, note);
      if (invoice.status === 'void') await invoiceEvent(tx, 'invoice.voided', invoice);
      if (invoice.status === 'paid' && settled) await invoiceEvent(tx, 'invoice.paid', invoice);
      const outcome = { creditNote: note, invoice, replayed: false, settled };
      await inTransaction?.(tx, outcome);
      return outcome;
    });
  } catch (error) {
    // The same key, concurrently: the other request's note is the one (its number is not spent twice).
    if (error instanceof UniqueConstraintViolationException) {
      const winner = await earlierCreditNote(em.fork(), request);
      if (winner) return winner;
    }
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Write-offs
// ---------------------------------------------------------------------------------------------

/**
 * Marks an open invoice uncollectible: its amount due becomes bad debt. It still accepts payments
 * (db/payment-store.ts, db/collection-store.ts), which recover the bad debt. A second call returns
 * the invoice unchanged. `inTransaction` runs last inside the transaction, as in issueCreditNote.
 */
export async function writeOffInvoice(
  em: EntityManager,
  request: { invoiceId: string; at: Date },
  inTransaction?: (tx: EntityManager, outcome: { invoice: Invoice; changed: boolean }) => Promise<void>,
): Promise<{ invoice: Invoice; changed: boolean }> {
  return em.fork().transactional(async (tx) => {
    const invoice = await tx.findOne(Invoice, { id: request.invoiceId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!invoice) throw invoiceMissing(request.invoiceId);
    if (invoice.status === 'uncollectible') {
      await inTransaction?.(tx, { invoice, changed: false });
      return { invoice, changed: false };
    }
    if (invoice.status !== 'open') {
      throw new BillingError('state_error', 'invoice_not_open', `invoice ${invoice.number} is ${invoice.status}; only open invoices can be marked uncollectible`);
    }
    if (invoice.amountDue.lte(0)) {
      throw new BillingError('state_error', 'invoice_nothing_due', `invoice ${invoice.number} has nothing due to write off`);
    }
    invoice.status = 'uncollectible';
    invoice.writtenOffAt = request.at;
    await tx.flush();
    const posting = invoiceWrittenOff({ id: invoice.id, number: invoiceName(invoice), currency: invoice.currency, amountDue: invoice.amountDue, at: request.at });
    if (posting) await postTransaction(tx, posting, { customerId: invoice.customerId, invoiceId: invoice.id });
    await invoiceEvent(tx, 'invoice.marked_uncollectible', invoice);
    await inTransaction?.(tx, { invoice, changed: true });
    return { invoice, changed: true };
  });
}
