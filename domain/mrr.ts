import Decimal from 'decimal.js';
import { addMonths, monthEnd, monthOf, monthsBetween } from './months';
import { roundToCurrency } from './money';
import type { Interval } from './period';

/**
 * MRR from fee lines. A fee line bills a plan's recurring fee for [periodStart, periodEnd); at any
 * instant it covers, it contributes its plan's full-period price normalised to a month, with the
 * line's sign (a credit for unused time takes its plan's MRR away again), net of the tax included in
 * it and of the share of its discount that comes from `forever` coupons (a coupon that runs out does
 * not lower what the customer will pay every month). Usage, minimums and taxes are not recurring
 * fees; trials bill no fee line, so they bring no MRR.
 */
export interface MrrLine {
  customerId: string;
  periodStart: Date;
  periodEnd: Date;
  /** The subscription ended then (canceled now, without a credit): the line counts no longer. */
  endsAt: Date | null;
  /** The line's amount as billed, negative for a credit. */
  amount: Decimal;
  /** The plan's price for one whole billing period. */
  price: { amount: Decimal; interval: Interval; intervalCount: number };
  /** Tax included in `amount` (inclusive rates); zero when tax is added on top. */
  includedTax: Decimal;
  /** The part of the line's discount that comes from `forever` coupons. */
  foreverDiscount: Decimal;
}

/**
 * Months in one interval: a year is 12 months, a month 1, a week 52/12 of a month, a day 365/12
 * (a 365-day year, whatever the calendar year holds).
 */
const MONTHS_PER_PRICE_INTERVAL: Record<Interval, Decimal> = {
  day: new Decimal(12).div(365),
  week: new Decimal(12).div(52),
  month: new Decimal(1),
  year: new Decimal(12),
};

/** A price for `intervalCount` intervals, per month: yearly / 12, weekly × 52 / 12, daily × 365 / 12. */
export function monthlyPrice(price: MrrLine['price']): Decimal {
  return price.amount.div(MONTHS_PER_PRICE_INTERVAL[price.interval].times(price.intervalCount));
}

/** What one line adds to MRR while it covers an instant (exact; rounding happens per customer). */
export function lineMrr(line: MrrLine): Decimal {
  if (line.amount.isZero()) return new Decimal(0);
  const netShare = line.amount.minus(line.includedTax).minus(line.foreverDiscount).div(line.amount);
  const signed = line.amount.isNegative() ? monthlyPrice(line.price).negated() : monthlyPrice(line.price);
  return signed.times(netShare);
}

export function coversInstant(line: Pick<MrrLine, 'periodStart' | 'periodEnd' | 'endsAt'>, instant: Date): boolean {
  const t = instant.getTime();
  return line.periodStart.getTime() <= t && t < line.periodEnd.getTime() && (line.endsAt === null || t < line.endsAt.getTime());
}

export interface MrrMovements {
  new: Decimal;
  expansion: Decimal;
  contraction: Decimal;
  churn: Decimal;
  reactivation: Decimal;
}

export interface MrrMonth extends MrrMovements {
  month: string;
  /** MRR at the end of the month before. */
  start: Decimal;
  /** MRR at the month's last instant. */
  end: Decimal;
  /** start + new + expansion + reactivation - contraction - churn, which must equal end. */
  computedEnd: Decimal;
  customersAtStart: number;
  customersAtEnd: number;
  churnedCustomers: number;
}

/**
 * MRR at each month end of [from, to] and the movements between consecutive month ends, per
 * customer: new (first MRR ever), expansion (more than before), contraction (less, still some),
 * churn (down to none), reactivation (back from none after having had some at an earlier month end).
 *
 * Rounding: each customer's MRR at a month end is computed exactly from its lines, then rounded to
 * the currency once (half away from zero); every figure above it (totals, movements, ARR) is a sum
 * of those rounded amounts, so start + movements = end holds to the last digit.
 */
export function mrrByMonth(lines: readonly MrrLine[], currency: string, from: string, to: string): MrrMonth[] {
  const opening = addMonths(from, -1);
  const earliest = lines.reduce((m, l) => (monthOf(l.periodStart) < m ? monthOf(l.periodStart) : m), opening);
  // Every month end since the first line: whether a customer had MRR before decides new vs reactivation.
  const history = monthsBetween(earliest, to);
  const index = new Map(history.map((m, i) => [m, i]));
  const exact = history.map(() => new Map<string, Decimal>());
  for (const line of lines) {
    const contribution = lineMrr(line);
    if (contribution.isZero()) continue;
    // The month ends a line covers are consecutive: from the end of the month it starts in onwards.
    for (let i = index.get(monthOf(line.periodStart)) ?? 0; i < history.length; i++) {
      const instant = monthEnd(history[i]);
      if (instant >= line.periodEnd || (line.endsAt && instant >= line.endsAt)) break;
      if (!coversInstant(line, instant)) continue;
      exact[i].set(line.customerId, (exact[i].get(line.customerId) ?? new Decimal(0)).plus(contribution));
    }
  }
  const rounded = exact.map((perCustomer) => {
    const out = new Map<string, Decimal>();
    for (const [customer, amount] of perCustomer) {
      const r = roundToCurrency(amount, currency);
      if (!r.isZero()) out.set(customer, r);
    }
    return out;
  });

  const everHad = new Set<string>();
  const months: MrrMonth[] = [];
  for (let i = 1; i < history.length; i++) {
    const before = rounded[i - 1];
    const after = rounded[i];
    for (const customer of before.keys()) everHad.add(customer);
    const month = history[i];
    if (month < from) continue;
    const moves = movementsBetween(before, after, everHad);
    const start = total(before);
    const end = total(after);
    months.push({
      month,
      start,
      end,
      ...moves.amounts,
      computedEnd: start.plus(moves.amounts.new).plus(moves.amounts.expansion).plus(moves.amounts.reactivation).minus(moves.amounts.contraction).minus(moves.amounts.churn),
      customersAtStart: before.size,
      customersAtEnd: after.size,
      churnedCustomers: moves.churnedCustomers,
    });
  }
  return months;
}

const total = (perCustomer: Map<string, Decimal>): Decimal => [...perCustomer.values()].reduce((t, a) => t.plus(a), new Decimal(0));

/**
 * Each customer's change between two month ends, as one movement. `everHad`: customers with MRR at
 * some month end up to the earlier one.
 */
export function movementsBetween(before: Map<string, Decimal>, after: Map<string, Decimal>, everHad: ReadonlySet<string>): { amounts: MrrMovements; churnedCustomers: number } {
  const amounts: MrrMovements = { new: new Decimal(0), expansion: new Decimal(0), contraction: new Decimal(0), churn: new Decimal(0), reactivation: new Decimal(0) };
  let churnedCustomers = 0;
  for (const customer of new Set([...before.keys(), ...after.keys()])) {
    const was = before.get(customer) ?? new Decimal(0);
    const is = after.get(customer) ?? new Decimal(0);
    if (was.isZero() && is.isZero()) continue;
    if (was.isZero()) {
      if (everHad.has(customer)) amounts.reactivation = amounts.reactivation.plus(is);
      else amounts.new = amounts.new.plus(is);
    } else if (is.isZero()) {
      amounts.churn = amounts.churn.plus(was);
      churnedCustomers++;
    } else if (is.gt(was)) {
      amounts.expansion = amounts.expansion.plus(is.minus(was));
    } else if (is.lt(was)) {
      amounts.contraction = amounts.contraction.plus(was.minus(is));
    }
  }
  return { amounts, churnedCustomers };
}
