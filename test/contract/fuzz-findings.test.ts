import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { createApp } from '../../api/app';
import type { Orm } from '../../db/orm';
import { listen } from '../support/http';

/**
 * Requests npm run fuzz found answered with a 500 (or accepted though they break the document); each
 * is the caller's fault and must be a 400.
 * The app runs on a database that fails every query: these are refused before any is made.
 */
describe('requests the fuzzer found', () => {
  let server: Awaited<ReturnType<typeof listen>>;
  const noDatabase = {
    em: {
      fork: () => {
        throw new Error('no query should be made');
      },
    },
  } as unknown as Orm;

  beforeAll(async () => {
    server = await listen(createApp({ orm: noDatabase, temporal: {} as Client, taskQueue: 'fuzz', apiKeys: [{ role: 'admin', key: 'sk_fuzz' }], usagePool: {} as Pool }));
  });
  afterAll(async () => {
    await server?.close();
  });

  const send = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.baseUrl}${path}`, {
      method,
      headers: { authorization: 'Bearer sk_fuzz', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { error: { type: string; code: string; param?: string } } };
  };

  it('refuses U+0000, which Postgres text cannot hold, in a body, a query or a path, naming where', async () => {
    expect(await send('POST', '/v1/customers/cus_1/applied_coupons', { coupon_code: 'a\u0000b' })).toEqual({
      status: 400,
      body: { error: expect.objectContaining({ type: 'invalid_request_error', code: 'parameter_invalid', param: 'coupon_code' }) },
    });
    expect(await send('POST', '/v1/subscriptions/sub_1/change_plan', { plan_code: { nested: ['x\u0000'] } })).toMatchObject({ status: 400, body: { error: { param: 'plan_code.nested.0' } } });
    expect(await send('GET', '/v1/invoices?customer_id=a%00b')).toMatchObject({ status: 400, body: { error: { code: 'parameter_invalid', param: 'customer_id' } } });
    expect(await send('GET', '/v1/customers/cus%00')).toMatchObject({ status: 400, body: { error: { code: 'parameter_invalid' } } });
  });

  it('refuses a JSON null body where an object is expected (it read as an empty one, so a write-off went through)', async () => {
    const response = await fetch(`${server.baseUrl}/v1/invoices/in_1/mark_uncollectible`, { method: 'POST', headers: { authorization: 'Bearer sk_fuzz', 'content-type': 'application/json' }, body: 'null' });
    expect({ status: response.status, body: await response.json() }).toEqual({
      status: 400,
      body: { error: expect.objectContaining({ type: 'invalid_request_error', code: 'parameter_invalid_type' }) },
    });
  });

  it('answers a path segment that is not valid percent-encoding with 400 path_invalid', async () => {
    expect(await send('GET', '/v1/customers/%C3')).toEqual({ status: 400, body: { error: expect.objectContaining({ type: 'invalid_request_error', code: 'path_invalid' }) } });
  });
});
