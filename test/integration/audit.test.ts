import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { KEYS, startStack, type Stack } from './harness';

/**
 * The audit log: one row per change made through the API, none for a read, a refusal or an
 * idempotent replay; each with its actor, route pattern, resource, request and Idempotency-Key,
 * and the resource before and after for a change of an existing one. Append-only in Postgres.
 */
describe('audit log', () => {
  let stack: Stack;
  const keyIdOf = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 16);

  beforeAll(async () => {
    stack = await startStack('audit', { worker: false });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('records exactly one row per change of a scripted sequence, with before and after for updates', async () => {
    const created = await stack.support.post('/v1/customers', { name: 'Ada', email: 'ada@example.test', currency: 'USD' }, { 'idempotency-key': 'ada-once' });
    expect(created.status).toBe(201);
    const customer = created.body.id as string;
    // The retry of the same creation is the same change: answered again, not logged again.
    const replay = await stack.support.post('/v1/customers', { name: 'Ada', email: 'ada@example.test', currency: 'USD' }, { 'idempotency-key': 'ada-once' });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    const renamed = await stack.admin.post(`/v1/customers/${customer}`, { name: 'Ada Lovelace' });
    expect(renamed.status).toBe(200);
    // Refusals change nothing and are not logged: a bad body, a role that may not, an unknown resource.
    expect((await stack.admin.post(`/v1/customers/${customer}`, { email: 'not an address' })).status).toBe(400);
    expect((await stack.readonly.post(`/v1/customers/${customer}`, { name: 'Eve' })).status).toBe(403);
    expect((await stack.admin.post('/v1/customers/cus_missing', { name: 'Nobody' })).status).toBe(404);
    // Reads are not logged.
    expect((await stack.admin.get(`/v1/customers/${customer}`)).status).toBe(200);

    const rate = await stack.admin.post('/v1/tax_rates', { code: 'vat-uk', name: 'UK VAT', percentage: '20' });
    expect(rate.status).toBe(201);
    expect((await stack.admin.post(`/v1/customers/${customer}/tax_rates`, { tax_rates: ['vat-uk'] })).status).toBe(200);
    const key = await stack.admin.post('/v1/api_keys', { name: 'sync', role: 'readonly' });
    const revoked = await stack.admin.delete(`/v1/api_keys/${key.body.id}`);

    const log = await stack.admin.get('/v1/audit_events?limit=100');
    expect(log.status).toBe(200);
    const rows = [...log.body.data].reverse();
    const admin = { key_id: keyIdOf(KEYS.admin), role: 'admin' };
    expect(rows.map((r: Record<string, unknown>) => ({ actor: r.actor, route: r.route, resource: r.resource, idempotency_key: r.idempotency_key, has_before: r.before !== null }))).toEqual([
      { actor: { key_id: keyIdOf(KEYS.support), role: 'support' }, route: 'POST /v1/customers', resource: { type: 'customer', id: customer }, idempotency_key: 'ada-once', has_before: false },
      { actor: admin, route: 'POST /v1/customers/:id', resource: { type: 'customer', id: customer }, idempotency_key: null, has_before: true },
      { actor: admin, route: 'POST /v1/tax_rates', resource: { type: 'tax_rate', id: rate.body.id }, idempotency_key: null, has_before: false },
      { actor: admin, route: 'POST /v1/customers/:id/tax_rates', resource: { type: 'customer', id: customer }, idempotency_key: null, has_before: false },
      { actor: admin, route: 'POST /v1/api_keys', resource: { type: 'api_key', id: key.body.id }, idempotency_key: null, has_before: false },
      { actor: admin, route: 'DELETE /v1/api_keys/:id', resource: { type: 'api_key', id: key.body.id }, idempotency_key: null, has_before: true },
    ]);

    const [create, update, , , keyMade, keyRevoked] = rows;
    expect(create.after).toEqual(created.body);
    expect(create.request_id).toBe(created.headers.get('request-id'));
    expect(update.request_id).toBe(renamed.headers.get('request-id'));
    expect(update.before).toMatchObject({ id: customer, name: 'Ada' });
    expect(update.after).toEqual(renamed.body);
    expect(update.after.name).toBe('Ada Lovelace');
    // A key's secret is shown once, to its maker, and kept nowhere: not in the log either.
    expect(keyMade.after).toEqual({ ...key.body, secret: undefined });
    expect(JSON.stringify(log.body)).not.toContain(key.body.secret);
    expect(keyRevoked.before).toMatchObject({ id: key.body.id, revoked_at: null });
    expect(keyRevoked.after).toEqual(revoked.body);

    // Filters: by resource, by actor, by time (from inclusive, to exclusive).
    const ofCustomer = await stack.admin.get(`/v1/audit_events?resource_id=${customer}`);
    expect(ofCustomer.body.data.map((r: { route: string }) => r.route)).toEqual(['POST /v1/customers/:id/tax_rates', 'POST /v1/customers/:id', 'POST /v1/customers']);
    const bySupport = await stack.admin.get(`/v1/audit_events?actor=${keyIdOf(KEYS.support)}`);
    expect(bySupport.body.data.map((r: { id: string }) => r.id)).toEqual([create.id]);
    const since = await stack.admin.get(`/v1/audit_events?from=${encodeURIComponent(update.created_at)}&to=${encodeURIComponent(keyMade.created_at)}`);
    expect(since.body.data.map((r: { id: string }) => r.id)).toEqual([rows[3].id, rows[2].id, update.id]);
    // Pages: newest first, by cursor.
    const first = await stack.admin.get('/v1/audit_events?limit=4');
    const next = await stack.admin.get(`/v1/audit_events?limit=4&starting_after=${first.body.data[3].id}`);
    expect([...first.body.data, ...next.body.data].map((r: { id: string }) => r.id)).toEqual(log.body.data.map((r: { id: string }) => r.id));
    expect({ first: first.body.has_more, next: next.body.has_more }).toEqual({ first: true, next: false });
  });

  it("records the console's actions, made through the API with the signed-in key, once for a double submit", async () => {
    const { body: customer } = await stack.admin.post('/v1/customers', { name: 'Cy', email: 'cy@example.test', currency: 'USD' });
    const signedIn = await fetch(`${stack.baseUrl}/console/sign_in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ api_key: KEYS.support, next: '/console/customers' }),
    });
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0];
    const page = await (await fetch(`${stack.baseUrl}/console/customers/${customer.id}`, { headers: { cookie } })).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1];
    const form = new URLSearchParams({ _csrf: csrf, _idempotency_key: '0b6f3d52-6c1e-4c38-9d2a-5f0e7a1b2c3d', name: 'Cy Young' });
    for (let submit = 0; submit < 2; submit++) {
      const saved = await fetch(`${stack.baseUrl}/console/customers/${customer.id}/edit`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: form });
      expect(saved.status).toBe(303);
    }

    const { body } = await stack.admin.get(`/v1/audit_events?resource_id=${customer.id}`);
    expect(body.data.map((r: Record<string, unknown>) => ({ actor: r.actor, route: r.route, idempotency_key: r.idempotency_key }))).toEqual([
      { actor: { key_id: keyIdOf(KEYS.support), role: 'support' }, route: 'POST /v1/customers/:id', idempotency_key: 'console-0b6f3d52-6c1e-4c38-9d2a-5f0e7a1b2c3d' },
      { actor: { key_id: keyIdOf(KEYS.admin), role: 'admin' }, route: 'POST /v1/customers', idempotency_key: null },
    ]);
    expect({ before: body.data[0].before.name, after: body.data[0].after.name }).toEqual({ before: 'Cy', after: 'Cy Young' });
  });

  it('keeps a webhook endpoint\'s changes without its signing secret', async () => {
    const made = await stack.admin.post('/v1/webhook_endpoints', { url: 'https://hooks.example.test/billing', events: ['invoice.paid'] });
    expect(made.status).toBe(201);
    const changed = await stack.admin.post(`/v1/webhook_endpoints/${made.body.id}`, { description: 'finance' });
    expect(changed.status).toBe(200);
    const rotated = await stack.admin.post(`/v1/webhook_endpoints/${made.body.id}/rotate_secret`, {});

    const { body } = await stack.admin.get(`/v1/audit_events?resource_id=${made.body.id}`);
    expect(body.data.map((r: { route: string }) => r.route)).toEqual(['POST /v1/webhook_endpoints/:id/rotate_secret', 'POST /v1/webhook_endpoints/:id', 'POST /v1/webhook_endpoints']);
    expect(body.data[1].before).toMatchObject({ id: made.body.id, description: null });
    expect(body.data[1].after).toMatchObject({ id: made.body.id, description: 'finance' });
    for (const secret of [made.body.secret, rotated.body.secret]) {
      expect(secret).toMatch(/^whsec_/);
      expect(JSON.stringify(body)).not.toContain(secret);
    }
  });

  it('is for admins only', async () => {
    expect((await stack.support.get('/v1/audit_events')).status).toBe(403);
    expect((await stack.readonly.get('/v1/audit_events')).status).toBe(403);
  });

  it('cannot be changed or emptied, neither by the application nor by the owner of the schema', async () => {
    await stack.admin.post('/v1/customers', { name: 'Bo', email: 'bo@example.test', currency: 'USD' });
    for (const [url, refusal] of [
      [stack.db.url, /permission denied/],
      [stack.db.ownerUrl, /append-only/],
    ] as const) {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        await expect(client.query("update audit_events set route = 'POST /v1/nothing'")).rejects.toThrow(refusal);
        await expect(client.query('delete from audit_events')).rejects.toThrow(refusal);
        await expect(client.query('truncate audit_events')).rejects.toThrow(refusal);
      } finally {
        await client.end();
      }
    }
    const [{ n }] = await stack.db.orm.em.fork().execute<Array<{ n: string }>>('select count(*) as n from audit_events');
    expect(Number(n)).toBeGreaterThan(0);
  });
});
