import Decimal from 'decimal.js';
import type { AppliedCoupon, Coupon, TaxRate } from '../db/entities/adjustments';
import type { Customer } from '../db/entities/customer';
import type { EmailMessage } from '../db/entities/email';
import type { LedgerEntry, LedgerTransaction } from '../db/entities/ledger';
import type { Refund } from '../db/entities/refund';
import type { Page } from '../db/pagination';
import type { EventRow } from '../db/events';
import { eventEnvelope } from '../domain/event-envelope';
import type { AccountBalance } from '../db/ledger-store';
import type { LedgerAccountRow } from '../db/ledger-account-store';
import type { Journal } from '../domain/journal-export';
import type { AccountingPeriodView } from '../services/accounting-periods';
import { ACCOUNTS } from '../domain/ledger';
import type { DeferredRevenueMonth } from '../domain/deferred-revenue';
import type { Reconciliation } from '../domain/reconciliation';
import { AGING_BUCKETS, type AgingBucket, type BucketAmounts, type CustomerAging } from '../domain/ar-aging';
import { CHURN_DEFINITIONS, type ChurnMonth } from '../domain/churn';
import { monthEnd, monthOf, monthStart, nextMonthStart } from '../domain/months';
import type { MrrMonth } from '../domain/mrr';
import type { PlanMigrationProgress } from '../domain/plan-migration';
import type { IngestResult } from './usage-ingest';
import type { TimelineEvent } from '../services/customer-timeline';
import type { CustomerBalance } from '../services/customers';
import type { Invoice, InvoiceLine } from '../db/entities/invoice';
import type { Plan } from '../db/entities/plan';
import type { BillableMetric, PlanCharge } from '../db/entities/usage';
import { tierPartsJson } from '../domain/charge-properties';
import type { InvoiceDraft } from '../domain/invoice';
import { decimalString, fitsCurrency, sum } from '../domain/money';
import type { WalletTransaction } from '../db/entities/wallet';
import type { WalletView } from '../services/wallets';
import type { ApiKeyRecord } from '../db/api-keys';
import type { AuditEventRecord } from '../db/audit-log';
import type { DeliveryWithAttempts, WebhookEndpointRow } from '../db/webhook-store';

import { customerJson, invoiceJson, iso, lineJson, money, refundJson } from '../db/resource-json';

/** Resources as the API shows them: snake_case, ISO 8601 times, money as decimal strings (the resources events report too come from db/resource-json.ts). */
export { addOnJson, creditNoteJson, customerJson, invoiceJson, iso, paymentAttemptFieldsJson, paymentAttemptJson, paymentJson, refundJson, subscriptionAddOnJson, subscriptionJson } from '../db/resource-json';

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
    fee_tiers: p.feeTiers ?? null,
    setup_fee: p.setupFee ? money(p.setupFee, p.currency) : null,
    charges: charges.map(({ charge, metric }) => ({ id: charge.id, object: 'charge', metric_code: metric.code, model: charge.model, properties: charge.properties })),
    created_at: iso(p.createdAt),
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

/** A page of a list, as Stripe lists it; `url` is the list's path, without its query. */
export function listJson<T, J>(url: string, page: Page<T>, json: (item: T) => J) {
  return { object: 'list' as const, url, data: page.data.map(json), has_more: page.hasMore };
}

/** What one refund request did: the refunds it made (one per payment) and the invoice after them. */
export function refundSummaryJson(refunds: Refund[], invoice: Invoice, lines: InvoiceLine[]) {
  return {
    object: 'refund_summary',
    invoice_id: invoice.id,
    amount: money(sum(refunds.map((r) => r.amount)), invoice.currency),
    currency: invoice.currency,
    refunds: refunds.map(refundJson),
    invoice: invoiceJson(invoice, lines),
  };
}

export function emailJson(m: EmailMessage) {
  return {
    id: m.id,
    object: 'email',
    customer_id: m.customerId ?? null,
    to: m.toAddress,
    template: m.template,
    subject: m.subject,
    body: m.body,
    status: m.status,
    attempts: m.attempts,
    last_error: m.lastError ?? null,
    message_id: m.messageId,
    created_at: iso(m.createdAt),
    sent_at: iso(m.sentAt),
  };
}

