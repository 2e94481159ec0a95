import fc from 'fast-check';
import { Cadence, fullPeriodOf, Interval, periodAt, periodOf, Schedule } from '../../../domain/period';
import { fromLocal, toLocal } from '../../../domain/zoned-time';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (iso: string): Date => new Date(iso);

const MONTHLY: Cadence = { interval: 'month', intervalCount: 1 };
const QUARTERLY: Cadence = { interval: 'month', intervalCount: 3 };
const YEARLY: Cadence = { interval: 'year', intervalCount: 1 };
const WEEKLY: Cadence = { interval: 'week', intervalCount: 1 };
const DAILY: Cadence = { interval: 'day', intervalCount: 1 };
const NY = 'America/New_York';

const anniversary = (anchor: string, cadence: Cadence, zone = 'UTC'): Schedule => ({ anchor: at(anchor), cadence, zone, alignment: 'anniversary' });
const calendar = (anchor: string, cadence: Cadence, zone = 'UTC'): Schedule => ({ anchor: at(anchor), cadence, zone, alignment: 'calendar' });

/** Start and end of period `index` as ISO strings, for readable expectations. */
function span(schedule: Schedule, index: number): [string, string] {
  const period = periodOf(schedule, index);
  return [period.start.toISOString(), period.end.toISOString()];
}

function fullSpan(schedule: Schedule, index: number): [string, string] {
  const period = fullPeriodOf(schedule, index);
  return [period.start.toISOString(), period.end.toISOString()];
}

const hours = (schedule: Schedule, index: number): number => {
  const period = periodOf(schedule, index);
  return (period.end.getTime() - period.start.getTime()) / HOUR;
};

