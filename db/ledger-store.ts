import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { placeInOpenPeriod } from '../domain/accounting-period';
import { monthOf } from '../domain/months';
import { assertBalanced, ledgerSource, type TransactionDraft } from '../domain/ledger';
import { LedgerEntry, LedgerTransaction } from './entities/ledger';
import { newId } from './ids';

export interface PostingRefs {
  customerId?: string;
  invoiceId?: string;
}

/**
 * (class, key) of an advisory lock postings hold shared until they commit and a close holds
 * exclusively, so a close waits for the postings in flight and the postings after it see the month
 * closed. Class 7301 is usage's.
 */
export const ACCOUNTING_PERIOD_LOCK = '7302, 0';

/** The closed months from `period` on, read under the shared period lock (held to commit). */
async function closedPeriodsFrom(em: EntityManager, period: string): Promise<Set<string>> {
  await em.execute(`select pg_advisory_xact_lock_shared(${ACCOUNTING_PERIOD_LOCK})`);
  const rows = await em.execute<Array<{ period: string }>>('select period from accounting_periods where period >= ?', [period]);
  return new Set(rows.map((r) => r.period));
}

/** The closed months from `from` on, read in a transaction that holds the shared period lock until it commits. */
export interface ClosedPeriods {
  from: string;
  periods: Set<string>;
}

/**
 * The closed months from the month of `at` on, for postings later in the same transaction: the
 * shared lock taken here holds until commit, so no month closes in between. Read before a hot lock
 * (an invoice number), it saves that lock's holder two round trips.
 */
export async function closedPeriodsAt(em: EntityManager, at: Date): Promise<ClosedPeriods> {
  const from = monthOf(at);
  return { from, periods: await closedPeriodsFrom(em, from) };
}

/**
 * Posts one balanced transaction inside the caller's database transaction. A key already posted
 * returns the earlier transaction, so retries post nothing twice (the unique key backs this up).
 * A draft dated in a closed month posts at the start of the first open month after it, and says so.
 */
export async function postTransaction(em: EntityManager, draft: TransactionDraft, refs: PostingRefs = {}, closed?: ClosedPeriods): Promise<string> {
  assertBalanced(draft);
  const existing = await em.findOne(LedgerTransaction, { idempotencyKey: draft.idempotencyKey });
  if (existing) return existing.id;
  const source = ledgerSource(draft.idempotencyKey);
  const month = monthOf(draft.effectiveAt);
  const placement = placeInOpenPeriod(draft.effectiveAt, closed && closed.from <= month ? closed.periods : await closedPeriodsFrom(em, month));
  const tx = em.create(LedgerTransaction, {
    id: newId('txn'),
    idempotencyKey: draft.idempotencyKey,
    description: draft.description + placement.descriptionSuffix,
    currency: draft.currency,
    customerId: refs.customerId ?? null,
    invoiceId: refs.invoiceId ?? null,
    effectiveAt: placement.effectiveAt,
    sourceType: source.type,
    sourceId: source.id,
    datedAt: placement.datedAt,
    createdAt: new Date(),
  });
  // Foreign keys are plain columns, so the unit of work cannot order the inserts: parent first.
  await em.flush();
  for (const entry of draft.entries) {
    em.create(LedgerEntry, {
      transactionId: tx.id,
      accountCode: entry.account,
      direction: entry.direction,
      amount: entry.amount,
    });
  }
  await em.flush();
  return tx.id;
}

export interface AccountBalance {
  account: string;
  currency: string;
  debits: Decimal;
  credits: Decimal;
}

export async function ledgerBalances(em: EntityManager): Promise<AccountBalance[]> {
  const rows = await em.execute<Array<{ account: string; currency: string; debits: string; credits: string }>>(
    `select e.account_code as account, t.currency,
            coalesce(sum(e.amount) filter (where e.direction = 'debit'), 0) as debits,
            coalesce(sum(e.amount) filter (where e.direction = 'credit'), 0) as credits
       from ledger_entries e join ledger_transactions t on t.id = e.transaction_id
      group by e.account_code, t.currency
      order by e.account_code, t.currency`,
  );
  return rows.map((r) => ({ account: r.account, currency: r.currency.trim(), debits: new Decimal(r.debits), credits: new Decimal(r.credits) }));
}