/** Assets carry debit balances; liabilities and revenue carry credit balances. */
const DEBIT_NORMAL = new Set(ACCOUNTS.filter((a) => a.type === 'asset').map((a) => a.code as string));

export function ledgerBalanceJson(b: AccountBalance) {
  return {
    account: b.account,
    currency: b.currency,
    debits: money(b.debits, b.currency),
    credits: money(b.credits, b.currency),
    balance: money(DEBIT_NORMAL.has(b.account) ? b.debits.minus(b.credits) : b.credits.minus(b.debits), b.currency),
    normal_balance: DEBIT_NORMAL.has(b.account) ? 'debit' : 'credit',
  };
}

export function ledgerTransactionJson(t: LedgerTransaction, entries: LedgerEntry[]) {
  return {
    id: t.id,
    object: 'ledger_transaction',
    description: t.description,
    currency: t.currency,
    customer_id: t.customerId ?? null,
    invoice_id: t.invoiceId ?? null,
    idempotency_key: t.idempotencyKey,
    source_type: t.sourceType ?? null,
    source_id: t.sourceId ?? null,
    effective_at: iso(t.effectiveAt),
    dated_at: iso(t.datedAt),
    created_at: iso(t.createdAt),
    entries: entries.map((e) => ({ account: e.accountCode, direction: e.direction, amount: money(e.amount, t.currency) })),
  };
}

export function accountingPeriodJson(p: AccountingPeriodView) {
  return {
    id: p.period,
    object: 'accounting_period',
    status: p.status,
    start: iso(monthStart(p.period)),
    end: iso(nextMonthStart(p.period)),
    closed_at: iso(p.closedAt),
  };
}

export function ledgerAccountJson(a: LedgerAccountRow) {
  return { id: a.code, object: 'ledger_account', code: a.code, name: a.name, type: a.type, gl_code: a.glCode };
}

/** A journal of the export: one ledger transaction, its lines as debits and credits. */
export function journalEntryJson(j: Journal) {
  return {
    id: j.id,
    object: 'journal_entry',
    date: iso(j.effectiveAt)!.slice(0, 10),
    accounting_period: monthOf(j.effectiveAt),
    effective_at: iso(j.effectiveAt),
    dated_at: iso(j.datedAt),
    source_type: j.sourceType,
    source_id: j.sourceId,
    description: j.description,
    currency: j.currency,
    customer_name: j.customerName,
    lines: j.lines.map((l) => ({
      account: l.account,
      account_name: l.accountName,
      gl_code: l.glCode,
      debit: l.direction === 'debit' ? money(l.amount, j.currency) : null,
      credit: l.direction === 'credit' ? money(l.amount, j.currency) : null,
    })),
  };
}

/** The deferred revenue waterfall: each month's closing is checked against the ledger's balance at its end. */
export function deferredRevenueReportJson(q: { currency: string; from: string; to: string }, months: DeferredRevenueMonth[]) {
  return {
    object: 'deferred_revenue_report',
    currency: q.currency,
    from: q.from,
    to: q.to,
    balanced: months.every((m) => m.balanced),
    months: months.map((m) => ({
      month: m.month,
      opening: money(m.opening, q.currency),
      billed: money(m.billed, q.currency),
      recognized: money(m.recognized, q.currency),
      other: m.other.map((o) => ({ source: o.source, amount: money(o.amount, q.currency) })),
      closing: money(m.closing, q.currency),
      ledger_closing: money(m.ledgerClosing, q.currency),
      balanced: m.balanced,
    })),
  };
}

