import Decimal from 'decimal.js';
import { roundToCurrency } from './money';

/**
 * Coupons: a percentage or a fixed amount off, for one invoice, N invoices, or forever. A discount
 * never takes a line below zero: a percentage applies to what is left of each line, and a fixed
 * amount is spent line by line, in order, up to each line's remainder. What a fixed amount cannot
 * spend on an invoice is not carried over (as in Stripe).
 */
export const COUPON_DURATIONS = ['once', 'repeating', 'forever'] as const;
export type CouponDuration = (typeof COUPON_DURATIONS)[number];

export interface CouponTerms {
  /** The applied coupon (its application to a customer or subscription). */
  id: string;
  name: string;
  percentOff: Decimal | null;
  amountOff: Decimal | null;
}

export interface DiscountAllocation {
  /** Discount per line, in line order, each already in the currency's minor unit. */
  perLine: Decimal[];
  /** Discount per coupon, in coupon order. */
  perCoupon: Decimal[];
}

const ZERO = new Decimal(0);

export function allocateDiscounts(lineAmounts: readonly Decimal[], coupons: readonly CouponTerms[], currency: string): DiscountAllocation {
  const remaining = lineAmounts.map((a) => Decimal.max(ZERO, a));
  const perLine = lineAmounts.map(() => ZERO);
  const perCoupon = coupons.map((coupon) => {
    let given = ZERO;
    let budget = coupon.amountOff;
    remaining.forEach((left, i) => {
      let off: Decimal;
      if (coupon.percentOff) {
        // Rounded once per line; half-up on a remainder can never exceed the remainder.
        off = roundToCurrency(left.times(coupon.percentOff).dividedBy(100), currency);
      } else {
        off = Decimal.min(left, budget ?? ZERO);
        budget = (budget ?? ZERO).minus(off);
      }
      remaining[i] = left.minus(off);
      perLine[i] = perLine[i].plus(off);
      given = given.plus(off);
    });
    return given;
  });
  return { perLine, perCoupon };
}

/** How many more invoices a coupon applies to after this one; null means forever. */
export function remainingAfterUse(duration: CouponDuration, remaining: number | null): number | null {
  if (duration === 'forever') return null;
  return Math.max(0, (remaining ?? 1) - 1);
}
