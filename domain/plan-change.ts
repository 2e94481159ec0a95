import { fullPeriodOf, periodOf, type Alignment, type Cadence } from './period';

/**
 * What a plan change bills, decided once for the workflow (which bills it) and the API (which
 * previews it). Same interval: with proration, the unused rest of the period on the old plan is
 * credited and the same rest on the new plan charged. A new interval restarts the period at the
 * change: the old plan's unused rest is credited (with proration) and the new plan's first period is
 * charged in full. Amounts are the store's to compute (prorated to the millisecond, domain/proration).
 */
export interface Span {
  start: Date;
  end: Date;
}

/**
 * How a fee is priced besides its plan: seats (a decimal string; "1" when absent) and a contract
 * price per seat instead of the plan's amount and tiers. Fees of runs from before seats carry neither.
 */
export interface FeePrice {
  quantity?: string;
  unitAmount?: string;
}

export interface FeeSpec extends FeePrice {
  planId: string;
  /** The whole period the plan's price is for. */
  period: { start: string; end: string };
  from: string;
  to: string;
  credit: boolean;
}

export interface PlanChangeBilling {
  fees: FeeSpec[];
  /** The new period when the interval changes; null when the period runs on. */
  restart: { period: Span; basis: Span } | null;
}

const iso = (d: Date): string => d.toISOString();

export function feeSpec(planId: string, basis: Span, from: Date, to: Date, credit: boolean, price: FeePrice = {}): FeeSpec {
  return { planId, period: { start: iso(basis.start), end: iso(basis.end) }, from: iso(from), to: iso(to), credit, ...price };
}

/** The price terms a fee spec carries for `quantity` seats and a contract price; nothing for one seat at list price (as before seats). */
export function feePrice(quantity: number, contractPrice: string | null | undefined): FeePrice {
  return { ...(quantity !== 1 ? { quantity: String(quantity) } : {}), ...(contractPrice ? { unitAmount: contractPrice } : {}) };
}

export const sameCadence = (a: Cadence, b: Cadence): boolean => a.interval === b.interval && a.intervalCount === b.intervalCount;

export function planChangeBilling(change: {
  current: { planId: string; cadence: Cadence; price?: FeePrice };
  next: { planId: string; cadence: Cadence; price?: FeePrice };
  prorate: boolean;
  at: Date;
  /** The current period, and the whole period its price is for (they differ for a short first calendar period). */
  period: Span;
  basis: Span;
  zone: string;
  alignment: Alignment;
}): PlanChangeBilling {
  const { current, next, at, period, basis } = change;
  const rest = change.prorate && at < period.end;
  const fees = rest ? [feeSpec(current.planId, basis, at, period.end, true, current.price)] : [];
  if (sameCadence(current.cadence, next.cadence)) {
    if (rest) fees.push(feeSpec(next.planId, basis, at, period.end, false, next.price));
    return { fees, restart: null };
  }
  const schedule = { anchor: at, cadence: next.cadence, zone: change.zone, alignment: change.alignment };
  const restarted = { period: periodOf(schedule, 0), basis: fullPeriodOf(schedule, 0) };
  fees.push(feeSpec(next.planId, restarted.basis, restarted.period.start, restarted.period.end, false, next.price));
  return { fees, restart: restarted };
}

/**
 * What a change of seats bills at `at`: with proration, the unused rest of the period at the old
 * quantity is credited and the same rest at the new quantity charged (one invoice); without, nothing
 * (the next renewal bills the new quantity).
 */
export function quantityChangeBilling(change: { planId: string; from: FeePrice; to: FeePrice; prorate: boolean; at: Date; period: Span; basis: Span }): FeeSpec[] {
  const { planId, at, period, basis } = change;
  if (!change.prorate || at >= period.end) return [];
  return [feeSpec(planId, basis, at, period.end, true, change.from), feeSpec(planId, basis, at, period.end, false, change.to)];
}

/** A change to the quantity the subscription already has changes nothing. */
export function quantityUnchanged(subscriptionId: string, quantity: number, current: number): ChangeRefusal | null {
  return quantity === current ? { code: 'quantity_unchanged', message: `subscription ${subscriptionId} already has quantity ${current}` } : null;
}

/**
 * Why a plan change is refused, asked by the workflow's validator (which refuses it) and by the
 * API's preview (which refuses to preview it) alike, so both say the same thing for the same case.
 */
export interface ChangeRefusal {
  code: 'currency_mismatch' | 'plan_unchanged' | 'quantity_unchanged' | 'date_in_past';
  message: string;
}

interface PlanRef {
  id: string;
  code: string;
  version: number;
  currency: string;
}

/** A subscription keeps its currency: the new plan must be billed in it. */
export function currencyMismatch(next: PlanRef, currency: string): ChangeRefusal | null {
  return next.currency === currency ? null : { code: 'currency_mismatch', message: `plan ${next.code} is billed in ${next.currency}, but this subscription is in ${currency}` };
}

/** A change to the plan version the subscription is already on changes nothing. */
export function planUnchanged(subscriptionId: string, next: PlanRef, currentPlanId: string): ChangeRefusal | null {
  return next.id === currentPlanId ? { code: 'plan_unchanged', message: `subscription ${subscriptionId} is already on plan ${next.code} version ${next.version}` } : null;
}

/** A change at a given instant must be at a future one. */
export function dateInPast(at: string, instant: Date, now: Date): ChangeRefusal | null {
  return instant.getTime() <= now.getTime() ? { code: 'date_in_past', message: `${at} is not in the future (it is now ${now.toISOString()})` } : null;
}
