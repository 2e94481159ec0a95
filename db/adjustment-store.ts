import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { BillingError } from '../domain/errors';
import { creditNoteIssued, invoiceWrittenOff, refundIssued, writeOffRecovered } from '../domain/ledger';
import { decimalString, fitsCurrency, formatAmount } from '../domain/money';
import type { StripeGateway } from '../payments/stripe-gateway';
import { toMinorUnits } from './collection-store';
import { CustomerBalanceTransaction } from './entities/adjustments';
import { Invoice } from './entities/invoice';
import { Payment } from './entities/payment';
import { CreditNote, Refund, type CreditNoteKind } from './entities/refund';
import { newId } from './ids';
import { postTransaction } from './ledger-store';

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
  /** Default: everything still refundable (amount paid less amount refunded). */
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
 * last goes back first), each up to what it brought in less what was already refunded from it.
 */
async function planRefund(em: EntityManager, gateway: StripeGateway | null, request: RefundRequest): Promise<{ invoice: Invoice; parts: RefundPart[] }> {
  const invoice = await em.findOne(Invoice, { id: request.invoiceId });
  if (!invoice) throw invoiceMissing(request.invoiceId);
  if (invoice.amountPaid.lte(0)) {
    throw new BillingError('state_error', 'invoice_not_paid', `invoice ${invoice.number} has no payment to refund`);
  }
  const refundable = invoice.amountPaid.minus(invoice.amountRefunded);
  const amount = request.amount ?? refundable;
  if ((request.amount === undefined || request.amount === null) && refundable.isZero()) {
    throw new BillingError('state_error', 'invoice_fully_refunded', `invoice ${invoice.number} has been refunded in full`);
  }
  assertPositiveAmount(amount, invoice.currency);
  if (amount.greaterThan(refundable)) throw tooLarge(amount, refundable, invoice.currency, `refundable on invoice ${invoice.number}`);

  const payments = await em.find(Payment, { invoiceId: invoice.id }, { orderBy: { receivedAt: 'desc', createdAt: 'desc', id: 'desc' } });
  const refunded = await em.execute<Array<{ payment_id: string; amount: string }>>(
    'select payment_id, sum(amount)::text as amount from refunds where invoice_id = ? group by payment_id',
    [invoice.id],
  );
  const refundedOf = new Map(refunded.map((r) => [r.payment_id, new Decimal(r.amount)]));
  const parts: RefundPart[] = [];
  let left = amount;
  for (const payment of payments) {
    if (left.isZero()) break;
    const available = payment.amount.minus(refundedOf.get(payment.id) ?? 0);
    if (available.lte(0)) continue;
    const take = Decimal.min(available, left);
    parts.push({ payment, amount: take, key: refundKey(request.idempotencyKey, payment.id) });
    left = left.minus(take);
  }
  // amount_paid is the sum of what payments brought in, so they always cover what is refundable.
  if (!left.isZero()) throw new Error(`invoice ${invoice.number}: payments cover ${decimalString(amount.minus(left))} of a ${decimalString(amount)} refund`);
  if (!gateway && parts.some((p) => p.payment.stripePaymentIntentId)) {
    throw new BillingError('state_error', 'stripe_not_configured', `invoice ${invoice.number} was paid by card and Stripe is not configured (STRIPE_SECRET_KEY), so it cannot be refunded`);
  }
  return { invoice, parts };
}

