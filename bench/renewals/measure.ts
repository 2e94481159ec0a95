import type { Pool } from 'pg';

/**
 * What the storm did, read from Postgres: when each renewal invoice was issued (its row's
 * created_at), posted to the ledger (its first ledger transaction) and charged (its card payment),
 * against the instant T it was due. Timestamps are the transactions' own (now() at their start), so
 * the figures do not depend on how often the bench polls.
 */

export interface StageCounts {
  issued: number;
  posted: number;
  charged: number;
}

export interface Lag {
  p50: number;
  p99: number;
  max: number;
}

export interface StageFigures {
  /** Seconds after T: per invoice, the instant it reached the stage. */
  lag: Lag;
  /** Invoices through the stage over the seconds from T to the last of them. */
  perSecond: number;
  /** Seconds from T to the last invoice through the stage. */
  lastAtS: number;
}

export interface StormFigures {
  issued: StageFigures;
  posted: StageFigures;
  charged: StageFigures;
  /** The first invoice issued, seconds after T (how long the timers took to fire). */
  firstIssuedS: number;
}

/** Renewal invoices of the storm's subscriptions (period 1) through each stage. */
export async function stageCounts(owner: Pool, subscriptionIds: string[]): Promise<StageCounts> {
  const { rows } = await owner.query<StageCounts>(
    `select count(*)::int as issued, count(t.at)::int as posted, count(p.at)::int as charged
       from invoices i
       left join (select invoice_id, min(created_at) as at from ledger_transactions where invoice_id is not null group by 1) t on t.invoice_id = i.id
       left join (select invoice_id, min(created_at) as at from payments where method = 'card' group by 1) p on p.invoice_id = i.id
      where i.period_index = 1 and i.subscription_id = any($1)`,
    [subscriptionIds],
  );
  return rows[0];
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function stage(seconds: number[]): StageFigures {
  const sorted = [...seconds].sort((a, b) => a - b);
  const last = sorted.at(-1) ?? NaN;
  return { lag: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: last }, perSecond: sorted.length / Math.max(last, 1e-3), lastAtS: last };
}

export async function stormFigures(owner: Pool, subscriptionIds: string[], due: Date): Promise<StormFigures> {
  const { rows } = await owner.query<{ issued: number; posted: number | null; charged: number | null }>(
    `select extract(epoch from i.created_at - $2::timestamptz)::float8 as issued,
            extract(epoch from t.at - $2::timestamptz)::float8 as posted,
            extract(epoch from p.at - $2::timestamptz)::float8 as charged
       from invoices i
       left join (select invoice_id, min(created_at) as at from ledger_transactions where invoice_id is not null group by 1) t on t.invoice_id = i.id
       left join (select invoice_id, min(created_at) as at from payments where method = 'card' group by 1) p on p.invoice_id = i.id
      where i.period_index = 1 and i.subscription_id = any($1)`,
    [subscriptionIds, due.toISOString()],
  );
  const issued = rows.map((r) => r.issued);
  return {
    issued: stage(issued),
    posted: stage(rows.filter((r) => r.posted !== null).map((r) => r.posted!)),
    charged: stage(rows.filter((r) => r.charged !== null).map((r) => r.charged!)),
    firstIssuedS: Math.min(...issued),
  };
}
