import Decimal from 'decimal.js';
import fc from 'fast-check';
import { BillingError } from '../../../domain/errors';
import { ChargePrice, priceUsage, Tier } from '../../../domain/pricing';
import {
  aggregateEvents,
  Aggregation,
  assertValidMetric,
  compareEvents,
  eventValue,
  UsageEventValue,
  weightedQuantity,
  Window,
} from '../../../domain/usage';
import { currencyArb, decimalStringArb } from './arbitraries';
import { formatMinor } from './decimal-oracle';

const DAY_MS = 86_400_000;

/** April 2026: a 30-day window. */
const APRIL: Window = { start: new Date('2026-04-01T00:00:00.000Z'), end: new Date('2026-05-01T00:00:00.000Z') };

const event = (transactionId: string, iso: string, value: string | null): UsageEventValue => ({
  transactionId,
  timestamp: new Date(iso),
  value,
});

const quantity = (aggregation: Aggregation, events: UsageEventValue[], opening?: string): string =>
  aggregateEvents(aggregation, events, APRIL, opening === undefined ? undefined : new Decimal(opening)).toFixed();

describe('aggregateEvents: what a period of events comes to', () => {
  const calls = [
    event('evt_1', '2026-04-02T10:00:00.000Z', '2'),
    event('evt_2', '2026-04-09T10:00:00.000Z', '3.5'),
    event('evt_3', '2026-04-20T10:00:00.000Z', '0.1'),
  ];

  it('count: three events are 3, whatever their values', () => {
    expect(quantity('count', calls)).toBe('3');
    expect(quantity('count', [])).toBe('0');
  });

  it('sum: 2 + 3.5 + 0.1 = 5.6 exactly', () => {
    expect(quantity('sum', calls)).toBe('5.6');
  });

  it('sum: 0.1 + 0.2 is exactly 0.3 (no float in between)', () => {
    expect(quantity('sum', [event('a', '2026-04-02T00:00:00Z', '0.1'), event('b', '2026-04-03T00:00:00Z', '0.2')])).toBe('0.3');
  });

  it('sum: large values keep every digit: 12345678901234567890.5 + 0.25 = 12345678901234567890.75', () => {
    const big = [event('a', '2026-04-02T00:00:00Z', '12345678901234567890.5'), event('b', '2026-04-03T00:00:00Z', '0.25')];
    expect(quantity('sum', big)).toBe('12345678901234567890.75');
  });

  it('sum of no events is 0', () => {
    expect(quantity('sum', [])).toBe('0');
  });

  it('max: the largest of 2, 7.25 and -1 is 7.25; no events is 0', () => {
    const values = [event('a', '2026-04-02T00:00:00Z', '2'), event('b', '2026-04-03T00:00:00Z', '7.25'), event('c', '2026-04-04T00:00:00Z', '-1')];
    expect(quantity('max', values)).toBe('7.25');
    expect(quantity('max', [])).toBe('0');
  });

  it('unique_count: users u_1, u_2, u_1 are 2 distinct users', () => {
    const logins = [event('a', '2026-04-02T00:00:00Z', 'u_1'), event('b', '2026-04-03T00:00:00Z', 'u_2'), event('c', '2026-04-04T00:00:00Z', 'u_1')];
    expect(quantity('unique_count', logins)).toBe('2');
    expect(quantity('unique_count', [])).toBe('0');
  });

  it('latest: the value of the event with the latest timestamp (2), not the last one received (9)', () => {
    const readings = [
      event('evt_1', '2026-04-05T00:00:00Z', '5'),
      event('evt_2', '2026-04-25T00:00:00Z', '2'),
      event('evt_3', '2026-04-15T00:00:00Z', '9'),
    ];
    expect(quantity('latest', readings)).toBe('2');
    expect(quantity('latest', [])).toBe('0');
  });

  it('latest: of two events with the same timestamp, the greater transaction id wins, in whatever order they arrive', () => {
    const a = event('evt_a', '2026-04-25T00:00:00Z', '4');
    const b = event('evt_b', '2026-04-25T00:00:00Z', '6');
    expect(quantity('latest', [a, b])).toBe('6');
    expect(quantity('latest', [b, a])).toBe('6');
  });

  it('compareEvents orders by timestamp, then transaction id, and only an event equals itself', () => {
    const a = event('evt_a', '2026-04-25T00:00:00Z', '4');
    const b = event('evt_b', '2026-04-25T00:00:00Z', '6');
    const earlier = event('evt_z', '2026-04-24T00:00:00Z', '1');
    expect(compareEvents(a, b)).toBeLessThan(0);
    expect(compareEvents(b, a)).toBeGreaterThan(0);
    expect(compareEvents(earlier, a)).toBeLessThan(0);
    expect(compareEvents(a, { ...a })).toBe(0);
  });
});

