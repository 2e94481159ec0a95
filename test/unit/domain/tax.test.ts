import Decimal from 'decimal.js';
import fc from 'fast-check';
import { BillingError } from '../../../domain/errors';
import { assertCompatibleRates, computeTaxes, shareOut, TaxRateTerms } from '../../../domain/tax';
import { currencyArb } from './arbitraries';
import { formatMinor } from './decimal-oracle';

const d = (text: string): Decimal => new Decimal(text);

const exclusive = (percentage: string, name = `Sales tax ${percentage} %`): TaxRateTerms => ({ id: `txr_${name}`, name, percentage: d(percentage), inclusive: false });
const inclusive = (percentage: string, name = `VAT ${percentage} %`): TaxRateTerms => ({ id: `txr_${name}`, name, percentage: d(percentage), inclusive: true });

function taxes(lines: string[], rates: TaxRateTerms[], currency = 'USD', decimals = 2) {
  const result = computeTaxes(lines.map(d), rates, currency);
  return {
    perRate: result.taxes.map((t) => [t.rate.name, t.base.toFixed(decimals), t.amount.toFixed(decimals)]),
    perLine: result.perLine.map((a) => a.toFixed(decimals)),
    exclusiveTotal: result.exclusiveTotal.toFixed(decimals),
    total: result.total.toFixed(decimals),
  };
}

const shares = (total: string, weights: string[], currency = 'USD', decimals = 2): string[] =>
  shareOut(d(total), weights.map(d), currency).map((s) => s.toFixed(decimals));

describe('exclusive tax: added on top of the lines', () => {
  it('8.875 % of 100.00 USD is 8.875 -> 8.88 USD, added to the total', () => {
    expect(taxes(['100.00'], [exclusive('8.875', 'NYC')])).toEqual({
      perRate: [['NYC', '100.00', '8.88']],
      perLine: ['8.88'],
      exclusiveTotal: '8.88',
      total: '8.88',
    });
  });

  it('is rounded once per invoice, not per line: 5 % of three lines of 0.10 is 0.015 -> 0.02 USD, not 3 x 0.01', () => {
    // 0.30 x 5 % = 0.015 -> 0.02; each line's share is 0.00666..., two of them get the two cents
    const result = taxes(['0.10', '0.10', '0.10'], [exclusive('5')]);
    expect(result.total).toBe('0.02');
    expect(result.perLine).toEqual(['0.01', '0.01', '0.00']);
  });

  it('two rates are each computed on the same base: 6.25 % and 2.25 % of 50.00 + 30.00 USD are 5.00 and 1.80', () => {
    // 80.00 x 6.25 % = 5.00, shared 50:30 -> 3.125 and 1.875 -> 3.13 and 1.87 (the tie goes to the first line)
    // 80.00 x 2.25 % = 1.80, shared 50:30 -> 1.125 and 0.675 -> 1.13 and 0.67
    expect(taxes(['50.00', '30.00'], [exclusive('6.25', 'State'), exclusive('2.25', 'City')])).toEqual({
      perRate: [['State', '80.00', '5.00'], ['City', '80.00', '1.80']],
      perLine: ['4.26', '2.54'],
      exclusiveTotal: '6.80',
      total: '6.80',
    });
  });

  it('in JPY: 10 % of 1005 JPY is 100.5 -> 101 JPY', () => {
    expect(taxes(['1005'], [exclusive('10')], 'JPY', 0).total).toBe('101');
  });

  it('in KWD: 5 % of 12.345 KWD is 0.61725 -> 0.617 KWD', () => {
    expect(taxes(['12.345'], [exclusive('5')], 'KWD', 3).total).toBe('0.617');
  });

  it('a fully discounted invoice (nothing left to tax) has a tax of 0.00', () => {
    expect(taxes(['0.00', '0.00'], [exclusive('20')])).toMatchObject({ perLine: ['0.00', '0.00'], total: '0.00' });
  });
});

