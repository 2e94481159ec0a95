import Decimal from 'decimal.js';
import { isOverdue } from '../domain/payment-terms';
import { decimalString, formatAmount } from '../domain/money';
import type { InvoiceLineDraft } from '../domain/invoice';
import type { ContractOverrides, ScheduledChange, SubscriptionState } from '../domain/subscription';
import type { AddOn, SubscriptionAddOn } from './entities/add-on';
import type { Customer } from './entities/customer';
import type { Invoice, InvoiceLine } from './entities/invoice';
import type { Payment } from './entities/payment';
import type { Plan } from './entities/plan';
import type { CreditNote, Refund } from './entities/refund';
import type { Subscription } from './entities/subscription';

/**
 * The resources events report, as the API shows them (snake_case, ISO 8601 times, money as decimal
 * strings). They live here, below api/, because an event is written where its fact is stored (the
 * stores, services and activities, which never import api/) and carries the resource as the API
 * would answer it then; api/serializers.ts answers requests with the same functions.
 */
export const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
export const money = (amount: Decimal, currency: string): string => formatAmount(amount, currency);

export function customerJson(c: Customer) {
  return {
    id: c.id,
    object: 'customer',
    name: c.name,
    email: c.email,
    currency: c.currency,
    timezone: c.timezone,
    net_terms_days: c.netTermsDays,
    invoice_grace_period_days: c.invoiceGracePeriodDays,
    external_id: c.externalId ?? null,
    created_at: iso(c.createdAt),
  };
}

function scheduledChangeJson(c: ScheduledChange) {
  return {
    id: c.id,
    type: c.kind,
    at: c.at,
    at_period_end: c.atPeriodEnd,
    ...(c.kind === 'change_plan' ? { plan_code: c.plan.code, plan_version: c.plan.version, proration: c.proration } : {}),
    ...(c.kind === 'change_quantity' ? { quantity: c.quantity, proration: c.proration } : {}),
    ...(c.kind === 'cancel' ? { prorate: c.prorate } : {}),
  };
}

/** A customer's contract prices; null: the plan's. */
function overridesJson(overrides: ContractOverrides | null | undefined, currency: string) {
  if (!overrides) return null;
  return {
    amount: overrides.amount === undefined ? null : money(new Decimal(overrides.amount), currency),
    minimum_amount: overrides.minimumAmount === undefined ? null : money(new Decimal(overrides.minimumAmount), currency),
    charges: (overrides.charges ?? []).map((c) => ({ metric_code: c.metricCode, properties: c.properties })),
  };
}

export function addOnJson(a: AddOn) {
  return {
    id: a.id,
    object: 'add_on',
    code: a.code,
    name: a.name,
    amount: money(a.amount, a.currency),
    currency: a.currency,
    interval: a.interval ?? null,
    interval_count: a.intervalCount ?? null,
    created_at: iso(a.createdAt),
  };
}

/** An add-on attached to a subscription. */
export function subscriptionAddOnJson({ item, addOn }: { item: SubscriptionAddOn; addOn: AddOn }) {
  return {
    id: item.id,
    object: 'subscription_add_on',
    subscription_id: item.subscriptionId,
    add_on: addOnJson(addOn),
    quantity: decimalString(item.quantity),
    added_at: iso(item.addedAt),
    removed_at: iso(item.removedAt),
    billed_invoice_id: item.billedInvoiceId ?? null,
  };
}

/** `addOns`: those it has now (listed on the subscription). */
export function subscriptionJson(s: Subscription, plan: Plan, live: SubscriptionState | null, addOns: Array<{ item: SubscriptionAddOn; addOn: AddOn }> = []) {
  const scheduled = (live?.scheduledChanges ?? (s.scheduledChanges as ScheduledChange[])) ?? [];
  return {
    id: s.id,
    object: 'subscription',
    customer_id: s.customerId,
    external_id: s.externalId ?? null,
    plan_code: live?.plan?.code ?? plan.code,
    plan_version: live?.plan?.version ?? plan.version,
    quantity: live?.quantity ?? s.quantity,
    overrides: overridesJson(live && live.overrides !== undefined ? live.overrides : s.overrides, plan.currency),
    status: live?.status ?? s.status,
    start_at: iso(s.startAt),
    trial_end: live ? live.trialEnd : iso(s.trialEnd),
    billing_alignment: s.billingAlignment,
    timezone: s.timezone,
    current_period_start: live ? (live.currentPeriod?.start ?? null) : iso(s.currentPeriodStart),
    current_period_end: live ? (live.currentPeriod?.end ?? null) : iso(s.currentPeriodEnd),
    cancel_at_period_end: live?.cancelAtPeriodEnd ?? s.cancelAtPeriodEnd,
    cancellation_details: s.cancellationReason ? { reason: s.cancellationReason, comment: s.cancellationComment ?? null } : null,
    canceled_at: live ? live.canceledAt : iso(s.canceledAt),
    paused_at: live ? (live.pausedAt ?? null) : iso(s.pausedAt),
    next_billing_at: live ? live.nextBillingAt : iso(s.currentPeriodEnd),
    scheduled_changes: scheduled.map(scheduledChangeJson),
    upcoming: live ? live.upcoming : [],
    latest_invoice: live?.latestInvoice
      ? { id: live.latestInvoice.invoiceId, number: live.latestInvoice.number, total: live.latestInvoice.total, currency: live.latestInvoice.currency }
      : null,
    // Why billing stopped, while status is billing_error (read live from the workflow).
    billing_error: live?.billingError
      ? { activity: live.billingError.activity, code: live.billingError.code, message: live.billingError.message, at: live.billingError.at }
      : null,
    add_ons: addOns.map(subscriptionAddOnJson),
    workflow_id: s.workflowId,
    /** "workflow" when read live from the subscription's workflow, "database" when it could not be reached. */
    state_source: live ? 'workflow' : 'database',
    created_at: iso(s.createdAt),
  };
}