/** Records against their postings, per type and one by one where they differ, and the trial balance. */
export function reconciliationReportJson(q: { currency: string; from: string; to: string }, r: Reconciliation) {
  // A difference finer than the currency's cents must not round away to "0.00".
  const exact = (d: Decimal) => (fitsCurrency(d, q.currency) ? money(d, q.currency) : decimalString(d));
  return {
    object: 'reconciliation_report',
    currency: q.currency,
    from: q.from,
    to: q.to,
    balanced: r.balanced,
    sections: r.sections.map((s) => ({ type: s.type, records: s.records, expected: exact(s.expected), posted: exact(s.posted), difference: exact(s.difference) })),
    differences: r.differences.map((d) => ({ type: d.type, id: d.id, expected: exact(d.expected), posted: exact(d.posted), difference: exact(d.difference) })),
    trial_balance: {
      debits: money(r.trialBalance.debits, q.currency),
      credits: money(r.trialBalance.credits, q.currency),
      balanced: r.trialBalance.balanced,
      accounts: r.trialBalance.accounts.map((a) => ({ account: a.account, debits: money(a.debits, q.currency), credits: money(a.credits, q.currency) })),
    },
  };
}

export function setupIntentJson(intent: { id: string; clientSecret: string | null }, customerId: string) {
  return { object: 'setup_intent', id: intent.id, customer_id: customerId, client_secret: intent.clientSecret };
}

/** A card attached as the customer's default, and the invoices being collected that it is tried on at once. */
export function paymentMethodAttachedJson(c: Customer, paymentMethod: string, retriedInvoiceIds: string[]) {
  return { ...customerJson(c), default_payment_method: paymentMethod, retried_invoices: retriedInvoiceIds };
}

/** The rates a customer's invoices are taxed at, in the order they apply. */
export function customerTaxRatesJson(customerId: string, rates: TaxRate[]) {
  return { object: 'list', customer_id: customerId, data: rates.map(taxRateJson) };
}

export function planVersionsJson(versions: Array<{ plan: Plan; charges: Array<{ charge: PlanCharge; metric: BillableMetric }> }>) {
  return { object: 'list', data: versions.map((v) => planJson(v.plan, v.charges)) };
}

/** The invoice behind the usage a subscription has not been billed for yet. */
export function subscriptionUsageJson(u: { subscriptionId: string; currency: string; from: Date; to: Date; draft: InvoiceDraft }) {
  const usage = u.draft.lines.filter((l) => l.kind === 'usage');
  return {
    object: 'subscription_usage',
    subscription_id: u.subscriptionId,
    currency: u.currency,
    from_datetime: iso(u.from),
    to_datetime: iso(u.to),
    charges: usage.map((l) => ({
      metric_code: l.metricCode,
      charge_model: l.chargeModel,
      quantity: decimalString(l.quantity),
      amount: money(l.amount, u.currency),
      tiers: tierPartsJson(l.tiers ?? []),
    })),
    amount: money(sum(usage.map((l) => l.amount)), u.currency),
    upcoming_invoice: draftInvoiceJson(u.draft),
  };
}

export function planChangePreviewJson(p: { subscriptionId: string; plan: Plan; at: Date | null; proration: string; draft: InvoiceDraft | null }) {
  return {
    object: 'plan_change_preview',
    subscription_id: p.subscriptionId,
    plan_code: p.plan.code,
    plan_version: p.plan.version,
    at: iso(p.at),
    proration: p.proration,
    invoice: p.draft ? draftInvoiceJson(p.draft) : null,
  };
}

export function quantityChangePreviewJson(p: { subscriptionId: string; quantity: number; at: Date | null; proration: string; draft: InvoiceDraft | null }) {
  return {
    object: 'quantity_change_preview',
    subscription_id: p.subscriptionId,
    quantity: p.quantity,
    at: iso(p.at),
    proration: p.proration,
    invoice: p.draft ? draftInvoiceJson(p.draft) : null,
  };
}

/** The answer to Stripe for an event it sent. */
export function stripeEventJson(e: { duplicate: boolean; outcome: string }) {
  return { received: true, duplicate: e.duplicate, outcome: e.outcome };
}