describe('anniversary periods on the local wall clock', () => {
  it('a UTC subscription anchored on 31 January 2027 bills on each month end for 14 months, including 29 February 2028', () => {
    const schedule = anniversary('2027-01-31T00:00:00.000Z', MONTHLY);
    const starts = Array.from({ length: 15 }, (_, i) => periodOf(schedule, i).start.toISOString().slice(0, 10));
    expect(starts).toEqual([
      '2027-01-31', '2027-02-28', '2027-03-31', '2027-04-30', '2027-05-31', '2027-06-30', '2027-07-31', '2027-08-31',
      '2027-09-30', '2027-10-31', '2027-11-30', '2027-12-31', '2028-01-31', '2028-02-29', '2028-03-31',
    ]);
  });

  it('a New York subscription anchored at local midnight on 31 January 2027 renews at local midnight: 05:00 UTC in EST, 04:00 UTC in EDT', () => {
    // EDT runs from 14 March to 7 November 2027 and again from 12 March 2028.
    const schedule = anniversary('2027-01-31T05:00:00.000Z', MONTHLY, NY);
    const starts = Array.from({ length: 15 }, (_, i) => periodOf(schedule, i).start.toISOString());
    expect(starts).toEqual([
      '2027-01-31T05:00:00.000Z',
      '2027-02-28T05:00:00.000Z',
      '2027-03-31T04:00:00.000Z',
      '2027-04-30T04:00:00.000Z',
      '2027-05-31T04:00:00.000Z',
      '2027-06-30T04:00:00.000Z',
      '2027-07-31T04:00:00.000Z',
      '2027-08-31T04:00:00.000Z',
      '2027-09-30T04:00:00.000Z',
      '2027-10-31T04:00:00.000Z',
      '2027-11-30T05:00:00.000Z',
      '2027-12-31T05:00:00.000Z',
      '2028-01-31T05:00:00.000Z',
      '2028-02-29T05:00:00.000Z',
      '2028-03-31T04:00:00.000Z',
    ]);
  });

  it('a New York subscription anchored at midnight on 1 March 2027 has a first period of 31 days less the hour lost on 14 March', () => {
    const schedule = anniversary('2027-03-01T05:00:00.000Z', MONTHLY, NY);
    expect(span(schedule, 0)).toEqual(['2027-03-01T05:00:00.000Z', '2027-04-01T04:00:00.000Z']);
    expect(hours(schedule, 0)).toBe(31 * 24 - 1);
  });

  it('a daily New York subscription at local midnight has a 23-hour day on 14 March and a 25-hour day on 7 November 2027', () => {
    const spring = anniversary('2027-03-13T05:00:00.000Z', DAILY, NY);
    expect(span(spring, 1)).toEqual(['2027-03-14T05:00:00.000Z', '2027-03-15T04:00:00.000Z']);
    expect(hours(spring, 1)).toBe(23);
    const autumn = anniversary('2027-11-06T04:00:00.000Z', DAILY, NY);
    expect(span(autumn, 1)).toEqual(['2027-11-07T04:00:00.000Z', '2027-11-08T05:00:00.000Z']);
    expect(hours(autumn, 1)).toBe(25);
  });

  it('a daily subscription at 02:30 New York time renews at 03:30 EDT on 14 March, when 02:30 does not exist, and at 02:30 again on 15 March', () => {
    const schedule = anniversary('2027-03-13T07:30:00.000Z', DAILY, NY);
    expect(span(schedule, 0)).toEqual(['2027-03-13T07:30:00.000Z', '2027-03-14T07:30:00.000Z']);
    expect(span(schedule, 1)).toEqual(['2027-03-14T07:30:00.000Z', '2027-03-15T06:30:00.000Z']);
  });

  it('a subscription anchored at the second 01:30 of 7 November 2027 (EST, 06:30 UTC) starts at its anchor, not at the first 01:30', () => {
    const schedule = anniversary('2027-11-07T06:30:00.000Z', DAILY, NY);
    expect(span(schedule, 0)).toEqual(['2027-11-07T06:30:00.000Z', '2027-11-08T06:30:00.000Z']);
  });

  it('a yearly subscription anchored on 29 February 2028 renews on 28 February 2029 to 2031 and on 29 February 2032, in UTC and in New York', () => {
    const utc = anniversary('2028-02-29T12:00:00.000Z', YEARLY);
    expect([1, 2, 3, 4].map((i) => periodOf(utc, i).start.toISOString())).toEqual([
      '2029-02-28T12:00:00.000Z',
      '2030-02-28T12:00:00.000Z',
      '2031-02-28T12:00:00.000Z',
      '2032-02-29T12:00:00.000Z',
    ]);
    const newYork = anniversary('2028-02-29T05:00:00.000Z', YEARLY, NY);
    expect(span(newYork, 0)).toEqual(['2028-02-29T05:00:00.000Z', '2029-02-28T05:00:00.000Z']);
    expect(periodOf(newYork, 4).start.toISOString()).toBe('2032-02-29T05:00:00.000Z');
  });

  it('in Kolkata (UTC+5:30, no DST) a monthly subscription at local midnight renews at 18:30 UTC the day before', () => {
    const schedule = anniversary('2027-01-14T18:30:00.000Z', MONTHLY, 'Asia/Kolkata');
    expect(span(schedule, 1)).toEqual(['2027-02-14T18:30:00.000Z', '2027-03-14T18:30:00.000Z']);
  });

  it('fullPeriodOf an anniversary period is the period itself', () => {
    const schedule = anniversary('2027-01-31T05:00:00.000Z', MONTHLY, NY);
    for (const i of [0, 1, 13]) expect(fullPeriodOf(schedule, i)).toEqual(periodOf(schedule, i));
  });
});

