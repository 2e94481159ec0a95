import Decimal from 'decimal.js';
import type { TransactionRules } from './pricing';

/**
 * A percentage charge priced event by event (Lago's free events and per-transaction bounds). Postgres
 * computes the same sum over a period's events (db/usage-store.ts); this is the definition it must
 * agree with, and the tests' oracle.
 *
 * Events are taken in timestamp order (transaction id breaks ties). Event i (from 1), of value v, with
 * `before` the sum of the values before it:
 * - without free events, it pays the rate on the part of v above what is left of the free amount
 *   (max(0, freeUnits - before)), plus the fixed fee: the sum is the model's usual
 *   rate x (total - freeUnits) + fixed x events when nothing bounds it;
 * - with free events (N), it is free (no rate, no fixed fee) while i <= N and v fits in what is left of
 *   the free amount (no limit when freeUnits is 0); the event that crosses the free amount pays the rate
 *   on its part above it, plus the fixed fee; from event N + 1 on, every event pays the rate on all of v
 *   plus the fixed fee (the free allowance ends at whichever of the two is reached first);
 * - a paying event's fee (rate part + fixed fee) is raised to `min` and lowered to `max` when given.
 */
export interface PercentageTerms {
  rate: Decimal;
  fixedAmount: Decimal;
  freeUnits: Decimal;
  rules: TransactionRules;
}

export interface PricedTransactions {
  /** Events that paid something (every event not free). */
  payingEvents: number;
  /** Exact, not rounded: the charge rounds its total once. */
  fees: Decimal;
}

const ZERO = new Decimal(0);

/** What a paying event's billable part comes to once rate, fixed fee and bounds apply. */
function eventFee(billable: Decimal, terms: PercentageTerms): Decimal {
  let fee = billable.times(terms.rate).dividedBy(100).plus(terms.fixedAmount);
  if (terms.rules.min && fee.lt(terms.rules.min)) fee = terms.rules.min;
  if (terms.rules.max && fee.gt(terms.rules.max)) fee = terms.rules.max;
  return fee;
}

/** `values` in event order (timestamp, then transaction id). */
export function priceTransactions(values: readonly Decimal[], terms: PercentageTerms): PricedTransactions {
  const { freeEvents } = terms.rules;
  const amountLimited = freeEvents === null || terms.freeUnits.gt(0);
  let before = ZERO;
  let payingEvents = 0;
  let fees = ZERO;
  values.forEach((value, index) => {
    const withinFreeEvents = freeEvents === null || index < freeEvents;
    const freeLeft = !withinFreeEvents ? ZERO : amountLimited ? Decimal.max(ZERO, terms.freeUnits.minus(before)) : null;
    before = before.plus(value);
    if (freeEvents !== null && withinFreeEvents && (freeLeft === null || value.lte(freeLeft))) return;
    payingEvents += 1;
    fees = fees.plus(eventFee(Decimal.max(ZERO, value.minus(freeLeft ?? ZERO)), terms));
  });
  return { payingEvents, fees };
}