export function planMigrationPreviewJson(
  planCode: string,
  p: { target: Plan; entries: Array<{ subscriptionId: string; fromVersion: number; toVersion: number; at: Date | null; currentInvoice: InvoiceDraft; newInvoice: InvoiceDraft }> },
) {
  return {
    object: 'plan_migration',
    plan_code: planCode,
    to_version: p.target.version,
    dry_run: true,
    data: p.entries.map((e) => ({
      subscription_id: e.subscriptionId,
      from_version: e.fromVersion,
      to_version: e.toVersion,
      status: 'would_migrate',
      at: iso(e.at),
      current_invoice: draftInvoiceJson(e.currentInvoice),
      new_invoice: draftInvoiceJson(e.newInvoice),
    })),
  };
}

/** A migration started or running (a workflow of its own): how far it has got, and each subscription's outcome so far. */
export function planMigrationJson(p: PlanMigrationProgress) {
  return {
    id: p.migrationId,
    object: 'plan_migration',
    plan_code: p.planCode,
    to_version: p.toVersion,
    dry_run: false,
    status: p.status,
    total: p.total,
    migrated: p.results.length,
    started_at: p.startedAt,
    completed_at: p.completedAt,
    data: p.results.map((r) => ({
      subscription_id: r.subscriptionId,
      from_version: r.fromVersion,
      to_version: r.toVersion,
      ...(r.status === 'scheduled' ? { status: r.status, at: r.at } : { status: r.status, error: r.error }),
    })),
  };
}

/** What a batch of usage events came to: accepted, duplicates, and each rejection by index. */
export function usageEventBatchJson(result: IngestResult) {
  return { object: 'usage_event_batch', ...result };
}

/** What the MRR report reads and how it rounds, stated in the report itself. */
const MRR_RULES = {
  formula: 'start + new + expansion + reactivation - contraction - churn = mrr',
  month_end: 'MRR is read at the last instant of each UTC month (a millisecond before the next month starts)',
  source:
    'Fee lines of invoices not void covering that instant (a canceled subscription stops counting when it ends); each adds its plan\'s full-period price per month, with its sign (a credit line subtracts), net of included tax and of the share of its discount from forever coupons. Trials, tax, usage, minimums and other coupons are left out.',
  normalisation: 'A price for n intervals per month: yearly / 12, monthly x 1, weekly x 52 / 12, daily x 365 / 12, then divided by n',
  movements:
    'Per customer between consecutive month ends: new (first MRR ever), expansion (more), contraction (less, still some), churn (down to none), reactivation (back from none after having had MRR at an earlier month end)',
  rounding: "Each customer's MRR at a month end is computed exactly and rounded to the currency once (half away from zero); every other figure is a sum of those, and ARR is 12 x MRR",
};

type MrrReportMonth = Pick<MrrMonth, 'month' | 'start' | 'new' | 'expansion' | 'contraction' | 'churn' | 'reactivation' | 'end' | 'computedEnd'>;

export function mrrReportJson(q: { currency: string | null; from: string; to: string }, report: Array<{ currency: string; months: MrrReportMonth[]; unpricedFeeLines: number }>) {
  return {
    object: 'mrr_report',
    currency: q.currency,
    from: q.from,
    to: q.to,
    rules: MRR_RULES,
    data: report.map((r) => {
      const m$ = (d: Decimal) => money(d, r.currency);
      return {
        currency: r.currency,
        opening_mrr: m$(r.months[0]?.start ?? new Decimal(0)),
        unpriced_fee_lines: r.unpricedFeeLines,
        months: r.months.map((m) => ({
          month: m.month,
          month_end: monthEnd(m.month).toISOString(),
          start: m$(m.start),
          new: m$(m.new),
          expansion: m$(m.expansion),
          contraction: m$(m.contraction),
          churn: m$(m.churn),
          reactivation: m$(m.reactivation),
          mrr: m$(m.end),
          arr: m$(m.end.times(12)),
          check: { computed_mrr: m$(m.computedEnd), holds: m.computedEnd.equals(m.end) },
        })),
      };
    }),
  };
}

