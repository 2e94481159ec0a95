import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { chargePrice, tierPartsJson } from '../domain/charge-properties';
import { remainingAfterUse } from '../domain/discounts';
import { buildInvoice, feeLine, revenueSplit, type InvoiceDraft, type InvoiceLineInput } from '../domain/invoice';
import { creditApplied, invoiceIssued } from '../domain/ledger';
import { decimalString } from '../domain/money';
import { dueOnTerms } from '../domain/payment-terms';
import { periodAt } from '../domain/period';
import { minimumTrueUp, priceUsage, type Usage } from '../domain/pricing';
import type { ContractOverrides } from '../domain/subscription';
import { AppliedCoupon, Coupon, CustomerBalanceTransaction, CustomerTaxRate, TaxRate } from './entities/adjustments';
import { Invoice, InvoiceLine, type BillingReason, type CollectionMethod } from './entities/invoice';
import { recordExtrasBilled, subscriptionExtras, type ExtrasScope, type SubscriptionExtras } from './add-on-billing';
import { Plan } from './entities/plan';
import { Subscription } from './entities/subscription';
import { BillableMetric, PlanCharge } from './entities/usage';
import { newId } from './ids';
import { closedPeriodsAt, postTransaction } from './ledger-store';
import { invoiceEvent, invoicePaidIfPaid } from './resource-events';
import { createObligations } from './revenue-store';
import { aggregatePercentageTransactions, aggregateUsage, closeUsageWindow, reopenUsage } from './usage-store';
import { consumeWallets, hasWallets } from './wallet-store';

/** A plan's fee for [from, to) of `period`, prorated to the millisecond; `credit` gives back unused time paid in advance. */
export interface FeeSegment {
  planId: string;
  period: { start: Date; end: Date };
  from: Date;
  to: Date;
  credit: boolean;
  /** Seats the fee is priced on; 1 when not given. */
  quantity?: Decimal;
  /** A contract price per seat, instead of the plan's amount and tiers. */
  unitAmount?: Decimal | null;
}

export interface UsageClose {
  /** Usage before this instant, not billed yet, is billed on this invoice. */
  until: Date;
  /** The plan whose prices the usage is billed at; null: the subscription's stored plan. */
  planId: string | null;
  /** The usage is a whole period's (so a minimum commitment applies); null: derive it from the stored schedule. */
  wholePeriod: boolean | null;
  /** No usage is accepted from `until` on (the subscription ended or paused). */
  ends: boolean;
  /** The contract prices (minimum, charge properties) the usage is billed at; absent or null: the plan's. */
  overrides?: ContractOverrides | null;
}

export interface InvoiceRequest {
  subscriptionId: string;
  /** A renewal's invoice: one per (subscription, cycle), so a retry returns the one issued. */
  periodIndex: number | null;
  /** An invoice between renewals: one per (subscription, key). */
  billingKey: string | null;
  reason: BillingReason;
  fees: FeeSegment[];
  usage: UsageClose | null;
  /** Usage is accepted again from this instant (a resume), in the invoice's transaction. */
  reopenUsageAt?: Date | null;
  issuedAt: Date;
  /**
   * The caller collects drafts (the lifecycle workflow): a renewal of a customer with a grace period
   * is then stored as a draft, finalised when the grace ends. Its first invoice never waits.
   */
  renewalDrafts?: boolean;
}

async function nextInvoiceNumber(em: EntityManager): Promise<{ sequence: string; number: string }> {
  const [row] = await em.execute<Array<{ value: string }>>(
    `update invoice_number_sequences set next_value = next_value + 1 where series = 'INV' returning next_value - 1 as value`,
  );
  return { sequence: row.value, number: `INV-${row.value.padStart(6, '0')}` };
}

