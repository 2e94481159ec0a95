import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { apiClient } from '../support/http';
import { eventually, freeStackPorts, startNpmStart, stopNpmStart, type RunningStack, type StackPorts } from '../support/npm-start';
import { scrape } from '../support/prometheus';

/**
 * What an operator and an integrating application see on the stack exactly as `npm start` runs it:
 * a webhook endpoint made through the API receives signed events for facts made through the API
 * (verified with the Standard Webhooks reference library), a key made in the database works and
 * stops working the moment it is revoked, every change is in the audit log under the key that made
 * it, the API's and the worker's metrics parse and move, and the API's log lines are JSON carrying
 * the request id the caller was given.
 */
const ADMIN = `sk_admin_e2e_${randomBytes(16).toString('hex')}`;

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

async function receiver(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received };
}

describe('npm start: webhooks, keys, audit, metrics and logs', () => {
  let dataDir: string;
  let ports: StackPorts;
  let stack: RunningStack | undefined;
  let hooks: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'perennial-e2e-ops-'));
    ports = await freeStackPorts();
    hooks = await receiver();
  });

  afterAll(async () => {
    if (stack && !stack.hasExited()) await stopNpmStart(stack);
    await new Promise((done) => hooks.server.close(done));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('tells a receiver, answers for every change, and shows its numbers', async () => {
    stack = await startNpmStart({ dataDir, ports, env: { BILLING_API_KEYS: `admin:${ADMIN}` } });
    const base = stack.apiBase;
    const admin = apiClient(base, ADMIN);

    // An endpoint for customer events; its secret is in this answer only.
    const endpoint = await admin.post('/v1/webhook_endpoints', { url: hooks.url, events: ['customer.created', 'customer.updated'], description: 'CRM sync' });
    expect(endpoint.status).toBe(201);
    expect(endpoint.body.secret).toMatch(/^whsec_/);
    expect((await admin.get(`/v1/webhook_endpoints/${endpoint.body.id}`)).body.secret).toBeUndefined();
    const verifier = new Webhook(endpoint.body.secret);

    // A support key made in the database, shown once.
    const made = await admin.post('/v1/api_keys', { name: 'Support desk', role: 'support' });
    expect(made.status).toBe(201);
    const supportKey: string = made.body.secret;
    const support = apiClient(base, supportKey);

    const created = await admin.post('/v1/customers', { name: 'Ada Ops', email: 'ada@ops.test', currency: 'USD' }, { 'idempotency-key': 'e2e-create-ada' });
    expect(created.status).toBe(201);
    const customerId: string = created.body.id;
    const requestId = created.headers.get('request-id');
    expect(requestId).toMatch(/^req_/);
    const updated = await support.post(`/v1/customers/${customerId}`, { name: 'Ada Lovelace-Ops' });
    expect(updated.status).toBe(200);

    // Both facts reach the receiver, signed: the reference library verifies each body.
    const delivered = await eventually('both customer events at the receiver', async () => (hooks.received.length >= 2 ? hooks.received : undefined));
    const events = delivered.map((d) => verifier.verify(d.body, d.headers as Record<string, string>) as { id: string; type: string; data: { object: { id: string; name: string } } });
    expect(events.map((e) => [e.type, e.data.object.id, e.data.object.name]).sort()).toEqual([
      ['customer.created', customerId, 'Ada Ops'],
      ['customer.updated', customerId, 'Ada Lovelace-Ops'],
    ]);
    expect(delivered.map((d) => d.headers['webhook-id']).sort()).toEqual(events.map((e) => e.id).sort());
    const listed = await admin.get(`/v1/events?object_id=${customerId}`);
    expect(listed.body.data.map((e: { type: string }) => e.type).sort()).toEqual(['customer.created', 'customer.updated']);
    const deliveries = await admin.get(`/v1/webhook_endpoints/${endpoint.body.id}/deliveries`);
    expect(deliveries.body.data.map((d: { status: string }) => d.status)).toEqual(['succeeded', 'succeeded']);

    // The key is listed with its last use, never with its secret; revoked, it is refused at once.
    const keys = await admin.get('/v1/api_keys');
    const listedKey = keys.body.data.find((k: { id: string }) => k.id === made.body.id);
    expect(listedKey).toMatchObject({ name: 'Support desk', role: 'support' });
    expect(listedKey.last_used_at).not.toBeNull();
    expect(JSON.stringify(keys.body)).not.toContain(supportKey);
    expect((await admin.delete(`/v1/api_keys/${made.body.id}`)).status).toBe(200);
    expect((await support.get(`/v1/customers/${customerId}`)).status).toBe(401);

    // The audit log names who did each change, with the update's before and after.
    const audit = await admin.get(`/v1/audit_events?resource_id=${customerId}`);
    const rows = audit.body.data as Array<{ actor: { key_id: string; role: string }; request_id: string; idempotency_key: string | null; before: { name: string } | null; after: { name: string } }>;
    expect(rows).toHaveLength(2);
    const [update, create] = rows;
    expect(create).toMatchObject({ actor: { role: 'admin' }, request_id: requestId, idempotency_key: 'e2e-create-ada', after: { name: 'Ada Ops' } });
    expect(update).toMatchObject({ actor: { key_id: made.body.id, role: 'support' }, before: { name: 'Ada Ops' }, after: { name: 'Ada Lovelace-Ops' } });

    // The API's metrics parse and count what was done; the worker's SDK metrics parse too.
    const metrics = await scrape(`${base}/metrics`);
    expect(metrics.value('http_request_duration_seconds_count', { method: 'POST', route: '/v1/customers', status: '201' })).toBe(1);
    expect(metrics.value('perennial_webhook_delivery_attempts_total', { outcome: 'succeeded' })).toBe(2);
    const workerAddress = /\(API\), (http:\/\/\S+) \(worker's Temporal SDK\)/.exec(stack.output());
    expect(workerAddress).not.toBeNull();
    const worker = await scrape(workerAddress![1]);
    expect(worker.families.some((f) => f.name.startsWith('temporal_'))).toBe(true);

    // The API's request line for the customer it made carries the request id the caller got
    // (npm start shows the JSON lines as key=value; the processes write JSON: docs/operations.md).
    const lines = stack.output().split('\n').filter((l) => l.startsWith('[api]') && l.includes(`requestId=${requestId!}`));
    expect(lines).toEqual([expect.stringMatching(/INFO\s+POST \/v1\/customers 201 .*keyId=/)]);
  });
});
