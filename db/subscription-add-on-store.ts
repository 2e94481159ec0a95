import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { addOnFeeLine, oneOffLine } from '../domain/add-ons';
import type { Span } from '../domain/proration';
import { addOnTerms } from './add-on-billing';
import { AddOn, SubscriptionAddOn } from './entities/add-on';
import { Invoice } from './entities/invoice';
import { issueOneOffInvoice } from './one-off-invoice-store';

/** How attaching bills at once: the rest of the current period (a recurring add-on), the add-on itself (one-time), or nothing. */
export type AttachBilling = { kind: 'prorate'; period: ServedPeriod } | { kind: 'once' } | null;

/**
 * The period a subscription is serving, and the whole period its price is for (longer than it for a
 * short first calendar period): proration is the share of `basis` that `[from, span.end)` covers.
 */
export interface ServedPeriod {
  span: Span;
  basis: Span;
}

export interface AttachRequest {
  itemId: string;
  subscriptionId: string;
  customerId: string;
  addOn: AddOn;
  quantity: Decimal;
  addedAt: Date;
  billing: AttachBilling;
}

/** Keys of the invoices an attached add-on may cause, unique among one-off keys. */
export const addOnInvoiceKey = (itemId: string, event: 'added' | 'removed' | 'billed'): string => `add_on:${itemId}:${event}`;

/**
 * Attaches an add-on and issues what it bills at once, in one transaction: a recurring add-on's
 * fee for [addedAt, period end) (list price, as a plan change's proration), or a one-time add-on
 * billed now (consumed by that invoice, so no later invoice bills it again). Idempotent on the item
 * id: a retry finds the item and its invoice.
 */
export async function attachAddOn(em: EntityManager, request: AttachRequest): Promise<{ item: SubscriptionAddOn; invoice: Invoice | null }> {
  return em.fork().transactional(async (tx) => {
    const existing = await tx.findOne(SubscriptionAddOn, { id: request.itemId });
    if (existing) {
      const key = addOnInvoiceKey(existing.id, request.billing?.kind === 'once' ? 'billed' : 'added');
      return { item: existing, invoice: await tx.findOne(Invoice, { oneOffKey: key }) };
    }
    const item = tx.create(SubscriptionAddOn, {
      id: request.itemId,
      subscriptionId: request.subscriptionId,
      addOnId: request.addOn.id,
      quantity: request.quantity,
      addedAt: request.addedAt,
      removedAt: null,
      billedInvoiceId: null,
      createdAt: new Date(),
    });
    await tx.flush();
    const { billing } = request;
    if (!billing) return { item, invoice: null };
    const terms = addOnTerms(request.addOn);
    const invoice = await issueOneOffInvoice(
      em,
      billing.kind === 'prorate'
        ? {
            key: addOnInvoiceKey(item.id, 'added'),
            customerId: request.customerId,
            subscriptionId: request.subscriptionId,
            currency: terms.currency,
            lines: [addOnFeeLine(terms, request.quantity, { period: billing.period.basis, from: request.addedAt, to: billing.period.span.end, credit: false })],
            collect: true,
            issuedAt: request.addedAt,
            reason: 'subscription_update',
            withCoupons: false,
          }
        : {
            key: addOnInvoiceKey(item.id, 'billed'),
            customerId: request.customerId,
            subscriptionId: request.subscriptionId,
            currency: terms.currency,
            lines: [oneOffLine({ description: terms.name, quantity: request.quantity, unitAmount: terms.amount, addOnId: terms.id }, terms.currency, request.addedAt)],
            collect: true,
            issuedAt: request.addedAt,
          },
      tx,
    );
    if (billing.kind === 'once') item.billedInvoiceId = invoice.id;
    await tx.flush();
    return { item, invoice };
  });
}

export interface RemoveRequest {
  itemId: string;
  customerId: string;
  removedAt: Date;
  /** The current period, when the add-on's fee for it was billed: its unused part is credited. */
  creditPeriod: ServedPeriod | null;
}

/**
 * Ends an attached add-on at `removedAt`, crediting the unused part of the period already billed as
 * a negative invoice (customer credit, as a plan change's), in one transaction. The item row is
 * locked, so two removals cannot both credit; a retry finds it removed and returns the credit issued.
 */
export async function removeAddOn(em: EntityManager, request: RemoveRequest): Promise<{ item: SubscriptionAddOn; invoice: Invoice | null }> {
  return em.fork().transactional(async (tx) => {
    const [locked] = await tx.execute<Array<{ id: string }>>('select id from subscription_add_ons where id = ? for update', [request.itemId]);
    if (!locked) throw new Error(`subscription add-on ${request.itemId} does not exist`);
    const item = await tx.findOneOrFail(SubscriptionAddOn, { id: request.itemId });
    const key = addOnInvoiceKey(item.id, 'removed');
    if (item.removedAt) return { item, invoice: await tx.findOne(Invoice, { oneOffKey: key }) };
    item.removedAt = request.removedAt;
    await tx.flush();
    const period = request.creditPeriod;
    if (!period || request.removedAt >= period.span.end) return { item, invoice: null };
    const addOn = await tx.findOneOrFail(AddOn, { id: item.addOnId });
    const terms = addOnTerms(addOn);
    const credit = addOnFeeLine(terms, item.quantity, { period: period.basis, from: request.removedAt, to: period.span.end, credit: true });
    if (credit.amount.isZero()) return { item, invoice: null };
    const invoice = await issueOneOffInvoice(
      em,
      {
        key,
        customerId: request.customerId,
        subscriptionId: item.subscriptionId,
        currency: terms.currency,
        lines: [credit],
        collect: true,
        issuedAt: request.removedAt,
        reason: 'subscription_update',
        withCoupons: false,
      },
      tx,
    );
    return { item, invoice };
  });
}

/** A subscription's add-ons, oldest first: `current` only those not removed (and one-time ones not billed yet). */
export async function subscriptionAddOns(em: EntityManager, subscriptionIds: string[], current: boolean): Promise<Array<{ item: SubscriptionAddOn; addOn: AddOn }>> {
  if (subscriptionIds.length === 0) return [];
  const items = await em.find(SubscriptionAddOn, { subscriptionId: subscriptionIds, ...(current ? { removedAt: null } : {}) }, { orderBy: { addedAt: 'asc', id: 'asc' } });
  const addOns = new Map((items.length ? await em.find(AddOn, { id: [...new Set(items.map((i) => i.addOnId))] }) : []).map((a) => [a.id, a]));
  return items
    .map((item) => ({ item, addOn: addOns.get(item.addOnId)! }))
    .filter(({ item, addOn }) => !current || addOn.interval || !item.billedInvoiceId);
}

/** Whether the add-on's fee for the period starting at `periodStart` was billed: by the renewal (attached before it) or at attaching. */
export async function billedForPeriod(em: EntityManager, item: SubscriptionAddOn, periodStart: Date): Promise<boolean> {
  if (item.addedAt < periodStart) return true;
  return (await em.count(Invoice, { oneOffKey: addOnInvoiceKey(item.id, 'added') })) > 0;
}
