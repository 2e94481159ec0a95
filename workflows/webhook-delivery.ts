import { proxyActivities, sleep } from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/webhooks';
import { MAX_ATTEMPTS, RETRY_DELAYS_MS } from '../domain/webhook-schedule';
import type { WebhookDeliveryInput, WebhookDeliveryResult } from './messages';

/**
 * An attempt gives up on the receiver after 15 s and only throws when Postgres fails, so a retry
 * here is the database coming back; the receiver's own failures are walked by the schedule below.
 */
const webhooks = proxyActivities<WebhookActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * One event to one endpoint: an attempt at once, then one after each wait of the schedule
 * (domain/webhook-schedule.ts), until the receiver answers 2xx, answers 410 (its endpoint is
 * disabled), or the tenth attempt fails (the delivery has failed). One workflow per delivery keeps
 * every delivery's schedule its own (a slow or dead endpoint holds back no other event or endpoint),
 * keeps histories short (at most ten attempts and nine timers), and lets operators find a delivery
 * by its id in Temporal.
 */
export async function webhookDeliveryWorkflow(input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    if (i > 0) await sleep(RETRY_DELAYS_MS[i - 1]);
    const last = i === MAX_ATTEMPTS - 1;
    const { verdict } = await webhooks.attemptWebhookDelivery({
      deliveryId: input.deliveryId,
      resend: input.resend,
      attempt: input.firstAttempt + i,
      retryInMs: last ? null : RETRY_DELAYS_MS[i],
    });
    if (verdict === 'succeeded') return { status: 'succeeded', attempts: i + 1 };
    if (verdict === 'gone') return { status: 'failed', attempts: i + 1 };
    if (verdict === 'stopped') return { status: 'stopped', attempts: i };
  }
  return { status: 'failed', attempts: MAX_ATTEMPTS };
}
