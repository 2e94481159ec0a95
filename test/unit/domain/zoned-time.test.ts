import fc from 'fast-check';
import { fromLocal, isTimeZone, LocalDateTime, toLocal } from '../../../domain/zoned-time';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (iso: string): Date => new Date(iso);

/** A wall time from "2027-03-14T02:30" or "2027-03-14T02:30:15.250" (no zone). */
function wall(text: string): LocalDateTime {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{3}))?)?$/.exec(text);
  if (!match) throw new Error(`test: not a wall time: ${text}`);
  const [year, month, day, hour, minute, second = '0', millisecond = '0'] = match.slice(1);
  return { year: +year, month: +month, day: +day, hour: +hour, minute: +minute, second: +second, millisecond: +millisecond };
}

/** The wall time as if it were UTC, written independently of the module under test. */
const wallMillis = (local: LocalDateTime): number =>
  Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second, local.millisecond);

const wallAt = (millis: number): LocalDateTime => {
  const utc = new Date(millis);
  return {
    year: utc.getUTCFullYear(),
    month: utc.getUTCMonth() + 1,
    day: utc.getUTCDate(),
    hour: utc.getUTCHours(),
    minute: utc.getUTCMinutes(),
    second: utc.getUTCSeconds(),
    millisecond: utc.getUTCMilliseconds(),
  };
};

const instant = (zone: string, text: string): string => fromLocal(zone, wall(text)).toISOString();
/** Hours the zone's clocks are ahead of UTC at `iso`. */
const offsetHours = (zone: string, iso: string): number => (wallMillis(toLocal(zone, at(iso))) - at(iso).getTime()) / HOUR;

describe('isTimeZone', () => {
  it.each(['America/New_York', 'UTC', 'Europe/London', 'Asia/Kolkata', 'Asia/Tokyo'])('%s is a time zone', (zone) => {
    expect(isTimeZone(zone)).toBe(true);
  });

  it.each(['Mars/Base', '', 'Not a zone', '+05:30', '-08:00'])('%p is not a time zone', (zone) => {
    expect(isTimeZone(zone)).toBe(false);
  });

  it('converting in an unknown zone is refused with a RangeError', () => {
    expect(() => toLocal('Mars/Base', at('2027-01-01T00:00:00Z'))).toThrow(RangeError);
    expect(() => fromLocal('Mars/Base', wall('2027-01-01T00:00'))).toThrow(RangeError);
  });
});

