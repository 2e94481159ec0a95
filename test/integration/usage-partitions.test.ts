import type { EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { forkEm } from '../../db/orm';
import { aggregateUsage } from '../../db/usage-store';
import { USAGE_PARTITION_MONTHS_AHEAD, usagePartitions } from '../../db/usage-partitions';
import { USAGE_PARTITIONS_WORKFLOW, type UsagePartitionsWorkflow } from '../../workflows/messages';
import { createUpgradedDatabase } from '../support/database';
import { startStack, type Stack } from './harness';

/** The first instant of the month `offset` months from now's, UTC. */
const monthStart = (offset: number): Date => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
};
const partitionName = (offset: number): string => {
  const m = monthStart(offset);
  return `usage_events_${m.getUTCFullYear()}_${String(m.getUTCMonth() + 1).padStart(2, '0')}`;
};
const dayOf = (offset: number, day: number): string => new Date(monthStart(offset).getTime() + (day - 1) * 86_400_000).toISOString();

/**
 * Usage events live in monthly partitions: the migration makes the current month and the next ones,
 * the worker's daily run makes the months ahead, an event of a month without a partition is kept and
 * moved into the month when it is made, and a month detached for archiving leaves aggregation while
 * its transaction ids stay taken. Real Postgres, a real worker running the partition workflow.
 */
