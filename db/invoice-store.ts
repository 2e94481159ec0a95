import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { BillingError } from '../domain/errors';
import { recurringFeeInvoice } from '../domain/invoice';
import { invoiceIssued, revenueRecognized } from '../domain/ledger';
import { Invoice, InvoiceLine } from './entities/invoice';
import { Plan } from './entities/plan';
import { Subscription } from './entities/subscription';
import { newId } from './ids';
import { postTransaction } from './ledger-store';

export interface PeriodInvoiceRequest {
  subscriptionId: string;
  periodIndex: number;
  periodStart: Date;
  periodEnd: Date;
  issuedAt: Date;
}

async function nextInvoiceNumber(em: EntityManager): Promise<{ sequence: string; number: string }> {
  const [row] = await em.execute<Array<{ value: string }>>(
    `update invoice_number_sequences set next_value = next_value + 1 where series = 'INV' returning next_value - 1 as value`,
  );
  return { sequence: row.value, number: `INV-${row.value.padStart(6, '0')}` };
}

/**
 * Issues the invoice of one subscription period and posts it to the ledger, in one database
 * transaction. Idempotent on (subscription, period): a retry returns the invoice already issued.
 */
export async function issuePeriodInvoice(em: EntityManager, request: PeriodInvoiceRequest): Promise<Invoice> {
  const key = { subscriptionId: request.subscriptionId, periodIndex: request.periodIndex };
  const existing = await em.fork().findOne(Invoice, key);
  if (existing) return existing;
  try {
    return await em.fork().transactional(async (tx) => {
      const subscription = await tx.findOne(Subscription, { id: request.subscriptionId });
      if (!subscription) {
        // Retryable: the API starts the workflow inside the transaction that stores the row, so the
        // first activity can run a moment before that commit. A row that never commits leaves the
        // retries visible on the workflow's pending activity; the API terminates such workflows.
        throw new Error(`subscription ${request.subscriptionId} is not in the database (yet)`);
      }
      const plan = await tx.findOneOrFail(Plan, { id: subscription.planId });
      const draft = recurringFeeInvoice(
        { name: plan.name, currency: plan.currency, amount: plan.amount },
        { index: request.periodIndex, start: request.periodStart, end: request.periodEnd },
      );
      const invoice = tx.create(Invoice, {
        id: newId('in'),
        ...(await nextInvoiceNumber(tx)),
        customerId: subscription.customerId,
        subscriptionId: subscription.id,
        periodIndex: request.periodIndex,
        status: draft.total.isZero() ? 'paid' : 'open',
        currency: plan.currency,
        subtotal: draft.subtotal,
        total: draft.total,
        amountPaid: new Decimal(0),
        amountDue: draft.total,
        periodStart: request.periodStart,
        periodEnd: request.periodEnd,
        issuedAt: request.issuedAt,
        paidAt: draft.total.isZero() ? request.issuedAt : null,
        createdAt: new Date(),
      });
      // Foreign keys are plain columns, so the unit of work cannot order the inserts: parent first.
      await tx.flush();
      draft.lines.forEach((line, position) =>
        tx.create(InvoiceLine, {
          id: newId('il'),
          invoiceId: invoice.id,
          position,
          description: line.description,
          quantity: line.quantity,
          unitAmount: line.unitAmount,
          amount: line.amount,
          periodStart: line.periodStart,
          periodEnd: line.periodEnd,
        }),
      );
      await tx.flush();
      const posting = invoiceIssued(invoice);
      if (posting) await postTransaction(tx, posting, { customerId: invoice.customerId, invoiceId: invoice.id });
      return invoice;
    });
  } catch (error) {
    // A concurrent attempt of the same activity won the race; its invoice is the one.
    if (error instanceof UniqueConstraintViolationException) {
      const winner = await em.fork().findOne(Invoice, key);
      if (winner) return winner;
    }
    throw error;
  }
}

/** Moves an invoice's amount from deferred revenue to revenue once its period has been served. */
export async function recognizeRevenue(em: EntityManager, invoiceId: string, at: Date): Promise<void> {
  await em.fork().transactional(async (tx) => {
    const invoice = await tx.findOne(Invoice, { id: invoiceId });
    if (!invoice) throw new BillingError('not_found_error', 'resource_missing', `invoice ${invoiceId} does not exist`);
    if (invoice.revenueRecognizedAt) return;
    const posting = revenueRecognized(invoice, at);
    if (posting) await postTransaction(tx, posting, { customerId: invoice.customerId, invoiceId: invoice.id });
    invoice.revenueRecognizedAt = at;
    await tx.flush();
  });
}
