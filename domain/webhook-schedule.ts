/**
 * When a webhook delivery is tried: at once, then after each of these waits (5 s, 5 min, 30 min,
 * 2 h, 5 h, 10 h, 14 h, 20 h, 24 h), ten attempts over about three and a half days; a delivery still
 * unanswered after the tenth has failed. The same schedule as Svix and the Standard Webhooks
 * recommendation, so a receiver that is down for a deploy or an afternoon loses nothing.
 */
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export const RETRY_DELAYS_MS: readonly number[] = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 24 * HOUR];

export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;

/**
 * What an answer means for the delivery:
 * - `succeeded`: any 2xx; the receiver has it.
 * - `gone`: 410; the receiver says the endpoint no longer exists, so it is disabled and nothing more is sent to it.
 * - `failed`: anything else (another status, a refused connection, a timeout); tried again on the schedule.
 */
export type AttemptVerdict = 'succeeded' | 'gone' | 'failed';

export function verdictOf(statusCode: number | null): AttemptVerdict {
  if (statusCode !== null && statusCode >= 200 && statusCode < 300) return 'succeeded';
  if (statusCode === 410) return 'gone';
  return 'failed';
}
