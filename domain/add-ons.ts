import Decimal from 'decimal.js';
import type { InvoiceLineInput, LineKind } from './invoice';
import { roundToCurrency } from './money';
import type { Interval } from './period';
import { segmentAmount, type Span } from './proration';

/** An add-on as billing needs it: a price per unit, recurring when it has a cadence. */
export interface AddOnTerms {
  id: string;
  name: string;
  amount: Decimal;
  currency: string;
  interval: Interval | null;
  intervalCount: number | null;
}

export const isRecurring = (addOn: { interval?: Interval | null }): boolean => addOn.interval !== null && addOn.interval !== undefined;

/** Whether a recurring add-on bills on the same cadence as a plan (only then can it ride its renewals). */
export function sameCadenceAs(addOn: { interval?: Interval | null; intervalCount?: number | null }, plan: { interval: Interval; intervalCount: number }): boolean {
  return addOn.interval === plan.interval && addOn.intervalCount === plan.intervalCount;
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/**
 * A recurring add-on's fee for [from, to) of `period`, prorated to the millisecond as a plan's fee is
 * (one rounding of quantity x unit price x share); `credit` gives back unused time as a negative line.
 * The line carries the add-on's full-period price for its quantity, so MRR counts it whatever share it bills.
 */
export function addOnFeeLine(addOn: AddOnTerms, quantity: Decimal, fee: { period: Span; from: Date; to: Date; credit: boolean }): InvoiceLineInput {
  if (!addOn.interval || !addOn.intervalCount) throw new Error(`add-on ${addOn.id} is not recurring`);
  const full = addOn.amount.times(quantity);
  const amount = segmentAmount(full, fee.period, fee.from, fee.to, addOn.currency);
  const whole = fee.from.getTime() === fee.period.start.getTime() && fee.to.getTime() === fee.period.end.getTime();
  const description = fee.credit
    ? `Unused time on ${addOn.name} from ${day(fee.from)} to ${day(fee.to)}`
    : whole
      ? addOn.name
      : `${addOn.name} from ${day(fee.from)} to ${day(fee.to)} (prorated)`;
  const signed = fee.credit ? amount.negated() : amount;
  return {
    kind: 'fee',
    description,
    quantity,
    // One unit's share: the line's amount is rounded once for the whole quantity.
    unitAmount: whole ? (fee.credit ? addOn.amount.negated() : addOn.amount) : null,
    amount: signed,
    periodStart: fee.from,
    periodEnd: fee.to,
    price: { planId: null, amount: roundToCurrency(full, addOn.currency), interval: addOn.interval, intervalCount: addOn.intervalCount },
    addOnId: addOn.id,
  };
}

/** A line billed once (a one-time add-on, a line of a one-off invoice), dated at `at`: quantity x unit price, rounded once. */
export function oneOffLine(
  line: { kind?: LineKind; description: string; quantity: Decimal; unitAmount: Decimal; addOnId?: string | null },
  currency: string,
  at: Date,
): InvoiceLineInput {
  return {
    kind: line.kind ?? 'one_off',
    description: line.description,
    quantity: line.quantity,
    unitAmount: line.unitAmount,
    amount: roundToCurrency(line.unitAmount.times(line.quantity), currency),
    periodStart: at,
    periodEnd: at,
    ...(line.addOnId ? { addOnId: line.addOnId } : {}),
  };
}

/** A plan's setup fee, billed once with the subscription's first fee (dated at that fee's start). */
export function setupLine(plan: { name: string; setupFee: Decimal }, at: Date): InvoiceLineInput {
  return { kind: 'setup', description: `Setup fee (${plan.name})`, quantity: new Decimal(1), unitAmount: plan.setupFee, amount: plan.setupFee, periodStart: at, periodEnd: at };
}
