import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { deferredMovementKind, deferredRevenueWaterfall, type DeferredRevenueMonth } from '../../domain/deferred-revenue';
import { addMonths, monthsBetween, monthStart } from '../../domain/months';

/** Credits less debits: deferred revenue is a liability. */
const NET = `sum(case when e.direction = 'credit' then e.amount else -e.amount end)`;
/** A transaction's source type (domain/ledger.ts ledgerSource); rows written outside the posting code have none. */
const SOURCE = `coalesce(t.source_type, 'unattributed')`;

/** The deferred revenue waterfall of `currency`, month by month from `from` to `to` (YYYY-MM, both included). */
export async function deferredRevenueReport(em: EntityManager, query: { currency: string; from: string; to: string }): Promise<DeferredRevenueMonth[]> {
  const months = monthsBetween(query.from, query.to);
  const start = monthStart(query.from);
  const end = monthStart(addMonths(query.to, 1));
  const [before] = await em.execute<Array<{ net: string | null }>>(
    `select ${NET}::text as net
       from ledger_entries e join ledger_transactions t on t.id = e.transaction_id
      where e.account_code = 'deferred_revenue' and t.currency = ? and t.effective_at < ?`,
    [query.currency, start],
  );
  const movements = await em.execute<Array<{ month: string; source: string; event: string; net: string }>>(
    `select to_char(t.effective_at at time zone 'UTC', 'YYYY-MM') as month, ${SOURCE} as source,
            case when t.source_type = 'invoice' then split_part(t.idempotency_key, ':', 3) else '' end as event,
            ${NET}::text as net
       from ledger_entries e join ledger_transactions t on t.id = e.transaction_id
      where e.account_code = 'deferred_revenue' and t.currency = ? and t.effective_at >= ? and t.effective_at < ?
      group by 1, 2, 3`,
    [query.currency, start, end],
  );
  // The ledger's own balance at each month's end, read separately from the movements it must agree with.
  const closings = await em.execute<Array<{ month: string; balance: string }>>(
    `select to_char(m, 'YYYY-MM') as month,
            coalesce((select ${NET}
                        from ledger_entries e join ledger_transactions t on t.id = e.transaction_id
                       where e.account_code = 'deferred_revenue' and t.currency = ?
                         and t.effective_at < (m + interval '1 month') at time zone 'UTC'), 0)::text as balance
       from generate_series(?::timestamp, ?::timestamp, interval '1 month') as m`,
    [query.currency, `${query.from}-01T00:00:00`, `${query.to}-01T00:00:00`],
  );
  return deferredRevenueWaterfall({
    months,
    opening: new Decimal(before?.net ?? 0),
    movements: movements.map((m) => ({ month: m.month, kind: deferredMovementKind(m.source, m.event), net: new Decimal(m.net) })),
    ledgerClosing: new Map(closings.map((c) => [c.month, new Decimal(c.balance)])),
  });
}
