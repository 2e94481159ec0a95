import type { EntityManager } from '@mikro-orm/postgresql';
import { LedgerEntry, LedgerTransaction } from '../db/entities/ledger';
import { ledgerAccounts, updateLedgerAccount, type LedgerAccountRow } from '../db/ledger-account-store';
import { ledgerBalances } from '../db/ledger-store';
import { BillingError } from '../domain/errors';
import { findPage, type PageRequest } from '../db/pagination';

export const balances = (em: EntityManager) => ledgerBalances(em);

/** Posted transactions with their entries, newest first. */
export async function listLedgerTransactions(em: EntityManager, filter: { invoiceId?: string; customerId?: string }, page: PageRequest) {
  const where = { ...(filter.invoiceId ? { invoiceId: filter.invoiceId } : {}), ...(filter.customerId ? { customerId: filter.customerId } : {}) };
  const found = await findPage(em, LedgerTransaction, where, { keys: ['createdAt', 'id'], direction: 'desc', noun: 'ledger transaction' }, page);
  const entries = found.data.length ? await em.find(LedgerEntry, { transactionId: found.data.map((t) => t.id) }, { orderBy: { id: 'asc' } }) : [];
  return { ...found, data: found.data.map((transaction) => ({ transaction, entries: entries.filter((e) => e.transactionId === transaction.id) })) };
}

export const listLedgerAccounts = (em: EntityManager): Promise<LedgerAccountRow[]> => ledgerAccounts(em);

/** Maps an account to the GL code and name the accounting tool knows it by. */
export async function mapLedgerAccount(em: EntityManager, code: string, change: { glCode?: string | null; name?: string }): Promise<LedgerAccountRow> {
  const updated = await updateLedgerAccount(em, code, change);
  if (!updated) throw new BillingError('not_found_error', 'resource_missing', `No such ledger account: '${code}'`, 'code');
  return updated;
}
