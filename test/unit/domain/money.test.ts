import Decimal from 'decimal.js';
import fc from 'fast-check';
import { fitsCurrency, formatAmount, parseAmount, roundToCurrency, sum } from '../../../domain/money';
import { currencyArb, decimalStringArb } from './arbitraries';
import { formatMinor, roundHalfUpToMinor } from './decimal-oracle';

/** The rounded amount rendered with the currency's decimals, independent of formatAmount. */
const rounded = (amount: Decimal.Value, currency: string, decimals: number): string =>
  roundToCurrency(amount, currency).toFixed(decimals);

describe('rounding to the currency, half away from zero', () => {
  it('half a US cent rounds up: 0.005 USD is charged as 0.01', () => {
    expect(rounded('0.005', 'USD', 2)).toBe('0.01');
  });

  it('2.675 USD rounds to 2.68 exactly (a binary float would give 2.67)', () => {
    expect(rounded('2.675', 'USD', 2)).toBe('2.68');
  });

  it('just under half a cent rounds down: 1.004 USD is 1.00 and 1.0049999 USD is 1.00', () => {
    expect(rounded('1.004', 'USD', 2)).toBe('1.00');
    expect(rounded('1.0049999', 'USD', 2)).toBe('1.00');
  });

  it('rounds once, straight to the exponent: 1.0049 USD is 1.00, not 1.005 then 1.01', () => {
    expect(rounded('1.0049', 'USD', 2)).toBe('1.00');
  });

  it('yen have no minor unit: 100.5 JPY is 101, 100.4 JPY is 100, 99.5 JPY is 100', () => {
    expect(rounded('100.5', 'JPY', 0)).toBe('101');
    expect(rounded('100.4', 'JPY', 0)).toBe('100');
    expect(rounded('99.5', 'JPY', 0)).toBe('100');
  });

  it('Kuwaiti dinar keep three decimals: 1.2345 KWD is 1.235 and 1.2344 KWD is 1.234', () => {
    expect(rounded('1.2345', 'KWD', 3)).toBe('1.235');
    expect(rounded('1.2344', 'KWD', 3)).toBe('1.234');
  });

  it('Chilean UF keep four decimals: 0.12345 CLF is 0.1235', () => {
    expect(rounded('0.12345', 'CLF', 4)).toBe('0.1235');
  });

  it('a negative half rounds away from zero, so a credit mirrors the equivalent charge', () => {
    expect(rounded('-0.005', 'USD', 2)).toBe('-0.01');
    expect(rounded('-2.675', 'USD', 2)).toBe('-2.68');
    expect(rounded('-100.5', 'JPY', 0)).toBe('-101');
    expect(rounded('-1.2345', 'KWD', 3)).toBe('-1.235');
  });

  it('an amount already in cents is left untouched: 49.99 USD stays 49.99', () => {
    expect(rounded('49.99', 'USD', 2)).toBe('49.99');
  });

  it('refuses to round into a currency that is not ISO 4217', () => {
    expect(() => roundToCurrency('1.00', 'XXX')).toThrow(RangeError);
  });
});

describe('formatAmount: the amount string the API shows', () => {
  it('pads to the currency exponent: 49 USD is "49.00", 1000 JPY is "1000", 5 KWD is "5.000"', () => {
    expect(formatAmount('49', 'USD')).toBe('49.00');
    expect(formatAmount('1000', 'JPY')).toBe('1000');
    expect(formatAmount('5', 'KWD')).toBe('5.000');
  });

  it('rounds while formatting: 2.675 USD shows "2.68", 1000.5 JPY shows "1001", 1.2345 KWD shows "1.235"', () => {
    expect(formatAmount('2.675', 'USD')).toBe('2.68');
    expect(formatAmount('1000.5', 'JPY')).toBe('1001');
    expect(formatAmount('1.2345', 'KWD')).toBe('1.235');
  });

  it('uses plain digits without thousands separators or exponent notation: 1234567.5 USD is "1234567.50"', () => {
    expect(formatAmount('1234567.5', 'USD')).toBe('1234567.50');
    expect(formatAmount(new Decimal('1e21'), 'USD')).toBe('1000000000000000000000.00');
  });

  it('shows 0.10 + 0.20 USD as "0.30" because amounts never pass through a float', () => {
    expect(formatAmount(new Decimal('0.1').plus('0.2'), 'USD')).toBe('0.30');
  });

  it('shows a credit as a negative amount: -12.5 USD is "-12.50"', () => {
    expect(formatAmount('-12.5', 'USD')).toBe('-12.50');
  });

  it('a tiny negative amount that rounds to nothing shows "0.00", never "-0.00"', () => {
    expect(formatAmount('-0.004', 'USD')).toBe('0.00');
  });
});