async function loadSubscription(em: EntityManager, subscriptionId: string): Promise<Subscription> {
  const subscription = await em.findOne(Subscription, { id: subscriptionId });
  if (!subscription) {
    // Retryable: the API starts the workflow inside the transaction that stores the row, so the
    // first activity can run a moment before that commit. A row that never commits leaves the
    // retries visible on the workflow's pending activity; the API terminates such workflows.
    throw new Error(`subscription ${subscriptionId} is not in the database (yet)`);
  }
  return subscription;
}

/**
 * The lines for a usage window: one per plan charge, priced at the plan's prices, and the true-up of
 * the plan's minimum when the window is a whole period whose usage fell short of it.
 */
async function usageLines(
  em: EntityManager,
  subscription: Subscription,
  plan: Plan,
  window: { start: Date; end: Date },
  wholePeriod: boolean,
  overrides: ContractOverrides | null,
): Promise<InvoiceLineInput[]> {
  if (window.end <= window.start) return [];
  const charges = await em.find(PlanCharge, { planId: plan.id }, { orderBy: { position: 'asc' } });
  if (charges.length === 0) return [];
  const metrics = new Map((await em.find(BillableMetric, { id: charges.map((c) => c.metricId) })).map((m) => [m.id, m]));
  const lines: InvoiceLineInput[] = [];
  for (const charge of charges) {
    const metric = metrics.get(charge.metricId)!;
    const contract = overrides?.charges?.find((c) => c.metricCode === metric.code);
    const price = chargePrice(charge.model, contract?.properties ?? charge.properties);
    const usage: Usage = await aggregateUsage(em, subscription.id, metric, window);
    if (price.model === 'percentage' && price.transactionRules) {
      const terms = { rate: price.rate, fixedAmount: price.fixedAmount, freeUnits: price.freeUnits, rules: price.transactionRules };
      usage.transactionFees = (await aggregatePercentageTransactions(em, subscription.id, metric.id, window, terms)).fees;
    }
    const priced = priceUsage(price, usage, plan.currency);
    lines.push({
      kind: 'usage',
      description: metric.name,
      quantity: priced.quantity,
      unitAmount: priced.unitAmount,
      amount: priced.amount,
      periodStart: window.start,
      periodEnd: window.end,
      metricCode: metric.code,
      chargeModel: charge.model,
      tiers: priced.tiers,
    });
  }
  const minimum = overrides?.minimumAmount !== undefined ? new Decimal(overrides.minimumAmount) : (plan.minimumAmount ?? null);
  const trueUp = wholePeriod ? minimumTrueUp(minimum, lines.reduce((t, l) => t.plus(l.amount), new Decimal(0))) : new Decimal(0);
  if (!trueUp.isZero()) {
    lines.push({ kind: 'minimum', description: `Minimum commitment (${plan.name})`, quantity: new Decimal(1), unitAmount: trueUp, amount: trueUp, periodStart: window.start, periodEnd: window.end });
  }
  return lines;
}

/**
 * Active coupons of the customer (and of the subscription, for a subscription's invoice), oldest
 * first, locked for this invoice when `lock`.
 */
export async function couponsFor(em: EntityManager, customerId: string, subscriptionId: string | null, lock: boolean) {
  const applied = await em.find(
    AppliedCoupon,
    { customerId, status: 'active', $or: [{ subscriptionId: null }, ...(subscriptionId ? [{ subscriptionId }] : [])] },
    { orderBy: { createdAt: 'asc', id: 'asc' }, ...(lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {}) },
  );
  const coupons = new Map((await em.find(Coupon, { id: applied.map((a) => a.couponId) })).map((c) => [c.id, c]));
  return applied.map((a) => ({ applied: a, coupon: coupons.get(a.couponId)! }));
}

export async function taxRatesFor(em: EntityManager, customerId: string): Promise<TaxRate[]> {
  const links = await em.find(CustomerTaxRate, { customerId }, { orderBy: { position: 'asc' } });
  const rates = new Map((await em.find(TaxRate, { id: links.map((l) => l.taxRateId) })).map((r) => [r.id, r]));
  return links.map((l) => rates.get(l.taxRateId)!);
}

