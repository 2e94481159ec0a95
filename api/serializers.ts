import type Decimal from 'decimal.js';
import type { Customer } from '../db/entities/customer';
import type { Invoice, InvoiceLine } from '../db/entities/invoice';
import type { Payment } from '../db/entities/payment';
import type { Plan } from '../db/entities/plan';
import type { Subscription } from '../db/entities/subscription';
import { decimalString, formatAmount } from '../domain/money';
import type { SubscriptionState } from '../workflows/messages';

/** Resources as the API shows them: snake_case, ISO 8601 times, money as decimal strings. */
const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
const money = (amount: Decimal, currency: string): string => formatAmount(amount, currency);

export function customerJson(c: Customer) {
  return { id: c.id, object: 'customer', name: c.name, email: c.email, currency: c.currency, external_id: c.externalId ?? null, created_at: iso(c.createdAt) };
}

export function planJson(p: Plan) {
  return {
    id: p.id,
    object: 'plan',
    code: p.code,
    name: p.name,
    currency: p.currency,
    interval: p.interval,
    interval_count: p.intervalCount,
    trial_days: p.trialDays,
    amount: money(p.amount, p.currency),
    created_at: iso(p.createdAt),
  };
}

export function subscriptionJson(s: Subscription, planCode: string, live: SubscriptionState | null) {
  return {
    id: s.id,
    object: 'subscription',
    customer_id: s.customerId,
    plan_code: planCode,
    status: live?.status ?? s.status,
    start_at: iso(s.startAt),
    trial_end: iso(s.trialEnd),
    current_period_start: live ? (live.currentPeriod?.start ?? null) : iso(s.currentPeriodStart),
    current_period_end: live ? (live.currentPeriod?.end ?? null) : iso(s.currentPeriodEnd),
    cancel_at_period_end: live?.cancelAtPeriodEnd ?? s.cancelAtPeriodEnd,
    canceled_at: live ? live.canceledAt : iso(s.canceledAt),
    next_billing_at: live ? live.nextBillingAt : iso(s.currentPeriodEnd),
    upcoming: live ? live.upcoming : [],
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
    total: money(i.total, i.currency),
    amount_paid: money(i.amountPaid, i.currency),
    amount_due: money(i.amountDue, i.currency),
    period_start: iso(i.periodStart),
    period_end: iso(i.periodEnd),
    issued_at: iso(i.issuedAt),
    paid_at: iso(i.paidAt),
    lines: lines
      .sort((a, b) => a.position - b.position)
      .map((l) => ({
        id: l.id,
        object: 'invoice_line',
        description: l.description,
        quantity: decimalString(l.quantity),
        unit_amount: decimalString(l.unitAmount),
        amount: money(l.amount, i.currency),
        period_start: iso(l.periodStart),
        period_end: iso(l.periodEnd),
      })),
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