describe('parseAmount: reading decimal strings of major units', () => {
  it('reads "49.00" as forty-nine and "-3.50" as minus three and a half', () => {
    expect(parseAmount('49.00').equals(49)).toBe(true);
    expect(parseAmount('-3.50').equals(new Decimal('-3.5'))).toBe(true);
    expect(parseAmount('0').isZero()).toBe(true);
  });

  it('keeps every digit of a long amount (no float in between): "12345678901234567890.123456"', () => {
    expect(parseAmount('12345678901234567890.123456').toFixed()).toBe('12345678901234567890.123456');
  });

  it('adds 0.1 and 0.2 to exactly 0.3', () => {
    expect(parseAmount('0.1').plus(parseAmount('0.2')).equals(parseAmount('0.3'))).toBe(true);
  });

  it.each(['1e3', 'abc', '', '1.', '.5', '+1', ' 1', '1 ', '1,000.00', '0x10', 'Infinity', 'NaN', '--1', '1.2.3', '1_000'])(
    'refuses %p with a RangeError',
    (text) => {
      expect(() => parseAmount(text)).toThrow(RangeError);
    },
  );
});

describe('fitsCurrency: whether an amount can be charged as-is', () => {
  it('10.00 and 10.5 fit USD, 10.001 does not', () => {
    expect(fitsCurrency('10.00', 'USD')).toBe(true);
    expect(fitsCurrency('10.5', 'USD')).toBe(true);
    expect(fitsCurrency('10.001', 'USD')).toBe(false);
  });

  it('trailing zeros do not count as extra decimals: 10.010 fits USD', () => {
    expect(fitsCurrency('10.010', 'USD')).toBe(true);
  });

  it('1000 fits JPY but 1000.5 does not; 1.235 fits KWD but 1.2345 does not', () => {
    expect(fitsCurrency('1000', 'JPY')).toBe(true);
    expect(fitsCurrency('1000.5', 'JPY')).toBe(false);
    expect(fitsCurrency('1.235', 'KWD')).toBe(true);
    expect(fitsCurrency('1.2345', 'KWD')).toBe(false);
  });
});

describe('sum', () => {
  it('33.33 + 33.33 + 33.34 is exactly 100.00; nothing is 0', () => {
    expect(sum(['33.33', '33.33', '33.34']).equals(100)).toBe(true);
    expect(sum([]).isZero()).toBe(true);
  });

  it('a credit reduces the sum: 49.00 + -10.50 is 38.50', () => {
    expect(sum([new Decimal('49.00'), '-10.50']).toFixed(2)).toBe('38.50');
  });
});

describe('money properties', () => {
  it('rounding and formatting agree with an independent integer half-up rounding, for every currency exponent', () => {
    fc.assert(
      fc.property(decimalStringArb(), currencyArb, (amount, [currency, exponent]) => {
        const expected = formatMinor(roundHalfUpToMinor(amount, exponent), exponent);
        expect(formatAmount(amount, currency)).toBe(expected);
        expect(roundToCurrency(amount, currency).equals(new Decimal(expected))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('a rounded amount always fits its currency, and rounding it again changes nothing', () => {
    fc.assert(
      fc.property(decimalStringArb(), currencyArb, (amount, [currency]) => {
        const once = roundToCurrency(amount, currency);
        expect(fitsCurrency(once, currency)).toBe(true);
        expect(roundToCurrency(once, currency).equals(once)).toBe(true);
      }),
    );
  });

  it('parseAmount reads back every canonical decimal string digit for digit', () => {
    fc.assert(
      fc.property(decimalStringArb(), (text) => {
        const decimals = text.includes('.') ? text.length - text.indexOf('.') - 1 : 0;
        expect(parseAmount(text).toFixed(decimals)).toBe(text);
      }),
    );
  });
});
