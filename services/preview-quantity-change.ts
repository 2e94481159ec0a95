import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { BillingError } from '../domain/errors';
import type { InvoiceDraft } from '../domain/invoice';
import { dateInPast, feePrice, quantityChangeBilling, quantityUnchanged, type ChangeRefusal } from '../domain/plan-change';
import type { Proration } from '../domain/subscription';
import { contractOf, feeFor, feeOfSpec, invoiceScope, previewInvoice } from './preview-invoice';
import { liveState, loadSubscription, nextPeriodOf } from './subscription-state';

export interface QuantityChangePreview {
  subscriptionId: string;
  quantity: number;
  /** When the change would take effect; null before billing starts when asked for at period end. */
  at: Date | null;
  proration: Proration;
  /** What it would bill; null when it bills nothing. */
  draft: InvoiceDraft | null;
}

const refuse = (refusal: ChangeRefusal | null, param: string): void => {
  if (refusal) throw new BillingError('invalid_request_error', refusal.code, refusal.message, param);
};

/** The workflow's phase in which a period is billed: active, whatever its collection. */
const BILLING = new Set(['active', 'past_due', 'suspended']);

/**
 * The invoice a change of seats would produce, computed as the workflow would (the rules of
 * domain/plan-change.ts) and refused for the same reasons; changes nothing. Now, with proration:
 * the rest of the period credited at the old quantity and charged at the new one. At period end:
 * the renewal at the new quantity, with this period's usage so far.
 */
export async function previewQuantityChange(
  em: EntityManager,
  temporal: Client,
  subscriptionId: string,
  request: { quantity: number; at: string; proration: Proration },
): Promise<QuantityChangePreview> {
  const { subscription, plan } = await loadSubscription(em, subscriptionId);
  const state = await liveState(temporal, subscription.workflowId);
  if (!state) throw new BillingError('state_error', 'subscription_unavailable', `subscription ${subscription.id} cannot be read right now; retry`);
  if (state.status === 'canceled') throw new BillingError('state_error', 'subscription_canceled', `subscription ${subscription.id} is canceled`);
  const contract = contractOf(subscription, state);
  if (!(state.scheduledChanges ?? []).some((c) => c.kind === 'change_quantity')) refuse(quantityUnchanged(subscription.id, request.quantity, contract.quantity), 'quantity');
  const now = new Date();
  const at = request.at === 'now' ? now : request.at === 'period_end' ? null : new Date(request.at);
  if (at && request.at !== 'now') refuse(dateInPast(request.at, at, now), 'at');
  const preview = (draft: InvoiceDraft | null, effectiveAt: Date | null): QuantityChangePreview => ({ subscriptionId: subscription.id, quantity: request.quantity, at: effectiveAt, proration: request.proration, draft });
  if (!BILLING.has(state.status) || !state.currentPeriod || !state.periodBasis) {
    // Before billing starts (or while paused) a change bills nothing; the first invoice is at the new quantity.
    return preview(null, at);
  }
  const planId = state.plan?.id ?? plan.id;
  const period = { start: new Date(state.currentPeriod.start), end: new Date(state.currentPeriod.end) };
  const next = feePrice(request.quantity, contract.overrides?.amount);
  const usageFrom = subscription.usageClosedUntil;
  if (!at) {
    const renewal = nextPeriodOf(state, plan)!;
    const scope = invoiceScope({
      fees: [feeFor(planId, renewal, renewal.start, renewal.end, next)],
      usage: { planId, from: usageFrom, until: now, overrides: contract.overrides },
      wholePeriod: true,
      withCoupons: true,
      issue: { at: renewal.start, renewal: true },
    });
    return preview(await previewInvoice(em, subscription, scope), period.end);
  }
  const fees = quantityChangeBilling({
    planId,
    from: contract.price,
    to: next,
    prorate: request.proration === 'prorate',
    at,
    period,
    basis: { start: new Date(state.periodBasis.start), end: new Date(state.periodBasis.end) },
  });
  if (fees.length === 0) return preview(null, at);
  // Seats bill no usage: usage is billed in arrears at the renewal, whatever the seats.
  const scope = invoiceScope({ fees: fees.map(feeOfSpec), usage: { planId, from: usageFrom, until: usageFrom }, wholePeriod: false, withCoupons: false, issue: { at, renewal: false } });
  return preview(await previewInvoice(em, subscription, scope), at);
}
