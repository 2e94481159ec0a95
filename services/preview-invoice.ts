import type { EntityManager } from '@mikro-orm/postgresql';
import type { Subscription } from '../db/entities/subscription';
import { computeInvoice, type FeeSegment, type InvoiceScope } from '../db/invoice-store';
import Decimal from 'decimal.js';
import { feePrice, type FeePrice, type FeeSpec, type Span } from '../domain/plan-change';
import type { ContractOverrides, SubscriptionState } from '../domain/subscription';
import type { InvoiceDraft } from '../domain/invoice';

const segmentPrice = (price: FeePrice) => ({ quantity: new Decimal(price.quantity ?? 1), unitAmount: price.unitAmount ? new Decimal(price.unitAmount) : null });

/** A plan's whole fee for `period` (or the part [from, to) of it, prorated), for the seats and contract price of `price`. */
export const feeFor = (planId: string, period: Span, from: Date = period.start, to: Date = period.end, price: FeePrice = {}): FeeSegment => ({
  planId,
  period,
  from,
  to,
  credit: false,
  ...segmentPrice(price),
});

/** A fee the domain decided (domain/plan-change.ts), with its instants as dates. */
export const feeOfSpec = (f: FeeSpec): FeeSegment => ({
  planId: f.planId,
  credit: f.credit,
  period: { start: new Date(f.period.start), end: new Date(f.period.end) },
  from: new Date(f.from),
  to: new Date(f.to),
  ...segmentPrice(f),
});

/** The seats and contract prices a subscription bills at now: as its workflow answered, else as last mirrored. */
export function contractOf(subscription: Subscription, live: SubscriptionState | null): { quantity: number; overrides: ContractOverrides | null; price: FeePrice } {
  const quantity = live?.quantity ?? subscription.quantity;
  const overrides = (live && live.overrides !== undefined ? live.overrides : subscription.overrides) ?? null;
  return { quantity, overrides, price: feePrice(quantity, overrides?.amount) };
}

/**
 * What an invoice not issued yet covers: `fees`, and the usage of [from, until) at the prices of
 * `usage.planId` (empty when `until` is not after `from`). `wholePeriod` lets the plan's minimum
 * apply; renewals apply coupons, proration invoices show list prices. The subscription's add-ons and
 * setup fee due on it are there as the issued invoice would have them.
 */
export function invoiceScope(o: {
  fees: FeeSegment[];
  usage: { planId: string; from: Date; until: Date; overrides?: ContractOverrides | null };
  wholePeriod: boolean;
  withCoupons: boolean;
  /** The instant the invoice would be issued at, and whether it is a renewal: it carries the add-ons and setup fee due then. */
  issue: { at: Date; renewal: boolean };
}): InvoiceScope {
  const { from, until } = o.usage;
  return {
    fees: o.fees,
    usageWindow: { start: from, end: until > from ? until : from },
    usagePlanId: o.usage.planId,
    wholePeriod: o.wholePeriod,
    withCoupons: o.withCoupons,
    overrides: o.usage.overrides ?? null,
    addOns: { renewal: o.issue.renewal, issuedAt: o.issue.at, lock: false },
  };
}

/** The invoice `scope` would issue now; reads only (coupons are not locked). */
export async function previewInvoice(em: EntityManager, subscription: Subscription, scope: InvoiceScope): Promise<InvoiceDraft> {
  return (await computeInvoice(em, subscription, scope, false)).draft;
}
