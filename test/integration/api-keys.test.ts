import { createApp } from '../../api/app';
import { usagePool } from '../../api/usage-ingest';
import { parseApiKeySpec } from '../../config/env';
import { openOrm, type Orm } from '../../db/orm';
import { apiClient, listen } from '../support/http';
import { KEYS, startStack, type Stack } from './harness';

/**
 * Keys made through the API: shown once, kept as digests, listed with when they were last used,
 * and refused from the moment they are revoked by every API process on the database, with no
 * restart. BILLING_API_KEYS keys keep working beside them.
 */
describe('API keys in the database', () => {
  let stack: Stack;
  // A second API process on the same database: a revocation must reach it without any message.
  let replica: { baseUrl: string; close(): Promise<void> };
  let replicaOrm: Orm;
  let replicaPool: ReturnType<typeof usagePool>;

  beforeAll(async () => {
    stack = await startStack('api-keys', { worker: false });
    replicaOrm = await openOrm(stack.db.url);
    replicaPool = usagePool(stack.db.url);
    replica = await listen(
      createApp({ orm: replicaOrm, temporal: stack.temporal.client, taskQueue: stack.taskQueue, apiKeys: parseApiKeySpec(`admin:${KEYS.admin}`), usagePool: replicaPool }),
    );
  });

  afterAll(async () => {
    await replica?.close();
    await replicaPool?.end();
    await replicaOrm?.close();
    await stack?.stop();
  });

  it('makes a key that works at once, shows its secret only in that answer, lists it with its last use, and stops it on revocation everywhere', async () => {
    const made = await stack.admin.post('/v1/api_keys', { name: 'billing-sync', role: 'support' });
    expect(made.status).toBe(201);
    const secret: string = made.body.secret;
    expect(secret).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(made.body).toMatchObject({ object: 'api_key', name: 'billing-sync', role: 'support', prefix: secret.slice(0, 11), last_used_at: null, revoked_at: null });
    expect(made.body.id).toMatch(/^key_/);

    // The database holds its digest, never the key.
    const [row] = await stack.db.orm.em.fork().execute<Array<{ digest: Buffer }>>('select digest from api_keys where id = ?', [made.body.id]);
    expect(row.digest.toString('hex')).not.toContain(Buffer.from(secret).toString('hex'));

    const own = apiClient(stack.baseUrl, secret);
    const onReplica = apiClient(replica.baseUrl, secret);
    expect((await own.post('/v1/customers', { name: 'Ada', email: 'ada@example.test', currency: 'USD' })).status).toBe(201);
    expect((await onReplica.get('/v1/customers')).status).toBe(200);

    const listed = await stack.admin.get('/v1/api_keys');
    expect(listed.status).toBe(200);
    const entry = listed.body.data.find((k: { id: string }) => k.id === made.body.id);
    expect(entry).toEqual({ ...made.body, secret: undefined, last_used_at: expect.any(String) });
    expect(JSON.stringify(listed.body)).not.toContain(secret);

    const revoked = await stack.admin.delete(`/v1/api_keys/${made.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toEqual(expect.any(String));

    for (const client of [own, onReplica]) {
      const refused = await client.get('/v1/customers');
      expect(refused.status).toBe(401);
      expect(refused.body.error).toMatchObject({ type: 'authentication_error', code: 'api_key_invalid' });
    }
    // Revoking again changes nothing.
    expect((await stack.admin.delete(`/v1/api_keys/${made.body.id}`)).body.revoked_at).toBe(revoked.body.revoked_at);
  });

  it('lets only admins make, list or revoke keys, and says which key is unknown', async () => {
    for (const client of [stack.support, stack.readonly]) {
      expect((await client.post('/v1/api_keys', { name: 'mine', role: 'admin' })).body.error).toMatchObject({ type: 'permission_error' });
      expect((await client.get('/v1/api_keys')).status).toBe(403);
      expect((await client.delete('/v1/api_keys/key_unknown')).status).toBe(403);
    }
    expect((await stack.admin.post('/v1/api_keys', { name: 'x', role: 'owner' })).body.error).toMatchObject({ type: 'invalid_request_error', param: 'role' });
    expect((await stack.admin.delete('/v1/api_keys/key_unknown')).body.error).toMatchObject({ type: 'not_found_error', param: 'id' });
  });

  it('gives a key made by a readonly role reads only', async () => {
    const { body } = await stack.admin.post('/v1/api_keys', { name: 'dashboards', role: 'readonly' });
    const reader = apiClient(stack.baseUrl, body.secret);
    expect((await reader.get('/v1/customers')).status).toBe(200);
    expect((await reader.post('/v1/customers', { name: 'Bo', email: 'bo@example.test', currency: 'USD' })).status).toBe(403);
  });

  it('makes one key for a creation retried under the same Idempotency-Key, and never shows its secret again', async () => {
    const headers = { 'idempotency-key': 'make-ci-key' };
    const first = await stack.admin.post('/v1/api_keys', { name: 'ci', role: 'support' }, headers);
    const again = await stack.admin.post('/v1/api_keys', { name: 'ci', role: 'support' }, headers);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual({ ...first.body, secret: undefined });
    const [stored] = await stack.db.orm.em.fork().execute<Array<{ n: string; kept: number }>>(
      "select (select count(*) from api_keys where name = 'ci') as n, count(*)::int as kept from idempotency_keys where response_body::text like ? or recovery_data::text like ?",
      [`%${first.body.secret}%`, `%${first.body.secret}%`],
    );
    expect(stored).toEqual({ n: '1', kept: 0 });
  });

  it('signs in to the console with a key made through the API, and not with a revoked one', async () => {
    const { body } = await stack.admin.post('/v1/api_keys', { name: 'support desk', role: 'support' });
    const signIn = (key: string) =>
      fetch(`${stack.baseUrl}/console/sign_in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ api_key: key, next: '/console/customers' }) });

    const accepted = await signIn(body.secret);
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('location')).toBe('/console/customers');
    const cookie = accepted.headers.get('set-cookie')!.split(';')[0];
    const page = await fetch(`${stack.baseUrl}/console/customers`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('support');

    await stack.admin.delete(`/v1/api_keys/${body.id}`);
    // The session of a revoked key ends at its next page, and the key cannot sign in again.
    const after = await fetch(`${stack.baseUrl}/console/customers`, { headers: { cookie }, redirect: 'manual' });
    expect(after.status).toBe(303);
    expect(after.headers.get('location')).toMatch(/^\/console\/sign_in/);
    expect((await signIn(body.secret)).status).toBe(401);
  });
});
