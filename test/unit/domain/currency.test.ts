import { currencyExponent, isCurrency } from '../../../domain/currency';

describe('currency exponents (ISO 4217 minor units)', () => {
  it.each([
    ['USD', 2],
    ['EUR', 2],
    ['GBP', 2],
    ['JPY', 0],
    ['KRW', 0],
    ['KWD', 3],
    ['BHD', 3],
    ['CLF', 4],
  ])('%s amounts are invoiced with %i decimals', (code, exponent) => {
    expect(currencyExponent(code)).toBe(exponent);
  });

  it.each(['XXX', 'usd', 'Usd', '', 'US', 'USDD', 'XAU'])('%p is refused with a RangeError, not treated as a two-decimal currency', (code) => {
    expect(() => currencyExponent(code)).toThrow(RangeError);
  });
});

describe('isCurrency', () => {
  it('accepts upper-case ISO 4217 codes we invoice in', () => {
    expect(isCurrency('USD')).toBe(true);
    expect(isCurrency('JPY')).toBe(true);
    expect(isCurrency('KWD')).toBe(true);
  });

  it('rejects lower-case codes, the "no currency" code XXX, precious metals and blanks', () => {
    expect(isCurrency('usd')).toBe(false);
    expect(isCurrency('XXX')).toBe(false);
    expect(isCurrency('XAU')).toBe(false);
    expect(isCurrency('')).toBe(false);
  });
});
