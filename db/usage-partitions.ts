import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * How many months after the current one have a usage partition before their events arrive. Events of
 * a month without one are kept all the same (in the default partition, moved when the month is made);
 * this is so that they seldom need to be.
 */
export const USAGE_PARTITION_MONTHS_AHEAD = 3;

/**
 * Makes the monthly partitions of usage_events that are missing: the current month, the next
 * `monthsAhead`, and any earlier month with events in the default partition (moved into it). Returns
 * the tables created; none when all exist, which is the usual answer and takes no lock. The database
 * function runs with its owner's rights (the usage partitions migration), so the application's role
 * needs no right to create tables.
 */
export async function createUsagePartitions(em: EntityManager, monthsAhead = USAGE_PARTITION_MONTHS_AHEAD): Promise<string[]> {
  const rows = await em.execute<Array<{ name: string }>>('select create_usage_partitions(?) as name', [monthsAhead]);
  return rows.map((r) => r.name);
}

export interface UsagePartition {
  name: string;
  /** The month's first instant (UTC); null for the default partition. */
  from: Date | null;
  to: Date | null;
  rows: number;
}

/** The partitions of usage_events in month order, the default partition last, with their row counts (estimated: pg_class). */
export async function usagePartitions(em: EntityManager): Promise<UsagePartition[]> {
  const rows = await em.execute<Array<{ name: string; rows: string }>>(
    `select c.relname as name, greatest(c.reltuples, 0)::bigint as rows
     from pg_inherits i join pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'usage_events'::regclass`,
  );
  const parsed = rows.map((r) => {
    // usage_events_attach_month names a month's table usage_events_YYYY_MM.
    const month = /^usage_events_(\d{4})_(\d{2})$/.exec(r.name);
    const [from, to] = month ? [new Date(Date.UTC(Number(month[1]), Number(month[2]) - 1, 1)), new Date(Date.UTC(Number(month[1]), Number(month[2]), 1))] : [null, null];
    return { name: r.name, from, to, rows: Number(r.rows) };
  });
  return parsed.sort((a, b) => (a.from?.getTime() ?? Infinity) - (b.from?.getTime() ?? Infinity));
}