describe('New York: UTC-5 in winter, UTC-4 in summer', () => {
  const NY = 'America/New_York';

  it('noon on 15 January 2027 in New York is 17:00 UTC, and back', () => {
    expect(instant(NY, '2027-01-15T12:00')).toBe('2027-01-15T17:00:00.000Z');
    expect(toLocal(NY, at('2027-01-15T17:00:00Z'))).toEqual(wall('2027-01-15T12:00'));
    expect(offsetHours(NY, '2027-01-15T17:00:00Z')).toBe(-5);
  });

  it('noon on 15 July 2027 in New York is 16:00 UTC, and back', () => {
    expect(instant(NY, '2027-07-15T12:00')).toBe('2027-07-15T16:00:00.000Z');
    expect(toLocal(NY, at('2027-07-15T16:00:00Z'))).toEqual(wall('2027-07-15T12:00'));
    expect(offsetHours(NY, '2027-07-15T16:00:00Z')).toBe(-4);
  });

  it('keeps milliseconds: 23:59:59.999 on 31 December 2027 is 04:59:59.999 UTC on 1 January 2028', () => {
    expect(instant(NY, '2027-12-31T23:59:59.999')).toBe('2028-01-01T04:59:59.999Z');
    expect(toLocal(NY, at('2028-01-01T04:59:59.999Z'))).toEqual(wall('2027-12-31T23:59:59.999'));
  });

  describe('clocks spring forward at 02:00 EST on Sunday 14 March 2027 (07:00 UTC) to 03:00 EDT', () => {
    it('the last millisecond before the change reads 01:59:59.999 EST, the change itself 03:00 EDT', () => {
      expect(toLocal(NY, at('2027-03-14T06:59:59.999Z'))).toEqual(wall('2027-03-14T01:59:59.999'));
      expect(toLocal(NY, at('2027-03-14T07:00:00.000Z'))).toEqual(wall('2027-03-14T03:00'));
    });

    it('02:30, which New York clocks never show that day, moves forward by the hour gap to 03:30 EDT (07:30 UTC)', () => {
      // Read with the EST offset the clocks had before jumping: 02:30 + 5h = 07:30 UTC = 03:30 EDT.
      expect(instant(NY, '2027-03-14T02:30')).toBe('2027-03-14T07:30:00.000Z');
      expect(instant(NY, '2027-03-14T02:00')).toBe('2027-03-14T07:00:00.000Z');
      expect(instant(NY, '2027-03-14T02:59:59.999')).toBe('2027-03-14T07:59:59.999Z');
    });

    it('the wall times either side of the gap are unambiguous: 01:30 is EST (06:30 UTC), 03:30 is EDT (07:30 UTC)', () => {
      expect(instant(NY, '2027-03-14T01:30')).toBe('2027-03-14T06:30:00.000Z');
      expect(instant(NY, '2027-03-14T03:30')).toBe('2027-03-14T07:30:00.000Z');
    });
  });

  describe('clocks fall back at 02:00 EDT on Sunday 7 November 2027 (06:00 UTC) to 01:00 EST', () => {
    it('01:30 is shown twice, at 05:30 UTC (EDT) and 06:30 UTC (EST)', () => {
      expect(toLocal(NY, at('2027-11-07T05:30:00Z'))).toEqual(wall('2027-11-07T01:30'));
      expect(toLocal(NY, at('2027-11-07T06:30:00Z'))).toEqual(wall('2027-11-07T01:30'));
    });

    it('01:30 that day is read as its earlier occurrence, 05:30 UTC (EDT)', () => {
      expect(instant(NY, '2027-11-07T01:30')).toBe('2027-11-07T05:30:00.000Z');
      expect(instant(NY, '2027-11-07T01:00')).toBe('2027-11-07T05:00:00.000Z');
    });

    it('00:59 is EDT (04:59 UTC) and 02:00 is EST (07:00 UTC): only the hour from 01:00 repeats', () => {
      expect(instant(NY, '2027-11-07T00:59')).toBe('2027-11-07T04:59:00.000Z');
      expect(instant(NY, '2027-11-07T02:00')).toBe('2027-11-07T07:00:00.000Z');
    });
  });

  it('in 1800 New York kept local mean time, 4:56:02 behind UTC: offsets with seconds survive the round trip', () => {
    expect(toLocal(NY, at('1800-01-01T00:00:00.000Z'))).toEqual(wall('1799-12-31T19:03:58'));
    expect(instant(NY, '1799-12-31T19:03:58')).toBe('1800-01-01T00:00:00.000Z');
  });
});

describe('London: GMT in winter, BST (UTC+1) from 28 March to 31 October 2027', () => {
  const LONDON = 'Europe/London';

  it('noon in January is noon UTC; noon in July is 11:00 UTC', () => {
    expect(instant(LONDON, '2027-01-10T12:00')).toBe('2027-01-10T12:00:00.000Z');
    expect(instant(LONDON, '2027-07-10T12:00')).toBe('2027-07-10T11:00:00.000Z');
  });

  it('01:30 on 28 March 2027 does not exist (01:00 GMT jumps to 02:00 BST) and becomes 02:30 BST = 01:30 UTC', () => {
    expect(instant(LONDON, '2027-03-28T01:30')).toBe('2027-03-28T01:30:00.000Z');
    expect(toLocal(LONDON, at('2027-03-28T01:30:00Z'))).toEqual(wall('2027-03-28T02:30'));
  });

  it('01:30 on 31 October 2027 happens twice and is read as the BST one, 00:30 UTC', () => {
    expect(instant(LONDON, '2027-10-31T01:30')).toBe('2027-10-31T00:30:00.000Z');
    expect(toLocal(LONDON, at('2027-10-31T01:30:00Z'))).toEqual(wall('2027-10-31T01:30'));
  });
});

