import Decimal from 'decimal.js';
import { currencyExponent } from './currency';

/**
 * The one rounding rule: an amount is rounded to its currency's exponent once, where a line amount is
 * computed, half away from zero ("half-up" as accountants say it). Totals are sums of rounded lines.
 */
export const ROUNDING = Decimal.ROUND_HALF_UP;

// decimal.js defaults to 20 significant digits; money columns hold 30, so computations keep 40 and
// only the explicit rounding below ever drops a digit.
Decimal.set({ precision: 40 });

const MONEY_PATTERN = /^-?\d+(\.\d+)?$/;

/** Parses a decimal string of major units ("49.00") without going through a float. */
export function parseAmount(text: string): Decimal {
  if (!MONEY_PATTERN.test(text)) throw new RangeError(`"${text}" is not a decimal amount like "49.00"`);
  return new Decimal(text);
}

export function roundToCurrency(amount: Decimal.Value, currency: string): Decimal {
  return new Decimal(amount).toDecimalPlaces(currencyExponent(currency), ROUNDING);
}

/** True when `amount` already has no more decimals than `currency` allows. */
export function fitsCurrency(amount: Decimal.Value, currency: string): boolean {
  return new Decimal(amount).decimalPlaces() <= currencyExponent(currency);
}

/**
 * Plain decimal notation of an exact value, optionally with exactly `places` decimals. decimal.js's
 * toFixed works on its own decimal digits (no float is involved); every amount-to-text goes through here.
 */
export function decimalString(value: Decimal.Value, places?: number): string {
  const decimal = new Decimal(value);
  return places === undefined ? decimal.toFixed() : decimal.toFixed(places, ROUNDING);
}

/** The API's representation: a decimal string with exactly the currency's number of decimals. */
export function formatAmount(amount: Decimal.Value, currency: string): string {
  return decimalString(roundToCurrency(amount, currency), currencyExponent(currency));
}

/**
 * An amount as people read it: thousands grouped, the currency's decimals, the code in front
 * ("USD 1,234.50", "JPY 120,000", "KWD 12.345"). Pages and PDFs print amounts through this.
 */
export function displayAmount(amount: Decimal.Value, currency: string): string {
  const [whole, fraction] = formatAmount(amount, currency).split('.');
  const sign = whole.startsWith('-') ? '-' : '';
  const digits = sign ? whole.slice(1) : whole;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${currency.toUpperCase()} ${sign}${grouped}${fraction === undefined ? '' : `.${fraction}`}`;
}

export function sum(amounts: readonly Decimal.Value[]): Decimal {
  return amounts.reduce<Decimal>((total, a) => total.plus(a), new Decimal(0));
}
