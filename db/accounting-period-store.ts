import type { EntityManager } from '@mikro-orm/postgresql';
import { ACCOUNTING_PERIOD_LOCK } from './ledger-store';

export interface ClosedPeriod {
  period: string;
  closedAt: Date;
  closedByRole: string | null;
  closedByKey: string | null;
}

type Row = { period: string; closed_at: Date; closed_by_role: string | null; closed_by_key: string | null };

const closedPeriod = (r: Row): ClosedPeriod => ({ period: r.period, closedAt: new Date(r.closed_at), closedByRole: r.closed_by_role, closedByKey: r.closed_by_key });

/**
 * Closes a month, once: closing it again returns the first close. Waits for the postings in flight
 * (they hold the period lock shared), so none of them commits into the month after it closed.
 */
export async function closePeriod(em: EntityManager, period: string, by: { role: string; keyId: string }, at: Date): Promise<ClosedPeriod> {
  return em.fork().transactional(async (tx) => {
    await tx.execute(`select pg_advisory_xact_lock(${ACCOUNTING_PERIOD_LOCK})`);
    await tx.execute(
      'insert into accounting_periods (period, closed_at, closed_by_role, closed_by_key) values (?, ?, ?, ?) on conflict (period) do nothing',
      [period, at, by.role, by.keyId],
    );
    const [row] = await tx.execute<Row[]>('select * from accounting_periods where period = ?', [period]);
    return closedPeriod(row);
  });
}

/** Every closed month, oldest first. */
export async function closedPeriods(em: EntityManager): Promise<ClosedPeriod[]> {
  const rows = await em.fork().execute<Row[]>('select * from accounting_periods order by period');
  return rows.map(closedPeriod);
}
