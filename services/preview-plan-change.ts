import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { Plan } from '../db/entities/plan';
import { planSnapshot } from '../db/plan-snapshot';
import { BillingError } from '../domain/errors';
import type { InvoiceDraft } from '../domain/invoice';
import { fullPeriodOf, periodOf } from '../domain/period';
import { currencyMismatch, dateInPast, feePrice, planChangeBilling, planUnchanged, sameCadence, type ChangeRefusal } from '../domain/plan-change';
import type { ContractOverrides } from '../domain/subscription';
import { contractOf, feeFor, feeOfSpec, invoiceScope, previewInvoice } from './preview-invoice';
import { liveState, loadSubscription, nextPeriodOf } from './subscription-state';

export interface PlanChangePreview {
  subscriptionId: string;
  plan: Plan;
  /** When the change would take effect; null before billing starts when asked for at period end. */
  at: Date | null;
  proration: 'prorate' | 'none';
  /** What it would bill; null when it bills nothing. */
  draft: InvoiceDraft | null;
}

const refuse = (refusal: ChangeRefusal | null, param: string): void => {
  if (refusal) throw new BillingError('invalid_request_error', refusal.code, refusal.message, param);
};

/**
 * The invoice a plan change would produce, computed as the workflow would and refused for the same
 * reasons (the rules of domain/plan-change.ts); changes nothing.
 */
export async function previewPlanChange(
  em: EntityManager,
  temporal: Client,
  subscriptionId: string,
  next: Plan,
  request: { at: string; proration: 'prorate' | 'none'; overrides?: ContractOverrides | null },
): Promise<PlanChangePreview> {
  const { subscription, plan } = await loadSubscription(em, subscriptionId);
  const state = await liveState(temporal, subscription.workflowId);
  if (!state) throw new BillingError('state_error', 'subscription_unavailable', `subscription ${subscription.id} cannot be read right now; retry`);
  const current = state.plan ?? planSnapshot(plan);
  if (state.status === 'canceled') throw new BillingError('state_error', 'subscription_canceled', `subscription ${subscription.id} is canceled`);
  refuse(currencyMismatch(next, current.currency), 'plan_code');
  if (request.overrides === undefined) refuse(planUnchanged(subscription.id, next, current.id), 'plan_code');
  const contract = contractOf(subscription, state);
  // As the workflow decides it: contract prices given, else kept on another version of the same plan.
  const nextOverrides = request.overrides !== undefined ? request.overrides : next.code === current.code ? contract.overrides : null;
  const nextPrice = feePrice(contract.quantity, nextOverrides?.amount);
  const now = new Date();
  const at = request.at === 'now' ? now : request.at === 'period_end' ? null : new Date(request.at);
  if (at && request.at !== 'now') refuse(dateInPast(request.at, at, now), 'at');
  const preview = (draft: InvoiceDraft | null, effectiveAt: Date | null): PlanChangePreview => ({ subscriptionId: subscription.id, plan: next, at: effectiveAt, proration: request.proration, draft });
  if (state.status !== 'active' || !state.currentPeriod || !state.periodBasis || !state.schedule) {
    // Before billing starts (or while paused) a change bills nothing; the next invoice is on the new plan.
    return preview(null, at);
  }
  const period = { start: new Date(state.currentPeriod.start), end: new Date(state.currentPeriod.end) };
  const usageFrom = subscription.usageClosedUntil;
  const cadence = { interval: next.interval, intervalCount: next.intervalCount };
  if (!at) {
    // At the period's end: the renewal on the new plan, with this period's usage at the current prices.
    const restarted = { anchor: period.end, cadence, zone: state.schedule.zone, alignment: state.schedule.alignment };
    const renewal = sameCadence(current.cadence, cadence) ? nextPeriodOf(state, plan)! : periodOf(restarted, 0);
    const basis = sameCadence(current.cadence, cadence) ? renewal : fullPeriodOf(restarted, 0);
    const scope = invoiceScope({
      fees: [feeFor(next.id, basis, renewal.start, renewal.end, nextPrice)],
      usage: { planId: current.id, from: usageFrom, until: now, overrides: contract.overrides },
      wholePeriod: true,
      withCoupons: true,
      issue: { at: renewal.start, renewal: true },
    });
    return preview(await previewInvoice(em, subscription, scope), period.end);
  }
  const billing = planChangeBilling({
    current: { planId: current.id, cadence: current.cadence, price: contract.price },
    next: { planId: next.id, cadence, price: nextPrice },
    prorate: request.proration === 'prorate',
    at,
    period,
    basis: { start: new Date(state.periodBasis.start), end: new Date(state.periodBasis.end) },
    zone: state.schedule.zone,
    alignment: state.schedule.alignment,
  });
  const scope = invoiceScope({ fees: billing.fees.map(feeOfSpec), usage: { planId: current.id, from: usageFrom, until: at, overrides: contract.overrides }, wholePeriod: false, withCoupons: false, issue: { at, renewal: false } });
  const draft = await previewInvoice(em, subscription, scope);
  return preview(draft.lines.length > 0 ? draft : null, at);
}