describe('weighted_sum: the average level over the window', () => {
  it('10 seats for 15 days, then 16 for 15 days, over 30 days average 13', () => {
    // (10 x 15 + 16 x 15) / 30 = (150 + 240) / 30 = 13
    const seats = [event('add_10', '2026-04-01T00:00:00Z', '10'), event('add_6', '2026-04-16T00:00:00Z', '6')];
    expect(quantity('weighted_sum', seats)).toBe('13');
  });

  it('a level opened before the window carries in: opening 10, +6 on day 15 averages 13', () => {
    expect(quantity('weighted_sum', [event('add_6', '2026-04-16T00:00:00Z', '6')], '10')).toBe('13');
  });

  it('with no events in the window the opening level is held all period: 7 seats average 7', () => {
    expect(quantity('weighted_sum', [], '7')).toBe('7');
    expect(quantity('weighted_sum', [])).toBe('0');
  });

  it('removals lower the level: opening 10, +6 on day 15, -16 on day 25 averages 310 / 30 = 10.3333333333', () => {
    // 10 x 15 + 16 x 10 + 0 x 5 = 310 seat-days; 310 / 30 = 10.333... kept to 10 decimals
    const changes = [event('add_6', '2026-04-16T00:00:00Z', '6'), event('remove_16', '2026-04-26T00:00:00Z', '-16')];
    expect(quantity('weighted_sum', changes, '10')).toBe('10.3333333333');
  });

  it('events are applied in time order, not arrival order', () => {
    // +3 on day 10 and +3 on day 20: 3 x 10 + 6 x 10 = 90 seat-days; 90 / 30 = 3
    const late = event('b', '2026-04-21T00:00:00Z', '3');
    const early = event('a', '2026-04-11T00:00:00Z', '3');
    expect(quantity('weighted_sum', [late, early])).toBe('3');
  });

  it('one seat for 20 of 30 days averages 0.6666666667 (rounded half-up at 10 decimals)', () => {
    expect(quantity('weighted_sum', [event('a', '2026-04-11T00:00:00Z', '1')])).toBe('0.6666666667');
  });

  it('weightedQuantity of an empty window is 0 rather than a division by zero', () => {
    expect(weightedQuantity(new Decimal(5), { start: APRIL.start, end: APRIL.start }).isZero()).toBe(true);
  });
});