/**
 * The lines priced as every invoice is: the customer's coupons (and the subscription's) when
 * `withCoupons`, then the customer's taxes. Reads only; coupons locked when `lockCoupons`.
 */
export async function priceLines(
  em: EntityManager,
  owner: { customerId: string; subscriptionId: string | null },
  currency: string,
  lines: InvoiceLineInput[],
  options: { withCoupons: boolean; lockCoupons: boolean },
): Promise<{ draft: InvoiceDraft; appliedCoupons: AppliedCoupon[] }> {
  const coupons = options.withCoupons ? await couponsFor(em, owner.customerId, owner.subscriptionId, options.lockCoupons) : [];
  const taxRates = await taxRatesFor(em, owner.customerId);
  const draft = buildInvoice(currency, lines, {
    coupons: coupons.map(({ applied, coupon }) => ({ id: applied.id, name: coupon.name, percentOff: coupon.percentOff ?? null, amountOff: coupon.amountOff ?? null })),
    taxRates: taxRates.map((r) => ({ id: r.id, name: r.name, percentage: r.percentage, inclusive: r.inclusive })),
  });
  return { draft, appliedCoupons: coupons.map((c) => c.applied) };
}

export interface InvoiceComputation {
  draft: InvoiceDraft;
  subscription: Subscription;
  plan: Plan;
  appliedCoupons: AppliedCoupon[];
  /** Add-ons and setup fee billed with it, recorded when it is stored. */
  extras: SubscriptionExtras | null;
}

export interface InvoiceScope {
  fees: FeeSegment[];
  usageWindow: { start: Date; end: Date };
  /** Null: the subscription's stored plan. */
  usagePlanId: string | null;
  /** The window is a whole period, so the plan's minimum commitment applies. */
  wholePeriod: boolean;
  /** Coupons apply to renewals; proration invoices show list prices. */
  withCoupons: boolean;
  /** The subscription's add-ons and setup fee due on this invoice (db/add-on-billing.ts); absent: none. */
  addOns?: ExtrasScope;
  /** The contract prices the usage is billed at; absent or null: the plan's. */
  overrides?: ContractOverrides | null;
}

async function feeLines(em: EntityManager, fees: FeeSegment[]): Promise<{ lines: InvoiceLineInput[]; currency: string | null }> {
  const lines: InvoiceLineInput[] = [];
  let currency: string | null = null;
  for (const fee of fees) {
    const plan = await em.findOneOrFail(Plan, { id: fee.planId });
    currency = plan.currency;
    lines.push(feeLine(plan, fee));
  }
  return { lines, currency };
}

/**
 * What the invoice would be: the fee of `feePeriod`, usage of the window at the plan's prices, the
 * customer's coupons and taxes. Reads only; used to issue (coupons locked) and to preview.
 */
export async function computeInvoice(em: EntityManager, subscription: Subscription, scope: InvoiceScope, lockCoupons: boolean): Promise<InvoiceComputation> {
  const plan = await em.findOneOrFail(Plan, { id: scope.usagePlanId ?? subscription.planId });
  const { lines } = await feeLines(em, scope.fees);
  lines.push(...(await usageLines(em, subscription, plan, scope.usageWindow, scope.wholePeriod, scope.overrides ?? null)));
  const extras = scope.addOns ? await subscriptionExtras(em, subscription, scope.fees, scope.addOns) : null;
  if (extras) lines.push(...extras.lines);
  const { draft, appliedCoupons } = await priceLines(em, { customerId: subscription.customerId, subscriptionId: subscription.id }, plan.currency, lines, { withCoupons: scope.withCoupons, lockCoupons });
  return { draft, subscription, plan, appliedCoupons, extras };
}

