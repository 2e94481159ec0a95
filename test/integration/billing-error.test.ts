import type { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { invoiceWorkflowId, retryBillingSignal } from '../../workflows/messages';
import { billingWorker } from '../support/temporal';
import { daysAgo, eventually, invoicesOf, startStack, type Stack } from './harness';

const EventType = temporal.api.enums.v1.EventType;

/**
 * A failure that retrying cannot fix, as an operator meets it: a negative value stored for a `sum`
 * metric (ingest accepted them before it checked the sign) makes pricing throw at the next invoice.
 * On the dev server, for its visibility: the subscription must stop visibly as billing_error, with
 * the reason, after one attempt, and carry on billing once the data is corrected and retryBilling
 * is signalled. The subscription is backdated so the failing invoice is due at once.
 */
describe('a subscription whose billing fails deterministically', () => {
  let stack: Stack;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;

  beforeAll(async () => {
    // The worker starts once the bad row is in place: the workflow's first invoices come at once.
    stack = await startStack('billing-error', { worker: false });
    expect((await stack.admin.post('/v1/metrics', { code: 'api_calls', name: 'API calls', aggregation: 'sum', field: 'calls' })).status).toBe(201);
    const plan = await stack.admin.post('/v1/plans', {
      code: 'metered-daily',
      name: 'Metered daily',
      currency: 'USD',
      interval: 'day',
      amount: '1.00',
      charges: [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '0.10' } }],
    });
    expect(plan.status).toBe(201);
  });

  afterAll(async () => {
    if (stack) {
      // Collections of its invoices are children that outlive the subscription; end them too.
      const invoices = await stack.db.orm.em.fork().execute<Array<{ id: string }>>('select id from invoices');
      for (const { id } of invoices) await stack.temporal.client.workflow.getHandle(invoiceWorkflowId(id)).terminate('suite finished').catch(() => undefined);
      const subscriptions = await stack.db.orm.em.fork().execute<Array<{ workflow_id: string }>>('select workflow_id from subscriptions');
      for (const { workflow_id } of subscriptions) await stack.temporal.client.workflow.getHandle(workflow_id).terminate('suite finished').catch(() => undefined);
    }
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await stack?.stop();
  });

  const subscription = async (id: string) => (await stack.admin.get(`/v1/subscriptions/${id}`)).body;

  /** The subscription's open run, if visibility lists it with `status` (a run ended by continue-as-new keeps its last status). */
  async function findByStatus(workflowId: string, status: string): Promise<string[]> {
    const found: string[] = [];
    const query = `WorkflowId = "${workflowId}" AND ExecutionStatus = "Running" AND SubscriptionStatus = "${status}"`;
    for await (const run of stack.temporal.client.workflow.list({ query })) found.push(run.runId);
    return found;
  }

  it('stops as billing_error after one attempt, is found by operators, and bills again once the data is fixed and billing is retried', async () => {
    // Given a daily metered subscription that started a day ago, with a negative usage value
    // stored for its first day (written as an old ingest would have: straight into the table)
    const customer = await stack.admin.post('/v1/customers', { name: 'Negative usage', email: 'negative@example.test', currency: 'USD' });
    expect(customer.status).toBe(201);
    const startAt = daysAgo(1);
    const created = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: 'metered-daily', start_at: startAt });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    const workflowId: string = created.body.workflow_id;
    const em = () => stack.db.orm.em.fork();
    const [{ id: metricId }] = await em().execute<Array<{ id: string }>>(`select id from billable_metrics where code = 'api_calls'`);
    const usedAt = new Date(Date.parse(startAt) + 3_600_000);
    await em().execute(`insert into usage_events (transaction_id, subscription_id, metric_id, "timestamp", value, properties) values (?, ?, ?, ?, ?, ?)`, [
      'legacy-negative-1',
      id,
      metricId,
      usedAt,
      '-40',
      JSON.stringify({ calls: '-40' }),
    ]);

    // When its worker bills the elapsed day and the current one
    worker = await billingWorker({ connection: stack.temporal.connection, taskQueue: stack.taskQueue, orm: stack.db.orm });
    running = worker.run();

    // Then the first day is invoiced, and billing stops at the invoice that prices the negative usage,
    // with the reason shown on the subscription
    const stopped = await eventually('the subscription stops as billing_error', () => subscription(id), (s) => s.status === 'billing_error');
    expect(stopped.billing_error).toEqual({
      activity: 'billSubscription',
      code: 'RangeError',
      message: expect.stringContaining('usage quantity cannot be negative'),
      at: expect.any(String),
    });
    expect((await invoicesOf(stack.admin, id)).map((i) => i.total)).toEqual(['1.00']);
    const [row] = await em().execute<Array<{ status: string }>>('select status from subscriptions where id = ?', [id]);
    expect(row.status).toBe('billing_error');

    // and an operator finds it by status in visibility, its memo saying what to do
    await eventually('the subscription is visible as billing_error', () => findByStatus(workflowId, 'billing_error'), (runs) => runs.length === 1);
    const handle = stack.temporal.client.workflow.getHandle(workflowId);
    const memo = (await handle.describe()).memo as { summary?: string } | undefined;
    expect(memo?.summary).toMatch(/billing_error \(billSubscription failed: RangeError: .*signal retryBilling\)/);

    // and the invoice was tried once and given up, not retried: its one failure is non-retryable,
    // and nothing of it is pending a retry
    const events = (await handle.fetchHistory()).events ?? [];
    const failures = events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED);
    expect(failures.map((e) => e.activityTaskFailedEventAttributes?.failure?.cause?.applicationFailureInfo ?? e.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo)).toEqual([
      expect.objectContaining({ type: 'RangeError', nonRetryable: true }),
    ]);
    const started = events.find((e) => e.eventId?.toString() === failures[0].activityTaskFailedEventAttributes?.startedEventId?.toString());
    expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(1);
    expect((await handle.describe()).raw.pendingActivities ?? []).toEqual([]);

    // When the bad row is corrected and an operator retries billing
    await em().execute(`update usage_events set value = '40', properties = ? where transaction_id = 'legacy-negative-1'`, [JSON.stringify({ calls: '40' })]);
    await handle.signal(retryBillingSignal);

    // Then billing resumes in the same run: the stopped invoice is issued with the corrected usage,
    // and the subscription is active again, in the API, in visibility and in its memo
    const resumed = await eventually('billing resumes', () => subscription(id), (s) => s.status === 'active');
    expect(resumed.billing_error ?? null).toBeNull();
    const invoices = await eventually('the current day is invoiced', () => invoicesOf(stack.admin, id), (list) => list.length === 2);
    expect(invoices.map((i) => i.total)).toEqual(['1.00', '5.00']);
    await eventually('the subscription is visible as active again', () => findByStatus(workflowId, 'active'), (runs) => runs.length === 1);
    const after = (await handle.describe()).memo as { summary?: string; billingError?: unknown } | undefined;
    expect({ summary: after?.summary, billingError: after?.billingError ?? null }).toEqual({ summary: expect.stringContaining(': active'), billingError: null });
  });
});
