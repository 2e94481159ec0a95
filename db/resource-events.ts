import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { EventType } from '../domain/events';
import type { SubscriptionState, SubscriptionStatus } from '../domain/subscription';
import type { Customer } from './entities/customer';
import { Invoice, InvoiceLine } from './entities/invoice';
import type { Payment } from './entities/payment';
import { Plan } from './entities/plan';
import type { CreditNote, Refund } from './entities/refund';
import { Subscription } from './entities/subscription';
import { recordEvent } from './events';
import { subscriptionAddOns } from './subscription-add-on-store';
import { creditNoteJson, customerJson, invoiceJson, paymentAttemptJson, paymentJson, refundJson, subscriptionJson, type PaymentAttemptRecord } from './resource-json';

/**
 * The events of each resource, written with `tx`, the transaction that stores the fact (db/events.ts),
 * each carrying the resource as the API shows it at that moment. Their keys name the fact, so a store
 * or activity that runs again writes nothing more.
 */

export type InvoiceEventType = Extract<EventType, `invoice.${string}`>;
export type SubscriptionEventType = Extract<EventType, `subscription.${string}`>;

export async function customerCreated(tx: EntityManager, customer: Customer): Promise<void> {
  await recordEvent(tx, { type: 'customer.created', key: `customer.created:${customer.id}`, object: customerJson(customer), customerId: customer.id });
}

/** Every change is a fact of its own; a change that changes nothing is none (a retried update writes nothing). */
export async function customerUpdated(tx: EntityManager, customer: Customer): Promise<void> {
  await recordEvent(tx, { type: 'customer.updated', key: `customer.updated:${customer.id}:${randomUUID()}`, object: customerJson(customer), customerId: customer.id });
}

/**
 * An invoice event, once per `key` (by default once per invoice and type: an invoice is created,
 * finalised, paid, voided or written off once). Flushes first, so the object is what the transaction stores.
 */
export async function invoiceEvent(tx: EntityManager, type: InvoiceEventType, invoice: Invoice, key = `${type}:${invoice.id}`, known?: InvoiceLine[]): Promise<void> {
  await tx.flush();
  // Lines the caller stored in this transaction are the invoice's lines: no need to read them back.
  const lines = known ? [...known].sort((a, b) => a.position - b.position) : await tx.find(InvoiceLine, { invoiceId: invoice.id }, { orderBy: { position: 'asc' } });
  await recordEvent(tx, { type, key, object: invoiceJson(invoice, lines), customerId: invoice.customerId });
}

/** `invoice.paid` when the invoice is paid now (once, whichever store paid it). */
export async function invoicePaidIfPaid(tx: EntityManager, invoice: Invoice): Promise<void> {
  if (invoice.status === 'paid') await invoiceEvent(tx, 'invoice.paid', invoice);
}

export async function paymentSucceeded(tx: EntityManager, payment: Payment, customerId: string): Promise<void> {
  await tx.flush();
  await recordEvent(tx, { type: 'payment.succeeded', key: `payment.succeeded:${payment.id}`, object: paymentJson(payment), customerId });
}

/** A declined (or cancelled) card attempt: `payment.failed` with the attempt, `invoice.payment_failed` with the invoice; once per attempt. */
export async function paymentFailed(tx: EntityManager, attempt: PaymentAttemptRecord): Promise<void> {
  await recordEvent(tx, { type: 'payment.failed', key: `payment.failed:${attempt.id}`, object: paymentAttemptJson(attempt), customerId: attempt.customerId });
  const invoice = await tx.findOneOrFail(Invoice, { id: attempt.invoiceId });
  await invoiceEvent(tx, 'invoice.payment_failed', invoice, `invoice.payment_failed:${attempt.invoiceId}:${attempt.attempt}`);
}

export async function refundCreated(tx: EntityManager, refund: Refund, customerId: string): Promise<void> {
  await tx.flush();
  await recordEvent(tx, { type: 'refund.created', key: `refund.created:${refund.id}`, object: refundJson(refund), customerId });
}

export async function creditNoteCreated(tx: EntityManager, note: CreditNote): Promise<void> {
  await tx.flush();
  await recordEvent(tx, { type: 'credit_note.created', key: `credit_note.created:${note.id}`, object: creditNoteJson(note), customerId: note.customerId });
}

/**
 * A subscription event with the subscription as the API shows it: the row as this transaction has
 * it, read with `live` (the state its workflow is publishing) where there is one, and `status`
 * instead of the row's when the event reports a status the row does not show yet.
 */
export async function subscriptionEvent(
  tx: EntityManager,
  type: SubscriptionEventType,
  key: string,
  subscriptionId: string,
  options: { live?: SubscriptionState | null; status?: SubscriptionStatus } = {},
): Promise<void> {
  const subscription = await tx.findOneOrFail(Subscription, { id: subscriptionId }, { refresh: true });
  const plan = await tx.findOneOrFail(Plan, { id: subscription.planId });
  const json = subscriptionJson(subscription, plan, options.live ?? null, await subscriptionAddOns(tx, [subscriptionId], true));
  await recordEvent(tx, { type, key, object: options.status ? { ...json, status: options.status } : json, customerId: subscription.customerId });
}
