import Decimal from 'decimal.js';
import fc from 'fast-check';
import { fitsCurrency } from '../../../domain/money';
import { segmentAmount } from '../../../domain/proration';
import {
  completedPeriods,
  RECOGNITION_METHODS,
  recognisedThrough,
  recognitionPeriodOf,
  type Obligation,
  type RecognitionMethod,
} from '../../../domain/revenue-recognition';
import { CURRENCIES_BY_EXPONENT } from './arbitraries';
import { formatMinor } from './decimal-oracle';

const DAY = 86_400_000;
const at = (iso: string): Date => new Date(iso);
const d = (value: Decimal.Value): Decimal => new Decimal(value);
const usd = (revenue: string, start: string, end: string, discount = '0.00'): Obligation => ({
  revenue: d(revenue),
  discount: d(discount),
  serviceStart: at(start),
  serviceEnd: at(end),
  currency: 'USD',
});
const recognised = (o: Obligation, method: RecognitionMethod, instant: string): string => recognisedThrough(o, method, at(instant)).revenue.toFixed(2);

describe('a yearly 1,200.00 plan started on 15 June 2026', () => {
  const yearly = usd('1200.00', '2026-06-15T00:00:00Z', '2027-06-15T00:00:00Z');

  it('by day recognises 1,200 x 16/365 = 52.60 in June (15 to 30 June is 16 of the year\'s 365 days)', () => {
    // 1200 x 16 / 365 = 52.6027... -> 52.60
    expect(recognised(yearly, 'daily', '2026-07-01T00:00:00Z')).toBe('52.60');
    // Still 52.60 a moment before the end of July's first day, which ends at 2 July 00:00.
    expect(recognised(yearly, 'daily', '2026-07-01T23:59:59.999Z')).toBe('52.60');
  });

  it('by day recognises each day when it ends: 3.29, then 6.58 (cumulative rounding), nothing during the first day', () => {
    expect(recognised(yearly, 'daily', '2026-06-15T12:00:00Z')).toBe('0.00');
    // 1200/365 = 3.28767 -> 3.29; 2400/365 = 6.57534 -> 6.58; 3600/365 = 9.86301 -> 9.86 (the third day is 3.28).
    expect(recognised(yearly, 'daily', '2026-06-16T00:00:00Z')).toBe('3.29');
    expect(recognised(yearly, 'daily', '2026-06-17T00:00:00Z')).toBe('6.58');
    expect(recognised(yearly, 'daily', '2026-06-18T00:00:00Z')).toBe('9.86');
  });

  it('monthly, evenly with the first month prorated, recognises 1,200 x (16/30)/12 = 53.33 in June', () => {
    // June has 30 days, 16 of them served: 16/30 of one month's 100.00 = 53.333... -> 53.33.
    expect(recognised(yearly, 'monthly', '2026-07-01T00:00:00Z')).toBe('53.33');
    // Nothing until June has ended; July is a whole 100.00.
    expect(recognised(yearly, 'monthly', '2026-06-30T23:59:59.999Z')).toBe('0.00');
    expect(recognised(yearly, 'monthly', '2026-08-01T00:00:00Z')).toBe('153.33');
    // June 2027 holds the last 14 days: 14/30 of 100.00 = 46.67, so by 1 June 2027 1,200 - 46.67 is recognised.
    expect(recognised(yearly, 'monthly', '2027-06-01T00:00:00Z')).toBe('1153.33');
  });

  it('by the millisecond recognises 16 days of the year\'s 365 in June too, and half a day at noon', () => {
    expect(recognised(yearly, 'millisecond', '2026-07-01T00:00:00Z')).toBe('52.60');
    // Half a day: 1200 x 0.5/365 = 1.6438 -> 1.64.
    expect(recognised(yearly, 'millisecond', '2026-06-15T12:00:00Z')).toBe('1.64');
  });

  it('every method has recognised all of it when the service ends, and nothing before it starts', () => {
    for (const method of RECOGNITION_METHODS) {
      expect(recognised(yearly, method, '2026-06-14T23:59:59.999Z')).toBe('0.00');
      expect(recognised(yearly, method, '2027-06-15T00:00:00Z')).toBe('1200.00');
    }
  });

  it('a 10% coupon is recognised alongside: by day 120.00 x 16/365 = 5.26 of discount in June', () => {
    const discounted = usd('1200.00', '2026-06-15T00:00:00Z', '2027-06-15T00:00:00Z', '120.00');
    // 120 x 16/365 = 5.2603 -> 5.26; the net revenue of June is 52.60 - 5.26 = 47.34.
    const june = recognisedThrough(discounted, 'daily', at('2026-07-01T00:00:00Z'));
    expect(june.discount.toFixed(2)).toBe('5.26');
    expect(june.revenue.minus(june.discount).toFixed(2)).toBe('47.34');
  });
});

