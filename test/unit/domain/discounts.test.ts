import Decimal from 'decimal.js';
import fc from 'fast-check';
import { allocateDiscounts, CouponTerms, remainingAfterUse } from '../../../domain/discounts';
import { currencyArb } from './arbitraries';
import { formatMinor, roundHalfUpToMinor } from './decimal-oracle';

const d = (text: string): Decimal => new Decimal(text);

const percentOff = (percent: string, id = 'coupon_pct'): CouponTerms => ({ id, name: `${percent} % off`, percentOff: d(percent), amountOff: null });
const amountOff = (amount: string, id = 'coupon_fixed'): CouponTerms => ({ id, name: `${amount} off`, percentOff: null, amountOff: d(amount) });

/** Per-line and per-coupon discounts as strings with the currency's decimals. */
function allocate(lines: string[], coupons: CouponTerms[], currency = 'USD', decimals = 2) {
  const { perLine, perCoupon } = allocateDiscounts(lines.map(d), coupons, currency);
  return { perLine: perLine.map((a) => a.toFixed(decimals)), perCoupon: perCoupon.map((a) => a.toFixed(decimals)) };
}

describe('percent-off coupons', () => {
  it('20 % off lines of 49.00 and 18.00 USD takes 9.80 and 3.60, 13.40 in all', () => {
    // 49.00 x 20 % = 9.80; 18.00 x 20 % = 3.60
    expect(allocate(['49.00', '18.00'], [percentOff('20')])).toEqual({ perLine: ['9.80', '3.60'], perCoupon: ['13.40'] });
  });

  it('is rounded half-up once per line: 15 % of 0.99 USD is 0.1485 -> 0.15, of 0.10 is 0.015 -> 0.02', () => {
    expect(allocate(['0.99', '0.10'], [percentOff('15')]).perLine).toEqual(['0.15', '0.02']);
  });

  it('100 % off takes each line to exactly zero', () => {
    expect(allocate(['49.00', '0.01'], [percentOff('100')]).perLine).toEqual(['49.00', '0.01']);
  });

  it('in JPY: 15 % of 999 JPY is 149.85 -> 150 JPY', () => {
    expect(allocate(['999'], [percentOff('15')], 'JPY', 0).perLine).toEqual(['150']);
  });

  it('in KWD: 12.5 % of 10.005 KWD is 1.250625 -> 1.251 KWD', () => {
    expect(allocate(['10.005'], [percentOff('12.5')], 'KWD', 3).perLine).toEqual(['1.251']);
  });

  it('a credit line (negative) is not discounted: 10 % off 50.00 and -20.00 USD takes 5.00 and 0.00', () => {
    expect(allocate(['50.00', '-20.00'], [percentOff('10')]).perLine).toEqual(['5.00', '0.00']);
  });
});

describe('amount-off coupons', () => {
  it('10.00 off lines of 6.00 and 8.00 USD is spent in line order: 6.00 then 4.00', () => {
    expect(allocate(['6.00', '8.00'], [amountOff('10.00')])).toEqual({ perLine: ['6.00', '4.00'], perCoupon: ['10.00'] });
  });

  it('50.00 off an invoice of 20.00 + 10.00 USD takes 30.00; the 20.00 it cannot spend is not carried over', () => {
    expect(allocate(['20.00', '10.00'], [amountOff('50.00')])).toEqual({ perLine: ['20.00', '10.00'], perCoupon: ['30.00'] });
  });

  it('skips a credit line rather than deepening it: 10.00 off -5.00 and 8.00 USD takes 0.00 and 8.00', () => {
    expect(allocate(['-5.00', '8.00'], [amountOff('10.00')])).toEqual({ perLine: ['0.00', '8.00'], perCoupon: ['8.00'] });
  });

  it('in JPY: 500 JPY off lines of 300 and 980 JPY takes 300 and 200', () => {
    expect(allocate(['300', '980'], [amountOff('500')], 'JPY', 0).perLine).toEqual(['300', '200']);
  });
});

describe('several coupons apply one after another, each to what is left', () => {
  it('10 % then 5.00 off 100.00 USD: 10.00 then 5.00 of the remaining 90.00, 15.00 in all', () => {
    expect(allocate(['100.00'], [percentOff('10'), amountOff('5.00')])).toEqual({ perLine: ['15.00'], perCoupon: ['10.00', '5.00'] });
  });

  it('5.00 then 10 % off 100.00 USD: 5.00 then 10 % of the remaining 95.00 = 9.50, 14.50 in all', () => {
    expect(allocate(['100.00'], [amountOff('5.00'), percentOff('10')])).toEqual({ perLine: ['14.50'], perCoupon: ['5.00', '9.50'] });
  });

  it('a second coupon finds nothing left after a 100 % coupon', () => {
    expect(allocate(['40.00'], [percentOff('100'), amountOff('5.00')]).perCoupon).toEqual(['40.00', '0.00']);
  });

  it('no coupons discount nothing', () => {
    expect(allocate(['40.00', '2.00'], [])).toEqual({ perLine: ['0.00', '0.00'], perCoupon: [] });
  });
});