/** Usage windows start at period starts; the window billed by invoice `index` is in period index - 1. */
export function usagePeriodOf(subscription: Subscription, plan: Plan, invoiceIndex: number) {
  return periodAt(subscription.billingAnchor, { interval: plan.interval, intervalCount: plan.intervalCount }, Math.max(0, invoiceIndex - 1));
}

/**
 * Credit the customer holds in `currency`. Only credit there is to spend needs the customer row
 * locked, so two invoices cannot spend it twice: a customer without any (most) is not locked, and
 * the renewals of their subscriptions at the same instant are not issued one after another. Credit
 * granted by a transaction not committed yet is not seen, as if it were granted after this invoice.
 */
async function availableCredit(tx: EntityManager, customerId: string, currency: string): Promise<Decimal> {
  const balance = async (): Promise<Decimal> => {
    const [row] = await tx.execute<Array<{ balance: string | null }>>(
      'select sum(amount)::text as balance from customer_balance_transactions where customer_id = ? and currency = ?',
      [customerId, currency],
    );
    return new Decimal(row.balance ?? 0);
  };
  const unlocked = await balance();
  if (!unlocked.gt(0)) return unlocked;
  // No key update: the invoice's own insert, earlier in the transaction, took a key-share lock on the
  // customer row (its foreign key); a plain FOR UPDATE would then deadlock with another invoice of
  // the same customer holding the same key-share lock.
  await tx.execute('select id from customers where id = ? for no key update', [customerId]);
  // Read again under the lock: another invoice may have spent it meanwhile.
  return balance();
}

async function netTermsOf(tx: EntityManager, customerId: string): Promise<number> {
  const [row] = await tx.execute<Array<{ net_terms_days: number }>>('select net_terms_days from customers where id = ?', [customerId]);
  return row.net_terms_days;
}

/** Who an invoice bills, what identifies it (one of period index, billing key, one-off key) and its dates. */
export interface InvoiceHeader {
  customerId: string;
  subscriptionId: string | null;
  periodIndex: number | null;
  billingKey: string | null;
  oneOffKey: string | null;
  reason: BillingReason;
  collectionMethod: CollectionMethod;
  periodStart: Date;
  periodEnd: Date;
  issuedAt: Date;
}

/**
 * Stores an invoice and its lines inside the caller's transaction as a draft: no number, no
 * posting, no revenue obligations, no credit applied. The coupons it uses are spent now, since
 * their discount is on it. finaliseInvoice makes it an issued invoice.
 */
export async function createInvoice(
  tx: EntityManager,
  header: InvoiceHeader,
  { draft, appliedCoupons }: { draft: InvoiceDraft; appliedCoupons: AppliedCoupon[] },
  autoFinalizesAt: Date | null = null,
): Promise<{ invoice: Invoice; lines: InvoiceLine[] }> {
  const invoice = tx.create(Invoice, {
    id: newId('in'),
    sequence: null,
    number: null,
    customerId: header.customerId,
    subscriptionId: header.subscriptionId,
    periodIndex: header.periodIndex,
    billingKey: header.billingKey,
    oneOffKey: header.oneOffKey,
    collectionMethod: header.collectionMethod,
    billingReason: header.reason,
    creditApplied: new Decimal(0),
    amountRefunded: new Decimal(0),
    amountCredited: new Decimal(0),
    status: 'draft',
    currency: draft.currency,
    ...draftTotals(draft),
    amountPaid: new Decimal(0),
    periodStart: header.periodStart,
    periodEnd: header.periodEnd,
    issuedAt: header.issuedAt,
    ...dueOnTerms(header.issuedAt, await netTermsOf(tx, header.customerId)),
    paidAt: null,
    finalizedAt: null,
    autoFinalizesAt,
    createdAt: new Date(),
  });
  // Foreign keys are plain columns, so the unit of work cannot order the inserts: parent first.
  await tx.flush();
  const lines = draft.lines.map((line, position) => newInvoiceLine(tx, invoice.id, position, line));
  for (const applied of appliedCoupons) {
    const coupon = await tx.findOneOrFail(Coupon, { id: applied.couponId });
    applied.periodsRemaining = remainingAfterUse(coupon.duration, applied.periodsRemaining ?? null);
    if (applied.periodsRemaining === 0) applied.status = 'exhausted';
  }
  await tx.flush();
  await invoiceEvent(tx, 'invoice.created', invoice);
  return { invoice, lines };
}

