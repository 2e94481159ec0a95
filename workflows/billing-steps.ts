import { log, ParentClosePolicy, patched, startChild } from '@temporalio/workflow';
import type { BillingRequest } from '../activities';
import type { Period } from '../domain/period';
import { feePrice, feeSpec, planChangeBilling, quantityChangeBilling, sameCadence } from '../domain/plan-change';
import type { ContractOverrides, InvoiceSummary, ScheduledChange } from '../domain/subscription';
import { invoiceCollectionWorkflow } from './invoice-collection';
import { invoiceWorkflowId } from './messages';
import { iso, now, type RunContext, type SubscriptionRun } from './subscription-run';

/**
 * What the subscription bills, step by step: the start of billing, the renewal, a plan change, a
 * pause and a resume, a cancellation, the end of a period, and the suspension that follows an
 * invoice's collection. Each step moves the run's record and asks activities for the side effects.
 */

/** Patch: each invoice that asks money is collected by its own child workflow, `invoice-<id>`. */
const COLLECT_INVOICES = 'collect-invoices';

/** The current plan's fee for [from, to) of `basis`, at the subscription's seats and contract price. */
const fee = (run: SubscriptionRun, basis: Period, from: Date, to: Date, credit: boolean) => feeSpec(run.record.plan.id, basis, from, to, credit, run.feePrice());

/** A plan change, applied now or when its scheduled instant comes. */
type ChangePlan = Pick<Extract<ScheduledChange, { kind: 'change_plan' }>, 'id' | 'plan' | 'proration' | 'overrides'>;

/** A change of seats, applied now or when its scheduled instant comes. */
type ChangeQuantity = Pick<Extract<ScheduledChange, { kind: 'change_quantity' }>, 'id' | 'quantity' | 'proration'>;

/**
 * The contract prices on the plan a change moves to: those it names (null: none); without any, a
 * negotiated price follows the subscription to another version of its plan (a migration) and ends
 * with a move to another plan.
 */
const overridesAfter = (run: SubscriptionRun, change: Pick<ChangePlan, 'plan' | 'overrides'>): ContractOverrides | null =>
  change.overrides !== undefined ? change.overrides : change.plan.code === run.record.plan.code ? run.record.overrides : null;

/** Moves to a plan: its snapshot and the contract prices on it. */
function movePlan(run: SubscriptionRun, change: Pick<ChangePlan, 'plan' | 'overrides'>): void {
  run.record.overrides = overridesAfter(run, change);
  run.setPlan(change.plan);
}

