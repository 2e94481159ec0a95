import { z } from 'zod';
import { isCurrency } from '../domain/currency';
import { BillingError } from '../domain/errors';
import { fitsCurrency } from '../domain/money';

/** Parses a request body or query against a strict schema; the error names the offending field. */
export function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input ?? {}, { reportInput: true });
  if (result.success) return result.data;
  // An unknown field is the likeliest mistake (a typo), so it is reported before a missing one.
  const issue = result.error.issues.find((i) => i.code === 'unrecognized_keys') ?? result.error.issues[0];
  const param = issue.path.map(String).join('.');
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

export const timestampField = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 timestamp with a time zone, such as "2026-01-31T00:00:00Z"')
  .transform((s) => new Date(s));

export function assertFitsCurrency(amount: string, currency: string, param: string): void {
  if (!fitsCurrency(amount, currency)) {
    throw new BillingError('invalid_request_error', 'amount_invalid', `${param} "${amount}" has more decimals than ${currency} allows`, param);
  }
}
