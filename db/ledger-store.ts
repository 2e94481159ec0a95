import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { assertBalanced, type TransactionDraft } from '../domain/ledger';
import { LedgerEntry, LedgerTransaction } from './entities/ledger';
import { newId } from './ids';

export interface PostingRefs {
  customerId?: string;
  invoiceId?: string;
}

/**
 * Posts one balanced transaction inside the caller's database transaction. A key already posted
 * returns the earlier transaction, so retries post nothing twice (the unique key backs this up).
 */
export async function postTransaction(em: EntityManager, draft: TransactionDraft, refs: PostingRefs = {}): Promise<string> {
  assertBalanced(draft);
  const existing = await em.findOne(LedgerTransaction, { idempotencyKey: draft.idempotencyKey });
  if (existing) return existing.id;
  const tx = em.create(LedgerTransaction, {
    id: newId('txn'),
    idempotencyKey: draft.idempotencyKey,
    description: draft.description,
    currency: draft.currency,
    customerId: refs.customerId ?? null,
    invoiceId: refs.invoiceId ?? null,
    effectiveAt: draft.effectiveAt,
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
