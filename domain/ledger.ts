import Decimal from 'decimal.js';

/**
 * Posting rules of the double-entry ledger. Each business event becomes one balanced transaction;
 * the database enforces the same invariant again, so a bug here cannot unbalance the books.
 */
export type AccountCode = 'accounts_receivable' | 'deferred_revenue' | 'revenue' | 'cash' | 'discounts' | 'tax_payable' | 'customer_credit';

export const ACCOUNTS: ReadonlyArray<{ code: AccountCode; name: string; type: 'asset' | 'liability' | 'revenue' }> = [
  { code: 'accounts_receivable', name: 'Accounts receivable', type: 'asset' },
  { code: 'cash', name: 'Cash', type: 'asset' },
  { code: 'deferred_revenue', name: 'Deferred revenue', type: 'liability' },
  { code: 'revenue', name: 'Revenue', type: 'revenue' },
  // Contra-revenue: debited with what coupons gave away, so revenue stays at list price.
  { code: 'discounts', name: 'Discounts', type: 'revenue' },
  { code: 'tax_payable', name: 'Tax payable', type: 'liability' },
  // What we owe customers as credit (a proration credit larger than the charges), spent on later invoices.
  { code: 'customer_credit', name: 'Customer credit balances', type: 'liability' },
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
  // A negative amount (a credit reversing a charge) moves the other way.
  if (amount.isNegative()) [debit, credit, amount] = [credit, debit, amount.negated()];
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

export interface IssuedInvoiceAmounts {
  id: string;
  number: string;
  currency: string;
  issuedAt: Date;
  total: Decimal;
  discountTotal: Decimal;
  taxTotal: Decimal;
  /** Fees for a period not yet served, net of included tax: owed to the customer as service. */
  deferred: Decimal;
  /** Usage and minimums of a period already served, net of included tax: earned now. */
  earned: Decimal;
}

/**
 * An issued invoice: the customer owes its total; coupons' discounts are debited to a contra-revenue
 * account; fees wait in deferred revenue, usage is revenue at once (billed in arrears), and tax is
 * owed to the tax authority. Balanced by construction: total + discounts = deferred + earned + tax.
 * Any amount may be negative (a proration credit): its leg then moves the other way, and a negative
 * total is owed to the customer as credit instead of being a negative receivable.
 */
export function invoiceIssued(invoice: IssuedInvoiceAmounts): TransactionDraft | null {
  // Signed as debit minus credit.
  const legs: Array<[AccountCode, Decimal]> = [
    [invoice.total.isNegative() ? 'customer_credit' : 'accounts_receivable', invoice.total],
    ['discounts', invoice.discountTotal],
    ['deferred_revenue', invoice.deferred.negated()],
    ['revenue', invoice.earned.negated()],
    ['tax_payable', invoice.taxTotal.negated()],
  ];
  const moving: EntryDraft[] = legs
    .filter(([, signed]) => !signed.isZero())
    .map(([account, signed]) => ({ account, direction: signed.isPositive() ? 'debit' : 'credit', amount: signed.abs() }));
  // An invoice of nothing (a $0 plan) moves nothing; posting it would only add noise to the books.
  if (moving.length === 0) return null;
  const tx: TransactionDraft = {
    idempotencyKey: `invoice:${invoice.id}:issued`,
    description: `Invoice ${invoice.number} issued`,
    currency: invoice.currency,
    effectiveAt: invoice.issuedAt,
    entries: moving,
  };
  assertBalanced(tx);
  return tx;
}

/** Credit the customer holds pays part of an invoice: the liability shrinks, and so does the receivable. */
export function creditApplied(invoice: { id: string; number: string; currency: string; issuedAt: Date }, amount: Decimal) {
  return twoLegged(
    `invoice:${invoice.id}:credit_applied`,
    `Customer credit applied to invoice ${invoice.number}`,
    invoice.currency,
    invoice.issuedAt,
    'customer_credit',
    'accounts_receivable',
    amount,
  );
}

/** The period has been served: what was deferred becomes revenue. */
export function revenueRecognized(invoice: { id: string; number: string; currency: string; deferred: Decimal }, at: Date) {
  return twoLegged(
    `invoice:${invoice.id}:recognized`,
    `Revenue recognised for invoice ${invoice.number}`,
    invoice.currency,
    at,
    'deferred_revenue',
    'revenue',
    invoice.deferred,
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