async function bill({ run, billing }: RunContext, request: Omit<BillingRequest, 'subscriptionId'>): Promise<InvoiceSummary | null> {
  const subscriptionId = run.record.subscriptionId;
  const invoice = await billing.billSubscription({ subscriptionId, ...request });
  if (invoice) run.latestInvoice = invoice;
  // A draft is collected too: its collection finalises it at its grace end. Results recorded before
  // drafts never say `draft`, so old histories take the same branch as before.
  const asksMoney = invoice?.amountDue !== undefined && !/^0(\.0*)?$/.test(invoice.amountDue);
  if (invoice && (invoice.draft === true || asksMoney) && patched(COLLECT_INVOICES)) {
    // Abandoned on purpose: collection outlives this run (which continues as new every period).
    await startChild(invoiceCollectionWorkflow, {
      workflowId: invoiceWorkflowId(invoice.invoiceId),
      args: [{ invoiceId: invoice.invoiceId, subscriptionId }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  }
  return invoice;
}

/**
 * Patch: fees are revenue obligations recognised day by day by the revenue recognition workflow
 * (workflows/revenue-recognition.ts), not in one lump when their period ends.
 */
const RATABLE_REVENUE_RECOGNITION = 'ratable-revenue-recognition';

/**
 * Where a period (or what was left of it) has been served. Runs from before ratable recognition
 * asked for the lump here; their histories still replay that call (the activity now does nothing).
 */
async function recognize({ run, billing }: RunContext, at: Date): Promise<void> {
  if (run.toRecognize.length > 0 && !patched(RATABLE_REVENUE_RECOGNITION)) {
    for (const invoiceId of run.toRecognize) await billing.recognizeRevenue({ invoiceId, at: iso(at) });
  }
  run.toRecognize = [];
}

/**
 * The trial ended or the start came (`starts`): the subscription trials or bills from here. What
 * was scheduled for that instant happens before the first invoice: a cancellation ends it.
 */
export async function startBilling(context: RunContext, starts: Date): Promise<'started' | 'canceled'> {
  const { run } = context;
  const trialEnd = run.trialEnd();
  run.phase = run.phase === 'scheduled' && trialEnd && trialEnd > run.startAt() && Date.now() < trialEnd.getTime() ? 'trialing' : 'active';
  if (run.phase !== 'active') return 'started';
  if (run.record.scheduled.some((c) => c.kind === 'cancel' && c.atPeriodEnd)) {
    run.phase = 'trialing';
    await cancel(context, starts, false, true);
    return 'canceled';
  }
  const changeAtStart = run.record.scheduled.find((c): c is Extract<ScheduledChange, { kind: 'change_plan' }> => c.kind === 'change_plan' && c.atPeriodEnd);
  if (changeAtStart) {
    run.record.scheduled = run.record.scheduled.filter((c) => c !== changeAtStart);
    movePlan(run, changeAtStart);
    run.record.cadence = changeAtStart.plan.cadence;
  }
  applyQuantityAtBoundary(run);
  run.startSegment(run.billingStart(), 0);
  return 'started';
}

/** The renewal: this period's fee in advance, the previous period's usage in arrears. */
export async function renew(context: RunContext): Promise<void> {
  const { run } = context;
  const r = run.record;
  const period = run.period();
  const startsUsage = run.cycle === 0 || r.reopenUsage;
  const invoice = await bill(context, {
    periodIndex: run.cycle,
    billingKey: null,
    reason: 'subscription_cycle',
    fees: [fee(run, run.basis(), period.start, period.end, false)],
    usage: startsUsage ? null : run.usageUntil(period.start, false, !r.usageCut),
    reopenUsageAt: startsUsage ? iso(period.start) : null,
    issuedAt: iso(period.start),
  });
  if (invoice) run.toRecognize.push(invoice.invoiceId);
  r.usagePlanId = null;
  r.usageOverrides = null;
  r.usageCut = false;
  r.reopenUsage = false;
  run.periodInvoiced = true;
}

export async function changePlan(context: RunContext, change: ChangePlan, at: Date): Promise<void> {
  const { run } = context;
  const r = run.record;
  const next = change.plan;
  if (run.phase !== 'active') {
    // Before billing starts, or while paused, the plan simply is the new one from now on.
    movePlan(run, change);
    r.cadence = next.cadence;
    return;
  }
  const billingOf = planChangeBilling({
    current: { planId: r.plan.id, cadence: r.plan.cadence, price: run.feePrice() },
    next: { planId: next.id, cadence: next.cadence, price: feePrice(r.quantity, overridesAfter(run, change)?.amount) },
    prorate: change.proration === 'prorate',
    at,
    period: run.period(),
    basis: run.basis(),
    zone: r.zone,
    alignment: r.alignment,
  });
  const usage = run.usageUntil(at, false);
  if (billingOf.restart) {
    // A new interval restarts the period at the change; the old period's revenue is served until now.
    await recognize(context, at);
    r.cadence = next.cadence;
    run.startSegment(at, run.cycle + 1);
    run.advance(run.cycle + 1);
    run.periodInvoiced = true;
  }
  const invoice = await bill(context, {
    periodIndex: billingOf.restart ? run.cycle : null,
    billingKey: billingOf.restart ? null : `change:${change.id}`,
    reason: 'subscription_update',
    fees: billingOf.fees,
    usage,
    reopenUsageAt: null,
    issuedAt: iso(at),
  });
  if (invoice) run.toRecognize.push(invoice.invoiceId);
  movePlan(run, change);
  r.usagePlanId = null;
  r.usageOverrides = null;
  r.usageCut = !billingOf.restart;
}

/**
 * New seats at `at`: with proration, the rest of the period is credited at the old quantity and
 * charged at the new one, on one invoice; without, the next renewal bills the new quantity. Usage
 * is billed in arrears whatever the seats, so it is left for the renewal.
 */
export async function changeQuantity(context: RunContext, change: ChangeQuantity, at: Date): Promise<void> {
  const { run } = context;
  const r = run.record;
  if (run.phase === 'active') {
    const fees = quantityChangeBilling({
      planId: r.plan.id,
      from: run.feePrice(),
      to: feePrice(change.quantity, r.overrides?.amount),
      prorate: change.proration === 'prorate',
      at,
      period: run.period(),
      basis: run.basis(),
    });
    if (fees.length > 0) {
      const invoice = await bill(context, { periodIndex: null, billingKey: `change:${change.id}`, reason: 'subscription_update', fees, usage: null, reopenUsageAt: null, issuedAt: iso(at) });
      if (invoice) run.toRecognize.push(invoice.invoiceId);
    }
  }
  r.quantity = change.quantity;
}

/** A change of seats scheduled for the period's end takes effect at the boundary: the renewal bills it. */
function applyQuantityAtBoundary(run: SubscriptionRun): void {
  const r = run.record;
  const atEnd = r.scheduled.find((c): c is Extract<ScheduledChange, { kind: 'change_quantity' }> => c.kind === 'change_quantity' && c.atPeriodEnd);
  if (!atEnd) return;
  r.scheduled = r.scheduled.filter((c) => c !== atEnd);
  r.quantity = atEnd.quantity;
}

export async function pause(context: RunContext, id: string, at: Date): Promise<void> {
  const { run } = context;
  const r = run.record;
  const period = run.period();
  const fees = at < period.end ? [fee(run, run.basis(), at, period.end, true)] : [];
  const invoice = await bill(context, { periodIndex: null, billingKey: `pause:${id}`, reason: 'subscription_pause', fees, usage: run.usageUntil(at, true), reopenUsageAt: null, issuedAt: iso(at) });
  if (invoice) run.toRecognize.push(invoice.invoiceId);
  await recognize(context, at);
  run.phase = 'paused';
  r.pausedAt = iso(at);
  r.usagePlanId = null;
  r.usageCut = false;
}

/** Resuming starts a new period from the resume instant; its first invoice reopens usage. */
export function resume(run: SubscriptionRun, at: Date): void {
  const r = run.record;
  run.startSegment(at, run.cycle + 1);
  r.cadence = r.plan.cadence;
  run.advance(run.cycle + 1);
  run.phase = 'active';
  r.pausedAt = null;
  r.reopenUsage = true;
  run.periodInvoiced = false;
}

export async function cancel(context: RunContext, at: Date, prorate: boolean, atPeriodEnd: boolean): Promise<void> {
  const { run } = context;
  const r = run.record;
  if (run.phase === 'active') {
    const period = run.period();
    const fees = prorate && at < period.end ? [fee(run, run.basis(), at, period.end, true)] : [];
    const invoice = await bill(context, {
      periodIndex: null,
      billingKey: 'cancel',
      reason: 'subscription_cancel',
      fees,
      usage: run.usageUntil(at, true, atPeriodEnd && !r.usageCut),
      reopenUsageAt: null,
      issuedAt: iso(at),
    });
    if (invoice) run.toRecognize.push(invoice.invoiceId);
    await recognize(context, at);
  } else if (run.phase !== 'paused') {
    // Nothing was billed; ending usage refuses any event from here on.
    await bill(context, { periodIndex: null, billingKey: 'cancel', reason: 'subscription_cancel', fees: [], usage: run.usageUntil(at, true), reopenUsageAt: null, issuedAt: iso(at) });
  }
  run.phase = 'canceled';
  run.canceledAt = iso(at);
  run.endedAtPeriodEnd = atPeriodEnd;
  r.scheduled = [];
}

/**
 * The period has ended: its revenue is served, and what was scheduled for its end happens now (a
 * cancellation ends the subscription, a plan change takes over). Then the next period is current.
 */
export async function endPeriod(context: RunContext): Promise<'renewing' | 'canceled'> {
  const { run } = context;
  const r = run.record;
  const end = run.period().end;
  await recognize(context, end);
  if (r.scheduled.some((c) => c.kind === 'cancel' && c.atPeriodEnd)) {
    await cancel(context, end, false, true);
    return 'canceled';
  }
  const changeAtEnd = r.scheduled.find((c): c is Extract<ScheduledChange, { kind: 'change_plan' }> => c.kind === 'change_plan' && c.atPeriodEnd);
  if (changeAtEnd) {
    r.scheduled = r.scheduled.filter((c) => c !== changeAtEnd);
    // The ending period's usage is billed at the old plan's prices, on the next renewal.
    r.usagePlanId = r.plan.id;
    r.usageOverrides = r.overrides;
    if (!sameCadence(r.plan.cadence, changeAtEnd.plan.cadence)) {
      r.cadence = changeAtEnd.plan.cadence;
      run.startSegment(end, run.cycle + 1);
    }
    movePlan(run, changeAtEnd);
  }
  applyQuantityAtBoundary(run);
  run.advance(run.cycle + 1);
  run.periodInvoiced = false;
  return 'renewing';
}

/** Changes scheduled for an instant that has come (those at a period's end are the boundary's). */
export async function applyDue(context: RunContext): Promise<void> {
  const { run, publish } = context;
  for (;;) {
    const due = run.record.scheduled.filter((c) => !c.atPeriodEnd && new Date(c.at).getTime() <= Date.now()).sort((a, b) => a.at.localeCompare(b.at))[0];
    if (!due || run.ended()) return;
    run.record.scheduled = run.record.scheduled.filter((c) => c !== due);
    const at = new Date(due.at);
    if (due.kind === 'change_plan') await changePlan(context, due, at);
    else if (due.kind === 'change_quantity') await changeQuantity(context, due, at);
    else if (due.kind === 'pause' && run.phase === 'active') await pause(context, due.id, at);
    else if (due.kind === 'resume' && run.phase === 'paused') resume(run, at);
    else if (due.kind === 'cancel') await cancel(context, at, due.prorate, false);
    else log.warn('scheduled change no longer applies', { change: due, phase: run.phase });
    await publish();
  }
}

/**
 * Follows the invoices' collection (signals): suspended once an invoice's collection failed, active
 * again once no failed invoice is left; the customer's service is told both ways.
 */
export async function followCollection(context: RunContext): Promise<void> {
  const { run, billing, publish } = context;
  const r = run.record;
  if (!run.collectionChanged) return;
  run.collectionChanged = false;
  const failedInvoice = Object.keys(r.unpaid).find((id) => r.unpaid[id] === 'failed') ?? null;
  const at = iso(now());
  if (failedInvoice && !r.suspendedFor) {
    run.suspendFor(failedInvoice);
    await billing.notifyProvisioning({ key: `suspend:${failedInvoice}`, subscriptionId: r.subscriptionId, invoiceId: failedInvoice, type: 'subscription.suspended', at });
  } else if (!failedInvoice && r.suspendedFor) {
    const settled = r.suspendedFor;
    r.suspendedFor = null;
    await billing.notifyProvisioning({ key: `resume:${settled}`, subscriptionId: r.subscriptionId, invoiceId: settled, type: 'subscription.resumed', at });
  }
  await publish();
}
