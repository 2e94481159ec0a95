import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import type { Pool } from 'pg';
import { weightedQuantity, type Aggregation, type Window } from '../domain/usage';
import type { PercentageTerms } from '../domain/percentage-transactions';

/** An event ready to store: validated, its subscription and metric resolved, its value extracted. */
export interface UsageEventRow {
  transaction_id: string;
  subscription_id: string;
  metric_id: string;
  timestamp: string;
  /** False when the server dated the event (it came without one); absent means true. */
  timestamp_given?: boolean;
  value: string | null;
  properties: Record<string, unknown>;
}

/** Why the database refused an event (codes of the ingest function in the usage migrations). */
export type StoreOutcome =
  | 'accepted'
  | 'duplicate'
  | 'transaction_id_conflict'
  | 'subscription_missing'
  | 'timestamp_before_billing_start'
  | 'period_already_invoiced'
  | 'subscription_ended'
  | 'subscription_paused';

const OUTCOMES = new Set<string>([
  'duplicate',
  'transaction_id_conflict',
  'subscription_missing',
  'timestamp_before_billing_start',
  'period_already_invoiced',
  'subscription_ended',
  'subscription_paused',
]);

export interface StoredEvent {
  outcome: StoreOutcome;
  /** For a conflict, what differs from the event stored under the id: subscription, code, timestamp, properties. */
  differs?: string[];
}

/** One event as the ingest function reads it; encoded once, so a batch retried in parts is not encoded again. */
export const encodeUsageEvent = (row: UsageEventRow): string => JSON.stringify(row);

/**
 * Stores a batch in one statement and one commit (fsync'd before this resolves), and says per event
 * whether it was accepted, was a duplicate (the same event under the same id), conflicts with the
 * event stored under its id, or fell into usage already billed. The first event of an id in the
 * batch is the one stored, so callers wanting a precedence put it first.
 */
export async function storeEncodedUsageEvents(pool: Pool, encoded: readonly string[]): Promise<StoredEvent[]> {
  const stored: StoredEvent[] = encoded.map(() => ({ outcome: 'accepted' }));
  if (encoded.length === 0) return stored;
  const result = await pool.query<{ idx: string; outcome: string; differs: string[] | null }>('select idx, outcome, differs from ingest_usage_events($1::jsonb)', [
    `[${encoded.join(',')}]`,
  ]);
  for (const row of result.rows) {
    // Never acknowledge an event the function neither stored nor explained.
    if (!OUTCOMES.has(row.outcome)) throw new Error(`ingest_usage_events: unexpected outcome ${row.outcome} for event ${row.idx}`);
    stored[Number(row.idx) - 1] = { outcome: row.outcome as StoreOutcome, ...(row.differs ? { differs: row.differs } : {}) };
  }
  return stored;
}

export async function storeUsageEvents(pool: Pool, rows: readonly UsageEventRow[]): Promise<StoredEvent[]> {
  return storeEncodedUsageEvents(pool, rows.map(encodeUsageEvent));
}

/**
 * Closes a subscription's usage up to `until` (and, for its last invoice, ends it): from the commit
 * of the caller's transaction on, events before `until` are refused. Waits for batches being stored
 * for the same lock bucket, so usage read after this call in the same transaction includes every
 * event ever acknowledged for the window. Returns the window's start (the previous close).
 */
export async function closeUsageWindow(tx: EntityManager, subscriptionId: string, until: Date, endsUsage: boolean): Promise<Date> {
  await tx.execute('select pg_advisory_xact_lock(7301, usage_lock_bucket(?))', [subscriptionId]);
  const [row] = await tx.execute<Array<{ usage_closed_until: Date }>>('select usage_closed_until from subscriptions where id = ? for update', [subscriptionId]);
  const from = new Date(row.usage_closed_until);
  const to = until > from ? until : from;
  await tx.execute(
    `update subscriptions set usage_closed_until = ?, usage_ends_at = case when ? then coalesce(usage_ends_at, ?) else usage_ends_at end where id = ?`,
    [to, endsUsage, to, subscriptionId],
  );
  return from;
}

/**
 * Usage is taken again from `at`: after a resume (the paused time stays closed), or when billing
 * starts (the trial may have ended earlier or later than planned, so the start moves exactly there).
 */
export async function reopenUsage(tx: EntityManager, subscriptionId: string, at: Date, startsBilling: boolean): Promise<void> {
  await tx.execute('select pg_advisory_xact_lock(7301, usage_lock_bucket(?))', [subscriptionId]);
  await tx.execute(
    startsBilling
      ? 'update subscriptions set usage_closed_until = ?, billing_anchor = ?, usage_ends_at = null where id = ?'
      : 'update subscriptions set usage_closed_until = greatest(usage_closed_until, ?), usage_ends_at = null where id = ?',
    startsBilling ? [at, at, subscriptionId] : [at, subscriptionId],
  );
}