/**
 * Finalises a draft at `at`, inside the caller's transaction: numbers it (the next number of the
 * gapless sequence, taken in this transaction), dates its terms from `at`, makes its fee lines
 * revenue obligations, posts it to the ledger (`invoice:<id>:issued`) and spends the customer's
 * credit (or, for a negative total, grants it), then wallet credit; open, or paid when nothing is
 * left to collect. `draft` is the invoice as priced from its lines.
 */
export async function finaliseInvoice(tx: EntityManager, invoice: Invoice, lines: InvoiceLine[], draft: InvoiceDraft, at: Date): Promise<Invoice> {
  const split = revenueSplit(draft);
  // A credit larger than the charges is owed to the customer; credit already owed pays what it can.
  const credit = draft.total.gt(0) ? Decimal.min(draft.total, await availableCredit(tx, invoice.customerId, invoice.currency)) : new Decimal(0);
  const amountDue = Decimal.max(0, draft.total.minus(credit));
  const paid = amountDue.isZero();
  // The gapless number is taken as late as it can be: its counter row stays locked until commit, so
  // every invoice being issued waits for it. What does not need the number is written before, and
  // what the postings after it read is read before (the closed months, whether there are wallets).
  Object.assign(invoice, dueOnTerms(at, await netTermsOf(tx, invoice.customerId)));
  const closed = await closedPeriodsAt(tx, at);
  const spendsWallets = amountDue.gt(0) && (await hasWallets(tx, invoice.customerId));
  invoice.creditApplied = credit;
  invoice.amountDue = amountDue;
  createObligations(tx, { ...invoice, issuedAt: at }, lines, draft);
  const balanceChange = draft.total.isNegative() ? draft.total.negated() : credit.negated();
  if (!balanceChange.isZero()) {
    tx.create(CustomerBalanceTransaction, {
      id: newId('cbt'),
      customerId: invoice.customerId,
      currency: invoice.currency,
      amount: balanceChange,
      invoiceId: invoice.id,
      kind: draft.total.isNegative() ? 'proration_credit' : 'applied_to_invoice',
      createdAt: new Date(),
    });
  }
  await tx.flush();
  const numbered = await nextInvoiceNumber(tx);
  Object.assign(invoice, numbered);
  invoice.status = paid ? 'paid' : 'open';
  invoice.paidAt = paid ? at : null;
  invoice.finalizedAt = at;
  await tx.flush();
  const issued = { ...invoice, number: numbered.number, issuedAt: at };
  const posting = invoiceIssued({ ...issued, discountTotal: draft.discountTotal, taxTotal: draft.taxTotal, ...split });
  if (posting) await postTransaction(tx, posting, { customerId: invoice.customerId, invoiceId: invoice.id }, closed);
  const applied = creditApplied(issued, credit);
  if (applied) await postTransaction(tx, applied, { customerId: invoice.customerId, invoiceId: invoice.id }, closed);
  // Customer credit first, then prepaid wallet credit, then the card.
  if (spendsWallets) await consumeWallets(tx, invoice, at);
  await invoiceEvent(tx, 'invoice.finalized', invoice, undefined, lines);
  // Credit or wallets may have paid it whole.
  await invoicePaidIfPaid(tx, invoice);
  return invoice;
}

/**
 * Stores an issued invoice inside the caller's transaction: created and finalised at once (its
 * number, lines, coupons, revenue obligations, ledger posting and the credit it spends or grants).
 * Every invoice that does not wait as a draft, of a subscription or not, is issued through here.
 */
