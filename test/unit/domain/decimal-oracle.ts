/**
 * An independent reference for half-up rounding, written with BigInt on scaled integers so it shares
 * no code with domain/money.ts (which uses decimal.js). Property tests compare the domain against it.
 */

export interface Scaled {
  /** The amount as an integer count of 10^-scale units. */
  units: bigint;
  scale: number;
}

export function scaled(text: string): Scaled {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) throw new Error(`oracle: not a decimal string: ${text}`);
  const [, sign, whole, fraction = ''] = match;
  const magnitude = BigInt(whole + fraction);
  return { units: sign === '-' ? -magnitude : magnitude, scale: fraction.length };
}

/** `text` rounded half away from zero to `exponent` decimals, as an integer of minor units. */
export function roundHalfUpToMinor(text: string, exponent: number): bigint {
  const { units, scale } = scaled(text);
  if (scale <= exponent) return units * 10n ** BigInt(exponent - scale);
  const divisor = 10n ** BigInt(scale - exponent);
  const negative = units < 0n;
  const magnitude = negative ? -units : units;
  let quotient = magnitude / divisor;
  if (2n * (magnitude % divisor) >= divisor) quotient += 1n;
  return negative ? -quotient : quotient;
}

/** Minor units rendered with exactly `exponent` decimals ("4900", 2 -> "49.00"). */
export function formatMinor(minor: bigint, exponent: number): string {
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  return `${negative ? '-' : ''}${whole}${exponent > 0 ? `.${fraction}` : ''}`;
}
