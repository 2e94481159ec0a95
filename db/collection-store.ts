import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { currencyExponent } from '../domain/currency';
import { BillingError } from '../domain/errors';
import { cardPaymentReceived, excessPaymentReceived, writeOffRecovered } from '../domain/ledger';
import { decimalString } from '../domain/money';
import { Customer } from './entities/customer';
import { Invoice, invoiceName } from './entities/invoice';
import { Payment } from './entities/payment';
import { Refund } from './entities/refund';
import { newId } from './ids';
import { postTransaction } from './ledger-store';
import { invoicePaidIfPaid, paymentFailed, paymentSucceeded, refundCreated } from './resource-events';
import { settlePurchases } from './wallet-store';

/** Stripe amounts are integers in the currency's minor unit. */
export const toMinorUnits = (amount: Decimal, currency: string): number => amount.times(new Decimal(10).pow(currencyExponent(currency))).toNumber();
export const fromMinorUnits = (minor: number, currency: string): Decimal => new Decimal(minor).dividedBy(new Decimal(10).pow(currencyExponent(currency)));

/** Derived from the invoice and the attempt: a retried activity confirms the same PaymentIntent. */
export const attemptKey = (invoiceId: string, attempt: number): string => `invoice-${invoiceId}-attempt-${attempt}`;

export type AttemptStatus = 'pending' | 'processing' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';
/** An attempt whose PaymentIntent may still take money. */
export const IN_FLIGHT: readonly AttemptStatus[] = ['pending', 'processing', 'requires_action'];

/** An attempt as it was begun: the whole request, sent unchanged on every retry. */
export interface StoredAttempt {
  invoiceId: string;
  attempt: number;
  key: string;
  amount: Decimal;
  currency: string;
  invoiceNumber: string;
  stripeCustomerId: string;
  paymentMethod: string;
  paymentIntentId: string | null;
  status: AttemptStatus;
  failureCode: string | null;
  declineCode: string | null;
  failureMessage: string | null;
  hardDecline: boolean;
}

export type AttemptPlan =
  /** Nothing to charge: the invoice is paid, void, or asks nothing. */
  | { kind: 'settled'; status: string }
  | { kind: 'no_payment_method'; customerId: string }
  /** Earlier attempts may still take money; they are cancelled or settled before this one begins. */
  | { kind: 'supersede'; earlier: StoredAttempt[] }
  /** `fresh`: begun just now, so Stripe cannot have seen it; otherwise a retry looks its intent up first. */
  | { kind: 'charge'; attempt: StoredAttempt; fresh: boolean };

interface AttemptRow {
  invoice_id: string;
  attempt: number;
  idempotency_key: string;
  amount: string;
  currency: string;
  invoice_number: string;
  stripe_customer_id: string | null;
  payment_method: string | null;
  payment_intent_id: string | null;
  status: AttemptStatus;
  failure_code: string | null;
  decline_code: string | null;
  failure_message: string | null;
  hard_decline: boolean;
}

const ATTEMPT_COLUMNS = `a.invoice_id, a.attempt, a.idempotency_key, a.amount::text, a.currency, i.number as invoice_number, a.stripe_customer_id,
  a.payment_method, a.payment_intent_id, a.status, a.failure_code, a.decline_code, a.failure_message, a.hard_decline`;

function storedAttempt(row: AttemptRow, customer: Customer): StoredAttempt {
  return {
    invoiceId: row.invoice_id,
    attempt: row.attempt,
    key: row.idempotency_key,
    amount: new Decimal(row.amount),
    currency: row.currency,
    invoiceNumber: row.invoice_number,
    // Attempts begun before the request was stored take the customer's card of now, once (stored below).
    stripeCustomerId: row.stripe_customer_id ?? customer.stripeCustomerId ?? '',
    paymentMethod: row.payment_method ?? customer.defaultPaymentMethod ?? '',
    paymentIntentId: row.payment_intent_id,
    status: row.status,
    failureCode: row.failure_code,
    declineCode: row.decline_code,
    failureMessage: row.failure_message,
    hardDecline: row.hard_decline,
  };
}