describe('eventValue: what an event property contributes, or why the event is refused', () => {
  it('reads a decimal string exactly: "0.1" stays "0.1", "1250.75" stays "1250.75"', () => {
    expect(eventValue('sum', 'amount', { amount: '0.1' })).toEqual({ value: '0.1' });
    expect(eventValue('sum', 'amount', { amount: '1250.75' })).toEqual({ value: '1250.75' });
  });

  it('reads a JSON number as the number it printed as: 0.1 is "0.1", 42 is "42", -3 is "-3"', () => {
    expect(eventValue('sum', 'amount', JSON.parse('{"amount": 0.1}'))).toEqual({ value: '0.1' });
    expect(eventValue('max', 'amount', { amount: 42 })).toEqual({ value: '42' });
    expect(eventValue('weighted_sum', 'seats', { seats: -3 })).toEqual({ value: '-3' });
  });

  it('reads exponent notation and surrounding spaces: "1e3" is "1000", " 42 " is "42"', () => {
    expect(eventValue('sum', 'amount', { amount: '1e3' })).toEqual({ value: '1000' });
    expect(eventValue('sum', 'amount', { amount: ' 42 ' })).toEqual({ value: '42' });
  });

  it('stores a whole count, as a string or a number, exactly as its decimal reading would write it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom('sum', 'max', 'weighted_sum'), (n: number, aggregation: 'sum' | 'max' | 'weighted_sum') => {
        const written = new Decimal(n).toFixed();
        expect(eventValue(aggregation, 'tokens', { tokens: String(n) })).toEqual({ value: written });
        expect(eventValue(aggregation, 'tokens', { tokens: n })).toEqual({ value: written });
      }),
    );
    expect(eventValue('sum', 'tokens', { tokens: '007' })).toEqual({ value: '7' });
    expect(eventValue('sum', 'tokens', { tokens: '0' })).toEqual({ value: '0' });
    expect(eventValue('sum', 'tokens', { tokens: -0 })).toEqual({ value: '0' });
  });

  it('refuses an event without the field, or with it null', () => {
    expect(eventValue('sum', 'amount', {})).toMatchObject({ code: 'field_missing' });
    expect(eventValue('sum', 'amount', undefined)).toMatchObject({ code: 'field_missing' });
    expect(eventValue('sum', 'amount', { amount: null })).toMatchObject({ code: 'field_missing' });
    expect(eventValue('unique_count', 'user_id', { other: 'u_1' })).toMatchObject({ code: 'field_missing' });
  });

  it.each([['12 GB'], [''], ['abc'], ['1,000'], ['0x10'], ['NaN'], [true], [{ value: 1 }], [[1]]])(
    'refuses %p where a number is needed',
    (raw) => {
      expect(eventValue('sum', 'amount', { amount: raw })).toMatchObject({ code: 'value_not_numeric' });
    },
  );

  it('refuses a JSON number beyond 2^53, which the parser has already rounded, and asks for a string', () => {
    const parsed = JSON.parse('{"bytes": 9007199254740993}');
    expect(parsed.bytes).toBe(9007199254740992); // the 3 is already lost
    const result = eventValue('sum', 'bytes', parsed);
    expect(result).toMatchObject({ code: 'value_not_numeric' });
    expect('error' in result && result.error).toMatch(/send it as a decimal string/);
  });

  it('accepts the largest safe JSON integer, 2^53 - 1, and the same big value as a string, exactly', () => {
    expect(eventValue('sum', 'bytes', { bytes: 9007199254740991 })).toEqual({ value: '9007199254740991' });
    expect(eventValue('sum', 'bytes', { bytes: '9007199254740993' })).toEqual({ value: '9007199254740993' });
  });

  it('refuses magnitudes outside 1e-12 to 1e24, as a string or as a number alike', () => {
    expect(eventValue('sum', 'amount', { amount: '1e24' })).toMatchObject({ code: 'value_out_of_range' });
    expect(eventValue('sum', 'amount', { amount: '0.0000000000001' })).toMatchObject({ code: 'value_out_of_range' });
    expect(eventValue('sum', 'amount', { amount: 1e-13 })).toMatchObject({ code: 'value_out_of_range' });
    expect(eventValue('sum', 'amount', { amount: '0.000000000001' })).toEqual({ value: '0.000000000001' });
    expect(eventValue('sum', 'amount', { amount: '0' })).toEqual({ value: '0' });
  });

  it('refuses non-finite numbers', () => {
    expect(eventValue('sum', 'amount', { amount: Infinity })).toMatchObject({ code: 'value_not_numeric' });
    expect(eventValue('sum', 'amount', { amount: NaN })).toMatchObject({ code: 'value_not_numeric' });
  });

  it('unique_count counts any string: "user_42" and "2026-04-01" are taken as they are', () => {
    expect(eventValue('unique_count', 'user_id', { user_id: 'user_42' })).toEqual({ value: 'user_42' });
    expect(eventValue('unique_count', 'day', { day: '2026-04-01' })).toEqual({ value: '2026-04-01' });
  });

  it('unique_count counts a number and its string as the same value', () => {
    expect(eventValue('unique_count', 'user_id', { user_id: 42 })).toEqual({ value: '42' });
    expect(eventValue('unique_count', 'user_id', { user_id: '42' })).toEqual({ value: '42' });
  });

  it('unique_count refuses an object, which has no value to compare', () => {
    expect(eventValue('unique_count', 'user_id', { user_id: { id: 1 } })).toMatchObject({ code: 'value_invalid' });
  });

  it('count reads no property: every event counts, whatever it carries', () => {
    expect(eventValue('count', null, undefined)).toEqual({ value: null });
    expect(eventValue('count', null, { anything: 'x' })).toEqual({ value: null });
  });

  it('values read from properties aggregate exactly: three events of "0.1" sum to 0.3', () => {
    const values = ['0.1', '0.1', '0.1'].map((amount, i) => {
      const read = eventValue('sum', 'amount', { amount });
      if (!('value' in read)) throw new Error(read.error);
      return event(`evt_${i}`, `2026-04-0${i + 2}T00:00:00Z`, read.value);
    });
    expect(quantity('sum', values)).toBe('0.3');
  });
});