describe('remainingAfterUse: how many more invoices a coupon applies to', () => {
  it('a "once" coupon is used up by its one invoice', () => {
    expect(remainingAfterUse('once', null)).toBe(0);
    expect(remainingAfterUse('once', 1)).toBe(0);
  });

  it('a coupon repeating for 3 invoices has 2 left after the first, and never goes below 0', () => {
    expect(remainingAfterUse('repeating', 3)).toBe(2);
    expect(remainingAfterUse('repeating', 1)).toBe(0);
    expect(remainingAfterUse('repeating', 0)).toBe(0);
  });

  it('a forever coupon never runs out', () => {
    expect(remainingAfterUse('forever', null)).toBeNull();
  });
});

describe('discount properties', () => {
  /** Line amounts already in the currency's minor units, credits included. */
  const linesArb = (exponent: number) =>
    fc.array(fc.bigInt({ min: -(10n ** 8n), max: 10n ** 9n }), { minLength: 1, maxLength: 6 }).map((minor) => minor.map((m) => formatMinor(m, exponent)));

  const couponArb = (exponent: number): fc.Arbitrary<CouponTerms> =>
    fc.oneof(
      fc.integer({ min: 0, max: 100_000 }).map((p) => percentOff(formatMinor(BigInt(p), 3))),
      fc.bigInt({ min: 0n, max: 10n ** 9n }).map((m) => amountOff(formatMinor(m, exponent))),
    );

  const caseArb = currencyArb.chain(([currency, exponent]) =>
    fc.record({ currency: fc.constant(currency), exponent: fc.constant(exponent), lines: linesArb(exponent), coupons: fc.array(couponArb(exponent), { maxLength: 3 }) }),
  );

  it('a discount never takes a line below zero, never exceeds a fixed coupon, and fits the currency', () => {
    fc.assert(
      fc.property(caseArb, ({ currency, exponent, lines, coupons }) => {
        const { perLine, perCoupon } = allocateDiscounts(lines.map(d), coupons, currency);
        perLine.forEach((off, i) => {
          expect(off.isNegative()).toBe(false);
          expect(off.lte(Decimal.max(d(lines[i]), 0))).toBe(true);
          expect(off.decimalPlaces()).toBeLessThanOrEqual(exponent);
        });
        coupons.forEach((coupon, i) => {
          if (coupon.amountOff) expect(perCoupon[i].lte(coupon.amountOff)).toBe(true);
        });
        const byLine = perLine.reduce((a, b) => a.plus(b), d('0'));
        const byCoupon = perCoupon.reduce((a, b) => a.plus(b), d('0'));
        expect(byLine.equals(byCoupon)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('one fixed coupon takes min(its amount, what the positive lines add up to)', () => {
    fc.assert(
      fc.property(caseArb, fc.bigInt({ min: 0n, max: 10n ** 9n }), ({ currency, exponent, lines }, minor) => {
        const off = formatMinor(minor, exponent);
        const positive = lines.map(d).filter((l) => l.isPositive()).reduce((a, b) => a.plus(b), d('0'));
        const { perCoupon } = allocateDiscounts(lines.map(d), [amountOff(off)], currency);
        expect(perCoupon[0].equals(Decimal.min(positive, d(off)))).toBe(true);
      }),
    );
  });

  it('one percent coupon takes each positive line times the rate, rounded half-up at that line', () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 0, max: 100_000 }), ({ currency, exponent, lines }, thousandths) => {
        const { perLine } = allocateDiscounts(lines.map(d), [percentOff(formatMinor(BigInt(thousandths), 3))], currency);
        lines.forEach((line, i) => {
          // line x (thousandths / 1000) / 100, an exact decimal with 5 more places than the line
          const exact = d(line).isPositive() ? formatMinor(roundHalfUpToMinor(line, exponent) * BigInt(thousandths), exponent + 5) : '0';
          expect(perLine[i].toFixed(exponent)).toBe(formatMinor(roundHalfUpToMinor(exact, exponent), exponent));
        });
      }),
    );
  });
});
