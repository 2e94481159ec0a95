import { planSnapshot } from '../../db/plan-snapshot';
import { Plan } from '../../db/entities/plan';
import { PLAN_MIGRATION_WORKFLOW, planMigrationProgressQuery, planMigrationWorkflowId, type PlanMigrationWorkflow } from '../../workflows/messages';
import { eventually, expectError, startStack, unique, type Stack } from './harness';

/**
 * A plan migration is a workflow of its own (plan-migration-<id>): the API starts it and answers
 * 202, the workflow moves the subscriptions on older versions a batch at a time (each a plan change
 * at period end, without proration), and its progress is visible by query and by the API's GET.
 * A subscription already scheduled to move is not sent the change again, whatever is re-run.
 */
describe('plan migrations', () => {
  let stack: Stack;
  let plan: string;
  const subscriptions: string[] = [];

  beforeAll(async () => {
    stack = await startStack('plan-migrations');
    // Given three subscriptions on version 1 (20.00), then version 2 (26.00)
    plan = unique('legacy');
    expect((await stack.admin.post('/v1/plans', { code: plan, name: 'Legacy', currency: 'USD', interval: 'month', amount: '20.00' })).status).toBe(201);
    for (let i = 0; i < 3; i++) {
      const name = unique('customer');
      const customer = await stack.admin.post('/v1/customers', { name, email: `${name}@example.test`, currency: 'USD' });
      const sub = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: plan });
      expect(sub.status).toBe(201);
      subscriptions.push(sub.body.id);
    }
    // Once each workflow is running its first period
    for (const id of subscriptions) {
      await eventually(`${id} is active`, async () => (await stack.readonly.get(`/v1/subscriptions/${id}`)).body, (s) => s.status === 'active' && s.state_source === 'workflow');
    }
    expect((await stack.admin.post(`/v1/plans/${plan}/versions`, { amount: '26.00' })).status).toBe(201);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const completed = (id: string) =>
    eventually(`migration ${id} completed`, async () => (await stack.readonly.get(`/v1/plans/${plan}/migrations/${id}`)).body, (m) => m.status === 'completed');

  const scheduledChanges = async (id: string) => (await stack.readonly.get(`/v1/subscriptions/${id}`)).body.scheduled_changes;

  it('is started by the API (202) and moves every subscription at its period end; its progress is visible by GET and by query', async () => {
    const periodEnds = await Promise.all(subscriptions.map(async (id) => (await stack.readonly.get(`/v1/subscriptions/${id}`)).body.current_period_end));
    // When an admin starts the migration
    const started = await stack.admin.post(`/v1/plans/${plan}/migrations`, {});
    // Then it is accepted as a migration of its own, over the three subscriptions
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ object: 'plan_migration', plan_code: plan, to_version: 2, dry_run: false, total: 3 });
    expect(started.body.id).toMatch(/^pm_/);
    // And when it has completed, each subscription is scheduled to move at its period end, oldest first
    const done = await completed(started.body.id);
    expect(done).toMatchObject({ id: started.body.id, total: 3, migrated: 3, completed_at: expect.any(String) });
    expect(done.data).toEqual(subscriptions.map((id, i) => ({ subscription_id: id, from_version: 1, to_version: 2, status: 'scheduled', at: periodEnds[i] })));
    for (const [i, id] of subscriptions.entries()) {
      expect(await scheduledChanges(id)).toEqual([expect.objectContaining({ type: 'change_plan', plan_version: 2, at: periodEnds[i], at_period_end: true, proration: 'none' })]);
    }
    // And the workflow answers the same progress by query
    const progress = await stack.temporal.client.workflow.getHandle(planMigrationWorkflowId(started.body.id)).query(planMigrationProgressQuery);
    expect(progress).toMatchObject({ migrationId: started.body.id, planCode: plan, toVersion: 2, status: 'completed', total: 3 });
    expect(progress.results.map((r) => r.subscriptionId)).toEqual(subscriptions);
  });

  it('run again, it migrates nothing twice: each subscription keeps the change it was given', async () => {
    const before = await Promise.all(subscriptions.map(scheduledChanges));
    // When the migration is started again (a new migration)
    const again = await stack.admin.post(`/v1/plans/${plan}/migrations`, {});
    expect(again.status).toBe(202);
    const done = await completed(again.body.id);
    // Then every subscription is reported scheduled, as before
    expect(done.data.map((e: any) => [e.subscription_id, e.status])).toEqual(subscriptions.map((id) => [id, 'scheduled']));
    // And no subscription was sent the change again (a second one would have replaced the first, with a new id)
    expect(await Promise.all(subscriptions.map(scheduledChanges))).toEqual(before);
  });

  it('a retried request (same Idempotency-Key) finds the same migration', async () => {
    const key = unique('migration-key');
    const first = await stack.admin.post(`/v1/plans/${plan}/migrations`, {}, { 'Idempotency-Key': key });
    const retry = await stack.admin.post(`/v1/plans/${plan}/migrations`, {}, { 'Idempotency-Key': key });
    expect(first.status).toBe(202);
    expect(retry.status).toBe(202);
    expect(retry.body.id).toBe(first.body.id);
    await completed(first.body.id);
  });

  it('works in batches: one activity per batch of subscriptions', async () => {
    // A migration started with batches of one subscription (the API uses 100)
    const target = await stack.db.orm.em.fork().findOneOrFail(Plan, { code: plan, version: 2 });
    const migrationId = unique('pm_batches');
    const handle = await stack.temporal.client.workflow.start<PlanMigrationWorkflow>(PLAN_MIGRATION_WORKFLOW, {
      workflowId: planMigrationWorkflowId(migrationId),
      taskQueue: stack.taskQueue,
      args: [{ migrationId, planCode: plan, target: planSnapshot(target), subscriptionIds: null, total: 3, startedAt: new Date().toISOString(), batchSize: 1 }],
    });
    const result = await handle.result();
    expect(result.results.map((r) => r.subscriptionId)).toEqual(subscriptions);
    // Then it ran one activity per batch: three batches of one
    const history = await handle.fetchHistory();
    expect(history.events?.filter((e) => e.activityTaskScheduledEventAttributes).length).toBe(3);
  });

  it('answers an unknown migration, or one of another plan, with 404', async () => {
    expectError(await stack.readonly.get(`/v1/plans/${plan}/migrations/pm_missing`), 404, { type: 'not_found_error', code: 'resource_missing', param: 'id' });
    const started = await stack.admin.post(`/v1/plans/${plan}/migrations`, {});
    await completed(started.body.id);
    expectError(await stack.readonly.get(`/v1/plans/another-plan/migrations/${started.body.id}`), 404, { code: 'resource_missing' });
  });
});
