import { temporal } from '@temporalio/proto';
import { Webhook } from 'standardwebhooks';
import { eventually } from '../support/eventually';
import { timeSkippingStack, type TimeSkippingStack } from '../support/time-skipping-stack';
import { commitFact, webhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { webhookDeliveryWorkflowId } from '../../workflows/messages';

const EventType = temporal.api.enums.v1.EventType;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * A receiver that never recovers, on the time-skipping server: the delivery's workflow walks the
 * whole schedule (at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h later) in
 * moments, and the delivery has failed after the tenth attempt.
 */
describe('a webhook delivery walks the whole retry schedule', () => {
  let stack: TimeSkippingStack;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    stack = await timeSkippingStack('webhook-schedule');
    receiver = await webhookReceiver();
    receiver.then = 503;
  });

  afterAll(async () => {
    await receiver?.close();
    await stack?.stop();
  });

  it('tries ten times on the schedule, then marks the delivery failed; each attempt is signed and carries the same webhook-id', async () => {
    // Given an endpoint whose receiver answers 503 to everything
    const hook = (await stack.api.post('/v1/webhook_endpoints', { url: receiver.url, events: ['invoice.finalized'] })).body;
    const customer = (await stack.api.post('/v1/customers', { name: 'Down Inc', email: 'ops@down.example', currency: 'USD' })).body;

    // When an event happens
    const eventId = await commitFact(stack.db.orm, 'invoice.finalized', { id: 'in_test_schedule', object: 'invoice', customer_id: customer.id });
    const deliveries = () => stack.api.get(`/v1/webhook_endpoints/${hook.id}/deliveries`).then((res) => res.body.data as any[]);
    const [first] = await eventually('the first attempt', deliveries, (list) => list[0]?.attempts.length === 1);
    expect(first).toMatchObject({ status: 'pending', attempt_count: 1, last_status_code: 503 });

    // And four days pass
    await stack.skipTo(new Date((await stack.env.currentTimeMs()) + 4 * 24 * HOUR).toISOString());

    // Then the delivery failed after its tenth attempt, and nothing more is scheduled
    const [failed] = await eventually('the delivery fails', deliveries, (list) => list[0]?.status === 'failed');
    expect(failed).toMatchObject({ status: 'failed', attempt_count: 10, next_attempt_at: null, last_status_code: 503 });
    expect(failed.attempts.map((a: any) => [a.attempt, a.outcome, a.status_code])).toEqual(Array.from({ length: 10 }, (_, i) => [i + 1, 'failed', 503]));

    // The workflow slept exactly the schedule between attempts, each attempt right after its timer fired
    const handle = stack.env.client.workflow.getHandle(webhookDeliveryWorkflowId(failed.id));
    expect(await handle.result()).toEqual({ status: 'failed', attempts: 10 });
    const events = (await handle.fetchHistory()).events ?? [];
    const steps = events.flatMap((e) => {
      if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) return [`attempt ${e.activityTaskScheduledEventAttributes?.input?.payloads?.length ? JSON.parse(Buffer.from(e.activityTaskScheduledEventAttributes.input.payloads[0].data!).toString()).attempt : '?'}`];
      if (e.eventType === EventType.EVENT_TYPE_TIMER_STARTED) {
        const timeout = e.timerStartedEventAttributes?.startToFireTimeout;
        return [`sleep ${Number(timeout?.seconds ?? 0) * SECOND + Math.round(Number(timeout?.nanos ?? 0) / 1e6)}`];
      }
      if (e.eventType === EventType.EVENT_TYPE_TIMER_FIRED) return ['fired'];
      return [];
    });
    const delays = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 24 * HOUR];
    expect(steps).toEqual(['attempt 1', ...delays.flatMap((ms, i) => [`sleep ${ms}`, 'fired', `attempt ${i + 2}`])]);

    // On the server's clock, attempt n+1 came when the schedule says, counted from attempt 1
    const scheduledAt = events
      .filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
      .map((e) => Number(e.eventTime?.seconds ?? 0) * SECOND + Math.round(Number(e.eventTime?.nanos ?? 0) / 1e6));
    const offsetsInMinutes = scheduledAt.map((t) => Math.floor((t - scheduledAt[0]) / MINUTE));
    expect(offsetsInMinutes).toEqual([0, 0, 5, 35, 155, 455, 1055, 1895, 3095, 4535]);

    // The receiver got the same message ten times: one webhook-id, each attempt signed at its own time
    expect(receiver.received).toHaveLength(10);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([eventId]));
    const last = receiver.received[9];
    expect(new Webhook(hook.secret).verify(last.raw, { 'webhook-id': eventId, 'webhook-timestamp': String(last.headers['webhook-timestamp']), 'webhook-signature': String(last.headers['webhook-signature']) })).toMatchObject({
      id: eventId,
      type: 'invoice.finalized',
    });
  });
});
