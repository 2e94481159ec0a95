import type { EntityManager } from '@mikro-orm/postgresql';
import type { Subscription } from '../db/entities/subscription';
import { computeInvoice, type FeeSegment, type InvoiceScope } from '../db/invoice-store';
import type { FeeSpec, Span } from '../domain/plan-change';
import type { InvoiceDraft } from '../domain/invoice';

/** A plan's whole fee for `period` (or the part [from, to) of it, prorated). */
export const feeFor = (planId: string, period: Span, from: Date = period.start, to: Date = period.end): FeeSegment => ({ planId, period, from, to, credit: false });

/** A fee the domain decided (domain/plan-change.ts), with its instants as dates. */
export const feeOfSpec = (f: FeeSpec): FeeSegment => ({ ...f, period: { start: new Date(f.period.start), end: new Date(f.period.end) }, from: new Date(f.from), to: new Date(f.to) });

/**
 * What an invoice not issued yet covers: `fees`, and the usage of [from, until) at the prices of
 * `usage.planId` (empty when `until` is not after `from`). `wholePeriod` lets the plan's minimum
 * apply; renewals apply coupons, proration invoices show list prices.
 */
export function invoiceScope(o: { fees: FeeSegment[]; usage: { planId: string; from: Date; until: Date }; wholePeriod: boolean; withCoupons: boolean }): InvoiceScope {
  const { from, until } = o.usage;
  return { fees: o.fees, usageWindow: { start: from, end: until > from ? until : from }, usagePlanId: o.usage.planId, wholePeriod: o.wholePeriod, withCoupons: o.withCoupons };
}

/** The invoice `scope` would issue now; reads only (coupons are not locked). */
export async function previewInvoice(em: EntityManager, subscription: Subscription, scope: InvoiceScope): Promise<InvoiceDraft> {
  return (await computeInvoice(em, subscription, scope, false)).draft;
}