export async function storeIssuedInvoice(
  tx: EntityManager,
  header: InvoiceHeader,
  priced: { draft: InvoiceDraft; appliedCoupons: AppliedCoupon[] },
): Promise<{ invoice: Invoice; lines: InvoiceLine[] }> {
  const { invoice, lines } = await createInvoice(tx, header, priced);
  await finaliseInvoice(tx, invoice, lines, priced.draft, header.issuedAt);
  return { invoice, lines };
}

const discountsJson = (draft: InvoiceDraft) => draft.discounts.map((d) => ({ applied_coupon_id: d.couponId, name: d.name, amount: decimalString(d.amount) }));

const taxesJson = (draft: InvoiceDraft) =>
  draft.taxes.map((t) => ({ tax_rate_id: t.rate.id, name: t.rate.name, percentage: decimalString(t.rate.percentage), inclusive: t.rate.inclusive, base: decimalString(t.base), amount: decimalString(t.amount) }));

/**
 * What an invoice states of its computed draft, before anything is applied to it: its totals, the
 * fees (net of included tax and of their discounts) that wait in deferred revenue, and what it asks.
 */
export function draftTotals(draft: InvoiceDraft) {
  const split = revenueSplit(draft);
  return {
    subtotal: draft.subtotal,
    discountTotal: draft.discountTotal,
    taxTotal: draft.taxTotal,
    discounts: discountsJson(draft),
    taxes: taxesJson(draft),
    total: draft.total,
    deferredAmount: split.deferred.minus(split.deferredDiscount),
    amountDue: Decimal.max(0, draft.total),
  };
}

export function newInvoiceLine(tx: EntityManager, invoiceId: string, position: number, line: InvoiceDraft['lines'][number]): InvoiceLine {
  return tx.create(InvoiceLine, {
    id: newId('il'),
    invoiceId,
    position,
    kind: line.kind,
    description: line.description,
    metricCode: line.metricCode ?? null,
    chargeModel: line.chargeModel ?? null,
    quantity: line.quantity,
    unitAmount: line.unitAmount,
    amount: line.amount,
    tiers: line.tiers && line.tiers.length > 0 ? tierPartsJson(line.tiers) : null,
    discountAmount: line.discountAmount,
    taxAmount: line.taxAmount,
    periodStart: line.periodStart,
    periodEnd: line.periodEnd,
    planId: line.price?.planId ?? null,
    priceAmount: line.price?.amount ?? null,
    priceInterval: line.price?.interval ?? null,
    priceIntervalCount: line.price?.intervalCount ?? null,
    addOnId: line.addOnId ?? null,
  });
}

async function storeInvoice(tx: EntityManager, request: InvoiceRequest, { draft, subscription, appliedCoupons }: InvoiceComputation, usageFrom: Date): Promise<{ invoice: Invoice; lines: InvoiceLine[] }> {
  const header: InvoiceHeader = {
    customerId: subscription.customerId,
    subscriptionId: subscription.id,
    periodIndex: request.periodIndex,
    billingKey: request.billingKey,
    oneOffKey: null,
    reason: request.reason,
    collectionMethod: 'charge_automatically',
    periodStart: request.fees[0]?.from ?? usageFrom,
    periodEnd: request.fees.at(-1)?.to ?? request.usage?.until ?? usageFrom,
    issuedAt: request.issuedAt,
  };
  const graceDays = request.renewalDrafts && request.reason === 'subscription_cycle' && (request.periodIndex ?? 0) > 0 ? await gracePeriodOf(tx, subscription.customerId) : 0;
  if (graceDays > 0) return createInvoice(tx, header, { draft, appliedCoupons }, new Date(request.issuedAt.getTime() + graceDays * DAY_MS));
  return storeIssuedInvoice(tx, header, { draft, appliedCoupons });
}