describe('assertValidMetric', () => {
  it('a numeric or unique aggregation needs the field it reads', () => {
    for (const aggregation of ['sum', 'max', 'unique_count', 'latest', 'weighted_sum'] as const) {
      expect(() => assertValidMetric(aggregation, undefined)).toThrow(BillingError);
      expect(() => assertValidMetric(aggregation, 'amount')).not.toThrow();
    }
  });

  it('count refuses a field, since it would be silently ignored', () => {
    expect(() => assertValidMetric('count', 'amount')).toThrow(/count reads no property/);
    expect(() => assertValidMetric('count', undefined)).not.toThrow();
  });
});

/** An event's value as an integer count of 10^-scale, so it can be split into integer parts. */
interface ScaledEvent {
  offsetMs: number;
  units: bigint;
  scale: number;
}

const WINDOW_MS = APRIL.end.getTime() - APRIL.start.getTime();

const scaledEventArb: fc.Arbitrary<ScaledEvent> = fc.record({
  offsetMs: fc.integer({ min: 0, max: WINDOW_MS - 1 }),
  units: fc.bigInt({ min: 0n, max: 10n ** 10n }),
  scale: fc.integer({ min: 0, max: 6 }),
});

/** The event, and the same event split into 1..4 events at the same timestamp whose values add up to it. */
const splitEventArb = scaledEventArb.chain((whole) =>
  fc
    .array(fc.bigInt({ min: 0n, max: whole.units }), { maxLength: 3 })
    .map((cuts) => {
      const points = [0n, ...cuts.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), whole.units];
      const parts = points.slice(1).map((p, i) => p - points[i]);
      return { whole, parts };
    }),
);

const toEvent = (id: string, offsetMs: number, units: bigint, scale: number): UsageEventValue => ({
  transactionId: id,
  timestamp: new Date(APRIL.start.getTime() + offsetMs),
  value: formatMinor(units, scale),
});

const priceAmountArb = decimalStringArb({ nonNegative: true, maxMagnitude: 10n ** 8n }).map((s) => new Decimal(s));

const tiersArb: fc.Arbitrary<Tier[]> = fc
  .uniqueArray(fc.integer({ min: 1, max: 10 ** 7 }), { minLength: 0, maxLength: 4 })
  .chain((bounds) =>
    fc.array(fc.tuple(priceAmountArb, priceAmountArb), { minLength: bounds.length + 1, maxLength: bounds.length + 1 }).map((amounts) =>
      [...bounds.sort((a, b) => a - b).map((b) => new Decimal(b)), null].map((upTo, i) => ({ upTo, unitAmount: amounts[i][0], flatAmount: amounts[i][1] })),
    ),
  );

/**
 * Every charge model, except that the percentage model's fixed_amount is always zero here: it is a fee
 * per event by definition, so three events of 1.00 rightly pay it three times where one event of 3.00
 * pays it once. Its rate part, like every other model, depends only on the aggregated quantity.
 */
