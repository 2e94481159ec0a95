import Decimal from 'decimal.js';
import { allocateDiscounts, type CouponTerms } from './discounts';
import { decimalString, roundToCurrency, sum } from './money';
import type { TierPart } from './pricing';
import type { Interval } from './period';
import { segmentAmount, type Span } from './proration';
import { seatFee, type FeeTiersProperties } from './seat-pricing';
import { computeTaxes, type TaxAmount, type TaxRateTerms } from './tax';

/**
 * fee: the plan's recurring fee, billed in advance for the period it names.
 * usage: a usage charge, billed in arrears for the period it names.
 * minimum: the true-up of a minimum commitment, in arrears with the usage it completes.
 * setup: a plan's setup fee, once per subscription; revenue when issued.
 * one_off: a one-time add-on or a line of a one-off invoice; revenue when issued.
 * prepaid_credit: wallet credits bought; a prepayment (a liability), never revenue, neither
 * discounted nor taxed (an advance payment: tax is due on what it is later spent on).
 */
export type LineKind = 'fee' | 'usage' | 'minimum' | 'setup' | 'one_off' | 'prepaid_credit';

export interface InvoiceLineInput {
  kind: LineKind;
  description: string;
  quantity: Decimal;
  /** Null where no single unit price exists (graduated, package, percentage, minimum). */
  unitAmount: Decimal | null;
  /** Rounded once to the currency. */
  amount: Decimal;
  periodStart: Date;
  periodEnd: Date;
  metricCode?: string;
  chargeModel?: string;
  tiers?: TierPart[];
  /** A fee line's plan and its price for a whole period (all seats), whatever share of it the line bills (MRR reads these). */
  price?: FullPeriodPrice;
  /** The add-on the line bills. */
  addOnId?: string;
}

export interface FullPeriodPrice {
  /** Null on a recurring add-on's fee line (it names its add-on instead). */
  planId: string | null;
  amount: Decimal;
  interval: Interval;
  intervalCount: number;
}

export interface InvoiceLineDraft extends InvoiceLineInput {
  discountAmount: Decimal;
  taxAmount: Decimal;
}

export interface InvoiceDiscount {
  couponId: string;
  name: string;
  amount: Decimal;
}

export interface InvoiceDraft {
  currency: string;
  lines: InvoiceLineDraft[];
  /** Sum of the line amounts, before discounts and taxes. */
  subtotal: Decimal;
  discounts: InvoiceDiscount[];
  discountTotal: Decimal;
  taxes: TaxAmount[];
  /** All taxes, inclusive ones included (they are inside the line amounts). */
  taxTotal: Decimal;
  /** subtotal - discounts + exclusive taxes: what the customer owes. */
  total: Decimal;
}

export interface FlatFeePlan {
  name: string;
  currency: string;
  /** The price per seat for a whole period. */
  amount: Decimal.Value;
  /** Per-seat tiers priced on the quantity instead of `amount` (domain/seat-pricing.ts). */
  feeTiers?: FeeTiersProperties | null;
  /** A stored plan: its fee lines name it and its full-period price. */
  id?: string;
  interval?: Interval;
  intervalCount?: number;
}

