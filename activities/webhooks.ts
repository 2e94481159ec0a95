import { performance } from 'node:perf_hooks';
import { ApplicationFailure } from '@temporalio/activity';
import { forkEm, type Orm } from '../db/orm';
import { attemptContext, recordAttempt, signingSecrets, stopDelivery, type WebhookAttemptRow } from '../db/webhook-store';
import { signatures } from '../domain/webhook-signatures';
import { verdictOf, type AttemptVerdict } from '../domain/webhook-schedule';
import type { WebhookAttemptRequest, WebhookAttemptResult } from '../workflows/messages';

/** How long a receiver has to answer one attempt (headers and body) before it counts as failed. */
export const WEBHOOK_TIMEOUT_MS = 15_000;
/** How much of an answer is kept with the attempt, to show in the deliveries list. */
const EXCERPT_CHARS = 500;

/**
 * One attempt of a webhook delivery: POST the event, signed, to the endpoint, record the attempt
 * and where the delivery stands, and tell the workflow what happened. An HTTP failure (a status, a
 * refused connection, a timeout) is an outcome, not an error: the workflow owns the retry schedule.
 * Only a failing database makes the activity throw (and Temporal retry it).
 *
 * Each attempt is recorded once per (delivery, attempt number). An activity run again after
 * recording its attempt answers what was recorded without sending; one that dies between sending and
 * recording sends again, with the same webhook-id, on which receivers dedupe (Standard Webhooks).
 */
export function createWebhookActivities({ orm }: { orm: Orm }) {
  const em = forkEm(orm);
  return {
    async attemptWebhookDelivery(request: WebhookAttemptRequest): Promise<WebhookAttemptResult> {
      const context = await attemptContext(em(), request.deliveryId, request.attempt);
      if (!context) throw ApplicationFailure.nonRetryable(`webhook delivery ${request.deliveryId} is not in the database`, 'delivery_missing');
      if (context.recorded) return { verdict: recordedVerdict(context.recorded), statusCode: context.recorded.status_code };
      const { delivery, endpoint, event } = context;
      // Sent again by hand (a newer run owns it), delivered, or stopped with its endpoint: nothing to send.
      if (delivery.status !== 'pending' || delivery.resends !== request.resend) return { verdict: 'stopped', statusCode: null };
      if (endpoint.deleted_at || endpoint.status !== 'enabled') {
        await stopDelivery(em(), delivery.id, request.resend);
        return { verdict: 'stopped', statusCode: null };
      }

      const body = JSON.stringify(event);
      const sentAt = new Date();
      const timestamp = Math.floor(sentAt.getTime() / 1000);
      const started = performance.now();
      let statusCode: number | null = null;
      let error: string | null = null;
      let excerpt: string | null = null;
      try {
        const response = await fetch(endpoint.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Perennial-Webhooks/1',
            'webhook-id': event.id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signatures(signingSecrets(endpoint, sentAt), event.id, timestamp, body),
          },
          body,
          // A redirect is not followed: the endpoint's URL is where events go, as Stripe does.
          redirect: 'manual',
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        });
        statusCode = response.status;
        excerpt = (await response.text()).slice(0, EXCERPT_CHARS) || null;
      } catch (failure) {
        error = describe(failure);
      }
      const latencyMs = Math.round(performance.now() - started);

      const verdict = verdictOf(statusCode);
      const retrying = verdict === 'failed' && request.retryInMs !== null;
      await recordAttempt(em(), {
        deliveryId: delivery.id,
        attempt: request.attempt,
        outcome: verdict === 'succeeded' ? 'succeeded' : 'failed',
        statusCode,
        error: error ?? (verdict === 'succeeded' ? null : statusCode === null ? null : `HTTP ${statusCode}`),
        latencyMs,
        responseExcerpt: excerpt,
        deliveryStatus: verdict === 'succeeded' ? 'succeeded' : retrying ? 'pending' : 'failed',
        nextAttemptAt: retrying ? new Date(Date.now() + request.retryInMs!) : null,
        disableEndpoint: verdict === 'gone' ? `The endpoint answered 410 Gone at ${sentAt.toISOString()}` : null,
      });
      return { verdict, statusCode };
    },
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;

function recordedVerdict(attempt: WebhookAttemptRow): AttemptVerdict {
  return attempt.outcome === 'succeeded' ? 'succeeded' : verdictOf(attempt.status_code);
}

/**
 * Why a request got no answer, in words an operator reads in the deliveries list. Read by shape, not
 * instanceof: fetch's errors may come from another realm than this module's Error.
 */
function describe(failure: unknown): string {
  const error = failure as { name?: string; message?: string; cause?: { code?: string; message?: string } } | null;
  if (error?.name === 'TimeoutError' || error?.name === 'AbortError') return `No answer within ${WEBHOOK_TIMEOUT_MS / 1000} s`;
  if (error?.cause?.code) return `Could not connect: ${error.cause.code}${error.cause.message ? ` (${error.cause.message})` : ''}`;
  return error?.message ?? String(failure);
}
