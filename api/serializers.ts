import Decimal from 'decimal.js';
import type { AppliedCoupon, Coupon, TaxRate } from '../db/entities/adjustments';
import type { Customer } from '../db/entities/customer';
import type { Invoice, InvoiceLine } from '../db/entities/invoice';
import type { Payment } from '../db/entities/payment';
import type { Plan } from '../db/entities/plan';
import type { Subscription } from '../db/entities/subscription';
import type { BillableMetric, PlanCharge } from '../db/entities/usage';
import { tierPartsJson } from '../domain/charge-properties';
import type { InvoiceDraft, InvoiceLineDraft } from '../domain/invoice';
import { decimalString, formatAmount } from '../domain/money';
import type { ScheduledChange, SubscriptionState } from '../workflows/messages';

/** Resources as the API shows them: snake_case, ISO 8601 times, money as decimal strings. */
const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
const money = (amount: Decimal, currency: string): string => formatAmount(amount, currency);

export function customerJson(c: Customer) {
  return {
    id: c.id,
    object: 'customer',
    name: c.name,
    email: c.email,
    currency: c.currency,
    timezone: c.timezone,
    external_id: c.externalId ?? null,
    created_at: iso(c.createdAt),
  };
}

export function planJson(p: Plan, charges: Array<{ charge: PlanCharge; metric: BillableMetric }>) {
  return {
    id: p.id,
    object: 'plan',
    code: p.code,
    version: p.version,
    name: p.name,
    currency: p.currency,
    interval: p.interval,
    interval_count: p.intervalCount,
    trial_days: p.trialDays,
    amount: money(p.amount, p.currency),
    minimum_amount: p.minimumAmount ? money(p.minimumAmount, p.currency) : null,
    charges: charges.map(({ charge, metric }) => ({ id: charge.id, object: 'charge', metric_code: metric.code, model: charge.model, properties: charge.properties })),
    created_at: iso(p.createdAt),
  };
}

function scheduledChangeJson(c: ScheduledChange) {
  return {
    id: c.id,
    type: c.kind,
    at: c.at,
    at_period_end: c.atPeriodEnd,
    ...(c.kind === 'change_plan' ? { plan_code: c.plan.code, plan_version: c.plan.version, proration: c.proration } : {}),
    ...(c.kind === 'cancel' ? { prorate: c.prorate } : {}),
  };
}

export function subscriptionJson(s: Subscription, plan: Plan, live: SubscriptionState | null) {
  const scheduled = (live?.scheduledChanges ?? (s.scheduledChanges as ScheduledChange[])) ?? [];
  return {
    id: s.id,
    object: 'subscription',
    customer_id: s.customerId,
    external_id: s.externalId ?? null,
    plan_code: live?.plan?.code ?? plan.code,
    plan_version: live?.plan?.version ?? plan.version,
    status: live?.status ?? s.status,
    start_at: iso(s.startAt),
    trial_end: live ? live.trialEnd : iso(s.trialEnd),
    billing_alignment: s.billingAlignment,
    timezone: s.timezone,
    current_period_start: live ? (live.currentPeriod?.start ?? null) : iso(s.currentPeriodStart),
    current_period_end: live ? (live.currentPeriod?.end ?? null) : iso(s.currentPeriodEnd),
    cancel_at_period_end: live?.cancelAtPeriodEnd ?? s.cancelAtPeriodEnd,
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
    number: i.number,
    status: i.status,
    customer_id: i.customerId,
    subscription_id: i.subscriptionId,
    currency: i.currency,
    subtotal: money(i.subtotal, i.currency),
    discount_total: money(i.discountTotal, i.currency),
    tax_total: money(i.taxTotal, i.currency),
    total: money(i.total, i.currency),
    credit_applied: money(i.creditApplied, i.currency),
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
    paid_at: iso(i.paidAt),
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

function lineJson(l: Omit<InvoiceLineDraft, 'tiers'> | InvoiceLine, currency: string) {
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
  };
}

/** An invoice not issued yet (a preview): the same shape as an invoice, without id or number. */
export function draftInvoiceJson(d: InvoiceDraft) {
  return {
    object: 'upcoming_invoice',
    currency: d.currency,
    subtotal: money(d.subtotal, d.currency),
    discount_total: money(d.discountTotal, d.currency),
    tax_total: money(d.taxTotal, d.currency),
    total: money(d.total, d.currency),
    discounts: d.discounts.map((x) => ({ applied_coupon_id: x.couponId, name: x.name, amount: money(x.amount, d.currency) })),
    taxes: d.taxes.map((t) => ({
      tax_rate_id: t.rate.id,
      name: t.rate.name,
      percentage: decimalString(t.rate.percentage),
      inclusive: t.rate.inclusive,
      base: money(t.base, d.currency),
      amount: money(t.amount, d.currency),
    })),
    lines: d.lines.map((l) => ({ object: 'invoice_line', ...lineJson(l, d.currency), tiers: tierPartsJson(l.tiers ?? []) })),
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

export function metricJson(m: BillableMetric) {
  return { id: m.id, object: 'billable_metric', code: m.code, name: m.name, aggregation: m.aggregation, field: m.field ?? null, created_at: iso(m.createdAt) };
}

export function couponJson(c: Coupon) {
  return {
    id: c.id,
    object: 'coupon',
    code: c.code,
    name: c.name,
    percent_off: c.percentOff ? decimalString(c.percentOff) : null,
    amount_off: c.amountOff && c.currency ? money(c.amountOff, c.currency) : null,
    currency: c.currency ?? null,
    duration: c.duration,
    duration_periods: c.durationPeriods ?? null,
    created_at: iso(c.createdAt),
  };
}

export function appliedCouponJson(a: AppliedCoupon, c: Coupon) {
  return {
    id: a.id,
    object: 'applied_coupon',
    coupon_code: c.code,
    customer_id: a.customerId,
    subscription_id: a.subscriptionId ?? null,
    periods_remaining: a.periodsRemaining ?? null,
    status: a.status,
    created_at: iso(a.createdAt),
  };
}

export function taxRateJson(r: TaxRate) {
  return { id: r.id, object: 'tax_rate', code: r.code, name: r.name, percentage: decimalString(r.percentage), inclusive: r.inclusive, created_at: iso(r.createdAt) };
}