describe('inclusive tax: already inside the line amounts, extracted from them', () => {
  it('20 % VAT inside 120.00 EUR is 120.00 x 20 / 120 = 20.00, and nothing is added to the total', () => {
    expect(taxes(['120.00'], [inclusive('20', 'VAT')], 'EUR')).toEqual({
      perRate: [['VAT', '120.00', '20.00']],
      perLine: ['20.00'],
      exclusiveTotal: '0.00',
      total: '20.00',
    });
  });

  it('20 % VAT inside 9.99 EUR is 9.99 x 20 / 120 = 1.665 -> 1.67 EUR', () => {
    expect(taxes(['9.99'], [inclusive('20')], 'EUR').total).toBe('1.67');
  });

  it('two inclusive rates are extracted together: 5 % and 10 % inside 115.00 are 115 x 5 / 115 = 5.00 and 115 x 10 / 115 = 10.00', () => {
    const result = taxes(['115.00'], [inclusive('5', 'GST'), inclusive('10', 'PST')], 'CAD');
    expect(result.perRate).toEqual([['GST', '115.00', '5.00'], ['PST', '115.00', '10.00']]);
    expect(result.total).toBe('15.00');
    expect(result.exclusiveTotal).toBe('0.00');
  });

  it('in JPY: 10 % consumption tax inside 1100 JPY is 100 JPY', () => {
    expect(taxes(['1100'], [inclusive('10')], 'JPY', 0).total).toBe('100');
  });
});

describe('assertCompatibleRates', () => {
  it('refuses a mix of inclusive and exclusive rates, which has no single meaning', () => {
    expect(() => assertCompatibleRates([inclusive('20'), exclusive('5')], 'tax_rates')).toThrow(BillingError);
    expect(() => computeTaxes([d('10.00')], [exclusive('5'), inclusive('20')], 'USD')).toThrow(
      expect.objectContaining({ code: 'tax_rates_mixed', type: 'invalid_request_error' }),
    );
  });

  it('accepts all-exclusive, all-inclusive and no rates', () => {
    expect(() => assertCompatibleRates([exclusive('5'), exclusive('2')], 'tax_rates')).not.toThrow();
    expect(() => assertCompatibleRates([inclusive('20'), inclusive('5')], 'tax_rates')).not.toThrow();
    expect(() => assertCompatibleRates([], 'tax_rates')).not.toThrow();
  });

  it('no rates tax nothing', () => {
    expect(taxes(['49.00'], [])).toEqual({ perRate: [], perLine: ['0.00'], exclusiveTotal: '0.00', total: '0.00' });
  });
});

describe('shareOut: a rounded total shared over lines by largest remainder', () => {
  it('1.00 over three equal lines is 0.34 + 0.33 + 0.33 (the tie goes to the first)', () => {
    expect(shares('1.00', ['1', '1', '1'])).toEqual(['0.34', '0.33', '0.33']);
  });

  it('0.10 over weights 1 and 2 is 0.03 + 0.07: 3.33 and 6.67 cents, the larger remainder gets the cent', () => {
    expect(shares('0.10', ['1', '2'])).toEqual(['0.03', '0.07']);
  });

  it('in JPY: 100 JPY over three equal lines is 34 + 33 + 33', () => {
    expect(shares('100', ['5', '5', '5'], 'JPY', 0)).toEqual(['34', '33', '33']);
  });

  it('a line of zero weight gets nothing', () => {
    expect(shares('0.05', ['0', '3', '2'])).toEqual(['0.00', '0.03', '0.02']);
  });

  it('a negative total (a credit) still adds up: -1.00 over three equal lines', () => {
    const parts = shares('-1.00', ['1', '1', '1']);
    expect(parts.reduce((a, b) => a.plus(b), d('0')).toFixed(2)).toBe('-1.00');
    expect([...parts].sort()).toEqual(['-0.33', '-0.33', '-0.34']);
  });

  it('zero over lines that weigh nothing is zeros; a non-zero total over them is refused rather than lost', () => {
    expect(shares('0', ['0', '0'])).toEqual(['0.00', '0.00']);
    expect(() => shareOut(d('1.00'), [d('0'), d('0')], 'USD')).toThrow(RangeError);
  });
});