describe('Kolkata: UTC+5:30 all year', () => {
  it('midnight on 1 June 2027 in Kolkata is 18:30 UTC the day before', () => {
    expect(instant('Asia/Kolkata', '2027-06-01T00:00')).toBe('2027-05-31T18:30:00.000Z');
    expect(toLocal('Asia/Kolkata', at('2027-05-31T18:30:00Z'))).toEqual(wall('2027-06-01T00:00'));
  });

  it('the offset is +5.5 hours in January and in July', () => {
    expect(offsetHours('Asia/Kolkata', '2027-01-15T00:00:00Z')).toBe(5.5);
    expect(offsetHours('Asia/Kolkata', '2027-07-15T00:00:00Z')).toBe(5.5);
  });
});

const LORD_HOWE = 'Australia/Lord_Howe';
(isTimeZone(LORD_HOWE) ? describe : describe.skip)('Lord Howe Island: UTC+10:30, and +11 in summer (a 30-minute change)', () => {
  it('noon in January 2027 is 01:00 UTC (+11); noon in July is 01:30 UTC (+10:30)', () => {
    expect(instant(LORD_HOWE, '2027-01-15T12:00')).toBe('2027-01-15T01:00:00.000Z');
    expect(instant(LORD_HOWE, '2027-07-15T12:00')).toBe('2027-07-15T01:30:00.000Z');
  });

  it('02:15 on Sunday 3 October 2027 falls in the half-hour gap and moves to 02:45 (+11) = 15:45 UTC the day before', () => {
    // With the +10:30 offset from before the change: 02:15 - 10:30 = 15:45 UTC, shown as 02:45 at +11.
    expect(instant(LORD_HOWE, '2027-10-03T02:15')).toBe('2027-10-02T15:45:00.000Z');
    expect(toLocal(LORD_HOWE, at('2027-10-02T15:45:00Z'))).toEqual(wall('2027-10-03T02:45'));
  });

  it('01:45 on Sunday 4 April 2027 happens twice (14:45 and 15:15 UTC) and is read as the earlier', () => {
    expect(toLocal(LORD_HOWE, at('2027-04-03T14:45:00Z'))).toEqual(wall('2027-04-04T01:45'));
    expect(toLocal(LORD_HOWE, at('2027-04-03T15:15:00Z'))).toEqual(wall('2027-04-04T01:45'));
    expect(instant(LORD_HOWE, '2027-04-04T01:45')).toBe('2027-04-03T14:45:00.000Z');
  });
});

