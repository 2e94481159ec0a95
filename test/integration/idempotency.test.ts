import { randomUUID } from 'node:crypto';
import {
  balanceOf,
  balances,
  eventually,
  expectError,
  startStack,
  tableCounts,
  unique,
  waitForInvoices,
  type Stack,
} from './harness';

/**
 * `Idempotency-Key` on POST: a client that retries (after a timeout, a dropped connection) gets the
 * first answer again and changes nothing; a key reused for a different request is refused.
 */
describe('idempotent requests', () => {
  let stack: Stack;
  let plan: string;

  beforeAll(async () => {
    stack = await startStack('idempotency');
    plan = unique('monthly');
    expect((await stack.admin.post('/v1/plans', { code: plan, name: 'Monthly', currency: 'USD', interval: 'month', amount: '25.00' })).status).toBe(201);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const key = (): Record<string, string> => ({ 'Idempotency-Key': randomUUID() });

  async function customersWithExternalId(externalId: string): Promise<number> {
    const [row] = await stack.db.orm.em.fork().execute<Array<{ n: number }>>('select count(*)::int as n from customers where external_id = ?', [externalId]);
    return row.n;
  }

  it('replays the first response to a retried customer creation and creates nothing new', async () => {
    const headers = key();
    const body = { name: 'Retry Ltd', email: 'ap@retry.test', currency: 'GBP', external_id: unique('retry') };
    const first = await stack.admin.post('/v1/customers', body, headers);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const before = await tableCounts(stack.db);

    const retry = await stack.admin.post('/v1/customers', body, headers);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(await tableCounts(stack.db)).toEqual(before);
    expect(await customersWithExternalId(body.external_id)).toBe(1);
  });

  it('refuses the same key with a different body (422 idempotency_key_reused) and creates nothing', async () => {
    const headers = key();
    const first = await stack.admin.post('/v1/customers', { name: 'First', email: 'first@example.test', currency: 'USD' }, headers);
    expect(first.status).toBe(201);
    const before = await tableCounts(stack.db);
    const reused = await stack.admin.post('/v1/customers', { name: 'Second', email: 'second@example.test', currency: 'USD' }, headers);
    expectError(reused, 422, { type: 'idempotency_error', code: 'idempotency_key_reused' });
    expect(await tableCounts(stack.db)).toEqual(before);
  });

  it('refuses the same key on a different endpoint (422 idempotency_key_reused)', async () => {
    const headers = key();
    expect((await stack.admin.post('/v1/customers', { name: 'C', email: 'c@example.test', currency: 'USD' }, headers)).status).toBe(201);
    const before = await tableCounts(stack.db);
    expectError(await stack.admin.post('/v1/plans', { code: unique('p'), name: 'P', currency: 'USD', interval: 'month', amount: '1.00' }, headers), 422, {
      code: 'idempotency_key_reused',
    });
    expect(await tableCounts(stack.db)).toEqual(before);
  });

  it('creates one customer when retries with the same key race', async () => {
    const headers = key();
    const body = { name: 'Racer', email: 'racer@example.test', currency: 'USD', external_id: unique('race') };
    const responses = await Promise.all(Array.from({ length: 4 }, () => stack.admin.post('/v1/customers', body, headers)));
    // Each racer gets the answer, a replay of it, or "still in progress, retry" - never a second customer.
    for (const res of responses) expect([201, 409]).toContain(res.status);
    expect(responses.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    expect(await customersWithExternalId(body.external_id)).toBe(1);
    const settled = await stack.admin.post('/v1/customers', body, headers);
    expect(settled.status).toBe(201);
    expect(settled.headers.get('idempotent-replayed')).toBe('true');
  });

  it('keeps keys apart per API key: two callers may use the same key for different requests', async () => {
    const headers = key();
    const byAdmin = await stack.admin.post('/v1/customers', { name: 'Admin-made', email: 'a@example.test', currency: 'USD' }, headers);
    const bySupport = await stack.support.post('/v1/customers', { name: 'Support-made', email: 's@example.test', currency: 'USD' }, headers);
    expect([byAdmin.status, bySupport.status]).toEqual([201, 201]);
    expect(bySupport.headers.get('idempotent-replayed')).toBeNull();
    expect(bySupport.body.id).not.toBe(byAdmin.body.id);
  });

  it('starts one subscription and one workflow when a subscription creation is retried', async () => {
    const customer = await stack.admin.post('/v1/customers', { name: 'Sub', email: 'sub@example.test', currency: 'USD' });
    const headers = key();
    const body = { customer_id: customer.body.id, plan_code: plan };
    const first = await stack.admin.post('/v1/subscriptions', body, headers);
    expect(first.status).toBe(201);
    const retry = await stack.admin.post('/v1/subscriptions', body, headers);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);

    const [row] = await stack.db.orm.em
      .fork()
      .execute<Array<{ n: number }>>('select count(*)::int as n from subscriptions where customer_id = ?', [customer.body.id]);
    expect(row.n).toBe(1);
    const [invoice] = await waitForInvoices(stack.admin, first.body.id, 1);
    expect(invoice.total).toBe('25.00');
    const executions = await eventually(
      `the dev server lists the workflows of customer ${customer.body.id}`,
      async () => {
        const found: string[] = [];
        for await (const e of stack.temporal.client.workflow.list({ query: `CustomerId="${customer.body.id}"` })) found.push(e.workflowId);
        return found;
      },
      (found) => found.length > 0,
    );
    expect(executions).toEqual([first.body.workflow_id]);
  });

  it('records a retried payment once', async () => {
    const customer = await stack.admin.post('/v1/customers', { name: 'Payer', email: 'payer@example.test', currency: 'USD' });
    const sub = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: plan });
    const [invoice] = await waitForInvoices(stack.admin, sub.body.id, 1);
    const cashBefore = balanceOf(await balances(stack.admin), 'cash', 'USD');

    const headers = key();
    const first = await stack.support.post(`/v1/invoices/${invoice.id}/payments`, { amount: '10.00', reference: 'bank ref 881' }, headers);
    expect(first.status).toBe(201);
    const counts = await tableCounts(stack.db);
    const retry = await stack.support.post(`/v1/invoices/${invoice.id}/payments`, { amount: '10.00', reference: 'bank ref 881' }, headers);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(await tableCounts(stack.db)).toEqual(counts);

    expect((await stack.readonly.get(`/v1/invoices/${invoice.id}`)).body).toMatchObject({ status: 'open', amount_paid: '10.00', amount_due: '15.00' });
    expect(balanceOf(await balances(stack.admin), 'cash', 'USD').minus(cashBefore).toFixed(2)).toBe('10.00');
  });
});