export interface MetricRef {
  id: string;
  aggregation: Aggregation;
}

export interface AggregatedUsage {
  quantity: Decimal;
  eventCount: number;
}

const WINDOW = 'subscription_id = ? and metric_id = ? and "timestamp" >= ? and "timestamp" < ?';

/** A window's usage of one metric, aggregated by Postgres; domain/usage.ts states what each means. */
export async function aggregateUsage(em: EntityManager, subscriptionId: string, metric: MetricRef, window: Window): Promise<AggregatedUsage> {
  const params = [subscriptionId, metric.id, window.start, window.end];
  if (metric.aggregation === 'weighted_sum') {
    // sum(level x milliseconds held) over the window, exact in numeric; the level before the window
    // is the sum of every earlier event. An event of value v at t holds v from t to the window's end,
    // so the integral is opening x window + sum(v x (end - t)): no ordering, one index range scan.
    const [row] = await em.execute<Array<{ held: string; events: string }>>(
      `with opening as (
         select coalesce(sum(value::numeric), 0) as level from usage_events
         where subscription_id = ? and metric_id = ? and "timestamp" < ?
       ), inside as (
         select coalesce(sum(value::numeric * extract(epoch from (?::timestamptz - "timestamp"))), 0) * 1000 as held, count(*) as events
         from usage_events where ${WINDOW}
       )
       select (select level from opening) * extract(epoch from (?::timestamptz - ?::timestamptz)) * 1000 + inside.held as held, inside.events from inside`,
      [subscriptionId, metric.id, window.start, window.end, ...params, window.end, window.start],
    );
    return { quantity: weightedQuantity(new Decimal(row.held), window), eventCount: Number(row.events) };
  }
  if (metric.aggregation === 'latest') {
    const rows = await em.execute<Array<{ value: string; events: string }>>(
      `select value, count(*) over () as events from usage_events where ${WINDOW} order by "timestamp" desc, transaction_id desc limit 1`,
      params,
    );
    return rows.length === 0 ? { quantity: new Decimal(0), eventCount: 0 } : { quantity: new Decimal(rows[0].value), eventCount: Number(rows[0].events) };
  }
  const expression = {
    count: 'count(*)',
    sum: 'coalesce(sum(value::numeric), 0)',
    max: 'coalesce(max(value::numeric), 0)',
    unique_count: 'count(distinct value)',
  }[metric.aggregation];
  const [row] = await em.execute<Array<{ quantity: string; events: string }>>(
    `select (${expression})::text as quantity, count(*) as events from usage_events where ${WINDOW}`,
    params,
  );
  return { quantity: new Decimal(row.quantity), eventCount: Number(row.events) };
}

/**
 * A percentage charge's events priced one by one (free events, per-transaction bounds), summed exactly
 * in numeric over one index range scan: the definition is domain/percentage-transactions.ts, which the
 * tests hold this to. GREATEST/LEAST ignore a null bound.
 */
export async function aggregatePercentageTransactions(
  em: EntityManager,
  subscriptionId: string,
  metricId: string,
  window: Window,
  terms: PercentageTerms,
): Promise<{ eventCount: number; payingEvents: number; fees: Decimal }> {
  const { freeEvents, min, max } = terms.rules;
  const amountLimited = freeEvents === null || terms.freeUnits.gt(0);
  const [row] = await em.execute<Array<{ events: string; paying: string; fees: string }>>(
    `with ordered as (
       select coalesce(value::numeric, 0) as v, row_number() over w as i,
              coalesce(sum(value::numeric) over (w rows between unbounded preceding and 1 preceding), 0) as before
       from usage_events where ${WINDOW}
       window w as (order by "timestamp", transaction_id)
     ), allowance as (
       select v, i, case
           when ?::bigint is null then greatest(?::numeric - before, 0)
           when i > ?::bigint then 0
           when ?::boolean then greatest(?::numeric - before, 0)
         end as free_left
       from ordered
     ), paying as (
       select greatest(v - coalesce(free_left, 0), 0) as billable from allowance
       where not (?::bigint is not null and i <= ?::bigint and (free_left is null or v <= free_left))
     )
     select (select count(*) from ordered) as events, count(*) as paying,
            coalesce(sum(least(greatest(billable * ?::numeric / 100 + ?::numeric, ?::numeric), ?::numeric)), 0)::text as fees
     from paying`,
    [
      subscriptionId,
      metricId,
      window.start,
      window.end,
      freeEvents,
      terms.freeUnits.toFixed(),
      freeEvents,
      amountLimited,
      terms.freeUnits.toFixed(),
      freeEvents,
      freeEvents,
      terms.rate.toFixed(),
      terms.fixedAmount.toFixed(),
      min?.toFixed() ?? null,
      max?.toFixed() ?? null,
    ],
  );
  return { eventCount: Number(row.events), payingEvents: Number(row.paying), fees: new Decimal(row.fees) };
}
