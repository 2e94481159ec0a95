import type { EntityManager } from '@mikro-orm/postgresql';
import { recordSubscriptionState } from '../../db/subscription-store';
import { forkEm } from '../../db/orm';
import type { SubscriptionState } from '../../workflows/messages';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * The subscription row mirrors its workflow's state for lists and reports. Writes arrive from
 * activities that may be retried or overtaken, so only a newer state may land.
 */
describe('mirroring workflow state into the subscription row', () => {
  let db: TestDatabase;
  const em = (): EntityManager => forkEm(db.orm)();

  const state = (stateVersion: number, status: SubscriptionState['status']): SubscriptionState => ({
    subscriptionId: 'sub_mirror',
    customerId: 'cus_mirror',
    planCode: 'mirror',
    status,
    startAt: '2027-01-01T00:00:00.000Z',
    trialEnd: null,
    currentPeriod: { index: 0, start: '2027-01-01T00:00:00.000Z', end: '2027-02-01T00:00:00.000Z' },
    cancelAtPeriodEnd: false,
    canceledAt: null,
    nextBillingAt: '2027-02-01T00:00:00.000Z',
    upcoming: [],
    stateVersion,
  });

  const row = async () =>
    (await em().execute<Array<{ status: string; state_version: number }>>(`select status, state_version from subscriptions where id = 'sub_mirror'`))[0];

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('a state for a subscription whose row is not committed yet fails, so the activity retries', async () => {
    await expect(recordSubscriptionState(em(), state(1, 'active'))).rejects.toThrow('subscription sub_mirror is not in the database (yet)');
  });

  it('a newer state lands, and an older one arriving late changes nothing', async () => {
    await em().execute(`insert into customers (id, name, email, currency) values ('cus_mirror', 'Mirror', 'm@example.test', 'USD')`);
    await em().execute(`insert into plans (id, code, name, currency, interval, amount) values ('plan_mirror', 'mirror', 'Mirror', 'USD', 'month', 10)`);
    await em().execute(
      `insert into subscriptions (id, customer_id, plan_id, status, start_at, billing_anchor, usage_closed_until, workflow_id)
       values ('sub_mirror', 'cus_mirror', 'plan_mirror', 'scheduled', '2027-01-01', '2027-01-01', '2027-01-01', 'subscription-sub_mirror')`,
    );
    await recordSubscriptionState(em(), state(3, 'canceled'));
    expect(await row()).toEqual({ status: 'canceled', state_version: 3 });
    await recordSubscriptionState(em(), state(2, 'active'));
    expect(await row()).toEqual({ status: 'canceled', state_version: 3 });
  });
});
