import Decimal from 'decimal.js';

/**
 * Posting rules of the double-entry ledger. Each business event becomes one balanced transaction;
 * the database enforces the same invariant again, so a bug here cannot unbalance the books.
 */
export type AccountCode = 'accounts_receivable' | 'deferred_revenue' | 'revenue' | 'cash';

export const ACCOUNTS: ReadonlyArray<{ code: AccountCode; name: string; type: 'asset' | 'liability' | 'revenue' }> = [
  { code: 'accounts_receivable', name: 'Accounts receivable', type: 'asset' },
  { code: 'cash', name: 'Cash', type: 'asset' },
  { code: 'deferred_revenue', name: 'Deferred revenue', type: 'liability' },
  { code: 'revenue', name: 'Revenue', type: 'revenue' },
];

export interface EntryDraft {
  account: AccountCode;
  direction: 'debit' | 'credit';
  amount: Decimal;
}

export interface TransactionDraft {
  /** Derived from business facts (invoice id, subscription and period), so a retry posts nothing new. */
  idempotencyKey: string;
  description: string;
  currency: string;
  effectiveAt: Date;
  entries: EntryDraft[];
}

export function assertBalanced(tx: TransactionDraft): void {
  if (tx.entries.length < 2) throw new Error(`ledger transaction ${tx.idempotencyKey} needs at least two entries`);
  let debits = new Decimal(0);
  let credits = new Decimal(0);
  for (const e of tx.entries) {
    if (!e.amount.isPositive() || e.amount.isZero()) {
      throw new Error(`ledger transaction ${tx.idempotencyKey}: entry amounts must be positive, got ${e.amount}`);
    }
    if (e.direction === 'debit') debits = debits.plus(e.amount);
    else credits = credits.plus(e.amount);
  }
  if (!debits.equals(credits)) {
    throw new Error(`ledger transaction ${tx.idempotencyKey} does not balance: debits ${debits}, credits ${credits}`);
  }
}

function twoLegged(
  idempotencyKey: string,
  description: string,
  currency: string,
  effectiveAt: Date,
  debit: AccountCode,
  credit: AccountCode,
  amount: Decimal,
): TransactionDraft | null {
  // A zero amount moves nothing; posting it would only add noise to the books.
  if (amount.isZero()) return null;
  const tx: TransactionDraft = {
    idempotencyKey,
    description,
    currency,
    effectiveAt,
    entries: [
      { account: debit, direction: 'debit', amount },
      { account: credit, direction: 'credit', amount },
    ],
  };
  assertBalanced(tx);
  return tx;
}

/** An invoice for a period not yet served: the customer owes it, and we owe the service. */
export function invoiceIssued(invoice: { id: string; number: string; currency: string; total: Decimal; issuedAt: Date }) {
  return twoLegged(
    `invoice:${invoice.id}:issued`,
    `Invoice ${invoice.number} issued`,
    invoice.currency,
    invoice.issuedAt,
    'accounts_receivable',
    'deferred_revenue',
    invoice.total,
  );
}

/** The period has been served: what was deferred becomes revenue. */
export function revenueRecognized(invoice: { id: string; number: string; currency: string; total: Decimal }, at: Date) {
  return twoLegged(
    `invoice:${invoice.id}:recognized`,
    `Revenue recognised for invoice ${invoice.number}`,
    invoice.currency,
    at,
    'deferred_revenue',
    'revenue',
    invoice.total,
  );
}

export function paymentReceived(payment: { id: string; invoiceNumber: string; currency: string; amount: Decimal; receivedAt: Date }) {
  return twoLegged(
    `payment:${payment.id}`,
    `Payment for invoice ${payment.invoiceNumber}`,
    payment.currency,
    payment.receivedAt,
    'cash',
    'accounts_receivable',
    payment.amount,
  );
}