/** Writes the refund rows, the invoice's amount refunded and the postings, in one transaction with the invoice locked. */
async function recordRefunds(em: EntityManager, request: RefundRequest, parts: RefundPart[], stripeRefunds: Map<string, string>, at: Date): Promise<RefundOutcome> {
  return em.fork().transactional(async (tx) => {
    const invoice = await tx.findOneOrFail(Invoice, { id: request.invoiceId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const refunds: Refund[] = [];
    for (const part of parts) {
      // A row of this key exists only if an earlier attempt committed; then none of its rows is new.
      const inserted = await tx.execute<Array<{ id: string }>>(
        `insert into refunds (id, invoice_id, payment_id, amount, currency, reason, idempotency_key, stripe_refund_id, created_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (idempotency_key) do nothing returning id`,
        [newId('rf'), invoice.id, part.payment.id, decimalString(part.amount), invoice.currency, request.reason ?? null, part.key, stripeRefunds.get(part.payment.id) ?? null, at],
      );
      if (inserted.length === 0) continue;
      const refund = await tx.findOneOrFail(Refund, { id: inserted[0].id });
      refunds.push(refund);
      invoice.amountRefunded = invoice.amountRefunded.plus(refund.amount);
      const posting = refundIssued({
        id: refund.id,
        invoiceNumber: invoice.number,
        currency: invoice.currency,
        amount: refund.amount,
        at,
        via: part.payment.stripePaymentIntentId ? 'stripe_clearing' : 'cash',
      });
      if (posting) await postTransaction(tx, posting, { customerId: invoice.customerId, invoiceId: invoice.id });
    }
    if (invoice.amountRefunded.greaterThan(invoice.amountPaid)) {
      throw new Error(`invoice ${invoice.number}: refunded ${decimalString(invoice.amountRefunded)} exceeds paid ${decimalString(invoice.amountPaid)}`);
    }
    await tx.flush();
    if (refunds.length === 0) return { refunds: await refundsOfKey(tx, request.idempotencyKey), invoice, replayed: true };
    return { refunds, invoice, replayed: false };
  });
}

/**
 * Gives money back on a paid (or partly paid) invoice, out of its most recent payments first. A card
 * payment is refunded through Stripe with the row's key as Stripe's idempotency key, before the
 * database transaction (a retry gets Stripe's same refund back and inserts nothing twice); a manual
 * payment is recorded as paid back by hand. Refunds of one invoice run one at a time (an advisory
 * lock held for the whole operation), so two of them cannot both spend the same refundable amount
 * while Stripe is being called. The invoice keeps its status: a refund does not reopen it.
 */
export async function refundInvoice(em: EntityManager, gateway: StripeGateway | null, request: RefundRequest): Promise<RefundOutcome> {
  return em.fork().transactional(async (guard) => {
    await guard.execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`refunds:${request.invoiceId}`]);
    const earlier = await refundsOfKey(em.fork(), request.idempotencyKey);
    if (earlier.length > 0) {
      if (earlier.some((r) => r.invoiceId !== request.invoiceId)) {
        throw new BillingError('idempotency_error', 'idempotency_key_reused', `idempotency key ${request.idempotencyKey} was used for a refund of another invoice`);
      }
      const invoice = await em.fork().findOneOrFail(Invoice, { id: request.invoiceId });
      return { refunds: earlier, invoice, replayed: true };
    }
    const { invoice, parts } = await planRefund(em.fork(), gateway, request);
    const stripeRefunds = new Map<string, string>();
    for (const part of parts) {
      const intent = part.payment.stripePaymentIntentId;
      if (!intent || !gateway) continue;
      const reason = request.reason ?? undefined;
      const id = await gateway.refund({ key: part.key, paymentIntentId: intent, amountMinor: toMinorUnits(part.amount, invoice.currency), reason });
      stripeRefunds.set(part.payment.id, id);
    }
    return recordRefunds(em, request, parts, stripeRefunds, request.at ?? new Date());
  });
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
 * Numbered CN-000001… without gaps; idempotent on the key.
 */
export async function issueCreditNote(em: EntityManager, request: CreditNoteRequest): Promise<CreditNoteOutcome> {
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
          const recovered = writeOffRecovered({ id: invoice.id, number: invoice.number, currency: invoice.currency, amount: note.amount, at });
          if (recovered) await postTransaction(tx, { ...recovered, idempotencyKey: `${recovered.idempotencyKey}:${note.id}` }, refs);
        }
        invoice.amountDue = invoice.amountDue.minus(note.amount);
        invoice.amountCredited = invoice.amountCredited.plus(note.amount);
        if (invoice.amountDue.isZero()) {
          settled = true;
          if (invoice.amountCredited.equals(Decimal.max(invoice.total, 0))) {
            invoice.status = 'void';
          } else {
            invoice.status = 'paid';
            invoice.paidAt = at;
          }
        }
      } else {
        tx.create(CustomerBalanceTransaction, { id: newId('cbt'), customerId: invoice.customerId, currency: invoice.currency, amount: note.amount, invoiceId: invoice.id, kind: 'credit_note', createdAt: at });
      }
      await tx.flush();
      const posting = creditNoteIssued({ id: note.id, number: note.number, invoiceNumber: invoice.number, currency: invoice.currency, amount: note.amount, at, kind });
      if (posting) await postTransaction(tx, posting, refs);
      return { creditNote: note, invoice, replayed: false, settled };
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
 * the invoice unchanged.
 */
export async function writeOffInvoice(em: EntityManager, request: { invoiceId: string; at: Date }): Promise<{ invoice: Invoice; changed: boolean }> {
  return em.fork().transactional(async (tx) => {
    const invoice = await tx.findOne(Invoice, { id: request.invoiceId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!invoice) throw invoiceMissing(request.invoiceId);
    if (invoice.status === 'uncollectible') return { invoice, changed: false };
    if (invoice.status !== 'open') {
      throw new BillingError('state_error', 'invoice_not_open', `invoice ${invoice.number} is ${invoice.status}; only open invoices can be marked uncollectible`);
    }
    if (invoice.amountDue.lte(0)) {
      throw new BillingError('state_error', 'invoice_nothing_due', `invoice ${invoice.number} has nothing due to write off`);
    }
    invoice.status = 'uncollectible';
    invoice.writtenOffAt = request.at;
    await tx.flush();
    const posting = invoiceWrittenOff({ id: invoice.id, number: invoice.number, currency: invoice.currency, amountDue: invoice.amountDue, at: request.at });
    if (posting) await postTransaction(tx, posting, { customerId: invoice.customerId, invoiceId: invoice.id });
    return { invoice, changed: true };
  });
}
