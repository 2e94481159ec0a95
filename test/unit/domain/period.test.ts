import fc from 'fast-check';
import { addDays, Cadence, Interval, periodAt } from '../../../domain/period';

const MONTHLY: Cadence = { interval: 'month', intervalCount: 1 };
const QUARTERLY: Cadence = { interval: 'month', intervalCount: 3 };
const YEARLY: Cadence = { interval: 'year', intervalCount: 1 };

const at = (iso: string): Date => new Date(iso);

/** Start and end of period `index` as ISO strings, for readable expectations. */
function span(anchor: string, cadence: Cadence, index: number): [string, string] {
  const period = periodAt(at(anchor), cadence, index);
  return [period.start.toISOString(), period.end.toISOString()];
}

describe('monthly periods anchored on the 31st', () => {
  const anchor = '2026-01-31T00:00:00.000Z';

  it('a subscription anchored on 31 January 2026 bills on 28 February, 31 March, 30 April and 31 May', () => {
    expect(span(anchor, MONTHLY, 0)).toEqual(['2026-01-31T00:00:00.000Z', '2026-02-28T00:00:00.000Z']);
    expect(span(anchor, MONTHLY, 1)).toEqual(['2026-02-28T00:00:00.000Z', '2026-03-31T00:00:00.000Z']);
    expect(span(anchor, MONTHLY, 2)).toEqual(['2026-03-31T00:00:00.000Z', '2026-04-30T00:00:00.000Z']);
    expect(span(anchor, MONTHLY, 3)).toEqual(['2026-04-30T00:00:00.000Z', '2026-05-31T00:00:00.000Z']);
  });

  it('after a short February the billing day returns to the 31st instead of drifting to the 28th', () => {
    // Counted from the anchor: period 14 is anchor + 14 months = March 2027, whose 31st exists.
    expect(span(anchor, MONTHLY, 12)).toEqual(['2027-01-31T00:00:00.000Z', '2027-02-28T00:00:00.000Z']);
    expect(span(anchor, MONTHLY, 13)).toEqual(['2027-02-28T00:00:00.000Z', '2027-03-31T00:00:00.000Z']);
    expect(span(anchor, MONTHLY, 14)[0]).toBe('2027-03-31T00:00:00.000Z');
  });

  it('a subscription anchored on 31 January bills on 29 February in a leap year (2028)', () => {
    expect(span('2028-01-31T00:00:00.000Z', MONTHLY, 0)).toEqual(['2028-01-31T00:00:00.000Z', '2028-02-29T00:00:00.000Z']);
    expect(span('2028-01-31T00:00:00.000Z', MONTHLY, 1)).toEqual(['2028-02-29T00:00:00.000Z', '2028-03-31T00:00:00.000Z']);
  });

  it('a subscription anchored on 30 March bills on 28 February 2027 and back on 30 March 2027', () => {
    // 2026-03-30 + 11 months = February 2027 (28 days); + 12 months = March 2027.
    expect(span('2026-03-30T00:00:00.000Z', MONTHLY, 11)).toEqual(['2027-02-28T00:00:00.000Z', '2027-03-30T00:00:00.000Z']);
  });
});

describe('monthly periods across a year end', () => {
  it('a subscription anchored on 15 November bills on 15 December and then 15 January of the next year', () => {
    expect(span('2026-11-15T08:00:00.000Z', MONTHLY, 1)).toEqual(['2026-12-15T08:00:00.000Z', '2027-01-15T08:00:00.000Z']);
  });
});

describe('yearly periods', () => {
  const leapDay = '2028-02-29T12:00:00.000Z';

  it('a yearly subscription anchored on 29 February 2028 renews on 28 February 2029, 2030 and 2031', () => {
    expect(span(leapDay, YEARLY, 0)).toEqual(['2028-02-29T12:00:00.000Z', '2029-02-28T12:00:00.000Z']);
    expect(span(leapDay, YEARLY, 1)).toEqual(['2029-02-28T12:00:00.000Z', '2030-02-28T12:00:00.000Z']);
    expect(span(leapDay, YEARLY, 2)).toEqual(['2030-02-28T12:00:00.000Z', '2031-02-28T12:00:00.000Z']);
  });

  it('a yearly subscription anchored on 29 February 2028 renews on 29 February again in 2032', () => {
    expect(span(leapDay, YEARLY, 3)).toEqual(['2031-02-28T12:00:00.000Z', '2032-02-29T12:00:00.000Z']);
  });

  it('a biennial subscription (year, count 2) anchored on 4 July 2026 covers 4 July 2028 to 4 July 2030 in its second period', () => {
    expect(span('2026-07-04T00:00:00.000Z', { interval: 'year', intervalCount: 2 }, 1)).toEqual([
      '2028-07-04T00:00:00.000Z',
      '2030-07-04T00:00:00.000Z',
    ]);
  });
});

