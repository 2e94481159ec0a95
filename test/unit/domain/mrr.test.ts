import Decimal from 'decimal.js';
import fc from 'fast-check';
import { lineMrr, monthlyPrice, mrrByMonth, type MrrLine } from '../../../domain/mrr';
import type { Interval } from '../../../domain/period';

const d = (text: string): Decimal => new Decimal(text);
const at = (iso: string): Date => new Date(iso);

/** A whole-period fee line of `price` per `interval`, untaxed and undiscounted. */
function fee(customerId: string, price: string, interval: Interval, from: string, to: string, extra: Partial<MrrLine> = {}): MrrLine {
  return {
    customerId,
    periodStart: at(from),
    periodEnd: at(to),
    endsAt: null,
    amount: d(price),
    price: { amount: d(price), interval, intervalCount: 1 },
    includedTax: d('0'),
    foreverDiscount: d('0'),
    ...extra,
  };
}

/** The figures of each month as strings with the currency's two decimals. */
function report(lines: MrrLine[], from: string, to: string) {
  return mrrByMonth(lines, 'USD', from, to).map((m) => ({
    month: m.month,
    start: m.start.toFixed(2),
    new: m.new.toFixed(2),
    expansion: m.expansion.toFixed(2),
    contraction: m.contraction.toFixed(2),
    churn: m.churn.toFixed(2),
    reactivation: m.reactivation.toFixed(2),
    end: m.end.toFixed(2),
  }));
}

const zero = { start: '0.00', new: '0.00', expansion: '0.00', contraction: '0.00', churn: '0.00', reactivation: '0.00', end: '0.00' };

describe('a price normalised to a month', () => {
  it('a yearly 1,200.00 is 100.00 a month; every 3 months 90.00 is 30.00', () => {
    expect(monthlyPrice({ amount: d('1200'), interval: 'year', intervalCount: 1 }).toFixed()).toBe('100');
    expect(monthlyPrice({ amount: d('90'), interval: 'month', intervalCount: 3 }).toFixed()).toBe('30');
  });

  it('weekly 12.00 is 12 x 52 / 12 = 52.00 a month; daily 1.20 is 1.20 x 365 / 12 = 36.50', () => {
    expect(monthlyPrice({ amount: d('12'), interval: 'week', intervalCount: 1 }).toFixed(10)).toBe('52.0000000000');
    expect(monthlyPrice({ amount: d('1.2'), interval: 'day', intervalCount: 1 }).toFixed(10)).toBe('36.5000000000');
  });
});

describe("a line's MRR", () => {
  it('a prorated line counts its plan\'s whole monthly price: 16.13 for half of a 50.00 month is 50.00 of MRR', () => {
    expect(lineMrr(fee('c', '50', 'month', '2026-03-16', '2026-04-01', { amount: d('16.13') })).toFixed(2)).toBe('50.00');
  });

  it('a credit line takes its plan\'s MRR away: -25.00 unused on a 50.00 plan is -50.00', () => {
    expect(lineMrr(fee('c', '50', 'month', '2026-03-16', '2026-04-01', { amount: d('-25') })).toFixed(2)).toBe('-50.00');
  });

  it('is net of included tax: 120.00 including 20.00 of VAT on a 120.00 plan is 100.00', () => {
    expect(lineMrr(fee('c', '120', 'month', '2026-03-01', '2026-04-01', { includedTax: d('20') })).toFixed(2)).toBe('100.00');
  });

  it('a forever coupon lowers it, by the line\'s share: 25 % off forever on 80.00 is 60.00', () => {
    // A line of 80.00 discounted 20.00 by a forever coupon: 80 x (80 - 20) / 80 = 60.
    expect(lineMrr(fee('c', '80', 'month', '2026-03-01', '2026-04-01', { foreverDiscount: d('20') })).toFixed(2)).toBe('60.00');
  });
});