describe('a leap year: the period 15 June 2027 to 15 June 2028 contains 29 February 2028, so it has 366 days', () => {
  const leap = usd('1200.00', '2027-06-15T00:00:00Z', '2028-06-15T00:00:00Z');

  it('by day each day is 1/366: June 2027 is 1,200 x 16/366 = 52.46 and February 2028 is 1,200 x 29/366 = 95.08', () => {
    // 1200 x 16/366 = 52.459 -> 52.46
    expect(recognised(leap, 'daily', '2027-07-01T00:00:00Z')).toBe('52.46');
    // 15 June 2027 to 31 January 2028 is 231 days: 1200 x 231/366 = 757.377 -> 757.38.
    // To 29 February 2028, 260 days: 1200 x 260/366 = 852.459 -> 852.46. February's share: 95.08.
    expect(recognised(leap, 'daily', '2028-02-01T00:00:00Z')).toBe('757.38');
    expect(recognised(leap, 'daily', '2028-03-01T00:00:00Z')).toBe('852.46');
  });

  it('monthly, February 2028 is one month\'s 100.00 like any other', () => {
    // June 2027: 16/30 of 100.00 = 53.33; then July to January, 7 x 100.00: 753.33; February: 853.33.
    expect(recognised(leap, 'monthly', '2028-02-01T00:00:00Z')).toBe('753.33');
    expect(recognised(leap, 'monthly', '2028-03-01T00:00:00Z')).toBe('853.33');
  });
});

describe('a plan change mid-period: the credit line reverses the part not yet recognised', () => {
  // The yearly plan is cancelled with proration at 10 September 2026 00:00: 87 days served
  // (15 June to 9 September), 278 left. The credit line gives back 1200 x 278/365 = 913.972 -> 913.97.
  const original = usd('1200.00', '2026-06-15T00:00:00Z', '2027-06-15T00:00:00Z');
  const year = { start: at('2026-06-15T00:00:00Z'), end: at('2027-06-15T00:00:00Z') };
  const creditAmount = segmentAmount(d('1200.00'), year, at('2026-09-10T00:00:00Z'), year.end, 'USD').negated();
  const credit: Obligation = { ...original, revenue: creditAmount, serviceStart: at('2026-09-10T00:00:00Z') };
  const both = (method: RecognitionMethod, instant: string) =>
    recognisedThrough(original, method, at(instant)).revenue.plus(recognisedThrough(credit, method, at(instant)).revenue).toFixed(2);

  it('the credit is -913.97, and when it is issued the original has recognised 1,200 x 87/365 = 286.03: nothing is left deferred', () => {
    expect(creditAmount.toFixed(2)).toBe('-913.97');
    expect(recognised(original, 'daily', '2026-09-10T00:00:00Z')).toBe('286.03');
    expect(recognised(credit, 'daily', '2026-09-10T00:00:00Z')).toBe('0.00');
    // Deferred: (1200.00 - 286.03) + (-913.97 - 0.00) = 0.00
    expect(d('1200.00').minus('286.03').plus(creditAmount).toFixed(2)).toBe('0.00');
  });

  it('over the days after, the two lines offset each other to within a cent of rounding', () => {
    // At 1 January 2027: the original 200 days, 1200 x 200/365 = 657.534 -> 657.53; the credit 113 of
    // its 278 days, -913.97 x 113/278 = -371.506 -> -371.51. Together 286.02, a cent of rounding off 286.03.
    expect(recognised(original, 'daily', '2027-01-01T00:00:00Z')).toBe('657.53');
    expect(recognised(credit, 'daily', '2027-01-01T00:00:00Z')).toBe('-371.51');
    expect(both('daily', '2027-01-01T00:00:00Z')).toBe('286.02');
    for (let day = at('2026-09-10T00:00:00Z').getTime(); day <= year.end.getTime(); day += DAY) {
      const net = d(both('daily', new Date(day).toISOString()));
      expect(net.minus('286.03').abs().lte('0.01')).toBe(true);
    }
  });

  it('by the end of the year exactly the 286.03 served remains as revenue, whatever the method', () => {
    for (const method of RECOGNITION_METHODS) expect(both(method, '2027-06-15T00:00:00Z')).toBe('286.03');
  });
});