describe('wall times that are not on any calendar', () => {
  it.each(['2027-02-29T00:00', '2027-04-31T00:00', '2027-13-01T00:00', '2027-01-01T24:00', '2027-01-01T12:60'])(
    '%s is refused with a RangeError',
    (text) => {
      expect(() => fromLocal('UTC', wall(text))).toThrow(RangeError);
    },
  );

  it('a fractional millisecond is refused', () => {
    expect(() => fromLocal('UTC', { ...wall('2027-01-01T00:00'), millisecond: 0.5 })).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties. Clock changes are rare among random instants, so half of the samples are drawn within
// three hours of a transition, found by scanning the zone with toLocal alone.

const ZONES = ['UTC', 'America/New_York', 'Europe/London', 'Asia/Kolkata', 'Asia/Tokyo', 'America/Sao_Paulo', 'Pacific/Apia', LORD_HOWE].filter(
  isTimeZone,
);

const offsetAt = (zone: string, millis: number): number => wallMillis(toLocal(zone, new Date(millis))) - millis;

/** Instants at which the zone's offset changes between `from` and `to`, to the millisecond. */
function transitions(zone: string, from: string, to: string): number[] {
  const found: number[] = [];
  let offset = offsetAt(zone, at(from).getTime());
  for (let day = at(from).getTime(); day < at(to).getTime(); day += DAY) {
    const next = offsetAt(zone, day + DAY);
    if (next === offset) continue;
    let [low, high] = [day, day + DAY];
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (offsetAt(zone, middle) === offset) low = middle;
      else high = middle;
    }
    found.push(high);
    offset = next;
  }
  return found;
}

const TRANSITIONS: Array<[string, number]> = ZONES.flatMap((zone) =>
  transitions(zone, '2009-01-01T00:00:00Z', '2030-01-01T00:00:00Z').map((t): [string, number] => [zone, t]),
);

const randomInstantArb = fc.record({
  zone: fc.constantFrom(...ZONES),
  millis: fc.integer({ min: at('1970-01-01T00:00:00Z').getTime(), max: at('2100-12-31T23:59:59.999Z').getTime() }),
});
const nearTransitionArb = fc.record({
  transition: fc.constantFrom(...TRANSITIONS),
  delta: fc.integer({ min: -3 * HOUR, max: 3 * HOUR }),
}).map(({ transition: [zone, millis], delta }) => ({ zone, millis: millis + delta }));
const instantArb = fc.oneof(randomInstantArb, nearTransitionArb);

/** A wall time near the instant: shifted on the wall clock, so it may land in a gap or an overlap. */
const wallTimeArb = fc
  .record({ base: instantArb, shift: fc.integer({ min: -2 * HOUR, max: 2 * HOUR }) })
  .map(({ base: { zone, millis }, shift }) => ({ zone, local: wallAt(wallMillis(toLocal(zone, new Date(millis))) + shift) }));

/** Transitions that move the clocks forward, with the length of the wall time they skip. */
const GAPS = TRANSITIONS.map(([zone, millis]) => ({ zone, millis, gap: offsetAt(zone, millis) - offsetAt(zone, millis - 1) })).filter(
  ({ gap }) => gap > 0,
);

/** Wall times that the clocks skip: from the wall time just before a forward transition, up to `gap` later. */
const gapArb = () =>
  fc
    .record({ transition: fc.constantFrom(...GAPS), fraction: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) })
    .map(({ transition: { zone, millis, gap }, fraction }) => ({
      zone,
      gap,
      local: wallAt(wallMillis(toLocal(zone, new Date(millis - 1))) + 1 + Math.floor(fraction * gap)),
    }));

/**
 * Every instant showing `local`, found without fromLocal: the offsets the zone used within 26 hours
 * (each stays in effect for more than an hour) are the only ones that can map an instant to it.
 */
function instantsShowing(zone: string, local: LocalDateTime): number[] {
  const target = wallMillis(local);
  const offsets = new Set<number>();
  for (let u = target - 26 * HOUR; u <= target + 26 * HOUR; u += HOUR) offsets.add(offsetAt(zone, u));
  return [...offsets]
    .map((offset) => target - offset)
    .filter((u) => wallMillis(toLocal(zone, new Date(u))) === target)
    .sort((a, b) => a - b);
}

describe('zoned time properties', () => {
  it('UTC, read without Intl, shows what Etc/GMT read through Intl shows, from 9999 BC to 9999 AD, both ways', () => {
    const YEAR = 365.25 * DAY;
    fc.assert(
      fc.property(fc.integer({ min: Math.round(-11_968 * YEAR), max: Math.round(8_029 * YEAR) }), (millis) => {
        const local = toLocal('Etc/GMT', new Date(millis));
        expect(toLocal('UTC', new Date(millis))).toEqual(local);
        expect(toLocal('Etc/UTC', new Date(millis))).toEqual(local);
        expect(fromLocal('UTC', local).getTime()).toBe(fromLocal('Etc/GMT', local).getTime());
      }),
      { numRuns: 2000 },
    );
    expect(toLocal('UTC', at('-000001-12-31T23:59:59.999Z'))).toEqual({ year: -1, month: 12, day: 31, hour: 23, minute: 59, second: 59, millisecond: 999 });
  });

  it('a wall time that the clocks show reads back unchanged, as its earliest occurrence', () => {
    fc.assert(
      fc.property(wallTimeArb, ({ zone, local }) => {
        const showing = instantsShowing(zone, local);
        fc.pre(showing.length > 0);
        const result = fromLocal(zone, local);
        expect(toLocal(zone, result)).toEqual(local);
        expect(result.getTime()).toBe(showing[0]);
      }),
      { numRuns: 400 },
    );
  });

  it('a wall time in a gap moves forward by exactly the length of the gap', () => {
    expect(GAPS.length).toBeGreaterThan(20);
    fc.assert(
      fc.property(gapArb(), ({ zone, gap, local }) => {
        expect(instantsShowing(zone, local)).toEqual([]);
        const result = fromLocal(zone, local);
        expect(wallMillis(toLocal(zone, result))).toBe(wallMillis(local) + gap);
      }),
      { numRuns: 300 },
    );
  });

  it('reading an instant on the wall clock and back gives the instant, or an earlier one showing the same time in an overlap', () => {
    fc.assert(
      fc.property(instantArb, ({ zone, millis }) => {
        const local = toLocal(zone, new Date(millis));
        const back = fromLocal(zone, local).getTime();
        if (back !== millis) {
          expect(back).toBeLessThan(millis);
          expect(millis - back).toBeLessThanOrEqual(DAY);
          expect(toLocal(zone, new Date(back))).toEqual(local);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the samples reach both gaps and overlaps (a guard on the generators above)', () => {
    const samples = fc.sample(wallTimeArb, { numRuns: 2000, seed: 42 });
    const counts = samples.map(({ zone, local }) => instantsShowing(zone, local).length);
    expect(counts.filter((n) => n === 0).length).toBeGreaterThan(20);
    expect(counts.filter((n) => n === 2).length).toBeGreaterThan(20);
  });

  it('in New York, on each clock-change day from 2007 (second Sunday of March, first of November), only 02:00-02:59 in March is skipped and only 01:00-01:59 in November repeats', () => {
    const sundays = (year: number, month: number): number[] => {
      const days: number[] = [];
      for (let day = 1; day <= 14; day++) if (new Date(Date.UTC(year, month - 1, day)).getUTCDay() === 0) days.push(day);
      return days;
    };
    const arb = fc.record({
      year: fc.integer({ min: 2007, max: 2099 }),
      spring: fc.boolean(),
      minuteOfNight: fc.integer({ min: 0, max: 4 * 60 - 1 }),
      millisecond: fc.integer({ min: 0, max: 59_999 }),
    });
    fc.assert(
      fc.property(arb, ({ year, spring, minuteOfNight, millisecond }) => {
        const day = spring ? sundays(year, 3)[1] : sundays(year, 11)[0];
        const local = {
          year,
          month: spring ? 3 : 11,
          day,
          hour: Math.floor(minuteOfNight / 60),
          minute: minuteOfNight % 60,
          second: Math.floor(millisecond / 1000),
          millisecond: millisecond % 1000,
        };
        // Standard time is UTC-5, daylight time UTC-4. In spring EST ends at 02:00 and a skipped wall
        // time is read in EST; in autumn EDT runs until the second 01:00 and a repeated one is read in EDT.
        const edt = spring ? local.hour >= 2 : local.hour < 2;
        const expectedOffset = spring && local.hour === 2 ? -5 : edt ? -4 : -5;
        expect(fromLocal('America/New_York', local).getTime()).toBe(wallMillis(local) - expectedOffset * HOUR);
      }),
      { numRuns: 500 },
    );
  });
});
