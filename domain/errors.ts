/**
 * The failures a caller can act on, each with a stable type and code (Stripe's vocabulary).
 * The API maps them to HTTP once; activities turn them into non-retryable Temporal failures.
 */
export type BillingErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'idempotency_error'
  | 'state_error'
  /** Too many requests with one key: wait as long as Retry-After says. */
  | 'rate_limit_error'
  /** A service we depend on (Stripe) did not answer; the request can be retried. */
  | 'api_error';

export class BillingError extends Error {
  constructor(
    readonly type: BillingErrorType,
    readonly code: string,
    message: string,
    readonly param?: string,
  ) {
    super(message);
    this.name = 'BillingError';
  }
}
