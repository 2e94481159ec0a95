import Decimal from 'decimal.js';

/**
 * The reconciliation of business records with the ledger: each record says what it should have
 * posted (expected) and its postings, found by their idempotency keys, say what was posted. Every
 * difference must be zero; one that is not names the record, so finance knows where to look. The
 * trial balance adds that the ledger as a whole balances per currency.
 */
export const RECONCILED_TYPES = [
  /** invoices.total vs the receivable (or, for a negative total, customer credit) leg of its issue posting. */
  'invoice',
  /** invoices.credit_applied vs the customer credit debited by its credit_applied posting. */
  'credit_applied',
  /** payments.amount vs the cash or Stripe clearing debits of its postings (what paid the invoice and any excess). */
  'payment',
  /** A succeeded refund's amount vs the cash or Stripe clearing credit of its posting. */
  'refund',
  /** credit_notes.amount vs the receivable or customer credit credited by its posting. */
  'credit_note',
  /** A written-off invoice's amount still due vs its net bad debt (the write-off less what was recovered since). */
  'write_off',
  /** invoices.wallet_applied vs the receivable credited by its wallet_applied posting. */
  'wallet_applied',
] as const;

export type ReconciledType = (typeof RECONCILED_TYPES)[number];

export interface RecordPosting {
  type: ReconciledType;
  id: string;
  expected: Decimal;
  posted: Decimal;
}

export interface ReconciliationSection {
  type: ReconciledType;
  records: number;
  expected: Decimal;
  posted: Decimal;
  difference: Decimal;
}

export interface AccountTotals {
  account: string;
  debits: Decimal;
  credits: Decimal;
}

export interface Reconciliation {
  sections: ReconciliationSection[];
  /** The records whose postings do not match them, in section order. */
  differences: Array<RecordPosting & { difference: Decimal }>;
  trialBalance: { accounts: AccountTotals[]; debits: Decimal; credits: Decimal; balanced: boolean };
  balanced: boolean;
}

export function reconcile(records: readonly RecordPosting[], accounts: readonly AccountTotals[]): Reconciliation {
  const sections = RECONCILED_TYPES.map((type) => {
    const of = records.filter((r) => r.type === type);
    const expected = of.reduce((s, r) => s.plus(r.expected), new Decimal(0));
    const posted = of.reduce((s, r) => s.plus(r.posted), new Decimal(0));
    return { type, records: of.length, expected, posted, difference: posted.minus(expected) };
  });
  const differences = RECONCILED_TYPES.flatMap((type) =>
    records.filter((r) => r.type === type && !r.posted.equals(r.expected)).map((r) => ({ ...r, difference: r.posted.minus(r.expected) })),
  );
  const debits = accounts.reduce((s, a) => s.plus(a.debits), new Decimal(0));
  const credits = accounts.reduce((s, a) => s.plus(a.credits), new Decimal(0));
  const trialBalance = { accounts: [...accounts], debits, credits, balanced: debits.equals(credits) };
  return { sections, differences, trialBalance, balanced: differences.length === 0 && trialBalance.balanced };
}
