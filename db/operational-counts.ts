import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * What the business has done, counted in Postgres: the same answer from every API replica, and not
 * reset by a restart, so Prometheus can take rates of it. One statement, one snapshot.
 *
 * Each count is an aggregate over its whole table; the tables involved grow by a row per invoice,
 * charge attempt or webhook attempt, which Postgres counts in milliseconds at the sizes one database
 * holds (a partial or index-only scan would be the next step if it ever shows in the scrape time).
 */
export interface OperationalCounts {
  /** Invoices finalised (numbered): drafts are not yet issued; a voided invoice stays issued. */
  invoicesIssued: number;
  /** payment_attempts by status: terminal outcomes and the attempts still in flight. */
  charges: Record<string, number>;
  /** webhook_attempts by outcome (succeeded, failed). */
  webhookAttempts: Record<string, number>;
  /** webhook_deliveries by status (pending, succeeded, failed). */
  webhookDeliveries: Record<string, number>;
  /** subscriptions by status (billing_error: billing stopped on an error retrying cannot fix). */
  subscriptions: Record<string, number>;
  /** Outbox events not yet handed to their endpoints, and how long the oldest has waited. */
  eventsUndispatched: number;
  oldestUndispatchedSeconds: number;
}

interface Row {
  invoices_issued: string;
  charges: Record<string, string> | null;
  webhook_attempts: Record<string, string> | null;
  webhook_deliveries: Record<string, string> | null;
  subscriptions: Record<string, string> | null;
  events_undispatched: string;
  oldest_undispatched_seconds: string | null;
}

const SQL = `
select
  (select count(*) from invoices where finalized_at is not null) as invoices_issued,
  (select jsonb_object_agg(status, n) from (select status, count(*) as n from payment_attempts group by status) s) as charges,
  (select jsonb_object_agg(outcome, n) from (select outcome, count(*) as n from webhook_attempts group by outcome) s) as webhook_attempts,
  (select jsonb_object_agg(status, n) from (select status, count(*) as n from webhook_deliveries group by status) s) as webhook_deliveries,
  (select jsonb_object_agg(status, n) from (select status, count(*) as n from subscriptions group by status) s) as subscriptions,
  (select count(*) from events where dispatched_at is null) as events_undispatched,
  (select extract(epoch from clock_timestamp() - min(created_at)) from events where dispatched_at is null) as oldest_undispatched_seconds
`;

const numbers = (counts: Record<string, string> | null): Record<string, number> =>
  Object.fromEntries(Object.entries(counts ?? {}).map(([key, n]) => [key, Number(n)]));

export async function operationalCounts(em: EntityManager): Promise<OperationalCounts> {
  const [row] = await em.getConnection().execute<Row[]>(SQL);
  return {
    invoicesIssued: Number(row.invoices_issued),
    charges: numbers(row.charges),
    webhookAttempts: numbers(row.webhook_attempts),
    webhookDeliveries: numbers(row.webhook_deliveries),
    subscriptions: numbers(row.subscriptions),
    eventsUndispatched: Number(row.events_undispatched),
    oldestUndispatchedSeconds: row.oldest_undispatched_seconds === null ? 0 : Number(row.oldest_undispatched_seconds),
  };
}