const priceArb: fc.Arbitrary<ChargePrice> = fc.oneof(
  priceAmountArb.map((unitAmount): ChargePrice => ({ model: 'standard', unitAmount })),
  tiersArb.map((tiers): ChargePrice => ({ model: 'graduated', tiers })),
  tiersArb.map((tiers): ChargePrice => ({ model: 'volume', tiers })),
  fc
    .record({ size: fc.integer({ min: 1, max: 1000 }), amount: priceAmountArb, free: fc.integer({ min: 0, max: 10 ** 6 }) })
    .map(({ size, amount, free }): ChargePrice => ({ model: 'package', packageSize: new Decimal(size), amount, freeUnits: new Decimal(free) })),
  fc
    .record({ rate: fc.integer({ min: 0, max: 100_000 }), free: priceAmountArb })
    .map(({ rate, free }): ChargePrice => ({ model: 'percentage', rate: new Decimal(rate).dividedBy(1000), freeUnits: free, fixedAmount: new Decimal(0) })),
);

describe('usage properties', () => {
  it('splitting events into several at the same time, adding up to the same values, never changes the quantity or the amount (sum, weighted_sum)', () => {
    fc.assert(
      fc.property(
        fc.array(splitEventArb, { maxLength: 12 }),
        fc.constantFrom('sum' as const, 'weighted_sum' as const),
        decimalStringArb({ nonNegative: true, maxMagnitude: 10n ** 10n }),
        priceArb,
        currencyArb,
        (events, aggregation, opening, price, [currency]) => {
          const original = events.map(({ whole }, i) => toEvent(`evt_${i}`, whole.offsetMs, whole.units, whole.scale));
          const split = events.flatMap(({ whole, parts }, i) => parts.map((units, j) => toEvent(`evt_${i}_${j}`, whole.offsetMs, units, whole.scale)));
          const before = aggregateEvents(aggregation, original, APRIL, new Decimal(opening));
          const after = aggregateEvents(aggregation, split, APRIL, new Decimal(opening));
          expect(after.toFixed()).toBe(before.toFixed());
          const amountBefore = priceUsage(price, { quantity: before, eventCount: original.length }, currency).amount;
          const amountAfter = priceUsage(price, { quantity: after, eventCount: split.length }, currency).amount;
          expect(amountAfter.toFixed()).toBe(amountBefore.toFixed());
        },
      ),
      { numRuns: 500 },
    );
  });

  it('sum agrees with an integer sum of the values, and count with the number of events', () => {
    fc.assert(
      fc.property(fc.array(scaledEventArb, { maxLength: 20 }), (scaledEvents) => {
        const events = scaledEvents.map((e, i) => toEvent(`evt_${i}`, e.offsetMs, e.units, 6));
        const total = scaledEvents.reduce((acc, e) => acc + e.units, 0n);
        expect(aggregateEvents('sum', events, APRIL).toFixed(6)).toBe(formatMinor(total, 6));
        expect(aggregateEvents('count', events, APRIL).toNumber()).toBe(events.length);
      }),
    );
  });

  it('weighted_sum of a level held for whole days agrees with an integer day-by-day average', () => {
    const dailyChange = fc.record({ day: fc.integer({ min: 0, max: 29 }), delta: fc.integer({ min: -50, max: 50 }) });
    fc.assert(
      fc.property(fc.array(dailyChange, { maxLength: 10 }), fc.integer({ min: 0, max: 100 }), (changes, opening) => {
        const events = changes.map((c, i) => toEvent(`evt_${i}`, c.day * DAY_MS, BigInt(c.delta), 0));
        let levelDays = 0;
        for (let day = 0; day < 30; day++) {
          levelDays += opening + changes.filter((c) => c.day <= day).reduce((acc, c) => acc + c.delta, 0);
        }
        // levelDays / 30 to 10 decimals, half away from zero, in integers: (2 x |n| x 10^10 + 30) div 60
        const magnitude = BigInt(Math.abs(levelDays)) * 10n ** 10n;
        const rounded = (2n * magnitude + 30n) / 60n;
        const expected = formatMinor(levelDays < 0 ? -rounded : rounded, 10);
        expect(aggregateEvents('weighted_sum', events, APRIL, new Decimal(opening)).toFixed(10)).toBe(expected);
      }),
    );
  });
});