export interface FeeTerms {
  period: Span;
  from: Date;
  to: Date;
  credit: boolean;
  /** Seats; 1 when not given. */
  quantity?: Decimal;
  /** A contract price per seat, instead of the plan's amount and tiers. */
  unitAmount?: Decimal | null;
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/**
 * A plan's fee for [from, to) of `period` (the whole period the price is for), prorated to the
 * millisecond and rounded once; `credit` gives back unused time paid in advance, as a negative line.
 * With seats, the whole period's fee for all of them (per-seat price times seats, or tiers) is what
 * is prorated, so a period's parts still add up to it. The line's quantity is the seats; its unit
 * amount the price per seat where one exists (the amount divides exactly by the seats), else null.
 * Rounding with changes of seats: a change credits and charges the rest of the period, each line the
 * difference of two rounded served amounts, so a period's invoices come within one minor unit per
 * change of the exact seat-time price, and several changes at one instant bill exactly what one
 * change from the first quantity to the last does.
 */
export function feeLine(plan: FlatFeePlan, fee: FeeTerms): InvoiceLineInput {
  const quantity = fee.quantity ?? new Decimal(1);
  const whole = seatFee(plan, quantity, fee.unitAmount ?? null);
  const amount = segmentAmount(whole.amount, fee.period, fee.from, fee.to, plan.currency);
  const wholePeriod = fee.from.getTime() === fee.period.start.getTime() && fee.to.getTime() === fee.period.end.getTime();
  const name = quantity.equals(1) ? plan.name : `${plan.name} × ${decimalString(quantity)}`;
  const description = fee.credit
    ? `Unused time on ${name} from ${day(fee.from)} to ${day(fee.to)}`
    : wholePeriod
      ? name
      : `${name} from ${day(fee.from)} to ${day(fee.to)} (prorated)`;
  const signed = fee.credit ? amount.negated() : amount;
  const perSeat = signed.dividedBy(quantity);
  const unitAmount = roundToCurrency(perSeat, plan.currency).equals(perSeat) ? perSeat : null;
  const price = plan.id && plan.interval && plan.intervalCount ? { planId: plan.id, amount: whole.amount, interval: plan.interval, intervalCount: plan.intervalCount } : undefined;
  return {
    kind: 'fee',
    description,
    quantity,
    unitAmount,
    amount: signed,
    periodStart: fee.from,
    periodEnd: fee.to,
    ...(wholePeriod && whole.tiers.length > 0 ? { tiers: whole.tiers } : {}),
    ...(price ? { price } : {}),
  };
}

/**
 * Discounts first (never below zero per line), then taxes on what is left. Totals are sums of
 * already-rounded amounts, so an invoice always equals the sum of what it shows.
 */
export function buildInvoice(
  currency: string,
  lines: readonly InvoiceLineInput[],
  adjustments: { coupons?: readonly CouponTerms[]; taxRates?: readonly TaxRateTerms[] } = {},
): InvoiceDraft {
  const coupons = adjustments.coupons ?? [];
  // Credits bought are an advance payment: coupons and taxes see them as nothing.
  const advance = (l: InvoiceLineInput) => l.kind === 'prepaid_credit';
  const discount = allocateDiscounts(lines.map((l) => (advance(l) ? new Decimal(0) : l.amount)), coupons, currency);
  const net = lines.map((l, i) => (advance(l) ? new Decimal(0) : l.amount.minus(discount.perLine[i])));
  const tax = computeTaxes(net, adjustments.taxRates ?? [], currency);
  const subtotal = sum(lines.map((l) => l.amount));
  const discountTotal = sum(discount.perLine);
  const draft: InvoiceDraft = {
    currency,
    lines: lines.map((l, i) => ({ ...l, discountAmount: discount.perLine[i], taxAmount: tax.perLine[i] })),
    subtotal,
    discounts: coupons.map((c, i) => ({ couponId: c.id, name: c.name, amount: discount.perCoupon[i] })).filter((d) => !d.amount.isZero()),
    discountTotal,
    taxes: tax.taxes,
    taxTotal: tax.total,
    total: subtotal.minus(discountTotal).plus(tax.exclusiveTotal),
  };
  assertInvoiceConsistent(draft);
  return draft;
}

/** Whether the invoice's taxes are inside its line amounts (then revenue is each line net of its tax). */
const taxIncluded = (draft: Pick<InvoiceDraft, 'taxes'>): boolean => draft.taxes.some((t) => t.rate.inclusive);

/** A line's revenue: its amount net of tax included in it, before discounts (revenue stays at list price). */
export function lineRevenue(draft: Pick<InvoiceDraft, 'taxes'>, line: Pick<InvoiceLineDraft, 'amount' | 'taxAmount'>): Decimal {
  return taxIncluded(draft) ? line.amount.minus(line.taxAmount) : line.amount;
}

/**
 * How an invoice's revenue splits for the ledger, net of tax included in the lines. Fees are
 * obligations for a period still to serve: they wait in deferred revenue net of their discounts
 * (`deferred - deferredDiscount`) and are recognised ratably, discount and all, as the period is
 * served. Usage and minimums were served already: revenue at once, their discounts debited at once.
 */
export function revenueSplit(draft: Pick<InvoiceDraft, 'lines' | 'taxes'>): { deferred: Decimal; deferredDiscount: Decimal; earned: Decimal; prepaid: Decimal } {
  const fees = draft.lines.filter((l) => l.kind === 'fee');
  const prepaid = draft.lines.filter((l) => l.kind === 'prepaid_credit');
  return {
    deferred: sum(fees.map((l) => lineRevenue(draft, l))),
    deferredDiscount: sum(fees.map((l) => l.discountAmount)),
    earned: sum(draft.lines.filter((l) => l.kind !== 'fee' && l.kind !== 'prepaid_credit').map((l) => lineRevenue(draft, l))),
    // Untaxed and undiscounted (buildInvoice), so the line amount is what is prepaid.
    prepaid: sum(prepaid.map((l) => l.amount)),
  };
}

export function assertInvoiceConsistent(draft: InvoiceDraft): void {
  const lineTotal = sum(draft.lines.map((l) => l.amount));
  const discounts = sum(draft.lines.map((l) => l.discountAmount));
  const lineTaxes = sum(draft.lines.map((l) => l.taxAmount));
  const exclusive = sum(draft.taxes.filter((t) => !t.rate.inclusive).map((t) => t.amount));
  if (!lineTotal.equals(draft.subtotal) || !discounts.equals(draft.discountTotal) || !lineTaxes.equals(draft.taxTotal)) {
    throw new Error(`invoice does not add up: lines ${lineTotal} vs subtotal ${draft.subtotal}, line discounts ${discounts} vs ${draft.discountTotal}, line taxes ${lineTaxes} vs ${draft.taxTotal}`);
  }
  if (!draft.subtotal.minus(draft.discountTotal).plus(exclusive).equals(draft.total)) {
    throw new Error(`invoice does not add up: ${draft.subtotal} - ${draft.discountTotal} + ${exclusive} is not the total ${draft.total}`);
  }
  for (const l of draft.lines) {
    for (const [what, value] of [['amount', l.amount], ['discount', l.discountAmount], ['tax', l.taxAmount]] as const) {
      if (!roundToCurrency(value, draft.currency).equals(value)) {
        throw new Error(`line "${l.description}" has a ${what} with more decimals than ${draft.currency} allows: ${value}`);
      }
    }
    if (l.discountAmount.gt(Decimal.max(l.amount, 0))) throw new Error(`line "${l.description}" is discounted below zero`);
  }
}
