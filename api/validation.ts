import { z } from 'zod';
import { BillingError } from '../domain/errors';

/** Parses a request body or query against a strict schema; the error names the offending field. */
export function parse<T extends z.ZodType>(schema: T, input: unknown, at?: string): z.infer<T> {
  // Only an absent body reads as {}: a JSON null is a body, and not an object.
  if (input === null && !at) throw new BillingError('invalid_request_error', 'parameter_invalid_type', 'The request body must be a JSON object, not null');
  const result = schema.safeParse(input === undefined ? {} : input, { reportInput: true });
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