describe('recognition periods', () => {
  it('are UTC days for daily and millisecond, UTC months for monthly', () => {
    expect(recognitionPeriodOf('daily', at('2026-06-15T13:00:00Z'))).toEqual({ key: '2026-06-15', start: at('2026-06-15T00:00:00Z'), end: at('2026-06-16T00:00:00Z') });
    expect(recognitionPeriodOf('millisecond', at('2026-12-31T23:59:59.999Z')).key).toBe('2026-12-31');
    expect(recognitionPeriodOf('monthly', at('2026-12-31T23:59:59.999Z'))).toEqual({ key: '2026-12', start: at('2026-12-01T00:00:00Z'), end: at('2027-01-01T00:00:00Z') });
  });

  it('only completed periods are listed: on 3 July at noon, 1 and 2 July but not 3 July', () => {
    expect(completedPeriods('daily', at('2026-07-01T05:00:00Z'), at('2026-07-03T12:00:00Z'), 100).map((p) => p.key)).toEqual(['2026-07-01', '2026-07-02']);
    expect(completedPeriods('monthly', at('2026-06-15T00:00:00Z'), at('2026-08-01T00:00:00Z'), 100).map((p) => p.key)).toEqual(['2026-06', '2026-07']);
    expect(completedPeriods('daily', at('2026-07-01T00:00:00Z'), at('2026-12-31T00:00:00Z'), 3)).toHaveLength(3);
  });
});

describe('properties', () => {
  const obligationArb = fc
    .record({
      currency: fc.constantFrom(...CURRENCIES_BY_EXPONENT),
      minor: fc.oneof(fc.bigInt({ min: -(10n ** 6n), max: 10n ** 6n }), fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n })),
      discountShare: fc.integer({ min: 0, max: 100 }),
      start: fc.integer({ min: at('2000-01-01T00:00:00Z').getTime(), max: at('2100-01-01T00:00:00Z').getTime() }),
      length: fc.oneof(fc.integer({ min: 0, max: 3 * DAY }), fc.integer({ min: 1, max: 800 * DAY })),
    })
    .map(({ currency: [currency, exponent], minor, discountShare, start, length }): Obligation => {
      // A discount never exceeds a positive line and a credit line carries none, as buildInvoice allots them.
      const discountMinor = minor > 0n ? (minor * BigInt(discountShare)) / 100n : 0n;
      return {
        revenue: d(formatMinor(minor, exponent)),
        discount: d(formatMinor(discountMinor, exponent)),
        serviceStart: new Date(start),
        serviceEnd: new Date(start + length),
        currency,
      };
    });
  const instantsArb = (o: Obligation) =>
    fc
      .array(fc.integer({ min: o.serviceStart.getTime() - 40 * DAY, max: o.serviceEnd.getTime() + 40 * DAY }), { minLength: 1, maxLength: 20 })
      .map((ts) => ts.sort((a, b) => a - b).map((t) => new Date(t)));
  const caseArb = obligationArb.chain((o) => fc.record({ o: fc.constant(o), method: fc.constantFrom(...RECOGNITION_METHODS), instants: instantsArb(o) }));

  it('recognised + deferred = revenue at every instant, never more than the total nor of the other sign, never decreasing', () => {
    fc.assert(
      fc.property(caseArb, ({ o, method, instants }) => {
        let previous = { revenue: d(0), discount: d(0) };
        for (const instant of instants) {
          const now = recognisedThrough(o, method, instant);
          for (const part of ['revenue', 'discount'] as const) {
            const deferred = o[part].minus(now[part]);
            expect(now[part].plus(deferred).equals(o[part])).toBe(true);
            expect(fitsCurrency(now[part], o.currency)).toBe(true);
            // Same sign as the total (or zero), and no further from zero than it.
            expect(now[part].isZero() || now[part].isNegative() === o[part].isNegative()).toBe(true);
            expect(now[part].abs().lte(o[part].abs())).toBe(true);
            expect(now[part].abs().gte(previous[part].abs())).toBe(true);
          }
          previous = now;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('nothing is recognised before the service starts, all of it by the time it ends', () => {
    fc.assert(
      fc.property(obligationArb, fc.constantFrom(...RECOGNITION_METHODS), fc.integer({ min: 1, max: 400 * DAY }), (o, method, offset) => {
        const before = recognisedThrough(o, method, new Date(o.serviceStart.getTime() - offset));
        expect(before.revenue.isZero() && before.discount.isZero()).toBe(true);
        for (const after of [o.serviceEnd, new Date(o.serviceEnd.getTime() + offset)]) {
          const all = recognisedThrough(o, method, after);
          expect(all.revenue.equals(o.revenue) && all.discount.equals(o.discount)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the postings of consecutive periods add up to the total exactly', () => {
    fc.assert(
      fc.property(obligationArb, fc.constantFrom(...RECOGNITION_METHODS), (o, method) => {
        const periods = completedPeriods(method, o.serviceStart, new Date(o.serviceEnd.getTime() + 32 * DAY), 1000);
        let posted = d(0);
        let recognisedSoFar = d(0);
        for (const p of periods) {
          const due = recognisedThrough(o, method, p.end).revenue;
          posted = posted.plus(due.minus(recognisedSoFar));
          recognisedSoFar = due;
        }
        expect(posted.equals(o.revenue)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