export function churnReportJson(q: { currency: string | null; from: string; to: string }, report: Array<{ currency: string; months: ChurnMonth[] }>) {
  return {
    object: 'churn_report',
    currency: q.currency,
    from: q.from,
    to: q.to,
    definitions: CHURN_DEFINITIONS,
    data: report.map((r) => ({
      currency: r.currency,
      months: r.months.map((m) => ({
        month: m.month,
        customers_at_start: m.customersAtStart,
        churned_customers: m.churnedCustomers,
        start_mrr: money(m.startMrr, r.currency),
        churned_mrr: money(m.churnedMrr, r.currency),
        contraction_mrr: money(m.contractionMrr, r.currency),
        expansion_mrr: money(m.expansionMrr, r.currency),
        reactivation_mrr: money(m.reactivationMrr, r.currency),
        logo_churn_rate: m.logoChurnRate,
        gross_revenue_churn_rate: m.grossRevenueChurnRate,
        net_revenue_churn_rate: m.netRevenueChurnRate,
      })),
    })),
  };
}

const bucketsJson = (b: BucketAmounts, currency: string) => Object.fromEntries(AGING_BUCKETS.map((name) => [name, money(b[name], currency)])) as Record<AgingBucket, string>;

export function arAgingReportJson(q: { currency: string | null; asOf: Date }, report: Array<{ currency: string; customers: CustomerAging[]; totals: BucketAmounts; total: Decimal }>) {
  return {
    object: 'ar_aging_report',
    currency: q.currency,
    as_of: q.asOf.toISOString(),
    rules: {
      receivables: 'The amount due of open invoices issued by as_of, as they stand now (as_of ages them; it does not undo later payments)',
      buckets: 'Days past due_at at as_of, counted in started days: not_yet_due (at or before due_at), days_1_30, days_31_60, days_61_90, days_91_120, days_over_120',
    },
    data: report.map((r) => ({
      currency: r.currency,
      customers: r.customers.map((c) => ({ customer_id: c.customerId, name: c.customerName, ...bucketsJson(c.buckets, r.currency), total: money(c.total, r.currency) })),
      totals: { ...bucketsJson(r.totals, r.currency), total: money(r.total, r.currency) },
    })),
  };
}

const credits = (value: Decimal): string => decimalString(value);
const creditsOrNull = (value: Decimal | null | undefined): string | null => (value === null || value === undefined ? null : credits(value));

/** Balances in credits and in money; `pending_credits` are bought and wait for their invoice to be paid. */
export function walletJson({ wallet: w, pendingCredits }: WalletView) {
  const balance = w.paidBalance.plus(w.grantedBalance);
  return {
    id: w.id,
    object: 'wallet',
    customer_id: w.customerId,
    name: w.name ?? null,
    status: w.status,
    currency: w.currency,
    rate: decimalString(w.rate),
    credits_balance: credits(balance.dividedBy(w.rate).toDecimalPlaces(6, Decimal.ROUND_HALF_UP)),
    balance: money(balance, w.currency),
    paid_balance: money(w.paidBalance, w.currency),
    granted_balance: money(w.grantedBalance, w.currency),
    pending_credits: credits(pendingCredits),
    expires_at: iso(w.expiresAt),
    top_up_threshold: creditsOrNull(w.topUpThreshold),
    top_up_paid_credits: creditsOrNull(w.topUpPaidCredits),
    top_up_granted_credits: creditsOrNull(w.topUpGrantedCredits),
    terminated_at: iso(w.terminatedAt),
    created_at: iso(w.createdAt),
  };
}

/** Amounts in the wallet's currency. */
export function walletTransactionJson(t: WalletTransaction, currency: string) {
  return {
    id: t.id,
    object: 'wallet_transaction',
    wallet_id: t.walletId,
    kind: t.kind,
    status: t.status,
    trigger: t.trigger ?? null,
    credits: credits(t.credits),
    amount: money(t.amount, currency),
    paid_amount: money(t.paidAmount, currency),
    granted_amount: money(t.grantedAmount, currency),
    invoice_id: t.invoiceId ?? null,
    triggered_by_invoice_id: t.triggeredByInvoiceId ?? null,
    effective_at: iso(t.effectiveAt),
    settled_at: iso(t.settledAt),
    created_at: iso(t.createdAt),
  };
}

