import type { WorkflowExecutionInfo } from '@temporalio/client';
import Decimal from 'decimal.js';
import {
  balances,
  balanceOf,
  daysAgo,
  eventually,
  expectBooksBalanced,
  expectError,
  invoicesOf,
  startStack,
  tableCounts,
  unique,
  waitForInvoices,
  type Stack,
} from './harness';

/**
 * Subscriptions on the real Temporal dev server (real time, real visibility) with an in-process
 * worker and real Postgres: starting, reading live state, cancelling, catching up on a backdated
 * start, and operators finding subscriptions by their search attributes.
 */
describe('subscriptions', () => {
  let stack: Stack;
  let monthlyUsd: string;

  beforeAll(async () => {
    stack = await startStack('subscriptions');
    monthlyUsd = unique('pro-monthly');
    const plan = await stack.admin.post('/v1/plans', { code: monthlyUsd, name: 'Pro', currency: 'USD', interval: 'month', amount: '49.00' });
    expect(plan.status).toBe(201);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function newCustomer(currency = 'USD'): Promise<string> {
    const res = await stack.admin.post('/v1/customers', { name: 'Subscriber', email: 'subscriber@example.test', currency });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  async function subscribe(body: Record<string, unknown>): Promise<any> {
    const res = await stack.admin.post('/v1/subscriptions', body);
    expect(res.status).toBe(201);
    return res.body;
  }

  /** Reads the subscription until its workflow reports `status` (the workflow reaches it on its own). */
  function liveStatus(id: string, status: string) {
    return eventually(
      `subscription ${id} reads ${status} from its workflow`,
      async () => (await stack.readonly.get(`/v1/subscriptions/${id}`)).body,
      (body) => body.status === status && body.state_source === 'workflow',
    );
  }

  describe('a backdated daily subscription', () => {
    it.each([
      { currency: 'JPY', amount: '1000', shown: '1000', receivable: '4000' },
      { currency: 'KWD', amount: '5', shown: '5.000', receivable: '20.000' },
    ])(
      'bills every elapsed day at once in $currency: four invoices of $shown with consecutive periods and gapless numbers',
      async ({ currency, amount, shown, receivable }) => {
        const code = unique(`daily-${currency}`);
        expect((await stack.admin.post('/v1/plans', { code, name: `Daily ${currency}`, currency, interval: 'day', amount })).status).toBe(201);
        const customerId = await newCustomer(currency);
        const startAt = daysAgo(3);
        const created = await subscribe({ customer_id: customerId, plan_code: code, start_at: startAt });
        expect(created.status).toBe('active');

        const invoices = await waitForInvoices(stack.admin, created.id, 4);
        expect(invoices).toHaveLength(4);
        expect(invoices[0].period_start).toBe(startAt);
        invoices.forEach((invoice, i) => {
          expect(invoice).toMatchObject({ currency, total: shown, subtotal: shown, amount_due: shown, status: 'open' });
          expect(invoice.lines).toEqual([expect.objectContaining({ amount: shown, quantity: '1' })]);
          expect(Date.parse(invoice.period_end) - Date.parse(invoice.period_start)).toBe(86_400_000);
          if (i > 0) expect(invoice.period_start).toBe(invoices[i - 1].period_end);
        });
        // The last one is the day in progress, the one the subscription now reports.
        const last = invoices[3];
        expect(Date.parse(last.period_start)).toBeLessThanOrEqual(Date.now());
        expect(Date.parse(last.period_end)).toBeGreaterThan(Date.now());
        expect(await liveStatus(created.id, 'active')).toMatchObject({ current_period_start: last.period_start, current_period_end: last.period_end });

        const numbers = invoices.map((i) => Number(/^INV-(\d+)$/.exec(i.number)![1]));
        expect(numbers).toEqual([numbers[0], numbers[0] + 1, numbers[0] + 2, numbers[0] + 3]);

        // Every fee waits in deferred revenue until the daily recognition workflow (started by its
        // Schedule, not by a subscription) recognises its days: see revenue-recognition.test.ts.
        const books = await balances(stack.admin);
        expect(balanceOf(books, 'accounts_receivable', currency).toFixed()).toBe(new Decimal(receivable).toFixed());
        expect(balanceOf(books, 'revenue', currency).isZero()).toBe(true);
        const rows = books.filter((b) => b.currency === currency);
        expect(rows.find((b) => b.account === 'deferred_revenue')?.balance).toBe(receivable);
        expectBooksBalanced(books);
      },
    );

  });

  it('starts a subscription (201) that is active now and is billed for its current period', async () => {
    const customerId = await newCustomer();
    const before = Date.now();
    const created = await subscribe({ customer_id: customerId, plan_code: monthlyUsd });
    expect(created).toMatchObject({ status: 'active', customer_id: customerId, plan_code: monthlyUsd, workflow_id: expect.any(String) });
    expect(Date.parse(created.current_period_start)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(created.current_period_end)).toBeGreaterThan(Date.parse(created.current_period_start));

    const [invoice] = await waitForInvoices(stack.admin, created.id, 1);
    expect(invoice).toMatchObject({
      status: 'open',
      currency: 'USD',
      customer_id: customerId,
      total: '49.00',
      amount_due: '49.00',
      period_start: created.current_period_start,
      period_end: created.current_period_end,
    });
  });

  it('reads a subscription live from its workflow', async () => {
    const created = await subscribe({ customer_id: await newCustomer(), plan_code: monthlyUsd });
    const live = await liveStatus(created.id, 'active');
    expect(live).toMatchObject({
      id: created.id,
      state_source: 'workflow',
      current_period_start: created.current_period_start,
      current_period_end: created.current_period_end,
      cancel_at_period_end: false,
      next_billing_at: created.current_period_end,
      upcoming: [{ at: created.current_period_end, event: 'renewal' }],
      workflow_id: created.workflow_id,
    });
  });

  it('answers an unknown subscription id with 404', async () => {
    expectError(await stack.admin.get('/v1/subscriptions/sub_doesnotexist'), 404, { type: 'not_found_error' });
    expectError(await stack.admin.post('/v1/subscriptions/sub_doesnotexist/cancel', { at: 'now' }), 404, { type: 'not_found_error' });
  });

  it('lets operators find an active subscription by customer with a visibility query, with a summary in its memo', async () => {
    const customerId = await newCustomer();
    const created = await subscribe({ customer_id: customerId, plan_code: monthlyUsd });
    const query = `SubscriptionStatus="active" AND CustomerId="${customerId}"`;
    const found = await eventually(
      `the dev server lists ${created.workflow_id} for ${query}`,
      async () => {
        const executions: WorkflowExecutionInfo[] = [];
        for await (const execution of stack.temporal.client.workflow.list({ query })) executions.push(execution);
        return executions;
      },
      (executions) => executions.some((e) => e.workflowId === created.workflow_id),
    );
    expect(found).toHaveLength(1);
    const [execution] = found;
    expect(execution.taskQueue).toBe(stack.taskQueue);
    expect(execution.memo?.summary).toEqual(expect.stringContaining(created.id));
    expect(execution.memo?.summary).toEqual(expect.stringContaining(customerId));

    // Another customer's query does not see it.
    const other = await newCustomer();
    const none = [];
    for await (const e of stack.temporal.client.workflow.list({ query: `SubscriptionStatus="active" AND CustomerId="${other}"` })) none.push(e);
    expect(none).toEqual([]);
  });

  it('schedules a cancellation at period end once: the subscription stays active, and a second request is refused with 409', async () => {
    const created = await subscribe({ customer_id: await newCustomer(), plan_code: monthlyUsd });
    await liveStatus(created.id, 'active');

    const scheduled = await stack.support.post(`/v1/subscriptions/${created.id}/cancel`, { at: 'period_end' });
    expect(scheduled.status).toBe(200);
    expect(scheduled.body).toMatchObject({
      id: created.id,
      status: 'active',
      cancel_at_period_end: true,
      canceled_at: null,
      upcoming: [{ at: created.current_period_end, event: 'cancellation' }],
    });
    expect((await stack.readonly.get(`/v1/subscriptions/${created.id}`)).body).toMatchObject({ status: 'active', cancel_at_period_end: true });

    expectError(await stack.support.post(`/v1/subscriptions/${created.id}/cancel`, { at: 'period_end' }), 409, {
      code: 'cancellation_already_scheduled',
    });
  });

  it('refuses an unknown cancel option with 400 naming at, and the subscription stays as it was', async () => {
    const created = await subscribe({ customer_id: await newCustomer(), plan_code: monthlyUsd });
    await liveStatus(created.id, 'active');
    expectError(await stack.admin.post(`/v1/subscriptions/${created.id}/cancel`, { at: 'tomorrow' }), 400, { type: 'invalid_request_error', param: 'at' });
    expectError(await stack.admin.post(`/v1/subscriptions/${created.id}/cancel`, {}), 400, { type: 'invalid_request_error', param: 'at' });
    expect((await stack.readonly.get(`/v1/subscriptions/${created.id}`)).body).toMatchObject({
      status: 'active',
      cancel_at_period_end: false,
      canceled_at: null,
    });
  });

  it('forbids a readonly key to cancel (403) and the subscription stays active', async () => {
    const created = await subscribe({ customer_id: await newCustomer(), plan_code: monthlyUsd });
    await liveStatus(created.id, 'active');
    expectError(await stack.readonly.post(`/v1/subscriptions/${created.id}/cancel`, { at: 'now' }), 403, { type: 'permission_error' });
    expect((await stack.readonly.get(`/v1/subscriptions/${created.id}`)).body).toMatchObject({ status: 'active', canceled_at: null });
  });

  it('cancels now: the caller gets the canceled state, the workflow completes canceled, and no further invoice is issued', async () => {
    const created = await subscribe({ customer_id: await newCustomer(), plan_code: monthlyUsd });
    await waitForInvoices(stack.admin, created.id, 1);
    await liveStatus(created.id, 'active');

    const canceled = await stack.support.post(`/v1/subscriptions/${created.id}/cancel`, { at: 'now' });
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ id: created.id, status: 'canceled', canceled_at: expect.any(String), next_billing_at: null, upcoming: [] });

    const result = await stack.temporal.client.workflow.getHandle(created.workflow_id).result();
    expect(result.status).toBe('canceled');
    expect(await invoicesOf(stack.admin, created.id)).toHaveLength(1);
    expect((await stack.readonly.get(`/v1/subscriptions/${created.id}`)).body).toMatchObject({ status: 'canceled' });

    // Canceling again is refused, whether the row or the finished workflow answers.
    expectError(await stack.support.post(`/v1/subscriptions/${created.id}/cancel`, { at: 'now' }), 409, { code: 'subscription_canceled' });
    expectError(await stack.support.post(`/v1/subscriptions/${created.id}/cancel`, { at: 'period_end' }), 409, { code: 'subscription_canceled' });
  });

  it('cancels now a subscription whose cancellation was scheduled for period end', async () => {
    const created = await subscribe({ customer_id: await newCustomer(), plan_code: monthlyUsd });
    await liveStatus(created.id, 'active');
    expect((await stack.admin.post(`/v1/subscriptions/${created.id}/cancel`, { at: 'period_end' })).status).toBe(200);
    const now = await stack.admin.post(`/v1/subscriptions/${created.id}/cancel`, { at: 'now' });
    expect(now.status).toBe(200);
    expect(now.body.status).toBe('canceled');
    expect((await stack.temporal.client.workflow.getHandle(created.workflow_id).result()).status).toBe('canceled');
  });

  it('cancels now a subscription that has not started yet, without ever billing it', async () => {
    const startAt = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const created = await subscribe({ customer_id: await newCustomer(), plan_code: monthlyUsd, start_at: startAt });
    expect(created).toMatchObject({ status: 'scheduled', start_at: startAt });
    await liveStatus(created.id, 'scheduled');
    const canceled = await stack.admin.post(`/v1/subscriptions/${created.id}/cancel`, { at: 'now' });
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe('canceled');
    expect((await stack.temporal.client.workflow.getHandle(created.workflow_id).result()).status).toBe('canceled');
    expect(await invoicesOf(stack.admin, created.id)).toEqual([]);
  });

  it('takes a start_at with a time zone offset as that instant', async () => {
    const created = await subscribe({ customer_id: await newCustomer(), plan_code: monthlyUsd, start_at: '2031-01-31T09:00:00+09:00' });
    expect(created).toMatchObject({ status: 'scheduled', start_at: '2031-01-31T00:00:00.000Z' });
    expect(await liveStatus(created.id, 'scheduled')).toMatchObject({ start_at: '2031-01-31T00:00:00.000Z', next_billing_at: '2031-01-31T00:00:00.000Z' });
  });

  it('does not bill during a trial: the subscription is trialing until the trial ends', async () => {
    const code = unique('trial');
    expect((await stack.admin.post('/v1/plans', { code, name: 'Trial', currency: 'USD', interval: 'month', trial_days: 14, amount: '20.00' })).status).toBe(201);
    const created = await subscribe({ customer_id: await newCustomer(), plan_code: code });
    expect(created.status).toBe('trialing');
    const live = await liveStatus(created.id, 'trialing');
    expect(Date.parse(live.trial_end) - Date.parse(live.start_at)).toBe(14 * 86_400_000);
    // Trialing is published before the workflow sleeps until the trial ends; billing only comes after it.
    expect(live.upcoming).toContainEqual({ at: live.trial_end, event: 'trial_end' });
    expect(await invoicesOf(stack.admin, created.id)).toEqual([]);
  });

  it('numbers every invoice in the database without a gap', async () => {
    const counts = await tableCounts(stack.db);
    const all = await stack.db.orm.em.fork().execute<Array<{ number: string }>>('select number from invoices order by sequence');
    expect(all.map((r) => r.number)).toEqual(Array.from({ length: counts.invoices }, (_, n) => `INV-${String(n + 1).padStart(6, '0')}`));
  });
});
