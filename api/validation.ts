import { z } from 'zod';
import { isCurrency } from '../domain/currency';
import { BillingError } from '../domain/errors';
import { fitsCurrency } from '../domain/money';

/** Parses a request body or query against a strict schema; the error names the offending field. */
export function parse<T extends z.ZodType>(schema: T, input: unknown, at?: string): z.infer<T> {
  const result = schema.safeParse(input ?? {}, { reportInput: true });
  if (result.success) return result.data;
  // An unknown field is the likeliest mistake (a typo), so it is reported before a missing one.
  const issue = result.error.issues.find((i) => i.code === 'unrecognized_keys') ?? result.error.issues[0];
  const param = [...(at ? [at] : []), ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    throw new BillingError('invalid_request_error', 'parameter_unknown', `Received unknown parameter: ${param ? `${param}.` : ''}${key}`, param ? `${param}.${key}` : key);
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    throw new BillingError('invalid_request_error', 'parameter_missing', `Missing required param: ${param}`, param);
  }
  if (issue.code === 'invalid_type') {
    throw new BillingError('invalid_request_error', 'parameter_invalid_type', `Invalid ${param}: must be ${issue.expected}`, param);
  }
  throw new BillingError('invalid_request_error', 'parameter_invalid', `Invalid ${param}: ${issue.message}`, param);
}

export const currencyField = z
  .string()
  .transform((c) => c.toUpperCase())
  .refine(isCurrency, 'must be an ISO 4217 currency code such as "USD", "JPY" or "KWD"');

/** Money travels as a decimal string in major units ("49.00"), never as a JSON number (a float). */
export const amountField = z
  .string({ error: (issue) => (issue.input === undefined ? undefined : 'must be a decimal string such as "49.00", not a number') })
  .regex(/^\d+(\.\d+)?$/, 'must be a non-negative decimal string such as "49.00"');

/**
 * True when `s` names a real instant exactly as written. Date.parse rolls an impossible date over
 * ("2027-02-30" becomes 2 March), so the instant is read back in its own offset and compared; year
 * 0000 is refused because Postgres has no year 0.
 */
export function isExactTimestamp(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|([+-])(\d{2}):(\d{2}))$/.exec(s);
  const instant = Date.parse(s);
  if (!m || Number.isNaN(instant) || m[1] === '0000') return false;
  const offsetMinutes = m[7] ? (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9])) : 0;
  const asWritten = new Date(instant + offsetMinutes * 60_000).toISOString();
  return asWritten.slice(0, 19) === `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}`;
}

export const timestampField = z
  .string()
  .refine(isExactTimestamp, 'must be an ISO 8601 timestamp with a time zone, such as "2026-01-31T00:00:00Z"')
  .transform((s) => new Date(s));

/** Money columns are numeric(30, 6): an amount stored as given has at most 24 digits before the point. */
const MAX_INTEGER_DIGITS = 24;

export function assertStorableAmount(amount: string, param: string): void {
  if (amount.split('.')[0].replace(/^0+/, '').length > MAX_INTEGER_DIGITS) {
    throw new BillingError('invalid_request_error', 'amount_invalid', `${param} "${amount}" is too large: at most ${MAX_INTEGER_DIGITS} digits before the decimal point`, param);
  }
}

export function assertFitsCurrency(amount: string, currency: string, param: string): void {
  if (!fitsCurrency(amount, currency)) {
    throw new BillingError('invalid_request_error', 'amount_invalid', `${param} "${amount}" has more decimals than ${currency} allows`, param);
  }
}
