import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import type { Journal } from '../domain/journal-export';

export interface JournalRange {
  /** Inclusive. */
  from: Date;
  /** Exclusive. */
  to: Date;
  currency?: string;
}

/** Where a page ended: effective_at as Postgres wrote it (full precision) and the transaction id. */
export interface JournalCursor {
  effectiveAt: string;
  id: string;
}

type TransactionRow = {
  id: string;
  effective_at: Date;
  cursor_at: string;
  dated_at: Date | null;
  source_type: string | null;
  source_id: string | null;
  description: string;
  currency: string;
  customer_name: string | null;
};
type EntryRow = { transaction_id: string; account_code: string; direction: 'debit' | 'credit'; amount: string; name: string; gl_code: string | null };

/**
 * A page of the range's transactions in export order (effective_at, then id), each with its entries
 * in the order they were posted and each account's current name and GL code.
 */
export async function journalPage(em: EntityManager, range: JournalRange, after: JournalCursor | null, limit: number): Promise<{ journals: Journal[]; next: JournalCursor | null }> {
  const conn = em.fork();
  const params: unknown[] = [range.from, range.to];
  let where = 't.effective_at >= ? and t.effective_at < ?';
  if (range.currency) {
    where += ' and t.currency = ?';
    params.push(range.currency);
  }
  if (after) {
    where += ' and (t.effective_at, t.id) > (?::timestamptz, ?)';
    params.push(after.effectiveAt, after.id);
  }
  const transactions = await conn.execute<TransactionRow[]>(
    `select t.id, t.effective_at, t.effective_at::text as cursor_at, t.dated_at, t.source_type, t.source_id, t.description, t.currency, c.name as customer_name
       from ledger_transactions t left join customers c on c.id = t.customer_id
      where ${where}
      order by t.effective_at, t.id
      limit ${Number(limit)}`,
    params,
  );
  if (transactions.length === 0) return { journals: [], next: null };
  const entries = await conn.execute<EntryRow[]>(
    `select e.transaction_id, e.account_code, e.direction, e.amount::text as amount, a.name, a.gl_code
       from ledger_entries e join ledger_accounts a on a.code = e.account_code
      where e.transaction_id in (?)
      order by e.id`,
    [transactions.map((t) => t.id)],
  );
  const byTransaction = new Map<string, EntryRow[]>();
  for (const e of entries) byTransaction.set(e.transaction_id, [...(byTransaction.get(e.transaction_id) ?? []), e]);
  const journals = transactions.map((t) => ({
    id: t.id,
    effectiveAt: new Date(t.effective_at),
    datedAt: t.dated_at ? new Date(t.dated_at) : null,
    sourceType: t.source_type,
    sourceId: t.source_id,
    description: t.description,
    currency: t.currency.trim(),
    customerName: t.customer_name,
    lines: (byTransaction.get(t.id) ?? []).map((e) => ({ account: e.account_code, accountName: e.name, glCode: e.gl_code, direction: e.direction, amount: new Decimal(e.amount) })),
  }));
  const last = transactions[transactions.length - 1];
  return { journals, next: transactions.length < limit ? null : { effectiveAt: last.cursor_at, id: last.id } };
}
