import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import fc from 'fast-check';
import { Pool } from 'pg';
import { forkEm } from '../../db/orm';
import { aggregatePercentageTransactions, aggregateUsage, storeUsageEvents, type UsageEventRow } from '../../db/usage-store';
import { priceTransactions } from '../../domain/percentage-transactions';
import { AGGREGATIONS, aggregateEvents, compareEvents, type Aggregation } from '../../domain/usage';
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

  /** Free events, a free amount and per-transaction bounds, each present or not. */
  const transactionTerms = fc.record({
    rate: fc.stringMatching(/^[0-9]{1,2}\.[0-9]{1,3}$/),
    fixed: fc.stringMatching(/^0\.[0-9]{2}$/),
    freeUnits: fc.oneof(fc.constant('0'), fc.integer({ min: 1, max: 3000 }).map(String)),
    freeEvents: fc.option(fc.integer({ min: 0, max: 8 }), { nil: null }),
    min: fc.option(fc.stringMatching(/^[0-4]\.[0-9]{2}$/), { nil: null }),
    max: fc.option(fc.stringMatching(/^[5-9][0-9]\.[0-9]{2}$/), { nil: null }),
  });

  it('percentage charges priced event by event: free events, a free amount and per-transaction bounds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 40 }).map((list) => list.map((e, i) => (i % 3 === 1 ? { ...e, at: list[i - 1].at } : e))), transactionTerms, async (events, t) => {
        const subscriptionId = `sub_pct_${++run}`;
        await em().execute(
          `insert into subscriptions (id, customer_id, plan_id, status, start_at, billing_anchor, usage_closed_until, workflow_id)
           values (?, 'cus_agg', 'plan_agg', 'active', ?, ?, ?, ?)`,
          [subscriptionId, ANCHOR, ANCHOR, ANCHOR, `subscription-${subscriptionId}`],
        );
        const rows: UsageEventRow[] = events.map((e, i) => ({
          transaction_id: `${subscriptionId}-${String(i).padStart(2, '0')}`,
          subscription_id: subscriptionId,
          metric_id: 'bm_sum',
          timestamp: new Date(span + e.at).toISOString(),
          value: new Decimal(e.value).toFixed(),
          properties: {},
        }));
        expect((await storeUsageEvents(pool, rows)).every((o) => o.outcome === 'accepted')).toBe(true);
        const terms = {
          rate: new Decimal(t.rate),
          fixedAmount: new Decimal(t.fixed),
          freeUnits: new Decimal(t.freeUnits),
          rules: { freeEvents: t.freeEvents, min: t.min === null ? null : new Decimal(t.min), max: t.max === null ? null : new Decimal(t.max) },
        };
        const inOrder = rows
          .map((r) => ({ transactionId: r.transaction_id, timestamp: new Date(r.timestamp), value: r.value }))
          .filter((e) => e.timestamp >= WINDOW.start && e.timestamp < WINDOW.end)
          .sort(compareEvents);
        const expected = priceTransactions(inOrder.map((e) => new Decimal(e.value!)), terms);

        const actual = await aggregatePercentageTransactions(em(), subscriptionId, 'bm_sum', WINDOW, terms);
        expect({ paying: actual.payingEvents, fees: actual.fees.toFixed(), events: actual.eventCount }).toEqual({
          paying: expected.payingEvents,
          fees: expected.fees.toFixed(),
          events: inOrder.length,
        });
      }),
      { numRuns: 40, seed: 20261202 },
    );
  });
});
