import Decimal from 'decimal.js';
import { roundToCurrency } from './money';
import { monthOf, monthStart, nextMonthStart } from './months';

/**
 * Ratable revenue recognition (ASC 606 / IFRS 15): a fee billed in advance is a performance
 * obligation, owed to the customer as service until its period is served, and becomes revenue as the
 * period passes. How it passes is the method:
 *
 * - `daily` (the default): the obligation's service days are the UTC dates from the date of
 *   serviceStart up to (not including) the date of serviceEnd, at least one day. Each day is an equal
 *   share, recognised when the day ends (or when the service ends, if that comes first). A year is
 *   simply the days it has: a period containing 29 February has 366 days, each 1/366 of the total,
 *   and a period without it 365, each 1/365. No day weighs more than another.
 * - `millisecond`: in proportion to the time elapsed of [serviceStart, serviceEnd).
 * - `monthly`: evenly per UTC calendar month, the first and last months prorated by the service days
 *   in them over the days of that month (16 days of a 30-day June weigh 16/30 of a month). A month's
 *   share is recognised when the month ends (or when the service ends, if that comes first).
 *
 * Amounts are cumulative: what is recognised through an instant is the total times the fraction
 * served, rounded once to the currency. Each period's posting is the difference of two such rounded
 * figures, so the postings always add up to the total exactly, and all of it is recognised by
 * serviceEnd. A negative obligation (the credit line of a plan change, "Unused time on ...") follows
 * the same rule with its sign, so it offsets the line it credits over the same days.
 */
export type RecognitionMethod = 'daily' | 'millisecond' | 'monthly';

export const RECOGNITION_METHODS: readonly RecognitionMethod[] = ['daily', 'millisecond', 'monthly'];

export interface Obligation {
  /** The line's amount net of tax included in it: revenue at list price. */
  revenue: Decimal;
  /** What coupons took off the line, recognised (as contra-revenue) alongside it. */
  discount: Decimal;
  serviceStart: Date;
  serviceEnd: Date;
  currency: string;
}

export interface Recognised {
  revenue: Decimal;
  discount: Decimal;
}

const DAY_MS = 86_400_000;

const startOfUtcDay = (instant: Date): number => Math.floor(instant.getTime() / DAY_MS) * DAY_MS;

/** The service days: [first, end) in whole UTC days, at least one. */
function serviceDays(serviceStart: Date, serviceEnd: Date): { first: number; end: number; count: number } {
  const first = startOfUtcDay(serviceStart);
  const end = Math.max(startOfUtcDay(serviceEnd), first + DAY_MS);
  return { first, end, count: Math.round((end - first) / DAY_MS) };
}

const startOfUtcMonth = (ms: number): number => monthStart(monthOf(new Date(ms))).getTime();

const nextUtcMonth = (ms: number): number => nextMonthStart(monthOf(new Date(ms))).getTime();

/** Monthly weights: one per calendar month the service days touch, the service days in it over its days. */
function monthWeights(serviceStart: Date, serviceEnd: Date): Array<{ monthEnd: number; weight: Decimal }> {
  const days = serviceDays(serviceStart, serviceEnd);
  const weights: Array<{ monthEnd: number; weight: Decimal }> = [];
  for (let month = startOfUtcMonth(days.first); month < days.end; month = nextUtcMonth(month)) {
    const monthEnd = nextUtcMonth(month);
    const covered = (Math.min(monthEnd, days.end) - Math.max(month, days.first)) / DAY_MS;
    weights.push({ monthEnd, weight: new Decimal(Math.round(covered)).dividedBy(Math.round((monthEnd - month) / DAY_MS)) });
  }
  return weights;
}

/** The exact fraction of the obligation served through `at`, in [0, 1], never decreasing in `at`. */
export function servedFraction(obligation: Pick<Obligation, 'serviceStart' | 'serviceEnd'>, method: RecognitionMethod, at: Date): Decimal {
  const { serviceStart, serviceEnd } = obligation;
  const t = at.getTime();
  if (t >= serviceEnd.getTime()) return new Decimal(1);
  if (t < serviceStart.getTime()) return new Decimal(0);
  if (method === 'millisecond') {
    return new Decimal(t - serviceStart.getTime()).dividedBy(serviceEnd.getTime() - serviceStart.getTime());
  }
  if (method === 'daily') {
    const days = serviceDays(serviceStart, serviceEnd);
    const ended = Math.min(days.count, Math.max(0, Math.floor((t - days.first) / DAY_MS)));
    return new Decimal(ended).dividedBy(days.count);
  }
  const weights = monthWeights(serviceStart, serviceEnd);
  const total = weights.reduce((s, w) => s.plus(w.weight), new Decimal(0));
  const ended = weights.filter((w) => w.monthEnd <= t).reduce((s, w) => s.plus(w.weight), new Decimal(0));
  return ended.dividedBy(total);
}

/**
 * What of the obligation is recognised through `at` (cumulative), each part rounded to the
 * currency. Deferred is the rest: `revenue - recognised.revenue`.
 */
export function recognisedThrough(obligation: Obligation, method: RecognitionMethod, at: Date): Recognised {
  const fraction = servedFraction(obligation, method, at);
  return {
    revenue: roundToCurrency(obligation.revenue.times(fraction), obligation.currency),
    discount: roundToCurrency(obligation.discount.times(fraction), obligation.currency),
  };
}

/**
 * The recognition periods: UTC days (`YYYY-MM-DD`) for `daily` and `millisecond`, UTC months
 * (`YYYY-MM`) for `monthly`. A period's posting recognises what is due through its end.
 */
export interface RecognitionPeriod {
  key: string;
  start: Date;
  end: Date;
}

export function recognitionPeriodOf(method: RecognitionMethod, at: Date): RecognitionPeriod {
  if (method === 'monthly') {
    const start = startOfUtcMonth(at.getTime());
    return { key: new Date(start).toISOString().slice(0, 7), start: new Date(start), end: new Date(nextUtcMonth(start)) };
  }
  const start = startOfUtcDay(at);
  return { key: new Date(start).toISOString().slice(0, 10), start: new Date(start), end: new Date(start + DAY_MS) };
}

/** The period after `period`, of the same method. */
export function nextRecognitionPeriod(method: RecognitionMethod, period: RecognitionPeriod): RecognitionPeriod {
  return recognitionPeriodOf(method, period.end);
}

/** The periods that have ended by `through`, from the one containing `from` on, oldest first, at most `limit`. */
export function completedPeriods(method: RecognitionMethod, from: Date, through: Date, limit: number): RecognitionPeriod[] {
  const periods: RecognitionPeriod[] = [];
  for (let p = recognitionPeriodOf(method, from); p.end.getTime() <= through.getTime() && periods.length < limit; p = nextRecognitionPeriod(method, p)) {
    periods.push(p);
  }
  return periods;
}
