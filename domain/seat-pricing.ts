import Decimal from 'decimal.js';
import { tiersOf, type TierProperties } from './charge-properties';
import { priceUsage, type TierPart } from './pricing';

/**
 * A recurring fee priced on a quantity of seats (licences, units), as Stripe prices per-seat plans:
 * the price per seat times the seats, or tiers read on the number of seats. `volume` prices every
 * seat at the tier the quantity reaches; `graduated` prices each seat at the tier it falls in. A
 * tier's flat amount is added once when the quantity reaches it. A contract price per seat (a
 * subscription's override) replaces the plan's amount and tiers alike.
 */
export const FEE_TIER_MODES = ['volume', 'graduated'] as const;
export type FeeTierMode = (typeof FEE_TIER_MODES)[number];

/** As plans store and the API takes and shows it: snake_case, amounts as decimal strings. */
export interface FeeTiersProperties {
  mode: FeeTierMode;
  tiers: TierProperties[];
}

export interface SeatPricedPlan {
  currency: string;
  /** The price per seat for a whole period. */
  amount: Decimal.Value;
  feeTiers?: FeeTiersProperties | null;
}

export interface SeatFee {
  /** The whole period's fee for every seat; tiered fees are rounded once to the currency, others exact. */
  amount: Decimal;
  /** How the tiers made it up (empty when not tiered). */
  tiers: TierPart[];
}

export function seatFee(plan: SeatPricedPlan, quantity: Decimal, contractPrice: Decimal | null = null): SeatFee {
  if (!quantity.isInteger() || quantity.lt(1)) throw new RangeError(`a fee is priced on a whole number of seats, at least 1; got ${quantity}`);
  if (contractPrice) return { amount: contractPrice.times(quantity), tiers: [] };
  if (plan.feeTiers) {
    const priced = priceUsage({ model: plan.feeTiers.mode, tiers: tiersOf(plan.feeTiers.tiers) }, { quantity, eventCount: 0 }, plan.currency);
    return { amount: priced.amount, tiers: priced.tiers };
  }
  return { amount: new Decimal(plan.amount).times(quantity), tiers: [] };
}