describe('MRR at month ends and its movements', () => {
  it('a monthly 50.00 from 15 March and a yearly 1,200.00 from 1 April: 50 at the end of March, 150 after', () => {
    const lines = [
      fee('monthly', '50', 'month', '2026-03-15T00:00:00Z', '2026-04-15T00:00:00Z'),
      fee('monthly', '50', 'month', '2026-04-15T00:00:00Z', '2026-05-15T00:00:00Z'),
      fee('monthly', '50', 'month', '2026-05-15T00:00:00Z', '2026-06-15T00:00:00Z'),
      fee('yearly', '1200', 'year', '2026-04-01T00:00:00Z', '2027-04-01T00:00:00Z'),
    ];
    expect(report(lines, '2026-03', '2026-05')).toEqual([
      { month: '2026-03', ...zero, new: '50.00', end: '50.00' },
      { month: '2026-04', ...zero, start: '50.00', new: '100.00', end: '150.00' },
      { month: '2026-05', ...zero, start: '150.00', end: '150.00' },
    ]);
  });

  it('an upgrade from 50.00 to 80.00 on 10 April is 30.00 of expansion; a cancel in May is 80.00 of churn', () => {
    const lines = [
      fee('c', '50', 'month', '2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z'),
      fee('c', '50', 'month', '2026-04-01T00:00:00Z', '2026-05-01T00:00:00Z'),
      // The plan change: unused time on the old plan back, the new plan for the rest of April.
      fee('c', '50', 'month', '2026-04-10T00:00:00Z', '2026-05-01T00:00:00Z', { amount: d('-35.00') }),
      fee('c', '80', 'month', '2026-04-10T00:00:00Z', '2026-05-01T00:00:00Z', { amount: d('56.00') }),
      // Canceled on 20 May without a credit: the May line stops counting then.
      fee('c', '80', 'month', '2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z', { endsAt: at('2026-05-20T00:00:00Z') }),
    ];
    expect(report(lines, '2026-04', '2026-05')).toEqual([
      { month: '2026-04', ...zero, start: '50.00', expansion: '30.00', end: '80.00' },
      { month: '2026-05', ...zero, start: '80.00', churn: '80.00', end: '0.00' },
    ]);
  });

  it('a downgrade is contraction; coming back after a gap is reactivation, not new', () => {
    const lines = [
      fee('c', '100', 'month', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z'),
      fee('c', '40', 'month', '2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z'),
      // Nothing in March.
      fee('c', '40', 'month', '2026-04-01T00:00:00Z', '2026-05-01T00:00:00Z'),
    ];
    expect(report(lines, '2026-02', '2026-04')).toEqual([
      { month: '2026-02', ...zero, start: '100.00', contraction: '60.00', end: '40.00' },
      { month: '2026-03', ...zero, start: '40.00', churn: '40.00', end: '0.00' },
      { month: '2026-04', ...zero, reactivation: '40.00', end: '40.00' },
    ]);
  });

  it('reactivation looks before the report\'s range: MRR in January makes April\'s return a reactivation', () => {
    const lines = [fee('c', '40', 'month', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z'), fee('c', '40', 'month', '2026-04-01T00:00:00Z', '2026-05-01T00:00:00Z')];
    expect(report(lines, '2026-04', '2026-04')).toEqual([{ month: '2026-04', ...zero, reactivation: '40.00', end: '40.00' }]);
  });

  it('a line ending exactly at a month\'s end is not there at its last instant; a trial (no line) brings nothing', () => {
    // 1 March to 1 April covers 31 March 23:59:59.999; 1 April to 1 May does not cover 31 March.
    const lines = [fee('c', '50', 'month', '2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z')];
    expect(report(lines, '2026-03', '2026-04').map((m) => m.end)).toEqual(['50.00', '0.00']);
  });

  it("rounds each customer's MRR once: three customers of a weekly 10.00 have 43.33 each, 129.99 in all", () => {
    // 10 x 52 / 12 = 43.333…, rounded per customer to 43.33; the total is their sum.
    const lines = ['a', 'b', 'c'].map((c) => fee(c, '10', 'week', '2026-03-28T00:00:00Z', '2026-04-04T00:00:00Z'));
    expect(report(lines, '2026-03', '2026-03')).toEqual([{ month: '2026-03', ...zero, new: '129.99', end: '129.99' }]);
  });

  it('counts customers at the start and those who churned', () => {
    const lines = [fee('a', '10', 'month', '2026-03-01T00:00:00Z', '2026-05-01T00:00:00Z'), fee('b', '10', 'month', '2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z')];
    const [april] = mrrByMonth(lines, 'USD', '2026-04', '2026-04');
    expect({ atStart: april.customersAtStart, churned: april.churnedCustomers, atEnd: april.customersAtEnd }).toEqual({ atStart: 2, churned: 1, atEnd: 1 });
  });
});

describe('property: MRR movements always add up', () => {
  const intervals: Interval[] = ['day', 'week', 'month', 'year'];
  const base = Date.UTC(2025, 0, 1);
  const DAY = 86_400_000;
  const lineArb = fc
    .record({
      customer: fc.constantFrom('a', 'b', 'c', 'd'),
      startDay: fc.integer({ min: 0, max: 700 }),
      days: fc.integer({ min: 1, max: 400 }),
      cents: fc.integer({ min: 0, max: 500_000 }),
      interval: fc.constantFrom(...intervals),
      intervalCount: fc.integer({ min: 1, max: 3 }),
      credit: fc.boolean(),
      taxCents: fc.integer({ min: 0, max: 1_000 }),
      endsAfterDays: fc.option(fc.integer({ min: 0, max: 400 }), { nil: null }),
    })
    .map(
      (r): MrrLine => ({
        customerId: r.customer,
        periodStart: new Date(base + r.startDay * DAY),
        periodEnd: new Date(base + (r.startDay + r.days) * DAY),
        endsAt: r.endsAfterDays === null ? null : new Date(base + (r.startDay + r.endsAfterDays) * DAY),
        amount: new Decimal(r.cents).div(100).times(r.credit ? -1 : 1),
        price: { amount: new Decimal(r.cents).div(100), interval: r.interval, intervalCount: r.intervalCount },
        includedTax: new Decimal(r.taxCents).div(100).times(r.credit ? -1 : 1),
        foreverDiscount: new Decimal(0),
      }),
    );

  it('start + new + expansion + reactivation - contraction - churn = end, and each month starts where the last ended', () => {
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 25 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 12 }), (lines, offset, length) => {
        const from = new Date(Date.UTC(2025, offset, 1)).toISOString().slice(0, 7);
        const to = new Date(Date.UTC(2025, offset + length, 1)).toISOString().slice(0, 7);
        const months = mrrByMonth(lines, 'USD', from, to);
        expect(months).toHaveLength(length + 1);
        months.forEach((m, i) => {
          const sum = m.start.plus(m.new).plus(m.expansion).plus(m.reactivation).minus(m.contraction).minus(m.churn);
          expect(sum.toFixed()).toBe(m.end.toFixed());
          expect(m.computedEnd.toFixed()).toBe(m.end.toFixed());
          if (i > 0) expect(m.start.toFixed()).toBe(months[i - 1].end.toFixed());
          for (const movement of [m.new, m.expansion, m.contraction, m.churn, m.reactivation]) expect(movement.decimalPlaces()).toBeLessThanOrEqual(2);
        });
      }),
    );
  });
});
