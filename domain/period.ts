import { fromLocal, toLocal, type LocalDateTime } from './zoned-time';

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

/**
 * Where a schedule's period boundaries fall. `anniversary`: on the anchor's day and wall time, as
 * periodAt does, but on the clocks of the schedule's zone. `calendar`: at local midnight on the 1st of
 * the month, on 1 January, on Mondays or every day, after a short first period from the anchor.
 */
export type Alignment = 'anniversary' | 'calendar';

export interface Schedule {
  anchor: Date;
  cadence: Cadence;
  /** The IANA time zone whose wall clock the boundaries follow, so local midnight stays midnight. */
  zone: string;
  alignment: Alignment;
}

interface CivilDate {
  year: number;
  /** 1 = January. */
  month: number;
  day: number;
}

/** Days since 1970-01-01 of a calendar date, so dates can be stepped by days with plain arithmetic. */
function epochDay(date: CivilDate): number {
  const utc = new Date(Date.UTC(2000, 0, 1));
  // setUTCFullYear, because Date.UTC reads years 0..99 as 1900..1999.
  utc.setUTCFullYear(date.year, date.month - 1, date.day);
  return Math.round(utc.getTime() / DAY_MS);
}

function civilDate(day: number): CivilDate {
  const utc = new Date(day * DAY_MS);
  return { year: utc.getUTCFullYear(), month: utc.getUTCMonth() + 1, day: utc.getUTCDate() };
}

function addDaysToDate(date: CivilDate, days: number): CivilDate {
  return civilDate(epochDay(date) + days);
}

/** The same arithmetic as addMonthsClamped, on wall-clock dates; zone 'UTC' must match periodAt. */
function addMonthsToDate(date: CivilDate, months: number): CivilDate {
  const totalMonths = date.year * 12 + date.month - 1 + months;
  const year = Math.floor(totalMonths / 12);
  const monthIndex = totalMonths - year * 12;
  return { year, month: monthIndex + 1, day: Math.min(date.day, daysInMonth(year, monthIndex)) };
}

function addUnits(date: CivilDate, interval: Interval, units: number): CivilDate {
  switch (interval) {
    case 'day':
      return addDaysToDate(date, units);
    case 'week':
      return addDaysToDate(date, units * 7);
    case 'month':
      return addMonthsToDate(date, units);
    case 'year':
      return addMonthsToDate(date, units * 12);
  }
}

function checkArguments(schedule: Schedule, index: number): void {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`period index must be a whole number >= 0, got ${index}`);
  const count = schedule.cadence.intervalCount;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`interval count must be a whole number >= 1, got ${count}`);
}

function anniversaryPeriod(schedule: Schedule, index: number): Period {
  const { anchor, cadence, zone } = schedule;
  const local = toLocal(zone, anchor);
  const startOf = (i: number): Date => {
    // The anchor itself, not its wall time read back: a wall time shown twice (when clocks fall back)
    // reads back as its first occurrence, which for an anchor in the second would start an hour early.
    if (i === 0) return anchor;
    const date = addUnits(local, cadence.interval, cadence.intervalCount * i);
    const wall: LocalDateTime = { ...local, ...date };
    return fromLocal(zone, wall);
  };
  return { index, start: startOf(index), end: startOf(index + 1) };
}

function midnight(zone: string, date: CivilDate): Date {
  return fromLocal(zone, { ...date, hour: 0, minute: 0, second: 0, millisecond: 0 });
}

/** The first day of the calendar unit (day, Monday-started week, month, year) that contains `date`. */
function unitStart(date: CivilDate, interval: Interval): CivilDate {
  switch (interval) {
    case 'day':
      return date;
    case 'week': {
      const day = epochDay(date);
      // 1970-01-01 was a Thursday, three days after a Monday.
      return civilDate(day - ((((day + 3) % 7) + 7) % 7));
    }
    case 'month':
      return { year: date.year, month: date.month, day: 1 };
    case 'year':
      return { year: date.year, month: 1, day: 1 };
  }
}

/**
 * Calendar periods: boundary j is local midnight `j` cadences after an origin. The origin is the
 * anchor when it falls on a unit boundary (period 0 is then a whole period), otherwise the first unit
 * boundary after it, and period 0 is the short stretch up to that boundary. `shift` numbers periods so
 * that period k ends at boundary k + 1 - shift.
 */
function calendarGrid(schedule: Schedule): { boundary: (j: number) => Date; shift: number } {
  const { anchor, cadence, zone } = schedule;
  const first = unitStart(toLocal(zone, anchor), cadence.interval);
  const aligned = midnight(zone, first).getTime() === anchor.getTime();
  const origin = aligned ? first : addUnits(first, cadence.interval, 1);
  return {
    boundary: (j) => midnight(zone, addUnits(origin, cadence.interval, j * cadence.intervalCount)),
    shift: aligned ? 0 : 1,
  };
}

/**
 * Period `index` of a schedule, with boundaries on the wall clock of the schedule's zone. Anniversary
 * periods are counted from the anchor like periodAt (and equal it in zone 'UTC'); calendar periods
 * start with [anchor, first boundary after it) and then run from boundary to boundary.
 */
export function periodOf(schedule: Schedule, index: number): Period {
  checkArguments(schedule, index);
  if (schedule.alignment === 'anniversary') return anniversaryPeriod(schedule, index);
  const { boundary, shift } = calendarGrid(schedule);
  return { index, start: index === 0 ? schedule.anchor : boundary(index - shift), end: boundary(index + 1 - shift) };
}

/**
 * The whole calendar period that period `index` lies in: the proration base of a short first
 * calendar period, whose start is the boundary a full cadence before the first boundary after the
 * anchor. Every other period, and every anniversary period, is its own full period.
 */
export function fullPeriodOf(schedule: Schedule, index: number): Period {
  checkArguments(schedule, index);
  if (schedule.alignment === 'anniversary') return anniversaryPeriod(schedule, index);
  const { boundary, shift } = calendarGrid(schedule);
  return { index, start: boundary(index - shift), end: boundary(index + 1 - shift) };
}
