import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import fc from 'fast-check';
import { Pool } from 'pg';
import { forkEm } from '../../db/orm';
import { aggregateUsage, storeUsageEvents, type UsageEventRow } from '../../db/usage-store';
import { AGGREGATIONS, aggregateEvents, type Aggregation } from '../../domain/usage';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * Postgres aggregates usage (it must, over millions of events); domain/usage.ts defines what each
 * aggregation means. For random events, including events before the window (which only the
 * weighted sum carries in) and after it, both must give the same quantity, digit for digit.
 */
describe('usage aggregation in Postgres agrees with its definition', () => {
  let db: TestDatabase;
  let pool: Pool;
  const em = (): EntityManager => forkEm(db.orm)();
  const WINDOW = { start: new Date('2027-03-01T00:00:00Z'), end: new Date('2027-04-01T00:00:00Z') };
  const ANCHOR = new Date('2027-01-01T00:00:00Z');

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new Pool({ connectionString: db.url, max: 2 });
    await em().execute(`insert into customers (id, name, email, currency) values ('cus_agg', 'Agg', 'agg@example.test', 'USD')`);
    await em().execute(`insert into plans (id, code, name, currency, interval, amount) values ('plan_agg', 'agg', 'Agg', 'USD', 'month', 0)`);
    for (const aggregation of AGGREGATIONS) {
      await em().execute(`insert into billable_metrics (id, code, name, aggregation, field) values (?, ?, ?, ?, ?)`, [
        `bm_${aggregation}`,
        aggregation,
        aggregation,
        aggregation,
        aggregation === 'count' ? null : 'v',
      ]);
    }
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  let run = 0;
  const span = ANCHOR.getTime() + 0;
  const event = fc.record({
    // From January to May: before, inside and after the March window. Half-day steps make equal
    // timestamps common, where only the tie-break (transaction id) decides latest and weighted sums.
    at: fc.oneof(fc.integer({ min: 0, max: 150 * 86_400_000 - 1 }), fc.integer({ min: 0, max: 300 }).map((halfDays) => halfDays * 43_200_000)),
    value: fc.oneof(fc.integer({ min: -50, max: 1000 }).map(String), fc.stringMatching(/^[0-9]{1,4}\.[0-9]{1,6}$/)),
  });

  it.each(AGGREGATIONS.map((a) => [a]))('%s', async (aggregation: Aggregation) => {
    await fc.assert(
      // Every third event shares the previous one's instant, so ties occur at every position.
      fc.asyncProperty(fc.array(event, { maxLength: 40 }).map((list) => list.map((e, i) => (i % 3 === 1 ? { ...e, at: list[i - 1].at } : e))), async (events) => {
        const subscriptionId = `sub_agg_${++run}`;
        await em().execute(
          `insert into subscriptions (id, customer_id, plan_id, status, start_at, billing_anchor, usage_closed_until, workflow_id)
           values (?, 'cus_agg', 'plan_agg', 'active', ?, ?, ?, ?)`,
          [subscriptionId, ANCHOR, ANCHOR, ANCHOR, `subscription-${subscriptionId}`],
        );
        // unique_count counts distinct values; negative numbers make no sense there but are distinct text too.
        const rows: UsageEventRow[] = events.map((e, i) => ({
          transaction_id: `${subscriptionId}-${i}`,
          subscription_id: subscriptionId,
          metric_id: `bm_${aggregation}`,
          timestamp: new Date(span + e.at).toISOString(),
          value: aggregation === 'count' ? null : new Decimal(e.value).toFixed(),
          properties: {},
        }));
        expect((await storeUsageEvents(pool, rows)).every((o) => o.outcome === 'accepted')).toBe(true);

        const asDomain = rows.map((r) => ({ transactionId: r.transaction_id, timestamp: new Date(r.timestamp), value: r.value }));
        const inWindow = asDomain.filter((e) => e.timestamp >= WINDOW.start && e.timestamp < WINDOW.end);
        const opening = asDomain.filter((e) => e.timestamp < WINDOW.start).reduce((t, e) => t.plus(e.value ?? 0), new Decimal(0));
        const expected = aggregateEvents(aggregation, inWindow, WINDOW, opening);

        const actual = await aggregateUsage(em(), subscriptionId, { id: `bm_${aggregation}`, aggregation }, WINDOW);
        expect(actual.quantity.toFixed()).toBe(expected.toFixed());
        expect(actual.eventCount).toBe(inWindow.length);
      }),
      { numRuns: 25, seed: 20261122 },
    );
  });
});
