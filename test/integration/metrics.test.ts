import { createLogger } from '../../observability/logger';
import { parseScrape, scrape } from '../support/prometheus';
import { listen } from '../support/http';
import { createApp } from '../../api/app';
import { parseApiKeySpec } from '../../config/env';
import { eventually, KEYS, startStack, waitForInvoices, type Stack } from './harness';
import { webhookReceiver } from '../support/webhook-receiver';

/**
 * What an operator's Prometheus and log collector see: GET /metrics parses as Prometheus text, its
 * counters move by exactly what the test did (requests by route pattern, usage events by outcome,
 * invoices issued, webhook deliveries read from Postgres), and every request and error line is JSON
 * carrying the request id the caller was answered with.
 */
describe('metrics and logs of the API', () => {
  let stack: Stack;
  const lines: Array<Record<string, any>> = [];
  const logger = createLogger({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const metricsUrl = () => `${stack.baseUrl}/metrics`;

  beforeAll(async () => {
    stack = await startStack('metrics', { app: { logger } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('counts requests by method, route pattern and status, not by raw path', async () => {
    const before = await scrape(metricsUrl());
    const count = (s: typeof before, method: string, route: string, status: string) => s.value('http_request_duration_seconds_count', { method, route, status }) ?? 0;
    const a = await stack.admin.post('/v1/customers', { name: 'Ada', email: 'ada@example.test', currency: 'USD' });
    const b = await stack.admin.post('/v1/customers', { name: 'Bea', email: 'bea@example.test', currency: 'USD' });
    expect([a.status, b.status]).toEqual([201, 201]);
    for (const id of [a.body.id, b.body.id, a.body.id]) expect((await stack.readonly.get(`/v1/customers/${id}`)).status).toBe(200);
    expect((await stack.readonly.get('/v1/customers/cus_missing')).status).toBe(404);
    expect((await stack.as(null).get('/v1/customers')).status).toBe(401);
    expect((await stack.admin.get('/v1/no_such_thing')).status).toBe(404);

    const after = await scrape(metricsUrl());
    expect({
      created: count(after, 'POST', '/v1/customers', '201') - count(before, 'POST', '/v1/customers', '201'),
      read: count(after, 'GET', '/v1/customers/:id', '200') - count(before, 'GET', '/v1/customers/:id', '200'),
      missing: count(after, 'GET', '/v1/customers/:id', '404') - count(before, 'GET', '/v1/customers/:id', '404'),
      unauthenticated: count(after, 'GET', '/v1/customers', '401') - count(before, 'GET', '/v1/customers', '401'),
      unmatched: count(after, 'GET', 'unmatched', '404') - count(before, 'GET', 'unmatched', '404'),
    }).toEqual({ created: 2, read: 3, missing: 1, unauthenticated: 1, unmatched: 1 });
    // No series is named after an id: the label is the pattern.
    expect(after.series('http_request_duration_seconds_count').filter((s) => s.labels.route.includes('cus_'))).toEqual([]);
    // The histogram's buckets are cumulative up to +Inf, which equals the count.
    const inf = after.value('http_request_duration_seconds_bucket', { method: 'GET', route: '/v1/customers/:id', status: '200', le: '+Inf' });
    expect(inf).toBe(count(after, 'GET', '/v1/customers/:id', '200'));
    // The process's own metrics come with it.
    expect(after.value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(after.families.find((f) => f.name === 'http_request_duration_seconds')?.type).toBe('HISTOGRAM');
  });

  it('counts usage events accepted, duplicated and rejected, and invoices issued as Postgres has them', async () => {
    const before = await scrape(metricsUrl());
    expect((await stack.admin.post('/v1/metrics', { code: 'calls', name: 'Calls', aggregation: 'sum', field: 'n' })).status).toBe(201);
    const customer = await stack.admin.post('/v1/customers', { name: 'Usage', email: 'usage@example.test', currency: 'USD' });
    const plan = await stack.admin.post('/v1/plans', {
      code: 'metered',
      name: 'Metered',
      currency: 'USD',
      interval: 'month',
      amount: '10.00',
      charges: [{ metric_code: 'calls', model: 'standard', properties: { unit_amount: '0.01' } }],
    });
    expect(plan.status).toBe(201);
    const sub = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: 'metered' });
    expect(sub.status).toBe(201);
    await waitForInvoices(stack.admin, sub.body.id, 1);

    const event = (id: string, n = 1) => ({ transaction_id: id, subscription_id: sub.body.id, code: 'calls', properties: { n } });
    const first = await stack.admin.post('/v1/usage_events', { events: [event('u1'), event('u2'), event('u3'), { transaction_id: 'u4', subscription_id: sub.body.id, code: 'nope' }] });
    expect(first.body).toMatchObject({ accepted: 3, duplicates: 0, rejected: [{ index: 3, code: 'metric_not_found' }] });
    const second = await stack.admin.post('/v1/usage_events', { events: [event('u1'), event('u2'), event('u5'), { transaction_id: 'u6' }] });
    expect(second.body).toMatchObject({ accepted: 1, duplicates: 2, rejected: [{ index: 3 }] });

    const after = await scrape(metricsUrl());
    const moved = (name: string, labels?: Record<string, string>) => (after.value(name, labels) ?? NaN) - (before.value(name, labels) ?? NaN);
    expect({
      accepted: moved('perennial_usage_events_total', { outcome: 'accepted' }),
      duplicate: moved('perennial_usage_events_total', { outcome: 'duplicate' }),
      rejected: moved('perennial_usage_events_total', { outcome: 'rejected' }),
      invoicesIssued: moved('perennial_invoices_issued_total'),
    }).toEqual({ accepted: 4, duplicate: 2, rejected: 2, invoicesIssued: 1 });
    expect(after.value('perennial_subscriptions', { status: 'active' })).toBe(1);
    expect(after.value('perennial_database_up')).toBe(1);
  });

  it('reads webhook attempts by outcome and charges by outcome from Postgres, zero before any', async () => {
    const s = await scrape(metricsUrl());
    const [{ attempts, deliveries, charges }] = await stack.db.orm.em.fork().execute(
      `select (select count(*)::int from webhook_attempts) as attempts, (select count(*)::int from webhook_deliveries) as deliveries, (select count(*)::int from payment_attempts) as charges`,
    );
    // Nothing in this stack sends a webhook or charges a card: every outcome is there, at zero.
    expect({ attempts, deliveries, charges }).toEqual({ attempts: 0, deliveries: 0, charges: 0 });
    expect(s.series('perennial_webhook_delivery_attempts_total').map((x) => [x.labels.outcome, x.value]).sort()).toEqual([['failed', 0], ['succeeded', 0]]);
    expect(s.series('perennial_webhook_deliveries').map((x) => [x.labels.status, x.value]).sort()).toEqual([['failed', 0], ['pending', 0], ['succeeded', 0]]);
    expect(s.series('perennial_charges_total').map((x) => [x.labels.outcome, x.value]).sort()).toEqual([['canceled', 0], ['failed', 0], ['succeeded', 0]]);
    expect(s.value('perennial_events_oldest_undispatched_age_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('writes one JSON line per request with its request id, and errors with the same id', async () => {
    const res = await stack.readonly.get('/v1/customers?limit=2');
    expect(res.status).toBe(200);
    const id = res.headers.get('request-id');
    const line = lines.find((l) => l.requestId === id);
    expect(line).toMatchObject({ level: 'info', method: 'GET', route: '/v1/customers', path: '/v1/customers', status: 200, role: 'readonly', keyId: expect.any(String) });
    expect(line!.durationMs).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(line)).not.toContain(KEYS.readonly);

    // A real failure: the table the route reads is gone for a moment.
    const { Client } = await import('pg');
    const owner = new Client({ connectionString: stack.db.ownerUrl });
    await owner.connect();
    try {
      await owner.query('alter table tax_rates rename to tax_rates_away');
      const failed = await stack.readonly.get('/v1/tax_rates');
      expect(failed.status).toBe(500);
      const failedId = failed.headers.get('request-id');
      const forRequest = lines.filter((l) => l.requestId === failedId);
      expect(forRequest).toEqual([
        expect.objectContaining({ level: 'error', route: '/v1/tax_rates', err: expect.objectContaining({ message: expect.stringContaining('tax_rates') }) }),
        expect.objectContaining({ level: 'info', route: '/v1/tax_rates', status: 500 }),
      ]);
    } finally {
      await owner.query('alter table tax_rates_away rename to tax_rates');
      await owner.end();
    }
  });

  it('asks for METRICS_TOKEN when one is set, and reads nothing without it', async () => {
    const token = 'metrics_3a9f0c2b7d1e4f68a5b2';
    const server = await listen(
      createApp({ orm: stack.db.orm, temporal: stack.temporal.client, taskQueue: stack.taskQueue, apiKeys: parseApiKeySpec(`admin:${KEYS.admin}`), metricsToken: token }),
    );
    try {
      expect((await fetch(`${server.baseUrl}/metrics`)).status).toBe(401);
      const wrong = await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${KEYS.admin}` } });
      expect({ status: wrong.status, body: await wrong.json() }).toEqual({ status: 401, body: { error: expect.objectContaining({ type: 'authentication_error', code: 'metrics_token_invalid' }) } });
      const ok = await scrape(`${server.baseUrl}/metrics`, token);
      expect(ok.value('perennial_database_up')).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('counts webhook deliveries and their attempts by outcome as the worker makes them', async () => {
    const before = await scrape(metricsUrl());
    const ok = await webhookReceiver();
    const gone = await webhookReceiver([410]);
    try {
      const endpoints: string[] = [];
      for (const url of [ok.url, gone.url]) {
        const res = await stack.admin.post('/v1/webhook_endpoints', { url, events: ['customer.created'] });
        expect(res.status).toBe(201);
        endpoints.push(res.body.id);
      }
      // One event, two endpoints: one answers 200, the other 410 (which ends its delivery at once).
      expect((await stack.admin.post('/v1/customers', { name: 'Hooked', email: 'hooked@example.test', currency: 'USD' })).status).toBe(201);
      for (const id of endpoints) {
        await eventually(`the delivery to ${id} has ended`, async () => (await stack.admin.get(`/v1/webhook_endpoints/${id}/deliveries`)).body.data, (list: any[]) => list[0]?.status !== undefined && list[0].status !== 'pending');
      }

      const after = await scrape(metricsUrl());
      const moved = (name: string, labels: Record<string, string>) => (after.value(name, labels) ?? NaN) - (before.value(name, labels) ?? NaN);
      expect({
        attemptsSucceeded: moved('perennial_webhook_delivery_attempts_total', { outcome: 'succeeded' }),
        attemptsFailed: moved('perennial_webhook_delivery_attempts_total', { outcome: 'failed' }),
        deliveriesSucceeded: moved('perennial_webhook_deliveries', { status: 'succeeded' }),
        deliveriesFailed: moved('perennial_webhook_deliveries', { status: 'failed' }),
        pending: after.value('perennial_webhook_deliveries', { status: 'pending' }),
        undispatched: after.value('perennial_events_undispatched'),
      }).toEqual({ attemptsSucceeded: 1, attemptsFailed: 1, deliveriesSucceeded: 1, deliveriesFailed: 1, pending: 0, undispatched: 0 });
      expect([ok.received.length, gone.received.length]).toEqual([1, 1]);
    } finally {
      await ok.close();
      await gone.close();
    }
  });

  it('parses as Prometheus text when Postgres cannot be read, saying so', async () => {
    const owner = new (await import('pg')).Client({ connectionString: stack.db.ownerUrl });
    await owner.connect();
    try {
      await owner.query('revoke select on webhook_attempts from perennial_app');
      const s = parseScrape(await (await fetch(metricsUrl())).text());
      expect(s.value('perennial_database_up')).toBe(0);
      expect(s.series('perennial_invoices_issued_total')).toEqual([]);
      expect(s.series('http_request_duration_seconds_count').length).toBeGreaterThan(0);
      expect(lines.some((l) => l.level === 'error' && /business counts/.test(l.msg))).toBe(true);
    } finally {
      await owner.query('grant select on webhook_attempts to perennial_app');
      await owner.end();
    }
  });
});
