import Decimal from 'decimal.js';
import fc from 'fast-check';
import { roundToCurrency } from '../../../domain/money';
import { segmentAmount, servedAmount, unusedAmount } from '../../../domain/proration';
import { formatMinor, scaled } from './decimal-oracle';

const DAY = 86_400_000;
const at = (iso: string): Date => new Date(iso);
const d = (value: Decimal.Value): Decimal => new Decimal(value);
const period = (start: string, end: string) => ({ start: at(start), end: at(end) });
const dayOf = (start: string, days: number): Date => new Date(at(start).getTime() + days * DAY);
/** The amount with the currency's decimals, after checking it has no more than those (toFixed would round). */
const text = (amount: Decimal, decimals: number): string => {
  expect(amount.decimalPlaces()).toBeLessThanOrEqual(decimals);
  return amount.toFixed(decimals);
};

describe('worked examples', () => {
  const april = period('2027-04-01T00:00:00Z', '2027-05-01T00:00:00Z'); // 30 days

  it('$30.00 over a 30-day period cut at day 10 and day 20 is 10.00 + 10.00 + 10.00', () => {
    // Served by day 10: 30 x 10/30 = 10.00; by day 20: 20.00; by day 30: 30.00. Segments: the differences.
    const cuts = [april.start, dayOf('2027-04-01T00:00:00Z', 10), dayOf('2027-04-01T00:00:00Z', 20), april.end];
    const segments = [0, 1, 2].map((i) => text(segmentAmount(d('30.00'), april, cuts[i], cuts[i + 1], 'USD'), 2));
    expect(segments).toEqual(['10.00', '10.00', '10.00']);
  });

  it('$10.00 over three equal thirds is 3.33 + 3.34 + 3.33: each third is a difference of rounded running totals', () => {
    // Served by 1/3: 3.333... -> 3.33. By 2/3: 6.666... -> 6.67. By the end: 10.00.
    // Segments: 3.33 - 0 = 3.33; 6.67 - 3.33 = 3.34; 10.00 - 6.67 = 3.33; total 10.00.
    const cuts = [0, 10, 20, 30].map((days) => dayOf('2027-04-01T00:00:00Z', days));
    expect(text(servedAmount(d('10.00'), april, cuts[1], 'USD'), 2)).toBe('3.33');
    expect(text(servedAmount(d('10.00'), april, cuts[2], 'USD'), 2)).toBe('6.67');
    const segments = [0, 1, 2].map((i) => text(segmentAmount(d('10.00'), april, cuts[i], cuts[i + 1], 'USD'), 2));
    expect(segments).toEqual(['3.33', '3.34', '3.33']);
  });

  it('$49.00 a month, upgraded 7 days into February 2027 (28 days): 12.25 served, 36.75 credited', () => {
    // 49.00 x 7/28 = 12.25 exactly; the unused rest is 49.00 - 12.25 = 36.75.
    const february = period('2027-02-01T00:00:00Z', '2027-03-01T00:00:00Z');
    const upgrade = at('2027-02-08T00:00:00Z');
    expect(text(servedAmount(d('49.00'), february, upgrade, 'USD'), 2)).toBe('12.25');
    expect(text(unusedAmount(d('49.00'), february, upgrade, 'USD'), 2)).toBe('36.75');
  });

  it('¥1000 over three thirds is ¥333 + ¥334 + ¥333 (yen have no decimals: 333.33 -> 333, 666.67 -> 667)', () => {
    const cuts = [0, 10, 20, 30].map((days) => dayOf('2027-04-01T00:00:00Z', days));
    const segments = [0, 1, 2].map((i) => text(segmentAmount(d('1000'), april, cuts[i], cuts[i + 1], 'JPY'), 0));
    expect(segments).toEqual(['333', '334', '333']);
  });

  it('10.000 KWD over a week, one day served: 10/7 = 1.428571... -> 1.429 served, 8.571 credited', () => {
    const week = period('2027-04-05T00:00:00Z', '2027-04-12T00:00:00Z');
    expect(text(servedAmount(d('10.000'), week, at('2027-04-06T00:00:00Z'), 'KWD'), 3)).toBe('1.429');
    expect(text(unusedAmount(d('10.000'), week, at('2027-04-06T00:00:00Z'), 'KWD'), 3)).toBe('8.571');
  });

  it('is exact to the millisecond: $86,400.00 a day is $0.001 per millisecond, so 4 ms is 0.00 and 5 ms is 0.01', () => {
    const day = period('2027-04-01T00:00:00.000Z', '2027-04-02T00:00:00.000Z');
    expect(text(servedAmount(d('86400.00'), day, at('2027-04-01T00:00:00.004Z'), 'USD'), 2)).toBe('0.00');
    expect(text(servedAmount(d('86400.00'), day, at('2027-04-01T00:00:00.005Z'), 'USD'), 2)).toBe('0.01');
  });

  it('half a cent rounds away from zero: half of $0.01 is 0.01 served and 0.00 for the second half; a credit mirrors it', () => {
    const mid = dayOf('2027-04-01T00:00:00Z', 15);
    expect(text(segmentAmount(d('0.01'), april, april.start, mid, 'USD'), 2)).toBe('0.01');
    expect(text(segmentAmount(d('0.01'), april, mid, april.end, 'USD'), 2)).toBe('0.00');
    expect(text(servedAmount(d('-0.01'), april, mid, 'USD'), 2)).toBe('-0.01');
  });

  it('a price with more decimals than the currency is rounded once: $9.999 is 10.00 in full, all of it unused at the start', () => {
    expect(text(servedAmount(d('9.999'), april, april.end, 'USD'), 2)).toBe('10.00');
    expect(text(unusedAmount(d('9.999'), april, april.start, 'USD'), 2)).toBe('10.00');
  });

  it('an instant outside the period is clamped: nothing is served before it starts, everything after it ends', () => {
    expect(text(servedAmount(d('49.00'), april, at('2027-03-01T00:00:00Z'), 'USD'), 2)).toBe('0.00');
    expect(text(servedAmount(d('49.00'), april, at('2027-06-01T00:00:00Z'), 'USD'), 2)).toBe('49.00');
    expect(text(unusedAmount(d('49.00'), april, at('2027-06-01T00:00:00Z'), 'USD'), 2)).toBe('0.00');
  });

  it('an empty or inverted period, and a segment ending before it starts, are refused with a RangeError', () => {
    expect(() => servedAmount(d('1'), period('2027-04-01T00:00:00Z', '2027-04-01T00:00:00Z'), april.start, 'USD')).toThrow(RangeError);
    expect(() => servedAmount(d('1'), period('2027-05-01T00:00:00Z', '2027-04-01T00:00:00Z'), april.start, 'USD')).toThrow(RangeError);
    expect(() => segmentAmount(d('1'), april, april.end, april.start, 'USD')).toThrow(RangeError);
    expect(() => servedAmount(d('1'), april, new Date(Number.NaN), 'USD')).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties over random periods, cut points, prices and currencies.

const CURRENCIES: ReadonlyArray<[string, number]> = [
  ['USD', 2],
  ['JPY', 0],
  ['KWD', 3],
];

/**
 * A price with 0..6 decimals below 10^15 major units (the range servedAmount promises exact
 * rounding for), possibly negative (a credit line); small and large magnitudes equally often.
 */
const priceArb = fc.integer({ min: 0, max: 6 }).chain((scale) => {
  const bound = (digits: number): bigint => 10n ** BigInt(digits + scale) - 1n;
  return fc
    .oneof(fc.bigInt({ min: -bound(3), max: bound(3) }), fc.bigInt({ min: -bound(15), max: bound(15) }))
    .map((units) => formatMinor(units, scale));
});

const periodArb = fc
  .record({
    start: fc.integer({ min: at('2000-01-01T00:00:00Z').getTime(), max: at('2100-01-01T00:00:00Z').getTime() }),
    length: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 400 * DAY })),
  })
  .map(({ start, length }) => ({ start: new Date(start), end: new Date(start + length) }));

/** A period with sorted cut points inside it (repeats allowed), from its start to its end. */
const partitionArb = periodArb.chain((p) =>
  fc
    .array(fc.integer({ min: p.start.getTime(), max: p.end.getTime() }), { maxLength: 12 })
    .map((cuts) => ({ period: p, points: [p.start.getTime(), ...cuts.sort((a, b) => a - b), p.end.getTime()].map((t) => new Date(t)) })),
);

/**
 * The served amount in minor units, from scaled integers with BigInt: price x elapsed / length,
 * rounded half away from zero. Shares no code with decimal.js.
 */
function servedOracle(price: string, p: { start: Date; end: Date }, instant: Date, exponent: number): string {
  const { units, scale } = scaled(price);
  const length = BigInt(p.end.getTime() - p.start.getTime());
  const elapsed = BigInt(Math.min(Math.max(instant.getTime() - p.start.getTime(), 0), p.end.getTime() - p.start.getTime()));
  const numerator = units * elapsed * 10n ** BigInt(exponent);
  const denominator = length * 10n ** BigInt(scale);
  const magnitude = numerator < 0n ? -numerator : numerator;
  let minor = magnitude / denominator;
  if (2n * (magnitude % denominator) >= denominator) minor += 1n;
  return formatMinor(numerator < 0n ? -minor : minor, exponent);
}

describe('proration properties', () => {
  it('the segments of any partition of a period add up to exactly the rounded price', () => {
    fc.assert(
      fc.property(partitionArb, priceArb, fc.constantFrom(...CURRENCIES), ({ period: p, points }, price, [currency, exponent]) => {
        const segments = points.slice(1).map((to, i) => segmentAmount(d(price), p, points[i], to, currency));
        const total = segments.reduce((a, b) => a.plus(b), d('0'));
        expect(text(total, exponent)).toBe(text(roundToCurrency(price, currency), exponent));
        // Each segment is a whole number of minor units, less than one unit from its exact share.
        for (const [i, segment] of segments.entries()) {
          expect(segment.decimalPlaces()).toBeLessThanOrEqual(exponent);
          const exact = d(price).times(points[i + 1].getTime() - points[i].getTime()).dividedBy(p.end.getTime() - p.start.getTime());
          expect(segment.minus(exact).abs().lessThan(d(10).pow(-exponent))).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the served amount is the exact pro-rata share rounded half away from zero (checked with BigInt)', () => {
    // Instants from a fifth of the period before it to a fifth after it, so clamping is covered too.
    const arb = fc.record({ p: periodArb, fraction: fc.double({ min: -0.2, max: 1.2, noNaN: true }) });
    fc.assert(
      fc.property(arb, priceArb, fc.constantFrom(...CURRENCIES), ({ p, fraction }, price, [currency, exponent]) => {
        const instant = new Date(p.start.getTime() + Math.round(fraction * (p.end.getTime() - p.start.getTime())));
        expect(text(servedAmount(d(price), p, instant, currency), exponent)).toBe(servedOracle(price, p, instant, exponent));
      }),
      { numRuns: 1000 },
    );
  });

  it('served and unused add up to the rounded price, and the served amount never shrinks as time passes', () => {
    const arb = partitionArb.filter(({ points }) => points.length >= 3);
    fc.assert(
      fc.property(arb, priceArb, fc.constantFrom(...CURRENCIES), ({ period: p, points }, price, [currency, exponent]) => {
        const [earlier, later] = [points[1], points[points.length - 2]];
        const served = servedAmount(d(price), p, later, currency);
        expect(text(served.plus(unusedAmount(d(price), p, later, currency)), exponent)).toBe(text(roundToCurrency(price, currency), exponent));
        const direction = d(price).isNegative() ? -1 : 1;
        expect(served.minus(servedAmount(d(price), p, earlier, currency)).times(direction).lessThan(0)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