describe('quarterly periods (month, count 3)', () => {
  it('a quarterly subscription anchored on 30 November bills on 28 February, 30 May, 30 August and 30 November', () => {
    const anchor = '2026-11-30T00:00:00.000Z';
    expect(span(anchor, QUARTERLY, 0)).toEqual(['2026-11-30T00:00:00.000Z', '2027-02-28T00:00:00.000Z']);
    expect(span(anchor, QUARTERLY, 1)).toEqual(['2027-02-28T00:00:00.000Z', '2027-05-30T00:00:00.000Z']);
    expect(span(anchor, QUARTERLY, 2)).toEqual(['2027-05-30T00:00:00.000Z', '2027-08-30T00:00:00.000Z']);
    expect(span(anchor, QUARTERLY, 3)).toEqual(['2027-08-30T00:00:00.000Z', '2027-11-30T00:00:00.000Z']);
  });

  it('a quarterly subscription anchored on 30 November 2027 bills on 29 February 2028', () => {
    expect(span('2027-11-30T00:00:00.000Z', QUARTERLY, 0)[1]).toBe('2028-02-29T00:00:00.000Z');
  });
});

describe('daily and weekly periods', () => {
  it('a daily subscription anchored on 27 February 2026 covers 28 February to 1 March in its second period', () => {
    expect(span('2026-02-27T00:00:00.000Z', { interval: 'day', intervalCount: 1 }, 1)).toEqual([
      '2026-02-28T00:00:00.000Z',
      '2026-03-01T00:00:00.000Z',
    ]);
  });

  it('an every-3-days subscription anchored at noon on 1 March covers 7 March noon to 10 March noon in period 2', () => {
    expect(span('2026-03-01T12:00:00.000Z', { interval: 'day', intervalCount: 3 }, 2)).toEqual([
      '2026-03-07T12:00:00.000Z',
      '2026-03-10T12:00:00.000Z',
    ]);
  });

  it('a 30-day subscription starting 1 January 2026 runs 31 January to 2 March in its second period (not calendar months)', () => {
    expect(span('2026-01-01T00:00:00.000Z', { interval: 'day', intervalCount: 30 }, 1)).toEqual([
      '2026-01-31T00:00:00.000Z',
      '2026-03-02T00:00:00.000Z',
    ]);
  });

  it('a weekly subscription anchored on Monday 28 December 2026 bills on Monday 4 January 2027', () => {
    expect(span('2026-12-28T09:30:00.000Z', { interval: 'week', intervalCount: 1 }, 1)).toEqual([
      '2027-01-04T09:30:00.000Z',
      '2027-01-11T09:30:00.000Z',
    ]);
  });

  it('a fortnightly subscription (week, count 2) anchored on 5 January covers 19 January to 2 February in period 1', () => {
    expect(span('2026-01-05T09:30:00.000Z', { interval: 'week', intervalCount: 2 }, 1)).toEqual([
      '2026-01-19T09:30:00.000Z',
      '2026-02-02T09:30:00.000Z',
    ]);
  });

  it('a weekly period spanning the European clock change (29 March 2026) is exactly 168 hours, since periods are in UTC', () => {
    const period = periodAt(at('2026-03-26T01:30:00.000Z'), { interval: 'week', intervalCount: 1 }, 0);
    expect(period.end.toISOString()).toBe('2026-04-02T01:30:00.000Z');
    expect(period.end.getTime() - period.start.getTime()).toBe(168 * 3_600_000);
  });
});

