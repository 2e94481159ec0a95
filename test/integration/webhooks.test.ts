import { Webhook } from 'standardwebhooks';
import { EventRelay } from '../../workers/event-relay';
import { freePort } from '../../scripts/wait-for-port';
import { billingWorker } from '../support/temporal';
import { timeSkippingStack, type TimeSkippingStack } from '../support/time-skipping-stack';
import { commitFact, webhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../support/webhook-receiver';
import { eventually, expectError, startStack, type Stack } from './harness';

/**
 * Outgoing webhooks as a customer's receiver sees them: real HTTP servers answering what each
 * scenario needs, signatures checked with the Standard Webhooks reference library, the retry
 * schedule walked on the time-skipping server (5 s, then 5 min, ... pass in moments).
 */

/** What a receiver does with a delivery: verify it with the reference library, which throws on any mismatch. */
const verify = (secret: string, request: ReceivedWebhook, options?: { format: 'raw' }) =>
  new Webhook(secret, options).verify(request.raw, {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  });

describe('webhook endpoints and deliveries', () => {
  let stack: TimeSkippingStack;
  const receivers: WebhookReceiver[] = [];

  beforeAll(async () => {
    stack = await timeSkippingStack('webhooks');
  });

  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await stack?.stop();
  });

  async function receiver(answers: number[] = []): Promise<WebhookReceiver> {
    const r = await webhookReceiver(answers);
    receivers.push(r);
    return r;
  }

  let n = 0;
  async function customer(): Promise<any> {
    const res = await stack.api.post('/v1/customers', { name: `Receiver ${++n}`, email: `receiver${n}@example.test`, currency: 'USD' });
    expect(res.status).toBe(201);
    return res.body;
  }

  async function endpoint(url: string, events: string[] = ['customer.updated']): Promise<any> {
    const res = await stack.api.post('/v1/webhook_endpoints', { url, events, description: 'the CRM' });
    expect(res.status).toBe(201);
    return res.body;
  }

  const deliveries = async (endpointId: string): Promise<any[]> => {
    const res = await stack.api.get(`/v1/webhook_endpoints/${endpointId}/deliveries`);
    expect(res.status).toBe(200);
    return res.body.data;
  };

  /** Moves the server's clock on by `ms` (timers due by then fire; the worker runs what they start). */
  const skip = async (ms: number): Promise<void> => stack.skipTo(new Date((await stack.env.currentTimeMs()) + ms).toISOString());

  it('answers 500, 500, then 200: delivered on the third attempt (at once, 5 s later, 5 min after that), every attempt signed and verified', async () => {
    // Given an endpoint whose receiver fails twice
    const crm = await receiver([500, 500]);
    const hook = await endpoint(crm.url);
    expect(hook).toMatchObject({ object: 'webhook_endpoint', url: crm.url, events: ['customer.updated'], status: 'enabled', description: 'the CRM' });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    // When a customer is updated
    const object = await customer();
    const eventId = await commitFact(stack.db.orm, 'customer.updated', object);

    // Then the first attempt is made at once and fails; the second 5 s later fails; the third, 5 min later, delivers it
    await eventually('the first attempt', () => deliveries(hook.id), (list) => list[0]?.attempts.length === 1);
    await skip(6_000);
    await eventually('the second attempt', () => deliveries(hook.id), (list) => list[0]?.attempts.length === 2);
    await skip(5 * 60_000 + 1_000);
    const [delivery] = await eventually('the third attempt delivers it', () => deliveries(hook.id), (list) => list[0]?.status === 'succeeded');
    expect(delivery).toMatchObject({ object: 'webhook_delivery', event_id: eventId, event_type: 'customer.updated', endpoint_id: hook.id, attempt_count: 3, last_status_code: 200, next_attempt_at: null });
    expect(delivery.attempts.map((a: any) => [a.attempt, a.outcome, a.status_code, a.response_excerpt])).toEqual([
      [1, 'failed', 500, 'answered 500'],
      [2, 'failed', 500, 'answered 500'],
      [3, 'succeeded', 200, 'ok'],
    ]);

    // The receiver got the same event three times, under one webhook-id, and each verifies with the endpoint's secret
    expect(crm.received).toHaveLength(3);
    for (const request of crm.received) {
      expect(request.headers['webhook-id']).toBe(eventId);
      expect(verify(hook.secret, request)).toEqual({ id: eventId, object: 'event', type: 'customer.updated', created_at: expect.any(String), data: { object } });
    }
    // A body altered on the way, or signed with another secret, does not verify
    expect(() => verify(hook.secret, { ...crm.received[2], raw: crm.received[2].raw.replace(object.name, 'Mallory') })).toThrow('No matching signature found');
    const other = (await stack.api.post(`/v1/webhook_endpoints`, { url: crm.url, events: ['*'] })).body;
    expect(() => verify(other.secret, crm.received[2])).toThrow('No matching signature found');
    await stack.api.delete(`/v1/webhook_endpoints/${other.id}`);
  });

  it('a customer created through the API reaches an endpoint that asked for customer.created: the body is the event as GET /v1/events/:id shows it', async () => {
    const crm = await receiver();
    const hook = await endpoint(crm.url, ['customer.created']);
    const object = await customer();
    await eventually('delivered', () => deliveries(hook.id), (list) => list[0]?.status === 'succeeded');
    const [request] = crm.received;
    const event = await stack.api.get(`/v1/events/${request.headers['webhook-id']}`);
    expect(event.status).toBe(200);
    expect(verify(hook.secret, request)).toEqual(event.body);
    expect(event.body).toMatchObject({ type: 'customer.created', data: { object } });
  });

  it('a 410 disables the endpoint and ends the delivery; nothing more is sent to it until it is enabled again', async () => {
    const gone = await receiver([410]);
    const hook = await endpoint(gone.url);
    await commitFact(stack.db.orm, 'customer.updated', await customer());
    const [delivery] = await eventually('the delivery ends', () => deliveries(hook.id), (list) => list[0]?.status === 'failed');
    expect(delivery.attempts.map((a: any) => [a.outcome, a.status_code])).toEqual([['failed', 410]]);
    const disabled = (await stack.api.get(`/v1/webhook_endpoints/${hook.id}`)).body;
    expect(disabled).toMatchObject({ status: 'disabled', disabled_reason: expect.stringContaining('410') });

    // Later events make no delivery to a disabled endpoint, and no attempt is scheduled
    await commitFact(stack.db.orm, 'customer.updated', await customer());
    await eventually('the relay has dispatched the event', () => stack.db.orm.em.fork().execute(`select count(*)::int as n from events where dispatched_at is null`), (rows) => rows[0].n === 0);
    await skip(60 * 60_000);
    expect(await deliveries(hook.id)).toHaveLength(1);
    expect(gone.received).toHaveLength(1);
  });

  it('a failed delivery is sent again by hand: a new run, its attempts numbered on, once per Idempotency-Key', async () => {
    // Given a delivery that failed (the receiver said 410, which also disabled the endpoint)
    const crm = await receiver([410]);
    const hook = await endpoint(crm.url);
    await commitFact(stack.db.orm, 'customer.updated', await customer());
    const [failed] = await eventually('the delivery fails', () => deliveries(hook.id), (list) => list[0]?.status === 'failed');

    // Resending waits for the endpoint to be enabled again
    expectError(await stack.api.post(`/v1/webhook_deliveries/${failed.id}/resend`), 409, { code: 'endpoint_disabled' });
    const enabled = await stack.api.post(`/v1/webhook_endpoints/${hook.id}`, { status: 'enabled' });
    expect(enabled.body).toMatchObject({ status: 'enabled', disabled_reason: null });

    // When it is resent twice with the same Idempotency-Key
    const key = { 'idempotency-key': `resend-${failed.id}` };
    const first = await stack.api.post(`/v1/webhook_deliveries/${failed.id}/resend`, {}, key);
    const replay = await stack.api.post(`/v1/webhook_deliveries/${failed.id}/resend`, {}, key);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'pending', resends: 1 });
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    // Then it is delivered by one new run, attempt 2
    const delivered = await eventually('the resent delivery succeeds', () => stack.api.get(`/v1/webhook_deliveries/${failed.id}`), (res) => res.body.status === 'succeeded');
    expect(delivered.body.attempts.map((a: any) => [a.attempt, a.status_code])).toEqual([
      [1, 410],
      [2, 200],
    ]);
    expect(crm.received).toHaveLength(2);
    // A delivered delivery is not sent again
    expectError(await stack.api.post(`/v1/webhook_deliveries/${failed.id}/resend`), 409, { code: 'delivery_not_failed' });
  });

  it('after a rotation each message carries two signatures, one verifying with the old secret and one with the new, for 24 hours', async () => {
    const crm = await receiver();
    const hook = await endpoint(crm.url);
    const rotated = await stack.api.post(`/v1/webhook_endpoints/${hook.id}/rotate_secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(hook.secret);
    const expires = Date.parse(rotated.body.previous_secret_expires_at) - Date.parse(rotated.body.updated_at);
    expect(expires).toBe(24 * 3_600_000);

    const eventId = await commitFact(stack.db.orm, 'customer.updated', await customer());
    await eventually('delivered', () => deliveries(hook.id), (list) => list[0]?.status === 'succeeded');
    const [request] = crm.received;
    expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verify(hook.secret, request)).toMatchObject({ id: eventId });
    expect(verify(rotated.body.secret, request)).toMatchObject({ id: eventId });
    // The secret is shown only when made and when rotated
    expect((await stack.api.get(`/v1/webhook_endpoints/${hook.id}`)).body).not.toHaveProperty('secret');
    expect((await stack.api.get('/v1/webhook_endpoints')).body.data.every((e: any) => !('secret' in e))).toBe(true);
  });

  it('delivers only the events an endpoint asked for, and every event to ["*"]', async () => {
    const object = await customer();
    const picky = await receiver();
    const all = await receiver();
    const pickyHook = await endpoint(picky.url, ['invoice.paid']);
    const allHook = await endpoint(all.url, ['*']);
    await commitFact(stack.db.orm, 'customer.updated', object);
    const paid = await commitFact(stack.db.orm, 'invoice.paid', { id: 'in_test_paid', object: 'invoice' });
    await eventually('both events reach "*"', () => deliveries(allHook.id), (list) => list.filter((d) => d.status === 'succeeded').length === 2);
    await eventually('the paid invoice reaches the picky endpoint', () => deliveries(pickyHook.id), (list) => list[0]?.status === 'succeeded');
    expect((await deliveries(pickyHook.id)).map((d) => d.event_id)).toEqual([paid]);
    expect(picky.received.map((r) => r.body.type)).toEqual(['invoice.paid']);
    expect(all.received.map((r) => r.body.type).sort()).toEqual(['customer.updated', 'invoice.paid']);
  });

  it('deleting an endpoint stops its pending deliveries: the next attempt sends nothing', async () => {
    const down = await receiver([503]);
    const hook = await endpoint(down.url);
    await commitFact(stack.db.orm, 'customer.updated', await customer());
    await eventually('the first attempt fails', () => deliveries(hook.id), (list) => list[0]?.attempts.length === 1);
    const deleted = await stack.api.delete(`/v1/webhook_endpoints/${hook.id}`);
    expect(deleted.status).toBe(200);
    expectError(await stack.api.get(`/v1/webhook_endpoints/${hook.id}`), 404, { code: 'resource_missing' });
    await skip(10_000);
    // The deliveries of a deleted endpoint stay readable: the record of what was sent
    const [delivery] = await deliveries(hook.id);
    expect({ status: delivery.status, attempts: delivery.attempts.length }).toEqual({ status: 'failed', attempts: 1 });
    expect(down.received).toHaveLength(1);
  });

  it('refuses endpoints it could not deliver to, naming the field', async () => {
    const post = (body: unknown) => stack.api.post('/v1/webhook_endpoints', body);
    expectError(await post({ events: ['*'] }), 400, { code: 'parameter_missing', param: 'url' });
    expectError(await post({ url: 'ftp://example.test/hooks', events: ['*'] }), 400, { code: 'parameter_invalid', param: 'url' });
    expectError(await post({ url: '/hooks', events: ['*'] }), 400, { code: 'parameter_invalid', param: 'url' });
    expectError(await post({ url: 'https://example.test/hooks', events: [] }), 400, { code: 'parameter_invalid', param: 'events' });
    expectError(await post({ url: 'https://example.test/hooks', events: ['invoice.paid', 'invoice.payed'] }), 400, { code: 'parameter_invalid', param: 'events.1' });
    expectError(await post({ url: 'https://example.test/hooks', events: ['*', 'invoice.paid'] }), 400, { code: 'parameter_invalid', param: 'events.0' });
    expectError(await post({ url: 'https://example.test/hooks', events: ['*'], secret: 'mine' }), 400, { code: 'parameter_unknown', param: 'secret' });
    expectError(await stack.api.post('/v1/webhook_endpoints/we_missing', { status: 'disabled' }), 404, { code: 'resource_missing' });
    expectError(await stack.api.post('/v1/webhook_endpoints/we_missing/rotate_secret'), 404, { code: 'resource_missing' });
    expectError(await stack.api.delete('/v1/webhook_endpoints/we_missing'), 404, { code: 'resource_missing' });
    expectError(await stack.api.post('/v1/webhook_deliveries/whd_missing/resend'), 404, { code: 'resource_missing' });
    const hook = await endpoint('https://example.test/hooks');
    expectError(await stack.api.post(`/v1/webhook_endpoints/${hook.id}`, { status: 'paused' }), 400, { code: 'parameter_invalid', param: 'status' });
    expectError(await stack.api.get(`/v1/webhook_endpoints/${hook.id}/deliveries?status=lost`), 400, { code: 'parameter_invalid', param: 'status' });

    // An update changes what was sent and keeps the rest
    const updated = await stack.api.post(`/v1/webhook_endpoints/${hook.id}`, { events: ['invoice.paid', 'invoice.payment_failed'], description: null });
    expect(updated.body).toMatchObject({ url: 'https://example.test/hooks', events: ['invoice.paid', 'invoice.payment_failed'], description: null, status: 'enabled' });
    const disabled = await stack.api.post(`/v1/webhook_endpoints/${hook.id}`, { status: 'disabled' });
    expect(disabled.body).toMatchObject({ status: 'disabled', disabled_reason: 'Disabled through the API' });
    await stack.api.delete(`/v1/webhook_endpoints/${hook.id}`);
  });
});

describe('webhook delivery across a worker restart', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('webhook-restart', { worker: false });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('only admin keys see or manage endpoints and deliveries: they reach every customer\'s data', async () => {
    expectError(await stack.support.post('/v1/webhook_endpoints', { url: 'https://example.test/hooks', events: ['*'] }), 403, { code: 'insufficient_permissions' });
    expectError(await stack.readonly.get('/v1/webhook_endpoints'), 403, { code: 'insufficient_permissions' });
    expectError(await stack.support.get('/v1/webhook_deliveries/whd_any'), 403, { code: 'insufficient_permissions' });
    expect((await stack.admin.get('/v1/webhook_endpoints')).status).toBe(200);
  });

  it('the receiver is down while the worker restarts: the event committed meanwhile is delivered once, when the receiver is back', async () => {
    // Given a worker (with its relay) running, and an endpoint whose receiver is down
    const start = async () => {
      const worker = await billingWorker({ connection: stack.temporal.connection, taskQueue: stack.taskQueue, orm: stack.db.orm });
      const running = worker.run();
      const relay = await EventRelay.start({ orm: stack.db.orm, temporal: stack.temporal.client, taskQueue: stack.taskQueue });
      return async () => {
        await relay.stop();
        worker.shutdown();
        await running;
      };
    };
    let stop = await start();
    const crm = await webhookReceiver([], { listening: false, port: await freePort() });
    const hook = (await stack.admin.post('/v1/webhook_endpoints', { url: crm.url, events: ['customer.updated'] })).body;
    try {
      // When the worker stops, a customer is updated, a new worker starts, then the receiver comes back
      await stop();
      const object = (await stack.admin.post('/v1/customers', { name: 'Restarted', email: 'restarted@example.test', currency: 'USD' })).body;
      const eventId = await commitFact(stack.db.orm, 'customer.updated', object);
      stop = await start();
      const deliveries = () => stack.admin.get(`/v1/webhook_endpoints/${hook.id}/deliveries`).then((res) => res.body.data);
      const [refused] = await eventually('the first attempt finds the receiver down', deliveries, (list: any[]) => list[0]?.attempts.length === 1);
      expect(refused.attempts[0]).toMatchObject({ outcome: 'failed', status_code: null, error: expect.stringContaining('ECONNREFUSED') });
      await crm.up();

      // Then the next attempt (5 s later) delivers it, once
      const [delivered] = await eventually('delivered once the receiver is back', deliveries, (list: any[]) => list[0]?.status === 'succeeded');
      expect(delivered.attempts.map((a: any) => a.outcome)).toEqual(['failed', 'succeeded']);
      expect(crm.received.map((r) => r.headers['webhook-id'])).toEqual([eventId]);
      expect(verify(hook.secret, crm.received[0])).toMatchObject({ id: eventId, data: { object } });
    } finally {
      await stop();
      await crm.close();
    }
  });
});