describe('calendar periods', () => {
  it('a UTC monthly subscription from 17 January 10:00 has a short first period to 1 February, then February, then March', () => {
    const schedule = calendar('2027-01-17T10:00:00.000Z', MONTHLY);
    expect(span(schedule, 0)).toEqual(['2027-01-17T10:00:00.000Z', '2027-02-01T00:00:00.000Z']);
    expect(span(schedule, 1)).toEqual(['2027-02-01T00:00:00.000Z', '2027-03-01T00:00:00.000Z']);
    expect(span(schedule, 2)).toEqual(['2027-03-01T00:00:00.000Z', '2027-04-01T00:00:00.000Z']);
  });

  it('the full period of that short first period is all of January, the base for prorating it', () => {
    const schedule = calendar('2027-01-17T10:00:00.000Z', MONTHLY);
    expect(fullSpan(schedule, 0)).toEqual(['2027-01-01T00:00:00.000Z', '2027-02-01T00:00:00.000Z']);
    expect(fullSpan(schedule, 2)).toEqual(span(schedule, 2));
  });

  it('a subscription starting exactly at midnight on 1 February has a whole first period, February', () => {
    const schedule = calendar('2027-02-01T00:00:00.000Z', MONTHLY);
    expect(span(schedule, 0)).toEqual(['2027-02-01T00:00:00.000Z', '2027-03-01T00:00:00.000Z']);
    expect(fullSpan(schedule, 0)).toEqual(span(schedule, 0));
    expect(span(schedule, 1)).toEqual(['2027-03-01T00:00:00.000Z', '2027-04-01T00:00:00.000Z']);
  });

  it('a subscription starting one millisecond after midnight on 1 February still has a short first period to 1 March', () => {
    const schedule = calendar('2027-02-01T00:00:00.001Z', MONTHLY);
    expect(span(schedule, 0)).toEqual(['2027-02-01T00:00:00.001Z', '2027-03-01T00:00:00.000Z']);
    expect(fullSpan(schedule, 0)).toEqual(['2027-02-01T00:00:00.000Z', '2027-03-01T00:00:00.000Z']);
  });

  it('yearly: from 10 May 2027 to 1 January 2028, then the calendar year 2028; the full first period is 2027', () => {
    const schedule = calendar('2027-05-10T08:00:00.000Z', YEARLY);
    expect(span(schedule, 0)).toEqual(['2027-05-10T08:00:00.000Z', '2028-01-01T00:00:00.000Z']);
    expect(span(schedule, 1)).toEqual(['2028-01-01T00:00:00.000Z', '2029-01-01T00:00:00.000Z']);
    expect(fullSpan(schedule, 0)).toEqual(['2027-01-01T00:00:00.000Z', '2028-01-01T00:00:00.000Z']);
  });

  it('weekly: from Wednesday 13 January 2027 to Monday 18 January, then Monday to Monday; the full first week starts Monday 11 January', () => {
    const schedule = calendar('2027-01-13T15:00:00.000Z', WEEKLY);
    expect(span(schedule, 0)).toEqual(['2027-01-13T15:00:00.000Z', '2027-01-18T00:00:00.000Z']);
    expect(span(schedule, 1)).toEqual(['2027-01-18T00:00:00.000Z', '2027-01-25T00:00:00.000Z']);
    expect(fullSpan(schedule, 0)).toEqual(['2027-01-11T00:00:00.000Z', '2027-01-18T00:00:00.000Z']);
  });

  it('weekly from a Sunday evening: Sunday 17 January 2027 23:00 has a one-hour first period to Monday', () => {
    const schedule = calendar('2027-01-17T23:00:00.000Z', WEEKLY);
    expect(span(schedule, 0)).toEqual(['2027-01-17T23:00:00.000Z', '2027-01-18T00:00:00.000Z']);
    expect(fullSpan(schedule, 0)).toEqual(['2027-01-11T00:00:00.000Z', '2027-01-18T00:00:00.000Z']);
  });

  it('daily: from 10:00 on 17 January to midnight, then midnight to midnight', () => {
    const schedule = calendar('2027-01-17T10:00:00.000Z', DAILY);
    expect(span(schedule, 0)).toEqual(['2027-01-17T10:00:00.000Z', '2027-01-18T00:00:00.000Z']);
    expect(span(schedule, 1)).toEqual(['2027-01-18T00:00:00.000Z', '2027-01-19T00:00:00.000Z']);
    expect(fullSpan(schedule, 0)).toEqual(['2027-01-17T00:00:00.000Z', '2027-01-18T00:00:00.000Z']);
  });

  it('in Tokyo (UTC+9) month boundaries fall at 15:00 UTC on the last day of the previous month', () => {
    // 2027-01-17T10:00Z is 19:00 on 17 January in Tokyo; 1 February 00:00 JST is 31 January 15:00 UTC.
    const schedule = calendar('2027-01-17T10:00:00.000Z', MONTHLY, 'Asia/Tokyo');
    expect(span(schedule, 0)).toEqual(['2027-01-17T10:00:00.000Z', '2027-01-31T15:00:00.000Z']);
    expect(span(schedule, 1)).toEqual(['2027-01-31T15:00:00.000Z', '2027-02-28T15:00:00.000Z']);
    expect(fullSpan(schedule, 0)).toEqual(['2026-12-31T15:00:00.000Z', '2027-01-31T15:00:00.000Z']);
  });

  it('in Tokyo, 31 January 16:00 UTC is already 1 February, so the first period runs to 1 March Tokyo time', () => {
    const schedule = calendar('2027-01-31T16:00:00.000Z', MONTHLY, 'Asia/Tokyo');
    expect(span(schedule, 0)).toEqual(['2027-01-31T16:00:00.000Z', '2027-02-28T15:00:00.000Z']);
  });

  it('in New York the March period starts at 05:00 UTC (EST) and ends at 04:00 UTC (EDT)', () => {
    const schedule = calendar('2027-03-10T12:00:00.000Z', MONTHLY, NY);
    expect(span(schedule, 0)).toEqual(['2027-03-10T12:00:00.000Z', '2027-04-01T04:00:00.000Z']);
    expect(fullSpan(schedule, 0)).toEqual(['2027-03-01T05:00:00.000Z', '2027-04-01T04:00:00.000Z']);
  });

  it('where clocks skip midnight (São Paulo, 4 November 2018, 00:00 -> 01:00) the day starts at 01:00', () => {
    const schedule = calendar('2018-11-03T15:00:00.000Z', DAILY, 'America/Sao_Paulo');
    expect(span(schedule, 0)).toEqual(['2018-11-03T15:00:00.000Z', '2018-11-04T03:00:00.000Z']);
    expect(span(schedule, 1)).toEqual(['2018-11-04T03:00:00.000Z', '2018-11-05T02:00:00.000Z']);
  });

  describe('interval count n: boundaries every n units from the first boundary after the anchor', () => {
    it('quarterly from 17 January 2027: 17 January to 1 February, then 1 February to 1 May, then 1 May to 1 August', () => {
      const schedule = calendar('2027-01-17T10:00:00.000Z', QUARTERLY);
      expect(span(schedule, 0)).toEqual(['2027-01-17T10:00:00.000Z', '2027-02-01T00:00:00.000Z']);
      expect(span(schedule, 1)).toEqual(['2027-02-01T00:00:00.000Z', '2027-05-01T00:00:00.000Z']);
      expect(span(schedule, 2)).toEqual(['2027-05-01T00:00:00.000Z', '2027-08-01T00:00:00.000Z']);
    });

    it('the full period of that short first period is the quarter ending 1 February: 1 November 2026 to 1 February 2027', () => {
      expect(fullSpan(calendar('2027-01-17T10:00:00.000Z', QUARTERLY), 0)).toEqual(['2026-11-01T00:00:00.000Z', '2027-02-01T00:00:00.000Z']);
    });

    it('quarterly from exactly 1 January 2027: the first period is the whole quarter, to 1 April', () => {
      const schedule = calendar('2027-01-01T00:00:00.000Z', QUARTERLY);
      expect(span(schedule, 0)).toEqual(['2027-01-01T00:00:00.000Z', '2027-04-01T00:00:00.000Z']);
      expect(span(schedule, 1)).toEqual(['2027-04-01T00:00:00.000Z', '2027-07-01T00:00:00.000Z']);
    });

    it('fortnightly from Wednesday 13 January 2027: to Monday 18 January, then 18 January to 1 February', () => {
      const schedule = calendar('2027-01-13T15:00:00.000Z', { interval: 'week', intervalCount: 2 });
      expect(span(schedule, 1)).toEqual(['2027-01-18T00:00:00.000Z', '2027-02-01T00:00:00.000Z']);
      expect(fullSpan(schedule, 0)).toEqual(['2027-01-04T00:00:00.000Z', '2027-01-18T00:00:00.000Z']);
    });
  });
});

