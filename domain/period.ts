/**
 * Billing periods on the anniversary of an anchor instant, in UTC.
 *
 * Period `i` starts at anchor + i intervals, always counted from the anchor rather than from the
 * previous period, so a subscription anchored on 31 January bills on 28/29 February, then 31 March
 * again (never drifting to the 28th). Month and year steps clamp to the last day of a shorter month.
 */
export type Interval = 'day' | 'week' | 'month' | 'year';

export const INTERVALS: readonly Interval[] = ['day', 'week', 'month', 'year'];

export interface Cadence {
  interval: Interval;
  intervalCount: number;
}

export interface Period {
  index: number;
  start: Date;
  end: Date;
}

const DAY_MS = 86_400_000;

function daysInMonth(year: number, monthIndex: number): number {
  return new Date(Date.UTC(year, monthIndex + 1, 0)).getUTCDate();
}

function addMonthsClamped(anchor: Date, months: number): Date {
  const totalMonths = anchor.getUTCFullYear() * 12 + anchor.getUTCMonth() + months;
  const year = Math.floor(totalMonths / 12);
  const monthIndex = totalMonths - year * 12;
  const day = Math.min(anchor.getUTCDate(), daysInMonth(year, monthIndex));
  return new Date(
    Date.UTC(
      year,
      monthIndex,
      day,
      anchor.getUTCHours(),
      anchor.getUTCMinutes(),
      anchor.getUTCSeconds(),
      anchor.getUTCMilliseconds(),
    ),
  );
}

/** The instant `steps` whole cadences after `anchor`. */
export function addCadence(anchor: Date, cadence: Cadence, steps: number): Date {
  const n = cadence.intervalCount * steps;
  switch (cadence.interval) {
    case 'day':
      return new Date(anchor.getTime() + n * DAY_MS);
    case 'week':
      return new Date(anchor.getTime() + n * 7 * DAY_MS);
    case 'month':
      return addMonthsClamped(anchor, n);
    case 'year':
      return addMonthsClamped(anchor, n * 12);
  }
}

export function periodAt(anchor: Date, cadence: Cadence, index: number): Period {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`period index must be a whole number >= 0, got ${index}`);
  return { index, start: addCadence(anchor, cadence, index), end: addCadence(anchor, cadence, index + 1) };
}

export function addDays(instant: Date, days: number): Date {
  return new Date(instant.getTime() + days * DAY_MS);
}
