import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { BillingError } from '../domain/errors';
import { paymentReceived, writeOffRecovered } from '../domain/ledger';
import { decimalString, fitsCurrency, formatAmount } from '../domain/money';
import { Invoice, invoiceName } from './entities/invoice';
import { Payment } from './entities/payment';
import { newId } from './ids';
import { postTransaction } from './ledger-store';
import { invoicePaidIfPaid, paymentSucceeded } from './resource-events';
import { settlePurchases } from './wallet-store';

export interface ManualPaymentRequest {
  invoiceId: string;
  amount: Decimal;
  reference: string | null;
  receivedAt: Date;
}

/**
 * Records money received outside the system (bank transfer, cheque) against an open invoice and
 * posts it. The invoice row is locked, so two concurrent payments cannot both pay the same amount due,
 * and a payment is refused while a card charge of the invoice is in flight (it would be charged twice).
 * `inTransaction` runs last inside the transaction (the API records its idempotency key's phase there).
 */
export async function recordManualPayment(
  em: EntityManager,
  request: ManualPaymentRequest,
  inTransaction?: (tx: EntityManager, outcome: { payment: Payment; invoice: Invoice }) => Promise<void>,
): Promise<{ payment: Payment; invoice: Invoice }> {
  return em.fork().transactional(async (tx) => {
    const invoice = await tx.findOne(Invoice, { id: request.invoiceId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!invoice) throw new BillingError('not_found_error', 'resource_missing', `No such invoice: '${request.invoiceId}'`);
    if (invoice.status !== 'open' && invoice.status !== 'uncollectible') {
      throw new BillingError('state_error', 'invoice_not_open', `invoice ${invoice.number} is ${invoice.status}; only open (or written-off) invoices accept payments`);
    }
    // A card attempt between asking Stripe and recording its answer may be taking this money right
    // now; the attempt holds this invoice's lock only while it begins, so its state is what says so.
    const [inFlight] = await tx.execute<Array<{ n: number }>>(
      `select count(*)::int as n from payment_attempts where invoice_id = ? and status in ('pending', 'processing')`,
      [invoice.id],
    );
    if (inFlight.n > 0) {
      throw new BillingError('conflict_error', 'payment_in_progress', `a card payment of invoice ${invoice.number} is in progress; retry when it has finished`);
    }
    if (!request.amount.isPositive() || request.amount.isZero()) {
      throw new BillingError('invalid_request_error', 'amount_invalid', 'amount must be greater than zero', 'amount');
    }
    if (!fitsCurrency(request.amount, invoice.currency)) {
      throw new BillingError('invalid_request_error', 'amount_invalid', `amount has more decimals than ${invoice.currency} allows`, 'amount');
    }
    if (request.amount.greaterThan(invoice.amountDue)) {
      throw new BillingError(
        'invalid_request_error',
        'amount_too_large',
        `amount ${decimalString(request.amount)} exceeds the ${formatAmount(invoice.amountDue, invoice.currency)} ${invoice.currency} due on invoice ${invoice.number}`,
        'amount',
      );
    }
    if (invoice.status === 'uncollectible') {
      // Paid after being written off: the bad debt is recovered before the payment settles it.
      const recovered = writeOffRecovered({ id: invoice.id, number: invoiceName(invoice), currency: invoice.currency, amount: request.amount, at: request.receivedAt });
      if (recovered) await postTransaction(tx, { ...recovered, idempotencyKey: `${recovered.idempotencyKey}:${request.receivedAt.getTime()}` }, { customerId: invoice.customerId, invoiceId: invoice.id });
    }
    const payment = tx.create(Payment, {
      id: newId('py'),
      invoiceId: invoice.id,
      amount: request.amount,
      currency: invoice.currency,
      method: 'manual',
      amountExcess: new Decimal(0),
      reference: request.reference,
      receivedAt: request.receivedAt,
      createdAt: new Date(),
    });
    invoice.amountPaid = invoice.amountPaid.plus(request.amount);
    invoice.amountDue = invoice.amountDue.minus(request.amount);
    if (invoice.amountDue.isZero()) {
      invoice.status = 'paid';
      invoice.paidAt = request.receivedAt;
    }
    await tx.flush();
    // Wallet credits this invoice sold count from now on.
    if (invoice.status === 'paid') await settlePurchases(tx, { invoiceId: invoice.id });
    const posting = paymentReceived({ ...payment, invoiceNumber: invoiceName(invoice) });
    if (posting) await postTransaction(tx, posting, { customerId: invoice.customerId, invoiceId: invoice.id });
    await paymentSucceeded(tx, payment, invoice.customerId);
    await invoicePaidIfPaid(tx, invoice);
    await inTransaction?.(tx, { payment, invoice });
    return { payment, invoice };
  });
}
