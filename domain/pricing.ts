import Decimal from 'decimal.js';
import { BillingError } from './errors';
import { decimalString, roundToCurrency, sum } from './money';

/**
 * Usage charge models (Lago's names). Prices may carry more decimals than the currency (0.0015 USD
 * per call); a charge's amount is computed exactly and rounded once, to the currency, at the end.
 */
export const CHARGE_MODELS = ['standard', 'graduated', 'volume', 'package', 'percentage'] as const;
export type ChargeModel = (typeof CHARGE_MODELS)[number];

export interface Tier {
  /** Inclusive upper bound of the tier; null means no bound (the last tier). */
  upTo: Decimal | null;
  unitAmount: Decimal;
  flatAmount: Decimal;
}

export type ChargePrice =
  | { model: 'standard'; unitAmount: Decimal }
  | { model: 'graduated'; tiers: Tier[] }
  | { model: 'volume'; tiers: Tier[] }
  | { model: 'package'; packageSize: Decimal; amount: Decimal; freeUnits: Decimal }
  /**
   * `rate` is a percentage ("2.5" = 2.5 %) of the summed amount above `freeUnits`, plus `fixedAmount` per
   * event. With transaction rules (`transactionRules`), each event is priced on its own instead:
   * domain/percentage-transactions.ts.
   */
  | { model: 'percentage'; rate: Decimal; fixedAmount: Decimal; freeUnits: Decimal; transactionRules?: TransactionRules | null };

/**
 * Lago's per-event rules for a percentage charge. `freeEvents`: the period's first N events (in
 * timestamp order) pay neither the rate nor the fixed fee; with a free amount (`freeUnits` > 0) too,
 * the free allowance ends at whichever is reached first. `min`/`max` bound each paying event's fee.
 */
export interface TransactionRules {
  freeEvents: number | null;
  min: Decimal | null;
  max: Decimal | null;
}

/** What a period's usage of one metric came to. */
export interface Usage {
  quantity: Decimal;
  /** Events counted; only the percentage model's per-event fee reads it. */
  eventCount: number;
  /**
   * A percentage charge with transaction rules: the exact sum of its events' fees, each priced on its
   * own (computed where the events are, by the definition in domain/percentage-transactions.ts).
   */
  transactionFees?: Decimal;
}

/** One tier's part of a charge, shown on the invoice line so the amount can be checked by hand. */
export interface TierPart {
  /** Exclusive lower bound and inclusive upper bound (null: unbounded) of the tier. */
  from: Decimal;
  upTo: Decimal | null;
  units: Decimal;
  unitAmount: Decimal;
  flatAmount: Decimal;
  /** units x unit amount + flat amount, exact (the line is rounded, not its parts). */
  amount: Decimal;
}

export interface ChargeAmount {
  quantity: Decimal;
  /** The price per unit where the model has one (standard, volume's reached tier); null otherwise. */
  unitAmount: Decimal | null;
  tiers: TierPart[];
  /** Rounded once to the currency. */
  amount: Decimal;
}

const ZERO = new Decimal(0);

function tierBounds(tiers: Tier[]): Array<{ from: Decimal; tier: Tier }> {
  let from = ZERO;
  return tiers.map((tier) => {
    const bounds = { from, tier };
    if (tier.upTo) from = tier.upTo;
    return bounds;
  });
}

function graduated(quantity: Decimal, tiers: Tier[]): TierPart[] {
  const parts: TierPart[] = [];
  for (const { from, tier } of tierBounds(tiers)) {
    if (quantity.lte(from)) break;
    const top = tier.upTo && tier.upTo.lt(quantity) ? tier.upTo : quantity;
    const units = top.minus(from);
    parts.push({ from, upTo: tier.upTo, units, unitAmount: tier.unitAmount, flatAmount: tier.flatAmount, amount: units.times(tier.unitAmount).plus(tier.flatAmount) });
  }
  return parts;
}

function volume(quantity: Decimal, tiers: Tier[]): TierPart[] {
  if (quantity.isZero()) return [];
  const reached = tierBounds(tiers).find(({ tier }) => tier.upTo === null || quantity.lte(tier.upTo));
  if (!reached) throw new Error('tiers must end with an unbounded tier');
  const { from, tier } = reached;
  return [{ from, upTo: tier.upTo, units: quantity, unitAmount: tier.unitAmount, flatAmount: tier.flatAmount, amount: quantity.times(tier.unitAmount).plus(tier.flatAmount) }];
}

