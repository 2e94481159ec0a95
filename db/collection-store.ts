import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { currencyExponent } from '../domain/currency';
import { cardPaymentReceived, writeOffRecovered } from '../domain/ledger';
import { CustomerBalanceTransaction } from './entities/adjustments';
import { Customer } from './entities/customer';
import { Invoice } from './entities/invoice';
import { Payment } from './entities/payment';
import { newId } from './ids';
import { postTransaction } from './ledger-store';

/** Stripe amounts are integers in the currency's minor unit. */
export const toMinorUnits = (amount: Decimal, currency: string): number => amount.times(new Decimal(10).pow(currencyExponent(currency))).toNumber();
export const fromMinorUnits = (minor: number, currency: string): Decimal => new Decimal(minor).dividedBy(new Decimal(10).pow(currencyExponent(currency)));

/** Derived from the invoice and the attempt: a retried activity confirms the same PaymentIntent. */
export const attemptKey = (invoiceId: string, attempt: number): string => `invoice-${invoiceId}-attempt-${attempt}`;

export type AttemptPlan =
  | { kind: 'charge'; amount: Decimal; currency: string; invoiceNumber: string; customerId: string; stripeCustomerId: string; paymentMethod: string; key: string }
  | { kind: 'settled'; status: string }
  | { kind: 'no_payment_method'; customerId: string };

/** Starts (or finds) attempt `attempt` of an invoice and says what to charge, or why nothing is charged. */
export async function beginAttempt(em: EntityManager, invoiceId: string, attempt: number): Promise<AttemptPlan> {
  return em.fork().transactional(async (tx) => {
    const invoice = await tx.findOneOrFail(Invoice, { id: invoiceId });
    if (invoice.status !== 'open' && invoice.status !== 'uncollectible') return { kind: 'settled', status: invoice.status };
    if (!invoice.amountDue.gt(0)) return { kind: 'settled', status: invoice.status };
    const customer = await tx.findOneOrFail(Customer, { id: invoice.customerId });
    if (!customer.stripeCustomerId || !customer.defaultPaymentMethod) return { kind: 'no_payment_method', customerId: customer.id };
    const key = attemptKey(invoiceId, attempt);
    await tx.execute(
      `insert into payment_attempts (id, invoice_id, attempt, idempotency_key, amount, currency, status) values (?, ?, ?, ?, ?, ?, 'pending')
       on conflict (invoice_id, attempt) do nothing`,
      [newId('pa'), invoiceId, attempt, key, invoice.amountDue.toFixed(), invoice.currency],
    );
    // A retry of the same attempt charges what the attempt first recorded, so Stripe sees the same request.
    const [row] = await tx.execute<Array<{ amount: string }>>('select amount::text from payment_attempts where invoice_id = ? and attempt = ?', [invoiceId, attempt]);
    return {
      kind: 'charge',
      amount: new Decimal(row.amount),
      currency: invoice.currency,
      invoiceNumber: invoice.number,
      customerId: customer.id,
      stripeCustomerId: customer.stripeCustomerId,
      paymentMethod: customer.defaultPaymentMethod,
      key,
    };
  });
}

export interface AttemptOutcome {
  status: 'succeeded' | 'failed' | 'requires_action';
  paymentIntentId: string | null;
  failureCode?: string | null;
  declineCode?: string | null;
  message?: string | null;
  hardDecline?: boolean;
}

/** Records Stripe's answer to an attempt. */
export async function finishAttempt(em: EntityManager, invoiceId: string, attempt: number, outcome: AttemptOutcome): Promise<void> {
  await em.fork().execute(
    `update payment_attempts set status = ?, payment_intent_id = coalesce(?, payment_intent_id), failure_code = ?, decline_code = ?, failure_message = ?,
            hard_decline = ?, updated_at = now()
      where invoice_id = ? and attempt = ?`,
    [outcome.status, outcome.paymentIntentId, outcome.failureCode ?? null, outcome.declineCode ?? null, outcome.message ?? null, outcome.hardDecline ?? false, invoiceId, attempt],
  );
}

export interface CardPayment {
  invoiceId: string;
  paymentIntentId: string;
  amount: Decimal;
  fee: Decimal | null;
  receivedAt: Date;
}

/**
 * Records a succeeded PaymentIntent against its invoice, once: the charge activity and Stripe's
 * webhook both call this, in either order and any number of times. Money beyond what the invoice
 * still asks (it was paid meanwhile by hand, or a credit note lowered it) becomes customer credit.
 */
export async function recordCardPayment(em: EntityManager, payment: CardPayment): Promise<{ newlyPaid: boolean; invoice: Invoice }> {
  return em.fork().transactional(async (tx) => {
    const invoice = await tx.findOneOrFail(Invoice, { id: payment.invoiceId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const existing = await tx.findOne(Payment, { stripePaymentIntentId: payment.paymentIntentId });
    if (existing) return { newlyPaid: false, invoice };
    const wasOpen = invoice.status === 'open' || invoice.status === 'uncollectible';
    const applied = wasOpen ? Decimal.min(payment.amount, invoice.amountDue) : new Decimal(0);
    const excess = payment.amount.minus(applied);
    if (invoice.status === 'uncollectible' && applied.gt(0)) {
      const recovered = writeOffRecovered({ id: invoice.id, number: invoice.number, currency: invoice.currency, amount: applied, at: payment.receivedAt });
      if (recovered) await postTransaction(tx, { ...recovered, idempotencyKey: `${recovered.idempotencyKey}:${payment.paymentIntentId}` }, { customerId: invoice.customerId, invoiceId: invoice.id });
    }
    const row = tx.create(Payment, {
      id: newId('py'),
      invoiceId: invoice.id,
      amount: payment.amount,
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
    // The whole amount came in through Stripe; what the invoice no longer needed is owed to the customer.
    if (applied.gt(0)) {
      const posting = cardPaymentReceived({ id: row.id, invoiceNumber: invoice.number, currency: invoice.currency, amount: applied, fee: payment.fee, receivedAt: payment.receivedAt });
      await postTransaction(tx, posting, { customerId: invoice.customerId, invoiceId: invoice.id });
    }
    if (excess.gt(0)) {
      await postTransaction(
        tx,
        {
          idempotencyKey: `payment:${row.id}:overpayment`,
          description: `Overpayment on invoice ${invoice.number} kept as customer credit`,
          currency: invoice.currency,
          effectiveAt: payment.receivedAt,
          entries: [
            { account: 'stripe_clearing', direction: 'debit', amount: excess },
            { account: 'customer_credit', direction: 'credit', amount: excess },
          ],
        },
        { customerId: invoice.customerId, invoiceId: invoice.id },
      );
      tx.create(CustomerBalanceTransaction, { id: newId('cbt'), customerId: invoice.customerId, currency: invoice.currency, amount: excess, invoiceId: invoice.id, kind: 'overpayment', createdAt: new Date() });
      await tx.flush();
    }
    return { newlyPaid, invoice };
  });
}