export function timelineEventJson(e: TimelineEvent) {
  return { id: e.id, object: 'timeline_event', type: e.type, occurred_at: iso(e.occurredAt), summary: e.summary, resource: { object: e.resource.object, id: e.resource.id } };
}

export function customerBalanceJson(b: CustomerBalance) {
  return {
    object: 'customer_balance',
    customer_id: b.customer.id,
    currency: b.customer.currency,
    credit_balance: money(b.creditBalance, b.customer.currency),
    amount_due: money(b.amountDue, b.customer.currency),
    open_invoices: b.openInvoices,
    default_payment_method: b.paymentMethod
      ? { id: b.paymentMethod.id, brand: b.paymentMethod.card?.brand ?? null, last4: b.paymentMethod.card?.last4 ?? null, exp_month: b.paymentMethod.card?.expMonth ?? null, exp_year: b.paymentMethod.card?.expYear ?? null }
      : null,
  };
}

/** A customer portal link; `url` opens the portal for this customer until `expires_at`. */
export function portalSessionJson(session: { id: string; customerId: string; returnUrl: string | null; expiresAt: Date; createdAt: Date }, url: string) {
  return { object: 'portal_session', id: session.id, customer_id: session.customerId, url, return_url: session.returnUrl, expires_at: iso(session.expiresAt), created_at: iso(session.createdAt) };
}

export function apiKeyJson(k: ApiKeyRecord) {
  return { id: k.id, object: 'api_key' as const, name: k.name, role: k.role, prefix: k.prefix, created_at: iso(k.createdAt)!, last_used_at: iso(k.lastUsedAt), revoked_at: iso(k.revokedAt) };
}

export function auditEventJson(a: AuditEventRecord) {
  return {
    id: a.id,
    object: 'audit_event' as const,
    actor: { key_id: a.actorKeyId, role: a.actorRole },
    method: a.method,
    route: a.route,
    resource: { type: a.resourceType, id: a.resourceId },
    request_id: a.requestId,
    idempotency_key: a.idempotencyKey,
    before: a.before,
    after: a.after,
    created_at: iso(a.createdAt)!,
  };
}

/** An event as GET /v1/events lists it: the envelope a webhook delivers, its object as the API showed it when it happened. */
export const eventJson = (e: EventRow) => eventEnvelope(e);

export function webhookEndpointJson(w: WebhookEndpointRow) {
  return {
    id: w.id,
    object: 'webhook_endpoint' as const,
    url: w.url,
    description: w.description,
    events: w.events,
    status: w.status,
    disabled_reason: w.disabled_reason,
    preconfigured: w.preconfigured,
    previous_secret_expires_at: iso(w.previous_secret_expires_at),
    created_at: w.created_at.toISOString(),
    updated_at: w.updated_at.toISOString(),
  };
}

/** The only answers that carry the secret: the endpoint's creation and each rotation. */
export const webhookEndpointWithSecretJson = (w: WebhookEndpointRow) => ({ ...webhookEndpointJson(w), secret: w.secret });

export function webhookDeliveryJson({ delivery: d, attempts }: DeliveryWithAttempts) {
  return {
    id: d.id,
    object: 'webhook_delivery' as const,
    event_id: d.event_id,
    event_type: d.event_type,
    endpoint_id: d.endpoint_id,
    status: d.status,
    attempt_count: d.attempts,
    next_attempt_at: iso(d.next_attempt_at),
    last_status_code: d.last_status_code,
    resends: d.resends,
    attempts: attempts.map((a) => ({
      id: a.id,
      object: 'webhook_attempt' as const,
      attempt: a.attempt,
      outcome: a.outcome,
      status_code: a.status_code,
      latency_ms: a.latency_ms,
      response_excerpt: a.response_excerpt,
      error: a.error,
      attempted_at: a.attempted_at.toISOString(),
    })),
    created_at: d.created_at.toISOString(),
    updated_at: d.updated_at.toISOString(),
  };
}
