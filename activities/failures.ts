import { ApplicationFailure } from '@temporalio/activity';
import { DriverException } from '@mikro-orm/core';
import { BillingError } from '../domain/errors';

/**
 * Which activity failures can go away by retrying. Temporal retries an activity until it succeeds;
 * that is right for a network error, a restarted Postgres or a Stripe 5xx, and wrong for a failure
 * the same input will always produce: a billing rule refusing the data, a value no price can be
 * computed for, a row that breaks a constraint. Those are raised as non-retryable failures, so the
 * workflow sees them at once and stops visibly (a subscription shows `billing_error`) instead of
 * retrying forever where nobody looks.
 */

/** SQLSTATE classes the same statement will hit again: data exceptions, integrity, syntax and access rules. */
const DETERMINISTIC_SQL_CLASSES = new Set(['22', '23', '42', '2B', '2D', '3F', '44']);

export function permanentFailure(error: unknown): ApplicationFailure | null {
  if (error instanceof ApplicationFailure) return null;
  if (error instanceof BillingError) return ApplicationFailure.nonRetryable(error.message, error.code);
  // Programming and arithmetic errors (decimal.js throws "[DecimalError] ..." as plain Errors).
  if (error instanceof RangeError || error instanceof TypeError || error instanceof SyntaxError || error instanceof ReferenceError) {
    return ApplicationFailure.nonRetryable(`${error.name}: ${error.message}`, error.name);
  }
  if (error instanceof Error && error.message.startsWith('[DecimalError]')) return ApplicationFailure.nonRetryable(error.message, 'DecimalError');
  const sqlState = error instanceof DriverException ? (error.code ?? error.sqlState) : (error as { code?: unknown } | null)?.code;
  if (typeof sqlState === 'string' && /^[0-9A-Z]{5}$/.test(sqlState) && DETERMINISTIC_SQL_CLASSES.has(sqlState.slice(0, 2))) {
    return ApplicationFailure.nonRetryable(`Postgres refused the statement (SQLSTATE ${sqlState}): ${(error as Error).message}`, `sqlstate_${sqlState}`);
  }
  return null;
}

/** Wraps every activity so a permanent failure leaves it as non-retryable, with its cause as the failure's type. */
export function failingPermanently<T extends Record<string, unknown>>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, activity] of Object.entries(activities)) {
    if (typeof activity !== 'function') {
      wrapped[name] = activity;
      continue;
    }
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (activity as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (error) {
        throw permanentFailure(error) ?? error;
      }
    };
  }
  return wrapped as T;
}
