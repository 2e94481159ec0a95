import Decimal from 'decimal.js';
import { roundToCurrency } from './money';

/**
 * Proration to the millisecond. The price of a period accrues linearly over it; what has been served
 * by an instant is that share of the price, rounded to the currency. A segment is the difference of
 * two served amounts, so the rounding is cumulative: the segments of any partition of a period
 * telescope to exactly the rounded price, and no cent is gained or lost however a period is cut.
 */

export interface Span {
  start: Date;
  end: Date;
}

function lengthOf(period: Span): number {
  const length = period.end.getTime() - period.start.getTime();
  if (!(length > 0)) throw new RangeError(`a period must end after it starts: ${period.start.toISOString()} .. ${period.end.toISOString()}`);
  return length;
}

/**
 * The share of `price` served from the start of `period` until `at` (clamped into the period).
 *
 * The quotient is taken to 40 significant digits before the single rounding. A share of a price with
 * d decimals over L milliseconds that is not exactly a rounding midpoint lies at least 1/(2·10^d·L)
 * minor units away from one, further than the 40-digit quotient can be off for prices with up to 6
 * decimals below 10^15 major units over periods shorter than 300 years; so the rounding is exact.
 */
export function servedAmount(price: Decimal, period: Span, at: Date, currency: string): Decimal {
  const length = lengthOf(period);
  const elapsed = Math.min(Math.max(at.getTime() - period.start.getTime(), 0), length);
  if (Number.isNaN(elapsed)) throw new RangeError('cannot prorate at an invalid Date');
  return roundToCurrency(price.times(elapsed).dividedBy(length), currency);
}

/** The share of `price` for [from, to) within `period`; a partition's segments add up to the rounded price. */
export function segmentAmount(price: Decimal, period: Span, from: Date, to: Date, currency: string): Decimal {
  if (to.getTime() < from.getTime()) throw new RangeError(`a segment must not end before it starts: ${from.toISOString()} .. ${to.toISOString()}`);
  return servedAmount(price, period, to, currency).minus(servedAmount(price, period, from, currency));
}

/** The credit for the rest of a period paid in advance: the rounded price less what was served by `at`. */
export function unusedAmount(price: Decimal, period: Span, at: Date, currency: string): Decimal {
  return roundToCurrency(price, currency).minus(servedAmount(price, period, at, currency));
}