describe('usage partitions', () => {
  let stack: Stack;
  const em = (): EntityManager => forkEm(stack.db.orm)();
  let metricId: string;
  let seatsId: string;
  let n = 0;

  beforeAll(async () => {
    stack = await startStack('usage-partitions');
    expect((await stack.admin.post('/v1/metrics', { code: 'api_calls', name: 'API calls', aggregation: 'sum', field: 'calls' })).status).toBe(201);
    expect((await stack.admin.post('/v1/metrics', { code: 'seats', name: 'Seats', aggregation: 'weighted_sum', field: 'delta' })).status).toBe(201);
    [{ id: metricId }] = await em().execute(`select id from billable_metrics where code = 'api_calls'`);
    [{ id: seatsId }] = await em().execute(`select id from billable_metrics where code = 'seats'`);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function subscription(startAt: Date): Promise<string> {
    const customer = await stack.admin.post('/v1/customers', { name: `Partitions ${++n}`, email: `partitions${n}@example.test`, currency: 'USD' });
    const code = `partitions-plan-${n}`;
    const plan = await stack.admin.post('/v1/plans', {
      code,
      name: code,
      currency: 'USD',
      interval: 'month',
      amount: '0.00',
      charges: ['api_calls', 'seats'].map((metric_code) => ({ metric_code, model: 'standard', properties: { unit_amount: '1' } })),
    });
    expect(plan.status).toBe(201);
    const sub = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: code, start_at: startAt.toISOString() });
    expect(sub.status).toBe(201);
    return sub.body.id;
  }

  const send = (events: unknown[]) => stack.admin.post('/v1/usage_events', { events });
  const event = (subscriptionId: string, id: string, timestamp: string, calls: number) => ({ transaction_id: id, subscription_id: subscriptionId, code: 'api_calls', timestamp, properties: { calls } });
  const usageOf = async (subscriptionId: string, offset: number) => {
    const usage = await aggregateUsage(em(), subscriptionId, { id: metricId, aggregation: 'sum' }, { start: monthStart(offset), end: monthStart(offset + 1) });
    return { quantity: usage.quantity.toFixed(), events: usage.eventCount };
  };
  const seatsOf = async (subscriptionId: string, offset: number) =>
    (await aggregateUsage(em(), subscriptionId, { id: seatsId, aggregation: 'weighted_sum' }, { start: monthStart(offset), end: monthStart(offset + 1) })).quantity.toFixed();
  const whereStored = async (transactionId: string): Promise<string> =>
    (await em().execute(`select tableoid::regclass::text as partition from usage_events where transaction_id = ?`, [transactionId]))[0]?.partition;
  const runPartitionWorkflow = (monthsAhead?: number) =>
    stack.temporal.client.workflow.execute<UsagePartitionsWorkflow>(USAGE_PARTITIONS_WORKFLOW, {
      taskQueue: stack.taskQueue,
      workflowId: `usage-partitions-test-${++n}`,
      args: [monthsAhead === undefined ? {} : { monthsAhead }],
    });

  it('a fresh database has the current month and the next ones before any worker has run', async () => {
    const names = (await usagePartitions(em())).map((p) => p.name);
    expect(names).toEqual([...Array.from({ length: USAGE_PARTITION_MONTHS_AHEAD + 1 }, (_, i) => partitionName(i)), 'usage_events_default']);
  });

  it("the worker's daily run makes the months ahead once, with the application's rights only", async () => {
    expect(await runPartitionWorkflow(USAGE_PARTITION_MONTHS_AHEAD + 2)).toEqual({
      created: [partitionName(USAGE_PARTITION_MONTHS_AHEAD + 1), partitionName(USAGE_PARTITION_MONTHS_AHEAD + 2)],
    });
    // Idempotent: a second run (or a second worker) finds them there.
    expect(await runPartitionWorkflow(USAGE_PARTITION_MONTHS_AHEAD + 2)).toEqual({ created: [] });
    expect(await runPartitionWorkflow()).toEqual({ created: [] });

    // The worker connects as perennial_app: the function makes partitions for it, and nothing else does.
    await expect(em().execute('create table usage_events_by_hand (id int)')).rejects.toThrow(/permission denied/);
    await expect(em().execute(`select usage_events_attach_month('2040-01-01T00:00:00Z')`)).rejects.toThrow(/permission denied/);
    await expect(em().execute('select create_usage_partitions(1000)')).rejects.toThrow(/months_ahead must be between 0 and 36/);
  });

  it('an event of a month without a partition is accepted, kept in the default partition, and moved into its month when it is made', async () => {
    const subId = await subscription(monthStart(1));
    const far = USAGE_PARTITION_MONTHS_AHEAD + 5;
    const answer = await send([event(subId, 'far-1', dayOf(far, 3), 7), event(subId, 'far-2', dayOf(far, 20), 5), event(subId, 'near-1', dayOf(1, 2), 1)]);
    expect(answer.body).toMatchObject({ accepted: 3, duplicates: 0, rejected: [] });
    expect(await whereStored('far-1')).toBe('usage_events_default');
    expect(await whereStored('near-1')).toBe(partitionName(1));
    const before = await usageOf(subId, far);
    expect(before).toEqual({ quantity: '12', events: 2 });

    // The months between are made too; only this one had events waiting.
    const { created } = await runPartitionWorkflow(far);
    expect(created).toContain(partitionName(far));
    expect(await whereStored('far-1')).toBe(partitionName(far));
    expect(await whereStored('far-2')).toBe(partitionName(far));
    expect(await em().execute(`select count(*)::int as n from usage_events_default`)).toEqual([{ n: 0 }]);
    expect(await usageOf(subId, far)).toEqual(before);
    // Still deduplicated and compared as before the move.
    expect((await send([event(subId, 'far-1', dayOf(far, 3), 7)])).body).toMatchObject({ accepted: 0, duplicates: 1, rejected: [] });
    expect((await send([event(subId, 'far-1', dayOf(far, 3), 8)])).body.rejected).toEqual([
      expect.objectContaining({ index: 0, code: 'transaction_id_conflict', message: expect.stringContaining('properties') }),
    ]);
  });

  it("a detached month leaves aggregation, and its transaction ids stay taken: a repeat is a duplicate (its properties can no longer be compared) or a conflict on what the id still records", async () => {
    const subId = await subscription(monthStart(1));
    const archived = [event(subId, 'old-1', dayOf(1, 5), 3), event(subId, 'old-2', dayOf(1, 6), 4)];
    const seats = (id: string, timestamp: string, delta: number) => ({ transaction_id: id, subscription_id: subId, code: 'seats', timestamp, properties: { delta } });
    expect((await send([...archived, event(subId, 'kept-1', dayOf(2, 5), 10), seats('seats-1', dayOf(1, 3), 3), seats('seats-2', dayOf(1, 20), 2), seats('seats-3', dayOf(2, 10), 1)])).body).toMatchObject({ accepted: 6 });
    expect(await usageOf(subId, 1)).toEqual({ quantity: '7', events: 2 });
    const seatsAfter = await seatsOf(subId, 2);

    // docs/usage-partitions.md, "Steps", as the schema's owner.
    const month = partitionName(1);
    const end = monthStart(2).toISOString();
    const owner = new Client({ connectionString: stack.db.ownerUrl });
    await owner.connect();
    try {
      await owner.query(`set lock_timeout = '5s'`);
      await owner.query('begin');
      await owner.query(`alter table usage_events detach partition ${month}`);
      await owner.query(
        `insert into usage_events (transaction_id, subscription_id, metric_id, "timestamp", value, properties)
         select 'carried:' || u.subscription_id || ':' || u.metric_id || ':' || $1, u.subscription_id, u.metric_id,
                $2::timestamptz - interval '1 microsecond', sum(u.value::numeric)::text, jsonb_build_object('carried_from', $3::text)
         from ${month} u join billable_metrics m on m.id = u.metric_id and m.aggregation = 'weighted_sum'
         group by u.subscription_id, u.metric_id`,
        [month.slice('usage_events_'.length), end, month],
      );
      await owner.query(`alter table ${month} rename to ${month}_archived`);
      await owner.query('commit');
      expect((await owner.query(`select count(*)::int as n from ${month}_archived where subscription_id = $1`, [subId])).rows).toEqual([{ n: 4 }]);
    } finally {
      await owner.end();
    }
    // The next partition run makes the month again, holding the carried events only.
    expect(await runPartitionWorkflow()).toEqual({ created: [month] });
    expect(await em().execute(`select transaction_id from ${month} where subscription_id = ?`, [subId])).toEqual([{ transaction_id: `carried:${subId}:${seatsId}:${month.slice('usage_events_'.length)}` }]);

    // The next month's weighted sum opens at the level the archived events built up.
    expect(await seatsOf(subId, 2)).toBe(seatsAfter);
    expect(await usageOf(subId, 1)).toEqual({ quantity: '0', events: 0 });
    expect(await usageOf(subId, 2)).toEqual({ quantity: '10', events: 1 });
    expect((await send([archived[0]])).body).toMatchObject({ accepted: 0, duplicates: 1, rejected: [] });
    expect((await send([{ ...archived[1], properties: { calls: 40 } }])).body).toMatchObject({ accepted: 0, duplicates: 1, rejected: [] });
    const moved = await send([{ ...archived[1], timestamp: dayOf(2, 6) }]);
    expect(moved.body.rejected).toEqual([expect.objectContaining({ index: 0, code: 'transaction_id_conflict', message: expect.stringContaining('timestamp') })]);
    expect(await usageOf(subId, 2)).toEqual({ quantity: '10', events: 1 });
  });
});