/**
 * Begins attempt `attempt` of an invoice, or finds it begun. With the invoice row locked (manual
 * payments and card payments of one invoice take the same lock, so they are serialised): an attempt
 * already begun is returned as stored, whatever has changed since (a new card, a lower amount due),
 * so a retry sends Stripe the same request; an earlier attempt still in flight must be settled
 * first; otherwise the request is stored whole and the attempt is pending.
 */
export async function beginAttempt(em: EntityManager, invoiceId: string, attempt: number): Promise<AttemptPlan> {
  return em.fork().transactional(async (tx) => {
    const invoice = await tx.findOneOrFail(Invoice, { id: invoiceId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const customer = await tx.findOneOrFail(Customer, { id: invoice.customerId });
    const rows = await tx.execute<AttemptRow[]>(
      `select ${ATTEMPT_COLUMNS} from payment_attempts a join invoices i on i.id = a.invoice_id where a.invoice_id = ? order by a.attempt`,
      [invoiceId],
    );
    const mine = rows.find((r) => r.attempt === attempt);
    if (mine) {
      const stored = storedAttempt(mine, customer);
      if (!mine.stripe_customer_id || !mine.payment_method) {
        await tx.execute('update payment_attempts set stripe_customer_id = ?, payment_method = ? where invoice_id = ? and attempt = ?', [
          stored.stripeCustomerId,
          stored.paymentMethod,
          invoiceId,
          attempt,
        ]);
      }
      return { kind: 'charge', attempt: stored, fresh: false };
    }
    if (invoice.status !== 'open' && invoice.status !== 'uncollectible') return { kind: 'settled', status: invoice.status };
    if (!invoice.amountDue.gt(0)) return { kind: 'settled', status: invoice.status };
    const earlier = rows.filter((r) => IN_FLIGHT.includes(r.status));
    if (earlier.length > 0) return { kind: 'supersede', earlier: earlier.map((r) => storedAttempt(r, customer)) };
    if (!customer.stripeCustomerId || !customer.defaultPaymentMethod) return { kind: 'no_payment_method', customerId: customer.id };
    const key = attemptKey(invoiceId, attempt);
    await tx.execute(
      `insert into payment_attempts (id, invoice_id, attempt, idempotency_key, amount, currency, stripe_customer_id, payment_method, status)
       values (?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
      [newId('pa'), invoiceId, attempt, key, decimalString(invoice.amountDue), invoice.currency, customer.stripeCustomerId, customer.defaultPaymentMethod],
    );
    return {
      kind: 'charge',
      fresh: true,
      attempt: {
        invoiceId,
        attempt,
        key,
        amount: invoice.amountDue,
        currency: invoice.currency,
        invoiceNumber: invoiceName(invoice),
        stripeCustomerId: customer.stripeCustomerId,
        paymentMethod: customer.defaultPaymentMethod,
        paymentIntentId: null,
        status: 'pending',
        failureCode: null,
        declineCode: null,
        failureMessage: null,
        hardDecline: false,
      },
    };
  });
}

/** Attempts of an invoice whose PaymentIntent may still take money. */
export async function attemptsInFlight(em: EntityManager, invoiceId: string): Promise<StoredAttempt[]> {
  const fork = em.fork();
  const invoice = await fork.findOneOrFail(Invoice, { id: invoiceId });
  const customer = await fork.findOneOrFail(Customer, { id: invoice.customerId });
  const rows = await fork.execute<AttemptRow[]>(
    `select ${ATTEMPT_COLUMNS} from payment_attempts a join invoices i on i.id = a.invoice_id where a.invoice_id = ? and a.status in ('pending', 'processing', 'requires_action') order by a.attempt`,
    [invoiceId],
  );
  return rows.map((r) => storedAttempt(r, customer));
}

export interface AttemptOutcome {
  status: AttemptStatus;
  paymentIntentId: string | null;
  failureCode?: string | null;
  declineCode?: string | null;
  message?: string | null;
  hardDecline?: boolean;
}

/**
 * Records where an attempt's PaymentIntent stands (Stripe's answer, or what a later look found). A
 * declined attempt is reported (payment.failed, invoice.payment_failed) in the same transaction,
 * once per attempt however often its activity runs.
 */
export async function finishAttempt(em: EntityManager, invoiceId: string, attempt: number, outcome: AttemptOutcome): Promise<void> {
  await em.fork().transactional(async (tx) => {
    const [row] = await tx.execute<Array<{ id: string; customer_id: string; amount: string; currency: string; payment_intent_id: string | null; created_ms: number }>>(
      `update payment_attempts a set status = ?, payment_intent_id = coalesce(?, a.payment_intent_id), failure_code = ?, decline_code = ?, failure_message = ?,
              hard_decline = ?, updated_at = now()
         from invoices i
        where i.id = a.invoice_id and a.invoice_id = ? and a.attempt = ?
        returning a.id, i.customer_id, a.amount::text as amount, a.currency, a.payment_intent_id, (extract(epoch from a.created_at) * 1000)::float8 as created_ms`,
      [outcome.status, outcome.paymentIntentId, outcome.failureCode ?? null, outcome.declineCode ?? null, outcome.message ?? null, outcome.hardDecline ?? false, invoiceId, attempt],
    );
    if (!row || outcome.status !== 'failed') return;
    await paymentFailed(tx, {
      id: row.id,
      invoiceId,
      customerId: row.customer_id,
      attempt,
      amount: new Decimal(row.amount),
      currency: row.currency,
      status: outcome.status,
      paymentIntentId: row.payment_intent_id,
      failureCode: outcome.failureCode ?? null,
      declineCode: outcome.declineCode ?? null,
      failureMessage: outcome.message ?? null,
      hardDecline: outcome.hardDecline ?? false,
      createdAt: new Date(Math.floor(row.created_ms)),
    });
  });
}

/** Remembers the intent an attempt created as soon as it is known, so a later look finds it by id. */
export async function recordAttemptIntent(em: EntityManager, invoiceId: string, attempt: number, paymentIntentId: string): Promise<void> {
  await em.fork().execute('update payment_attempts set payment_intent_id = ?, updated_at = now() where invoice_id = ? and attempt = ? and payment_intent_id is null', [
    paymentIntentId,
    invoiceId,
    attempt,
  ]);
}

export interface CardPayment {
  invoiceId: string;
  paymentIntentId: string;
  amount: Decimal;
  currency: string;
  fee: Decimal | null;
  receivedAt: Date;
}

export interface RecordedCardPayment {
  newlyPaid: boolean;
  invoice: Invoice;
  /** The part the invoice did not need; an excess refund for it is pending (db/adjustment-store.ts completes it). */
  excess: Decimal;
}

/**
 * Records a succeeded PaymentIntent against its invoice, once: the charge activity and Stripe's
 * webhook both call this, in either order and any number of times. One card payment is applied to
 * an invoice (Postgres holds that too: payments_one_card_payment); money the invoice no longer
 * needs (it was paid meanwhile, by hand, by an older intent the customer finished late, or a credit
 * note lowered it) is excess: posted to `excess_payments` and refunded automatically, with a pending
 * refund row written here and completed outside this transaction.
 */
export async function recordCardPayment(em: EntityManager, payment: CardPayment): Promise<RecordedCardPayment> {
  return em.fork().transactional(async (tx) => {
    const invoice = await tx.findOneOrFail(Invoice, { id: payment.invoiceId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const existing = await tx.findOne(Payment, { stripePaymentIntentId: payment.paymentIntentId });
    if (existing) return { newlyPaid: false, invoice, excess: existing.amountExcess };
    if (payment.currency.toUpperCase() !== invoice.currency) {
      throw new BillingError(
        'state_error',
        'currency_mismatch',
        `PaymentIntent ${payment.paymentIntentId} took ${payment.currency.toUpperCase()} for invoice ${invoice.number} in ${invoice.currency}; it is not recorded`,
      );
    }
    const [appliedCard] = await tx.execute<Array<{ n: number }>>(
      `select count(*)::int as n from payments where invoice_id = ? and method = 'card' and amount_excess < amount`,
      [invoice.id],
    );
    const wasOpen = invoice.status === 'open' || invoice.status === 'uncollectible';
    const applied = wasOpen && appliedCard.n === 0 ? Decimal.min(payment.amount, invoice.amountDue) : new Decimal(0);
    const excess = payment.amount.minus(applied);
    if (invoice.status === 'uncollectible' && applied.gt(0)) {
      const recovered = writeOffRecovered({ id: invoice.id, number: invoiceName(invoice), currency: invoice.currency, amount: applied, at: payment.receivedAt });
      if (recovered) await postTransaction(tx, { ...recovered, idempotencyKey: `${recovered.idempotencyKey}:${payment.paymentIntentId}` }, { customerId: invoice.customerId, invoiceId: invoice.id });
    }
    const row = tx.create(Payment, {
      id: newId('py'),
      invoiceId: invoice.id,
      amount: payment.amount,
      amountExcess: excess,
      currency: invoice.currency,
      method: 'card',
      reference: payment.paymentIntentId,
      stripePaymentIntentId: payment.paymentIntentId,
      fee: payment.fee,
      receivedAt: payment.receivedAt,
      createdAt: new Date(),
    });
    invoice.amountPaid = invoice.amountPaid.plus(applied);
    invoice.amountDue = invoice.amountDue.minus(applied);
    const newlyPaid = wasOpen && invoice.amountDue.isZero();
    if (newlyPaid) {
      invoice.status = 'paid';
      invoice.paidAt = payment.receivedAt;
    }
    await tx.flush();
    // Wallet credits this invoice sold count from now on.
    if (newlyPaid) await settlePurchases(tx, { invoiceId: invoice.id });
    await tx.execute(`update payment_attempts set status = 'succeeded', updated_at = now() where invoice_id = ? and payment_intent_id = ?`, [invoice.id, payment.paymentIntentId]);
    await paymentSucceeded(tx, row, invoice.customerId);
    if (newlyPaid) await invoicePaidIfPaid(tx, invoice);
    const refs = { customerId: invoice.customerId, invoiceId: invoice.id };
    // Stripe's fee is on the charge as a whole; it is booked with the part that paid the invoice when there is one.
    if (applied.gt(0)) {
      await postTransaction(tx, cardPaymentReceived({ id: row.id, invoiceNumber: invoiceName(invoice), currency: invoice.currency, amount: applied, fee: payment.fee, receivedAt: payment.receivedAt }), refs);
    }
    if (excess.gt(0)) {
      await postTransaction(
        tx,
        excessPaymentReceived({ id: row.id, invoiceNumber: invoiceName(invoice), currency: invoice.currency, amount: excess, fee: applied.gt(0) ? null : payment.fee, receivedAt: payment.receivedAt }),
        refs,
      );
      const refundId = newId('rf');
      await tx.execute(
        `insert into refunds (id, invoice_id, payment_id, amount, currency, reason, idempotency_key, kind, status, created_at)
         values (?, ?, ?, ?, ?, ?, ?, 'excess', 'pending', ?)`,
        [refundId, invoice.id, row.id, decimalString(excess), invoice.currency, `not needed by invoice ${invoice.number}`, `excess-${payment.paymentIntentId}`, new Date()],
      );
      await refundCreated(tx, await tx.findOneOrFail(Refund, { id: refundId }), invoice.customerId);
    }
    return { newlyPaid, invoice, excess };
  });
}