/** n / m rounded half away from zero, in integers. */
function roundRatio(numerator: bigint, denominator: bigint): bigint {
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const m = denominator < 0n ? -denominator : denominator;
  const q = (2n * n + m) / (2n * m);
  return negative ? -q : q;
}

describe('tax properties', () => {
  it('shareOut always adds up to its total exactly, and each share is within one minor unit of its exact part', () => {
    const caseArb = currencyArb.chain(([currency, exponent]) =>
      fc.record({
        currency: fc.constant(currency),
        exponent: fc.constant(exponent),
        total: fc.bigInt({ min: -(10n ** 10n), max: 10n ** 10n }),
        weights: fc.array(fc.bigInt({ min: -(10n ** 6n), max: 10n ** 9n }), { minLength: 1, maxLength: 8 }).filter((w) => w.reduce((a, b) => a + b, 0n) !== 0n),
      }),
    );
    fc.assert(
      fc.property(caseArb, ({ currency, exponent, total, weights }) => {
        const totalAmount = d(formatMinor(total, exponent));
        const parts = shareOut(totalAmount, weights.map((w) => d(w.toString())), currency);
        expect(parts.reduce((a, b) => a.plus(b), d('0')).equals(totalAmount)).toBe(true);
        const weightSum = weights.reduce((a, b) => a + b, 0n);
        parts.forEach((part, i) => {
          expect(part.decimalPlaces()).toBeLessThanOrEqual(exponent);
          // |part x weightSum - total x weight| < weightSum, in minor units
          const partMinor = BigInt(part.times(new Decimal(10).pow(exponent)).toFixed());
          const gap = partMinor * weightSum - total * weights[i];
          expect((gap < 0n ? -gap : gap) < (weightSum < 0n ? -weightSum : weightSum)).toBe(true);
        });
      }),
      { numRuns: 1000 },
    );
  });

  it('each rate is the base times the rate rounded half-up once, and the line taxes add up to the invoice tax', () => {
    const caseArb = currencyArb.chain(([currency, exponent]) =>
      fc.record({
        currency: fc.constant(currency),
        exponent: fc.constant(exponent),
        lines: fc.array(fc.bigInt({ min: 0n, max: 10n ** 9n }), { minLength: 1, maxLength: 6 }),
        // thousandths of a percent: 0 to 30 %
        rates: fc.array(fc.integer({ min: 0, max: 30_000 }), { maxLength: 3 }),
        inclusive: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(caseArb, ({ currency, exponent, lines, rates, inclusive: included }) => {
        const terms = rates.map((r, i): TaxRateTerms => ({ id: `txr_${i}`, name: `Rate ${i}`, percentage: d(formatMinor(BigInt(r), 3)), inclusive: included }));
        const result = computeTaxes(lines.map((m) => d(formatMinor(m, exponent))), terms, currency);
        const base = lines.reduce((a, b) => a + b, 0n);
        const ratesSum = rates.reduce((a, b) => a + BigInt(b), 0n);
        result.taxes.forEach((tax, i) => {
          // exclusive: base x p / 100; inclusive: base x p / (100 + sum of p); p in thousandths of a percent
          const expected = roundRatio(base * BigInt(rates[i]), included ? 100_000n + ratesSum : 100_000n);
          expect(tax.amount.toFixed(exponent)).toBe(formatMinor(expected, exponent));
        });
        const sumOf = (xs: Decimal[]) => xs.reduce((a, b) => a.plus(b), d('0'));
        expect(sumOf(result.perLine).equals(result.total)).toBe(true);
        expect(sumOf(result.taxes.map((t) => t.amount)).equals(result.total)).toBe(true);
        expect(result.exclusiveTotal.equals(included ? d('0') : result.total)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
