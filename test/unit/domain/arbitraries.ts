import fc from 'fast-check';
import { formatMinor } from './decimal-oracle';

/** Currencies covering every exponent in use: 0 (JPY), 2 (USD, EUR), 3 (KWD), 4 (CLF). */
export const CURRENCIES_BY_EXPONENT: ReadonlyArray<[string, number]> = [
  ['JPY', 0],
  ['USD', 2],
  ['EUR', 2],
  ['KWD', 3],
  ['CLF', 4],
];

export const currencyArb = fc.constantFrom(...CURRENCIES_BY_EXPONENT);

/**
 * A canonical decimal string ("49", "-0.005", "12345.678901") with 0..8 decimals.
 * The default magnitude (< 10^15 units of the last decimal) keeps amounts, and sums of a few of them,
 * well inside decimal.js's default 20 significant digits; see the report on larger amounts.
 */
export function decimalStringArb(options: { nonNegative?: boolean; maxMagnitude?: bigint } = {}): fc.Arbitrary<string> {
  const max = options.maxMagnitude ?? 10n ** 15n;
  return fc
    .record({
      magnitude: fc.bigInt({ min: 0n, max }),
      scale: fc.integer({ min: 0, max: 8 }),
      negative: options.nonNegative ? fc.constant(false) : fc.boolean(),
    })
    .map(({ magnitude, scale, negative }) => formatMinor(negative ? -magnitude : magnitude, scale));
}