describe('arguments', () => {
  it.each([-1, 0.5, Number.NaN])('a period index of %p is refused with a RangeError', (index) => {
    expect(() => periodOf(calendar('2027-01-01T00:00:00Z', MONTHLY), index)).toThrow(RangeError);
    expect(() => fullPeriodOf(anniversary('2027-01-01T00:00:00Z', MONTHLY), index)).toThrow(RangeError);
  });

  it.each([0, -1, 1.5])('an interval count of %p is refused with a RangeError', (intervalCount) => {
    expect(() => periodOf(anniversary('2027-01-01T00:00:00Z', { interval: 'month', intervalCount }), 1)).toThrow(RangeError);
  });

  it('an unknown zone is refused with a RangeError', () => {
    expect(() => periodOf(anniversary('2027-01-01T00:00:00Z', MONTHLY, 'Mars/Base'), 1)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties over random anchors, cadences, zones and indexes.

const intervalArb = fc.constantFrom<Interval>('day', 'week', 'month', 'year');
const cadenceArb = fc.record({ interval: intervalArb, intervalCount: fc.integer({ min: 1, max: 24 }) });
// Zones whose clocks never skip midnight in these years, so calendar boundaries are local midnights.
const ZONES = ['UTC', NY, 'Europe/London', 'Asia/Kolkata', 'Asia/Tokyo', 'Australia/Lord_Howe'];
const anchorArb = (max: string) => fc.date({ min: at('1970-01-01T00:00:00.000Z'), max: at(max), noInvalidDate: true });
const scheduleArb = (alignment: 'anniversary' | 'calendar') =>
  fc.record({ anchor: anchorArb('2100-12-31T23:59:59.999Z'), cadence: cadenceArb, zone: fc.constantFrom(...ZONES), alignment: fc.constant(alignment) });

const wallMillis = (zone: string, instant: Date): number => {
  const l = toLocal(zone, instant);
  return Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second, l.millisecond);
};
const localDay = (zone: string, instant: Date): number => Math.floor(wallMillis(zone, instant) / DAY);
const localMonths = (zone: string, instant: Date): number => {
  const l = toLocal(zone, instant);
  return l.year * 12 + l.month - 1;
};

/** How many calendar units of `interval` lie between two local midnights. */
function unitsBetween(zone: string, interval: Interval, from: Date, to: Date): number {
  switch (interval) {
    case 'day':
      return localDay(zone, to) - localDay(zone, from);
    case 'week':
      return (localDay(zone, to) - localDay(zone, from)) / 7;
    case 'month':
      return localMonths(zone, to) - localMonths(zone, from);
    case 'year':
      return (localMonths(zone, to) - localMonths(zone, from)) / 12;
  }
}

/** True when `instant` is local midnight at the start of a day, Monday-week, month or year. */
function isUnitBoundary(zone: string, interval: Interval, instant: Date): boolean {
  const l = toLocal(zone, instant);
  if (l.hour !== 0 || l.minute !== 0 || l.second !== 0 || l.millisecond !== 0) return false;
  switch (interval) {
    case 'day':
      return true;
    case 'week':
      return new Date(Date.UTC(l.year, l.month - 1, l.day)).getUTCDay() === 1;
    case 'month':
      return l.day === 1;
    case 'year':
      return l.day === 1 && l.month === 1;
  }
}

/** Local midnight one day, week, month or year before the local midnight `boundary`. */
function oneUnitBefore(zone: string, interval: Interval, boundary: Date): Date {
  const l = toLocal(zone, boundary);
  const back = { day: [0, 0, 1], week: [0, 0, 7], month: [0, 1, 0], year: [1, 0, 0] }[interval];
  const date = new Date(Date.UTC(l.year - back[0], l.month - 1 - back[1], l.day - back[2]));
  return fromLocal(zone, { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate(), hour: 0, minute: 0, second: 0, millisecond: 0 });
}

describe('schedule properties', () => {
  it('in zone UTC, anniversary periods are exactly the periods periodAt has always computed', () => {
    fc.assert(
      fc.property(anchorArb('2200-12-31T23:59:59.999Z'), cadenceArb, fc.integer({ min: 0, max: 600 }), (anchor, cadence, index) => {
        expect(periodOf({ anchor, cadence, zone: 'UTC', alignment: 'anniversary' }, index)).toEqual(periodAt(anchor, cadence, index));
      }),
      { numRuns: 1000 },
    );
  });

  it('consecutive periods meet exactly, each is non-empty, and period 0 starts at the anchor, for both alignments', () => {
    const arb = fc.record({ schedule: fc.oneof(scheduleArb('anniversary'), scheduleArb('calendar')), index: fc.integer({ min: 0, max: 200 }) });
    fc.assert(
      fc.property(arb, ({ schedule, index }) => {
        const current = periodOf(schedule, index);
        const next = periodOf(schedule, index + 1);
        expect(current.index).toBe(index);
        expect(current.end).toEqual(next.start);
        expect(current.end.getTime()).toBeGreaterThan(current.start.getTime());
        expect(periodOf(schedule, 0).start).toEqual(schedule.anchor);
      }),
      { numRuns: 500 },
    );
  });

  it('an anniversary period starts on the anchor day counted from the anchor (clamped to the month end), at the anchor wall time unless the clocks skip it', () => {
    const arb = fc.record({ schedule: scheduleArb('anniversary'), index: fc.integer({ min: 1, max: 200 }) });
    fc.assert(
      fc.property(arb, ({ schedule: { anchor, cadence, zone }, index }) => {
        const start = periodOf({ anchor, cadence, zone, alignment: 'anniversary' }, index).start;
        const a = toLocal(zone, anchor);
        const steps = cadence.intervalCount * index;
        let date: Date;
        if (cadence.interval === 'day' || cadence.interval === 'week') {
          date = new Date(Date.UTC(a.year, a.month - 1, a.day + steps * (cadence.interval === 'week' ? 7 : 1)));
        } else {
          const months = a.month - 1 + steps * (cadence.interval === 'year' ? 12 : 1);
          const lastDay = new Date(Date.UTC(a.year, months + 1, 0)).getUTCDate();
          date = new Date(Date.UTC(a.year, months, Math.min(a.day, lastDay)));
        }
        const expectedWall = date.getTime() + Date.UTC(1970, 0, 1, a.hour, a.minute, a.second, a.millisecond);
        const shift = wallMillis(zone, start) - expectedWall;
        // A skipped wall time moves forward by the gap: an hour at most in these zones.
        expect(shift).toBeGreaterThanOrEqual(0);
        expect(shift).toBeLessThanOrEqual(HOUR);
        const offset = (instant: number): number => wallMillis(zone, new Date(instant)) - instant;
        if (offset(start.getTime() - DAY) === offset(start.getTime() + DAY)) expect(shift).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('calendar periods after the first run between unit boundaries n units apart; the first runs from the anchor to the first boundary after it', () => {
    const arb = fc.record({ schedule: scheduleArb('calendar'), index: fc.integer({ min: 1, max: 200 }) });
    fc.assert(
      fc.property(arb, ({ schedule, index }) => {
        const { interval, intervalCount } = schedule.cadence;
        const { zone } = schedule;
        const period = periodOf(schedule, index);
        expect(fullPeriodOf(schedule, index)).toEqual(period);
        expect(isUnitBoundary(zone, interval, period.start)).toBe(true);
        expect(isUnitBoundary(zone, interval, period.end)).toBe(true);
        expect(unitsBetween(zone, interval, period.start, period.end)).toBe(intervalCount);

        const first = periodOf(schedule, 0);
        const full = fullPeriodOf(schedule, 0);
        expect(full.end).toEqual(first.end);
        expect(isUnitBoundary(zone, interval, full.start)).toBe(true);
        expect(unitsBetween(zone, interval, full.start, full.end)).toBe(intervalCount);
        expect(full.start.getTime()).toBeLessThanOrEqual(schedule.anchor.getTime());
        if (isUnitBoundary(zone, interval, schedule.anchor)) {
          expect(first).toEqual(full);
        } else {
          // The first period ends at the first unit boundary after the anchor: one unit earlier is not after it.
          expect(first.end.getTime()).toBeGreaterThan(schedule.anchor.getTime());
          expect(oneUnitBefore(zone, interval, first.end).getTime()).toBeLessThanOrEqual(schedule.anchor.getTime());
        }
      }),
      { numRuns: 500 },
    );
  });
});