describe('the usage partitions migration', () => {
  it('moves the events already stored into their months and keeps their ids taken', async () => {
    const db = await createUpgradedDatabase(
      'Migration20261204100000_api_keys_audit',
      `insert into usage_events (transaction_id, subscription_id, metric_id, "timestamp", value, properties) values
         ('legacy-oct', 'sub_legacy', 'bm_legacy', '2026-10-31T23:59:59.999Z', '2', '{"calls": 2}'),
         ('legacy-nov', 'sub_legacy', 'bm_legacy', '2026-11-01T00:00:00Z', '3', '{"calls": 3}'),
         ('legacy-far', 'sub_legacy', 'bm_legacy', '2031-06-15T00:00:00Z', '5', '{"calls": 5}')`,
    );
    const em = forkEm(db.orm);
    try {
      expect(await em().execute(`select transaction_id, tableoid::regclass::text as partition from usage_events order by transaction_id`)).toEqual([
        { transaction_id: 'legacy-far', partition: 'usage_events_2031_06' },
        { transaction_id: 'legacy-nov', partition: 'usage_events_2026_11' },
        { transaction_id: 'legacy-oct', partition: 'usage_events_2026_10' },
      ]);
      expect(await em().execute(`select transaction_id from usage_event_ids order by transaction_id`)).toEqual([
        { transaction_id: 'legacy-far' },
        { transaction_id: 'legacy-nov' },
        { transaction_id: 'legacy-oct' },
      ]);
      const repeat = (properties: object) =>
        em().execute(`select idx::int, outcome, differs from ingest_usage_events(?::jsonb)`, [
          JSON.stringify([{ transaction_id: 'legacy-nov', subscription_id: 'sub_legacy', metric_id: 'bm_legacy', timestamp: '2026-11-01T00:00:00Z', value: '3', properties }]),
        ]);
      expect(await repeat({ calls: 3 })).toEqual([{ idx: 1, outcome: 'duplicate', differs: null }]);
      expect(await repeat({ calls: 4 })).toEqual([{ idx: 1, outcome: 'transaction_id_conflict', differs: ['properties'] }]);
      const names = (await usagePartitions(em())).map((p) => p.name);
      for (let i = 0; i <= USAGE_PARTITION_MONTHS_AHEAD; i++) expect(names).toContain(partitionName(i));
    } finally {
      await db.drop();
    }
  });
});