const DAY_MS = 86_400_000;

async function gracePeriodOf(tx: EntityManager, customerId: string): Promise<number> {
  const [row] = await tx.execute<Array<{ days: number }>>('select invoice_grace_period_days as days from customers where id = ?', [customerId]);
  return row.days;
}

/**
 * Issues one invoice of a subscription and posts it to the ledger, in one database transaction that
 * also closes the usage it bills. Idempotent on (subscription, index): a retry returns the invoice
 * already issued. Null when there is nothing to bill (a last invoice without usage).
 */
export async function issueInvoice(em: EntityManager, request: InvoiceRequest): Promise<Invoice | null> {
  const key =
    request.periodIndex !== null
      ? { subscriptionId: request.subscriptionId, periodIndex: request.periodIndex }
      : { subscriptionId: request.subscriptionId, billingKey: request.billingKey };
  const existing = await em.fork().findOne(Invoice, key);
  if (existing) return existing;
  try {
    return await em.fork().transactional(async (tx) => {
      const subscription = await loadSubscription(tx, request.subscriptionId);
      let usageWindow = { start: subscription.usageClosedUntil, end: subscription.usageClosedUntil };
      let wholePeriod = false;
      if (request.usage) {
        const usageFrom = await closeUsageWindow(tx, subscription.id, request.usage.until, request.usage.ends);
        usageWindow = { start: usageFrom, end: request.usage.until };
        const plan = await tx.findOneOrFail(Plan, { id: request.usage.planId ?? subscription.planId });
        wholePeriod = request.usage.wholePeriod ?? usageWindow.end.getTime() === usagePeriodOf(subscription, plan, request.periodIndex ?? 0).end.getTime();
      }
      if (request.reopenUsageAt) await reopenUsage(tx, subscription.id, request.reopenUsageAt, request.periodIndex === 0);
      const computed = await computeInvoice(
        tx,
        subscription,
        {
          fees: request.fees,
          usageWindow,
          usagePlanId: request.usage?.planId ?? null,
          wholePeriod,
          withCoupons: request.reason === 'subscription_cycle',
          overrides: request.usage?.overrides ?? null,
          addOns: { renewal: request.reason === 'subscription_cycle', issuedAt: request.issuedAt, lock: true },
        },
        true,
      );
      // A renewal always has its invoice (a $0 one included); anything else only when it bills something.
      if (request.reason !== 'subscription_cycle' && computed.draft.lines.length === 0) return null;
      const { invoice, lines } = await storeInvoice(tx, request, computed, usageWindow.start);
      if (computed.extras) await recordExtrasBilled(tx, subscription, computed.extras, invoice, lines);
      return invoice;
    });
  } catch (error) {
    // A concurrent attempt of the same activity won the race; its invoice is the one.
    if (error instanceof UniqueConstraintViolationException) {
      const winner = await em.fork().findOne(Invoice, key);
      if (winner) return winner;
    }
    throw error;
  }
}

export interface PeriodInvoiceRequest {
  subscriptionId: string;
  periodIndex: number;
  periodStart: Date;
  periodEnd: Date;
  issuedAt: Date;
}

/** The invoice at a period's start: its fee in advance, and the usage of the period before, in arrears. */
export async function issuePeriodInvoice(em: EntityManager, request: PeriodInvoiceRequest): Promise<Invoice> {
  const subscription = await loadSubscription(em.fork(), request.subscriptionId);
  const period = { start: request.periodStart, end: request.periodEnd };
  const invoice = await issueInvoice(em, {
    subscriptionId: request.subscriptionId,
    periodIndex: request.periodIndex,
    billingKey: null,
    reason: 'subscription_cycle',
    fees: [{ planId: subscription.planId, period, from: period.start, to: period.end, credit: false }],
    usage: { until: request.periodStart, planId: null, wholePeriod: null, ends: false },
    issuedAt: request.issuedAt,
  });
  return invoice!;
}
