/**
 * How a failed charge is followed up. Soft declines (insufficient funds, a processing error) are
 * retried on the plan's schedule, counted in days from the first failure; hard declines (a stolen,
 * lost or wrongly numbered card, the do-not-honour family) will fail again however often they are
 * retried, so the customer is asked for a new payment method instead, and attaching one retries at
 * once. A reminder goes out a day before the final retry.
 */
export const DEFAULT_DUNNING_SCHEDULE: readonly number[] = [1, 3, 5, 7];

const HARD_DECLINES = new Set([
  'do_not_honor',
  'do_not_try_again',
  'expired_card',
  'fraudulent',
  'incorrect_number',
  'invalid_account',
  'invalid_number',
  'lost_card',
  'merchant_blacklist',
  'new_account_information_available',
  'pickup_card',
  'restricted_card',
  'revocation_of_all_authorizations',
  'revocation_of_authorization',
  'security_violation',
  'service_not_allowed',
  'stolen_card',
  'stop_payment_order',
  'transaction_not_allowed',
]);

/** Stripe's `decline_code` (or, for non-decline card errors, its `code`). */
export function isHardDecline(declineCode: string | null | undefined, errorCode?: string | null): boolean {
  return HARD_DECLINES.has(declineCode ?? '') || errorCode === 'expired_card' || errorCode === 'incorrect_number' || errorCode === 'invalid_number';
}

const DAY_MS = 86_400_000;

/** The instants of the retries after a first failure at `firstFailure`. */
export function retryInstants(firstFailure: Date, scheduleDays: readonly number[]): Date[] {
  return [...scheduleDays].sort((a, b) => a - b).map((d) => new Date(firstFailure.getTime() + d * DAY_MS));
}

/** When to remind the customer before the final retry: a day before it, if that is after the previous retry. */
export function reminderInstant(retries: readonly Date[]): Date | null {
  const last = retries.at(-1);
  if (!last) return null;
  const reminder = new Date(last.getTime() - DAY_MS);
  const previous = retries.at(-2);
  return previous && reminder <= previous ? null : reminder;
}
