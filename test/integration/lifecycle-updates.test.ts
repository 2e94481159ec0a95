import { eventually, expectError, startStack, unique, waitForInvoices, type Stack } from './harness';

/**
 * Support changes against the real Temporal dev server. A refused change is rejected by the
 * update's validator, so the workflow's history gains no event at all (the dev server, unlike the
 * time-skipping test server, does not record the workflow task a rejected update ran in).
 */
describe('subscription changes on the dev server', () => {
  let stack: Stack;
  let basic: string;
  let pro: string;

  beforeAll(async () => {
    stack = await startStack('lifecycle-updates');
    basic = unique('basic');
    pro = unique('pro');
    for (const [code, amount] of [[basic, '30.00'], [pro, '90.00']]) {
      expect((await stack.admin.post('/v1/plans', { code, name: code, currency: 'USD', interval: 'month', amount })).status).toBe(201);
    }
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('refuses changes that make no sense, naming why, and leaves the history exactly as it was', async () => {
    const customer = await stack.admin.post('/v1/customers', { name: 'Trace', email: 'trace@example.test', currency: 'USD' });
    const sub = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: basic });
    const id = sub.body.id as string;
    await waitForInvoices(stack.admin, id, 1);
    const handle = stack.temporal.client.workflow.getHandle(sub.body.workflow_id);
    // The first invoice is followed by a state publication; wait for the history to settle.
    let before = 0;
    for (let same = 0; same < 3; ) {
      const length = (await handle.fetchHistory()).events?.length ?? 0;
      same = length === before ? same + 1 : 0;
      before = length;
      await new Promise((r) => setTimeout(r, 300));
    }

    expectError(await stack.support.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: basic }), 400, { code: 'plan_unchanged' });
    expectError(await stack.support.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: pro, at: '2020-01-01T00:00:00Z' }), 400, { code: 'date_in_past' });
    expectError(await stack.support.post(`/v1/subscriptions/${id}/resume`, {}), 409, { code: 'subscription_not_paused' });
    expectError(await stack.support.post(`/v1/subscriptions/${id}/end_trial`, {}), 409, { code: 'subscription_not_trialing' });
    expectError(await stack.support.post(`/v1/subscriptions/${id}/reactivate`, {}), 409, { code: 'cancellation_not_scheduled' });

    expect((await handle.fetchHistory()).events?.length).toBe(before);

    // And a change that makes sense is accepted and answered with the state it produced.
    const upgraded = await stack.support.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: pro, at: 'period_end' });
    expect(upgraded.status).toBe(200);
    expect(upgraded.body.scheduled_changes).toEqual([expect.objectContaining({ type: 'change_plan', plan_code: pro, at_period_end: true })]);
    expect((await handle.fetchHistory()).events?.length).toBeGreaterThan(before);

    // Operators find it by its new status once it is paused; the memo says what comes next.
    const paused = await stack.support.post(`/v1/subscriptions/${id}/pause`, {});
    expect(paused.body).toMatchObject({ status: 'paused', next_billing_at: null });
    const found = await eventually(
      'the paused subscription is visible by status',
      async () => {
        const runs = [];
        for await (const run of stack.temporal.client.workflow.list({ query: `WorkflowId = "${sub.body.workflow_id}" AND SubscriptionStatus = "paused"` })) runs.push(run);
        return runs;
      },
      (runs) => runs.length === 1,
    );
    expect(String((found[0].memo as { summary?: string } | undefined)?.summary)).toContain(': paused');
  });
});