describe('time of day', () => {
  it('a subscription anchored one millisecond before midnight on 31 January renews at 23:59:59.999 on 28 February, not in March', () => {
    expect(span('2026-01-31T23:59:59.999Z', MONTHLY, 0)[1]).toBe('2026-02-28T23:59:59.999Z');
  });

  it('a subscription anchored at 17:45:30.250 keeps that time of day on every renewal, for each interval', () => {
    const anchor = '2026-05-31T17:45:30.250Z';
    expect(span(anchor, MONTHLY, 0)[1]).toBe('2026-06-30T17:45:30.250Z');
    expect(span(anchor, YEARLY, 0)[1]).toBe('2027-05-31T17:45:30.250Z');
    expect(span(anchor, { interval: 'week', intervalCount: 1 }, 0)[1]).toBe('2026-06-07T17:45:30.250Z');
    expect(span(anchor, { interval: 'day', intervalCount: 1 }, 0)[1]).toBe('2026-06-01T17:45:30.250Z');
  });
});

describe('period numbering', () => {
  it('period 0 starts exactly at the anchor and carries its index', () => {
    const anchor = at('2026-04-10T06:00:00.000Z');
    const first = periodAt(anchor, MONTHLY, 0);
    expect(first.index).toBe(0);
    expect(first.start.toISOString()).toBe('2026-04-10T06:00:00.000Z');
    expect(periodAt(anchor, MONTHLY, 7).index).toBe(7);
  });

  it.each([-1, 0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('a period index of %p is refused with a RangeError', (index) => {
    expect(() => periodAt(at('2026-01-01T00:00:00.000Z'), MONTHLY, index)).toThrow(RangeError);
  });
});

describe('addDays', () => {
  it('one day after 28 February 2026 at 10:00 is 1 March 2026 at 10:00; one day before 1 March 2028 is 29 February 2028', () => {
    expect(addDays(at('2026-02-28T10:00:00.000Z'), 1).toISOString()).toBe('2026-03-01T10:00:00.000Z');
    expect(addDays(at('2028-03-01T10:00:00.000Z'), -1).toISOString()).toBe('2028-02-29T10:00:00.000Z');
  });
});

// ---------------------------------------------------------------------------------------------
// Properties over random anchors, cadences and indexes.

const anchorArb = fc.date({
  min: new Date('1970-01-01T00:00:00.000Z'),
  max: new Date('2200-12-31T23:59:59.999Z'),
  noInvalidDate: true,
});
const intervalArb = fc.constantFrom<Interval>('day', 'week', 'month', 'year');
const cadenceArb = fc.record({ interval: intervalArb, intervalCount: fc.integer({ min: 1, max: 24 }) });
const indexArb = fc.integer({ min: 0, max: 600 });

function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

function daysIn(year: number, monthIndex: number): number {
  return [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][monthIndex];
}

/** Reference: the start of period `index`, computed from the anchor's calendar fields. */
function expectedStart(anchor: Date, cadence: Cadence, index: number): Date {
  const steps = cadence.intervalCount * index;
  if (cadence.interval === 'day') return new Date(anchor.getTime() + steps * 86_400_000);
  if (cadence.interval === 'week') return new Date(anchor.getTime() + steps * 7 * 86_400_000);
  const months = cadence.interval === 'year' ? steps * 12 : steps;
  const monthNumber = anchor.getUTCMonth() + months;
  const year = anchor.getUTCFullYear() + Math.floor(monthNumber / 12);
  const monthIndex = monthNumber % 12;
  const day = Math.min(anchor.getUTCDate(), daysIn(year, monthIndex));
  return new Date(
    Date.UTC(year, monthIndex, day, anchor.getUTCHours(), anchor.getUTCMinutes(), anchor.getUTCSeconds(), anchor.getUTCMilliseconds()),
  );
}

describe('period properties', () => {
  it('consecutive periods meet exactly: no gap and no overlap between period i and period i+1', () => {
    fc.assert(
      fc.property(anchorArb, cadenceArb, indexArb, (anchor, cadence, index) => {
        const current = periodAt(anchor, cadence, index);
        const next = periodAt(anchor, cadence, index + 1);
        expect(current.end.getTime()).toBe(next.start.getTime());
        expect(current.end.getTime()).toBeGreaterThan(current.start.getTime());
      }),
      { numRuns: 500 },
    );
  });

  it('every period starts on the anchor day (clamped to the month end) counted from the anchor, never drifting', () => {
    fc.assert(
      fc.property(anchorArb, cadenceArb, indexArb, (anchor, cadence, index) => {
        const period = periodAt(anchor, cadence, index);
        expect(period.start.toISOString()).toBe(expectedStart(anchor, cadence, index).toISOString());
        expect(period.end.toISOString()).toBe(expectedStart(anchor, cadence, index + 1).toISOString());
      }),
      { numRuns: 500 },
    );
  });
});
