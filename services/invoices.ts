import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type Decimal from 'decimal.js';
import { Invoice, InvoiceLine } from '../db/entities/invoice';
import { Payment } from '../db/entities/payment';
import { CreditNote, Refund } from '../db/entities/refund';
import { findPage, type Page, type PageRequest } from '../db/pagination';
import { recordManualPayment } from '../db/payment-store';
import { writeOffInvoice } from '../db/adjustment-store';
import { BillingError } from '../domain/errors';
import { dueOnTerms } from '../domain/payment-terms';
import { collectionPaid } from './collection-signals';
import { invoiceOf } from './lookups';

export interface InvoiceWithLines {
  invoice: Invoice;
  lines: InvoiceLine[];
}

export async function withLines(em: EntityManager, invoices: Invoice[]): Promise<InvoiceWithLines[]> {
  const lines = invoices.length ? await em.find(InvoiceLine, { invoiceId: { $in: invoices.map((i) => i.id) } }) : [];
  return invoices.map((invoice) => ({ invoice, lines: lines.filter((l) => l.invoiceId === invoice.id) }));
}

export async function invoiceWithLines(em: EntityManager, id: string): Promise<InvoiceWithLines> {
  const [found] = await withLines(em, [await invoiceOf(em, id)]);
  return found;
}

/** Newest first, like Stripe (by the invoice's sequence, the order they were written). */
export async function listInvoices(em: EntityManager, filter: { subscriptionId?: string; customerId?: string; status?: Invoice['status'] }, page: PageRequest): Promise<Page<InvoiceWithLines>> {
  const where = {
    ...(filter.subscriptionId ? { subscriptionId: filter.subscriptionId } : {}),
    ...(filter.customerId ? { customerId: filter.customerId } : {}),
    ...(filter.status ? { status: filter.status } : {}),
  };
  const found = await findPage(em, Invoice, where, { keys: ['sequence'], direction: 'desc', noun: 'invoice' }, page);
  return { ...found, data: await withLines(em, found.data) };
}

/**
 * Money received outside the system against an open invoice; `stored` runs inside its
 * transaction. The invoice's collection is told once it is paid (again after a retried request:
 * a second signal changes nothing), so `paid` is part of what a retry gets back.
 */
export async function recordPayment(
  em: EntityManager,
  request: { invoiceId: string; amount: Decimal; reference: string | null },
  stored: (tx: EntityManager, outcome: { payment: Payment } & InvoiceWithLines) => Promise<void>,
): Promise<void> {
  await recordManualPayment(em, { ...request, receivedAt: new Date() }, async (tx, { payment, invoice }) => {
    const [paid] = await withLines(tx, [invoice]);
    await stored(tx, { payment, ...paid });
  });
}

/** Tells the invoice's collection that nothing is left to collect. */
export const paymentSettled = (temporal: Client, invoiceId: string) => collectionPaid(temporal, invoiceId, 'manual_payment');

/**
 * New terms for an open invoice (Stripe's invoice update): due_at becomes issued_at plus the days.
 * A paid, void or written-off invoice keeps the terms it had.
 */
export async function changeInvoiceTerms(em: EntityManager, invoiceId: string, daysUntilDue: number): Promise<InvoiceWithLines> {
  return em.transactional(async (tx) => {
    // Locked first, so a payment settling the invoice meanwhile is seen before the status is read.
    await tx.execute('select id from invoices where id = ? for update', [invoiceId]);
    const invoice = await invoiceOf(tx, invoiceId);
    if (invoice.status !== 'open') {
      throw new BillingError('state_error', 'invoice_not_open', `invoice ${invoice.number} is ${invoice.status}; only an open invoice's payment terms can change`, 'days_until_due');
    }
    Object.assign(invoice, dueOnTerms(invoice.finalizedAt ?? invoice.issuedAt, daysUntilDue));
    await tx.flush();
    const [found] = await withLines(tx, [invoice]);
    return found;
  });
}

/** Marks an open invoice uncollectible; `stored` runs inside its transaction. */
export async function markUncollectible(em: EntityManager, invoiceId: string, stored: (tx: EntityManager, outcome: InvoiceWithLines) => Promise<void>): Promise<void> {
  await writeOffInvoice(em, { invoiceId, at: new Date() }, async (tx, { invoice }) => {
    const [found] = await withLines(tx, [invoice]);
    await stored(tx, found);
  });
}

export async function listPayments(em: EntityManager, invoiceId: string, page: PageRequest): Promise<Page<Payment>> {
  await invoiceOf(em, invoiceId);
  return findPage(em, Payment, { invoiceId }, { keys: ['createdAt', 'id'], direction: 'asc', noun: 'payment' }, page);
}

/** Oldest first, the order they were made. */
export async function listRefunds(em: EntityManager, invoiceId: string, page: PageRequest): Promise<Page<Refund>> {
  await invoiceOf(em, invoiceId);
  return findPage(em, Refund, { invoiceId }, { keys: ['createdAt', 'id'], direction: 'asc', noun: 'refund' }, page);
}

/** In the order of their numbers. */
export async function listCreditNotes(em: EntityManager, invoiceId: string, page: PageRequest): Promise<Page<CreditNote>> {
  await invoiceOf(em, invoiceId);
  return findPage(em, CreditNote, { invoiceId }, { keys: ['number'], direction: 'asc', noun: 'credit note' }, page);
}