/** The amount one charge asks for a period's usage. */
export function priceUsage(price: ChargePrice, usage: Usage, currency: string): ChargeAmount {
  const quantity = usage.quantity;
  if (quantity.isNegative()) throw new RangeError(`usage quantity cannot be negative: ${quantity}`);
  let exact: Decimal;
  let unitAmount: Decimal | null = null;
  let tiers: TierPart[] = [];
  switch (price.model) {
    case 'standard':
      unitAmount = price.unitAmount;
      exact = quantity.times(price.unitAmount);
      break;
    case 'graduated':
      tiers = graduated(quantity, price.tiers);
      exact = sum(tiers.map((t) => t.amount));
      break;
    case 'volume':
      tiers = volume(quantity, price.tiers);
      unitAmount = tiers[0]?.unitAmount ?? null;
      exact = sum(tiers.map((t) => t.amount));
      break;
    case 'package': {
      const billable = Decimal.max(ZERO, quantity.minus(price.freeUnits));
      exact = billable.dividedBy(price.packageSize).ceil().times(price.amount);
      break;
    }
    case 'percentage': {
      if (price.transactionRules) {
        if (usage.transactionFees === undefined) throw new Error('a percentage charge with transaction rules is priced on its events\' fees, which were not given');
        exact = usage.transactionFees;
        break;
      }
      const billable = Decimal.max(ZERO, quantity.minus(price.freeUnits));
      exact = billable.times(price.rate).dividedBy(100).plus(price.fixedAmount.times(usage.eventCount));
      break;
    }
  }
  return { quantity, unitAmount, tiers, amount: roundToCurrency(exact, currency) };
}

/**
 * The true-up a minimum commitment adds when a period's usage charges fall short of it; zero when
 * they reach it.
 */
export function minimumTrueUp(minimum: Decimal | null, usageTotal: Decimal): Decimal {
  if (!minimum || usageTotal.gte(minimum)) return ZERO;
  return minimum.minus(usageTotal);
}

function invalid(param: string, message: string): BillingError {
  return new BillingError('invalid_request_error', 'parameter_invalid', `Invalid ${param}: ${message}`, param);
}

/**
 * Tiers must cover every quantity exactly once: bounds strictly increase, and only the last tier,
 * which must exist, is unbounded. Bounds are the only thing a tier says about its range, so tiers
 * that meet this cannot leave a gap or overlap.
 */
export function assertValidTiers(tiers: Tier[], param: string): void {
  if (tiers.length === 0) throw invalid(param, 'at least one tier is required');
  let previous = ZERO;
  tiers.forEach((tier, i) => {
    const last = i === tiers.length - 1;
    if (tier.upTo === null && !last) throw invalid(`${param}.${i}.up_to`, 'only the last tier may have up_to null (no upper bound)');
    if (tier.upTo !== null && last) throw invalid(`${param}.${i}.up_to`, 'the last tier must have up_to null so that every quantity is priced');
    if (tier.upTo !== null && !tier.upTo.gt(previous)) {
      throw invalid(`${param}.${i}.up_to`, `must be greater than the previous tier's bound ${decimalString(previous)}, so tiers neither overlap nor leave a gap`);
    }
    if (tier.upTo) previous = tier.upTo;
  });
}

export function assertValidPrice(price: ChargePrice, param: string): void {
  switch (price.model) {
    case 'graduated':
    case 'volume':
      assertValidTiers(price.tiers, `${param}.tiers`);
      break;
    case 'package':
      if (!price.packageSize.isInteger() || price.packageSize.lt(1)) throw invalid(`${param}.package_size`, 'must be a whole number of units, at least 1');
      break;
    case 'percentage': {
      if (price.rate.isNegative() || price.rate.gt(100)) throw invalid(`${param}.rate`, 'must be a percentage between 0 and 100');
      const rules = price.transactionRules;
      if (rules?.min && rules.max && rules.min.gt(rules.max)) {
        throw invalid(`${param}.per_transaction_max_amount`, `must be at least per_transaction_min_amount (${decimalString(rules.min)})`);
      }
      break;
    }
    case 'standard':
      break;
  }
}
