import Decimal from 'decimal.js';
import { currencyExponent } from './currency';
import { BillingError } from './errors';
import { decimalString, roundToCurrency, sum } from './money';

/**
 * Tax rates attached to a customer. Exclusive rates are added on top of the discounted lines;
 * inclusive rates are already inside the line amounts and are extracted from them. Each rate is
 * computed on the invoice's taxable base and rounded once (per rate, per invoice); the rounded tax is
 * then shared out to the lines by largest remainder, so line taxes add up to the invoice's tax exactly.
 */
export interface TaxRateTerms {
  id: string;
  name: string;
  /** Percent, "8.875" = 8.875 %. */
  percentage: Decimal;
  inclusive: boolean;
}

export interface TaxAmount {
  rate: TaxRateTerms;
  /** The amount the rate was computed on (tax-inclusive for an inclusive rate). */
  base: Decimal;
  amount: Decimal;
}

export interface TaxComputation {
  taxes: TaxAmount[];
  perLine: Decimal[];
  /** Added to the invoice total: the exclusive taxes only. */
  exclusiveTotal: Decimal;
  total: Decimal;
}

/** A customer's rates are all exclusive or all inclusive; mixing them has no single stated meaning. */
export function assertCompatibleRates(rates: readonly TaxRateTerms[], param: string): void {
  if (rates.some((r) => r.inclusive) && rates.some((r) => !r.inclusive)) {
    throw new BillingError('invalid_request_error', 'tax_rates_mixed', 'A customer cannot have both inclusive and exclusive tax rates', param);
  }
}

/** Shares `total` (in the currency's minor units) out over `weights` by largest remainder. */
export function shareOut(total: Decimal, weights: readonly Decimal[], currency: string): Decimal[] {
  const weightSum = sum(weights);
  if (weightSum.isZero()) {
    // Nothing to weigh by: zero can be shared as zeros, anything else would silently disappear.
    if (!total.isZero()) throw new RangeError(`cannot share ${decimalString(total)} over weights that add up to zero`);
    return weights.map(() => new Decimal(0));
  }
  const unit = new Decimal(10).pow(-currencyExponent(currency));
  const exact = weights.map((w) => total.times(w).dividedBy(weightSum).dividedBy(unit));
  const floors = exact.map((e) => e.floor());
  let left = total.dividedBy(unit).minus(sum(floors)).toNumber();
  const order = exact.map((e, i) => ({ i, fraction: e.minus(floors[i]) })).sort((a, b) => b.fraction.comparedTo(a.fraction) || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    floors[i] = floors[i].plus(1);
    left -= 1;
  }
  return floors.map((f) => f.times(unit));
}

/** Taxes of one invoice; `netAmounts` are the line amounts after discounts. */
export function computeTaxes(netAmounts: readonly Decimal[], rates: readonly TaxRateTerms[], currency: string): TaxComputation {
  assertCompatibleRates(rates, 'tax_rates');
  const base = sum(netAmounts);
  const inclusivePercent = sum(rates.filter((r) => r.inclusive).map((r) => r.percentage));
  const perLine = netAmounts.map(() => new Decimal(0));
  const taxes = rates.map((rate) => {
    const exact = rate.inclusive
      ? base.times(rate.percentage).dividedBy(inclusivePercent.plus(100))
      : base.times(rate.percentage).dividedBy(100);
    const amount = roundToCurrency(exact, currency);
    shareOut(amount, netAmounts, currency).forEach((part, i) => (perLine[i] = perLine[i].plus(part)));
    return { rate, base, amount };
  });
  const total = sum(taxes.map((t) => t.amount));
  const exclusiveTotal = sum(taxes.filter((t) => !t.rate.inclusive).map((t) => t.amount));
  return { taxes, perLine, exclusiveTotal, total };
}
