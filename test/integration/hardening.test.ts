import { request } from 'node:http';
import { createApp } from '../../api/app';
import { usagePool } from '../../api/usage-ingest';
import { parseApiKeySpec } from '../../config/env';
import { apiClient, listen } from '../support/http';
import { KEYS, startStack, type Stack } from './harness';

/**
 * What the API does before any route: security headers on every answer, a key's rate limit, and a
 * body read only once the key is known (so an anonymous caller cannot make it parse megabytes).
 */
describe('API hardening', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack('hardening', { worker: false });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('sends security headers with every API answer, refusals included, and leaves the console its own policy', async () => {
    for (const answer of [await stack.admin.get('/v1/customers'), await stack.as(null).get('/v1/customers'), await stack.as(null).get('/health')]) {
      expect({
        csp: answer.headers.get('content-security-policy'),
        frames: answer.headers.get('x-frame-options'),
        sniffing: answer.headers.get('x-content-type-options'),
        hsts: answer.headers.get('strict-transport-security'),
        referrer: answer.headers.get('referrer-policy'),
      }).toEqual({ csp: "default-src 'none';frame-ancestors 'none'", frames: 'DENY', sniffing: 'nosniff', hsts: expect.stringMatching(/^max-age=\d+/), referrer: 'no-referrer' });
    }
    const console = await fetch(`${stack.baseUrl}/console/sign_in`);
    expect(console.headers.get('content-security-policy')).toMatch(/^default-src 'self'/);
  });

  it('answers 401 to a request without a valid key before reading its body', async () => {
    // Ten megabytes announced, one kilobyte sent, and the rest never: only a server that does not
    // wait for the body can answer.
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL('/v1/customers', stack.baseUrl);
      const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024), authorization: 'Bearer sk_test_not_a_real_key' } }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body });
          req.destroy();
        });
      });
      req.on('error', reject);
      req.write(Buffer.alloc(1024, 0x20));
    });
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body).error).toMatchObject({ type: 'authentication_error', code: 'api_key_invalid' });
  });

  it('answers 413 to a known key whose body is larger than the API reads', async () => {
    const tooLarge = JSON.stringify({ name: 'x'.repeat(6 * 1024 * 1024), email: 'big@example.test', currency: 'USD' });
    const answer = await stack.admin.post('/v1/customers', tooLarge);
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatchObject({ type: 'invalid_request_error', code: 'body_too_large' });
  });

  it("limits each key's requests, answering 429 with Retry-After, and leaves other keys alone", async () => {
    const pool = usagePool(stack.db.url);
    // Three requests, then one more token an hour: the fourth is refused however slow the machine.
    const limited = await listen(
      createApp({
        orm: stack.db.orm,
        temporal: stack.temporal.client,
        taskQueue: stack.taskQueue,
        apiKeys: parseApiKeySpec(`admin:${KEYS.admin},readonly:${KEYS.readonly}`),
        usagePool: pool,
        rateLimits: { api: { perSecond: 1 / 3600, burst: 3 }, usage: { perSecond: 1 / 3600, burst: 1 } },
      }),
    );
    try {
      const admin = apiClient(limited.baseUrl, KEYS.admin);
      for (let i = 0; i < 3; i++) expect((await admin.get('/v1/customers')).status).toBe(200);
      const refused = await admin.get('/v1/customers');
      expect(refused.status).toBe(429);
      expect(refused.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limited' });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number.isInteger(Number(refused.headers.get('retry-after')))).toBe(true);
      // Usage events have a bucket of their own, so a producer is not starved by the same key's other calls.
      expect((await admin.post('/v1/usage_events', { events: [] })).status).not.toBe(429);
      expect((await admin.post('/v1/usage_events', { events: [] })).status).toBe(429);
      // Another key has its own bucket.
      expect((await apiClient(limited.baseUrl, KEYS.readonly).get('/v1/customers')).status).toBe(200);
    } finally {
      await limited.close();
      await pool.end();
    }
  });
});