export function invoiceJson(i: Invoice, lines: InvoiceLine[]) {
  return {
    id: i.id,
    object: 'invoice',
    number: i.number ?? null,
    status: i.status,
    customer_id: i.customerId,
    subscription_id: i.subscriptionId ?? null,
    collection_method: i.collectionMethod,
    currency: i.currency,
    subtotal: money(i.subtotal, i.currency),
    discount_total: money(i.discountTotal, i.currency),
    tax_total: money(i.taxTotal, i.currency),
    total: money(i.total, i.currency),
    credit_applied: money(i.creditApplied, i.currency),
    wallet_applied: money(i.walletApplied, i.currency),
    amount_paid: money(i.amountPaid, i.currency),
    amount_due: money(i.amountDue, i.currency),
    amount_refunded: money(i.amountRefunded, i.currency),
    amount_credited: money(i.amountCredited, i.currency),
    billing_reason: i.billingReason,
    discounts: i.discounts.map((d) => ({ ...d, amount: money(new Decimal(d.amount), i.currency) })),
    taxes: i.taxes.map((t) => ({ ...t, amount: money(new Decimal(t.amount), i.currency), base: money(new Decimal(t.base), i.currency) })),
    period_start: iso(i.periodStart),
    period_end: iso(i.periodEnd),
    issued_at: iso(i.issuedAt),
    days_until_due: i.daysUntilDue,
    due_at: iso(i.dueAt),
    overdue: isOverdue(i, new Date()),
    paid_at: iso(i.paidAt),
    finalized_at: iso(i.finalizedAt),
    auto_finalizes_at: iso(i.autoFinalizesAt),
    voided_at: iso(i.voidedAt),
    lines: lines
      .sort((a, b) => a.position - b.position)
      .map((l) => ({
        id: l.id,
        object: 'invoice_line',
        ...lineJson(l, i.currency),
        tiers: l.tiers ?? [],
      })),
  };
}

export function lineJson(l: Omit<InvoiceLineDraft, 'tiers'> | InvoiceLine, currency: string) {
  return {
    kind: l.kind,
    description: l.description,
    metric_code: l.metricCode ?? null,
    charge_model: l.chargeModel ?? null,
    quantity: decimalString(l.quantity),
    unit_amount: l.unitAmount ? decimalString(l.unitAmount) : null,
    amount: money(l.amount, currency),
    discount_amount: money(l.discountAmount, currency),
    tax_amount: money(l.taxAmount, currency),
    period_start: iso(l.periodStart),
    period_end: iso(l.periodEnd),
    add_on_id: l.addOnId ?? null,
  };
}

export function paymentJson(p: Payment) {
  return {
    id: p.id,
    object: 'payment',
    invoice_id: p.invoiceId,
    amount: money(p.amount, p.currency),
    currency: p.currency,
    method: p.method,
    reference: p.reference ?? null,
    received_at: iso(p.receivedAt),
    created_at: iso(p.createdAt),
  };
}

export function refundJson(r: Refund) {
  return {
    id: r.id,
    object: 'refund',
    invoice_id: r.invoiceId,
    payment_id: r.paymentId,
    amount: money(r.amount, r.currency),
    currency: r.currency,
    // card: refunded through Stripe; manual: paid back by hand.
    method: r.stripeRefundId ? 'card' : 'manual',
    stripe_refund_id: r.stripeRefundId ?? null,
    reason: r.reason ?? null,
    created_at: iso(r.createdAt),
  };
}

export function creditNoteJson(n: CreditNote) {
  return {
    id: n.id,
    object: 'credit_note',
    number: n.number,
    invoice_id: n.invoiceId,
    customer_id: n.customerId,
    amount: money(n.amount, n.currency),
    currency: n.currency,
    kind: n.kind,
    reason: n.reason ?? null,
    created_at: iso(n.createdAt),
  };
}

/** One charge of an invoice's card, as it was begun and as it ended (a decline's codes included). */
export interface PaymentAttemptFields {
  attempt: number;
  amount: Decimal;
  currency: string;
  status: string;
  paymentIntentId: string | null;
  failureCode: string | null;
  declineCode: string | null;
  failureMessage: string | null;
  hardDecline: boolean;
  createdAt: Date;
}

/** An attempt as a `payment.failed` event reports it: the fields the invoice's collection lists, and whose it is. */
export interface PaymentAttemptRecord extends PaymentAttemptFields {
  id: string;
  invoiceId: string;
  customerId: string;
}

/** An attempt's fields as the API shows them, in an event and in an invoice's collection alike. */
export function paymentAttemptFieldsJson(a: PaymentAttemptFields) {
  return {
    attempt: a.attempt,
    amount: money(a.amount, a.currency),
    currency: a.currency,
    status: a.status,
    payment_intent_id: a.paymentIntentId,
    failure_code: a.failureCode,
    decline_code: a.declineCode,
    failure_message: a.failureMessage,
    hard_decline: a.hardDecline,
    created_at: iso(a.createdAt),
  };
}

export function paymentAttemptJson(a: PaymentAttemptRecord) {
  return { id: a.id, object: 'payment_attempt', invoice_id: a.invoiceId, customer_id: a.customerId, ...paymentAttemptFieldsJson(a) };
}
