import Decimal from 'decimal.js';

/**
 * Posting rules of the double-entry ledger. Each business event becomes one balanced transaction;
 * the database enforces the same invariant again, so a bug here cannot unbalance the books.
 */
export type AccountCode =
  | 'accounts_receivable'
  | 'deferred_revenue'
  | 'revenue'
  | 'cash'
  | 'discounts'
  | 'tax_payable'
  | 'customer_credit'
  | 'stripe_clearing'
  | 'stripe_fees'
  | 'bad_debt'
  | 'refunds'
  | 'credit_notes'
  | 'excess_payments'
  | 'prepaid'
  | 'breakage';

export const ACCOUNTS: ReadonlyArray<{ code: AccountCode; name: string; type: 'asset' | 'liability' | 'revenue' | 'expense' }> = [
  { code: 'accounts_receivable', name: 'Accounts receivable', type: 'asset' },
  { code: 'cash', name: 'Cash', type: 'asset' },
  { code: 'deferred_revenue', name: 'Deferred revenue', type: 'liability' },
  { code: 'revenue', name: 'Revenue', type: 'revenue' },
  // Contra-revenue: debited with what coupons gave away, so revenue stays at list price.
  { code: 'discounts', name: 'Discounts', type: 'revenue' },
  { code: 'tax_payable', name: 'Tax payable', type: 'liability' },
  // What we owe customers as credit (a proration credit larger than the charges), spent on later invoices.
  { code: 'customer_credit', name: 'Customer credit balances', type: 'liability' },
  // Card payments land here until Stripe pays out; its fees come off it.
  { code: 'stripe_clearing', name: 'Stripe clearing', type: 'asset' },
  { code: 'stripe_fees', name: 'Payment processing fees', type: 'expense' },
  { code: 'bad_debt', name: 'Bad debt', type: 'expense' },
  // Contra-revenue, like discounts: revenue stays as billed and what was given back shows.
  { code: 'refunds', name: 'Refunds', type: 'revenue' },
  { code: 'credit_notes', name: 'Credit notes', type: 'revenue' },
  // Card money an invoice did not need (it was paid meanwhile): owed back until its refund completes.
  { code: 'excess_payments', name: 'Excess payments to return', type: 'liability' },
  // Money received for service not yet invoiced; part of the chart so a GL mapping exists before any posting uses it.
  { code: 'prepaid', name: 'Customer prepayments', type: 'liability' },
  // Prepaid credit that expired unspent: the prepayment is kept as income, apart from service revenue.
  { code: 'breakage', name: 'Breakage (expired prepaid credit)', type: 'revenue' },
];

export type LedgerSourceType = 'invoice' | 'payment' | 'refund' | 'credit_note' | 'write_off' | 'revenue_recognition' | 'wallet';

export const LEDGER_SOURCE_TYPES: readonly LedgerSourceType[] = ['invoice', 'payment', 'refund', 'credit_note', 'write_off', 'revenue_recognition', 'wallet'];

export interface LedgerSource {
  type: LedgerSourceType;
  id: string;
}

// One pattern per key shape the posting rules produce. A recovery's key carries the event that
// recovered it (a payment, a credit note) after the invoice's, so one invoice can recover more than once.
const SOURCE_PATTERNS: ReadonlyArray<[RegExp, (m: RegExpExecArray) => LedgerSource]> = [
  [/^invoice:([^:]+):(issued|credit_applied|recognized|voided)$/, (m) => ({ type: 'invoice', id: m[1] })],
  [/^invoice:([^:]+):(written_off|recovered(:[^:]+)?)$/, (m) => ({ type: 'write_off', id: m[1] })],
  [/^payment:([^:]+)(:excess)?$/, (m) => ({ type: 'payment', id: m[1] })],
  [/^refund:([^:]+)$/, (m) => ({ type: 'refund', id: m[1] })],
  [/^credit_note:([^:]+)$/, (m) => ({ type: 'credit_note', id: m[1] })],
  [/^revenue_recognition:(\d{4}-\d{2}(?:-\d{2})?):[A-Za-z]{3}$/, (m) => ({ type: 'revenue_recognition', id: m[1] })],
  // Wallet credit spent on an invoice, and given back when that invoice is voided.
  [/^invoice:([^:]+):(wallet_applied|wallet_restored)$/, (m) => ({ type: 'invoice', id: m[1] })],
  // A wallet transaction's own posting (credit expired or forfeited): its source id is the transaction's.
  [/^wallet_transaction:([^:]+)$/, (m) => ({ type: 'wallet', id: m[1] })],
];

/**
 * What business record a ledger transaction comes from, read off its idempotency key (which the
 * posting rules build from that record). An unknown shape is a programming error: a new posting rule
 * must say here what its source is, or exports and reconciliation could not attribute it.
 */
export function ledgerSource(idempotencyKey: string): LedgerSource {
  for (const [pattern, source] of SOURCE_PATTERNS) {
    const match = pattern.exec(idempotencyKey);
    if (match) return source(match);
  }
  throw new Error(`ledger idempotency key "${idempotencyKey}" has no known source shape (invoice:<id>:<event>, payment:<id>, refund:<id>, credit_note:<id>, revenue_recognition:<period>:<currency>, wallet_transaction:<id>)`);
}

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
  /** The fees' share of discountTotal: deferred with them, recognised as they are. */
  deferredDiscount: Decimal;
  /** Usage and minimums of a period already served, net of included tax: earned now. */
  earned: Decimal;
  /** Wallet credits bought (prepaid_credit lines): a prepayment owed back as service, never revenue. */
  prepaid?: Decimal;
}

/**
 * An issued invoice: the customer owes its total; fees wait in deferred revenue net of their
 * discounts (their revenue and discount are recognised together as the service period passes, see
 * revenueRecognised); usage is revenue at once (billed in arrears) and its discounts are debited at
 * once to a contra-revenue account; tax is owed to the tax authority. Balanced by construction:
 * total + (discounts - deferredDiscount) = (deferred - deferredDiscount) + earned + tax.
 * Any amount may be negative (a proration credit): its leg then moves the other way, and a negative
 * total is owed to the customer as credit instead of being a negative receivable.
 */
export function invoiceIssued(invoice: IssuedInvoiceAmounts): TransactionDraft | null {
  // Signed as debit minus credit.
  const legs: Array<[AccountCode, Decimal]> = [
    [invoice.total.isNegative() ? 'customer_credit' : 'accounts_receivable', invoice.total],
    ['discounts', invoice.discountTotal.minus(invoice.deferredDiscount)],
    ['deferred_revenue', invoice.deferred.minus(invoice.deferredDiscount).negated()],
    ['revenue', invoice.earned.negated()],
    ['tax_payable', invoice.taxTotal.negated()],
    ['prepaid', (invoice.prepaid ?? new Decimal(0)).negated()],
  ];
  // An invoice of nothing (a $0 plan) moves nothing (null); posting it would only add noise to the books.
  return signedLegs(`invoice:${invoice.id}:issued`, `Invoice ${invoice.number} issued`, invoice.currency, invoice.issuedAt, legs);
}

/** Legs signed as debit minus credit; zero legs are left out, and nothing at all is null. */
function signedLegs(idempotencyKey: string, description: string, currency: string, effectiveAt: Date, legs: Array<[AccountCode, Decimal]>): TransactionDraft | null {
  const moving: EntryDraft[] = legs
    .filter(([, signed]) => !signed.isZero())
    .map(([account, signed]) => ({ account, direction: signed.isPositive() ? 'debit' : 'credit', amount: signed.abs() }));
  if (moving.length === 0) return null;
  const tx: TransactionDraft = { idempotencyKey, description, currency, effectiveAt, entries: moving };
  assertBalanced(tx);
  return tx;
}

/**
 * A recognition period's revenue in one currency (all obligations due in it together): deferred
 * revenue gives up the net, revenue is credited at list price and discounts debited with their share.
 * Keyed by period and currency, so a re-run posts nothing twice. Credit lines make a share negative
 * (their legs move the other way); a period with nothing due posts nothing.
 */
export function revenueRecognised(
  period: { key: string; end: Date },
  currency: string,
  due: { revenue: Decimal; discount: Decimal },
): TransactionDraft | null {
  return signedLegs(
    `revenue_recognition:${period.key}:${currency}`,
    `Revenue recognised for ${period.key}`,
    currency,
    // The period's last instant: the posting belongs to the day (or month) it recognises.
    new Date(period.end.getTime() - 1),
    [
      ['deferred_revenue', due.revenue.minus(due.discount)],
      ['discounts', due.discount],
      ['revenue', due.revenue.negated()],
    ],
  );
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

type CardReceipt = { id: string; invoiceNumber: string; currency: string; amount: Decimal; fee: Decimal | null; receivedAt: Date };

/** Card money lands in Stripe's clearing account, less Stripe's fee; `credit` is what it settles. */
function cardReceipt(idempotencyKey: string, description: string, payment: CardReceipt, credit: AccountCode): TransactionDraft {
  const entries: EntryDraft[] = [
    { account: 'stripe_clearing', direction: 'debit', amount: payment.amount },
    { account: credit, direction: 'credit', amount: payment.amount },
  ];
  if (payment.fee && payment.fee.gt(0)) {
    entries.push({ account: 'stripe_fees', direction: 'debit', amount: payment.fee }, { account: 'stripe_clearing', direction: 'credit', amount: payment.fee });
  }
  const tx: TransactionDraft = { idempotencyKey, description, currency: payment.currency, effectiveAt: payment.receivedAt, entries };
  assertBalanced(tx);
  return tx;
}

/** A card payment through Stripe: the receivable is settled. */
export function cardPaymentReceived(payment: CardReceipt) {
  return cardReceipt(`payment:${payment.id}`, `Card payment for invoice ${payment.invoiceNumber}`, payment, 'accounts_receivable');
}

/** Card money an invoice did not need: held as owed back until the excess refund completes. */
export function excessPaymentReceived(payment: CardReceipt) {
  return cardReceipt(`payment:${payment.id}:excess`, `Card payment not needed by invoice ${payment.invoiceNumber}, to be returned`, payment, 'excess_payments');
}

/** The excess returned through Stripe. */
export function excessRefunded(refund: { id: string; invoiceNumber: string; currency: string; amount: Decimal; at: Date }) {
  return twoLegged(`refund:${refund.id}`, `Excess payment on invoice ${refund.invoiceNumber} returned`, refund.currency, refund.at, 'excess_payments', 'stripe_clearing', refund.amount);
}

/** Money given back on a paid invoice, out of the account it came in through. */
export function refundIssued(refund: { id: string; invoiceNumber: string; currency: string; amount: Decimal; at: Date; via: 'cash' | 'stripe_clearing' }) {
  return twoLegged(`refund:${refund.id}`, `Refund on invoice ${refund.invoiceNumber}`, refund.currency, refund.at, 'refunds', refund.via, refund.amount);
}

/** A credit note: less asked on an open invoice, or credit the customer holds for later invoices. */
export function creditNoteIssued(note: { id: string; number: string; invoiceNumber: string; currency: string; amount: Decimal; at: Date; kind: 'reduce_due' | 'customer_balance' }) {
  return twoLegged(
    `credit_note:${note.id}`,
    `Credit note ${note.number} on invoice ${note.invoiceNumber}`,
    note.currency,
    note.at,
    'credit_notes',
    note.kind === 'reduce_due' ? 'accounts_receivable' : 'customer_credit',
    note.amount,
  );
}

/** An invoice written off as uncollectible: the receivable becomes bad debt. */
export function invoiceWrittenOff(invoice: { id: string; number: string; currency: string; amountDue: Decimal; at: Date }) {
  return twoLegged(`invoice:${invoice.id}:written_off`, `Invoice ${invoice.number} written off`, invoice.currency, invoice.at, 'bad_debt', 'accounts_receivable', invoice.amountDue);
}

/** A written-off invoice paid after all: the bad debt is recovered into the receivable the payment then settles. */
export function writeOffRecovered(invoice: { id: string; number: string; currency: string; amount: Decimal; at: Date }) {
  return twoLegged(`invoice:${invoice.id}:recovered`, `Written-off invoice ${invoice.number} recovered`, invoice.currency, invoice.at, 'accounts_receivable', 'bad_debt', invoice.amount);
}

type InvoiceRef = { id: string; number: string | null; currency: string };

/**
 * Wallet credit pays part of an invoice: paid credit leaves the prepayment liability, granted credit
 * is a discount given now (nothing was posted when it was granted), and the receivable shrinks by both.
 */
export function walletApplied(invoice: InvoiceRef, spent: { paid: Decimal; granted: Decimal }, at: Date): TransactionDraft | null {
  return signedLegs(`invoice:${invoice.id}:wallet_applied`, `Wallet credit applied to invoice ${invoice.number ?? invoice.id}`, invoice.currency, at, [
    ['prepaid', spent.paid],
    ['discounts', spent.granted],
    ['accounts_receivable', spent.paid.plus(spent.granted).negated()],
  ]);
}

/** The invoice that spent wallet credit was voided: the credit goes back, the exact reverse of walletApplied. */
export function walletRestored(invoice: InvoiceRef, spent: { paid: Decimal; granted: Decimal }, at: Date): TransactionDraft | null {
  return signedLegs(`invoice:${invoice.id}:wallet_restored`, `Wallet credit given back from voided invoice ${invoice.number ?? invoice.id}`, invoice.currency, at, [
    ['accounts_receivable', spent.paid.plus(spent.granted)],
    ['prepaid', spent.paid.negated()],
    ['discounts', spent.granted.negated()],
  ]);
}

/**
 * Paid wallet credit that expired (or was forfeited when the wallet was terminated) unspent: nothing
 * is owed for it any more, so the prepayment becomes breakage income. Granted credit moves nothing
 * (it was never posted).
 */
export function walletCreditExpired(transaction: { id: string; walletId: string; currency: string; paid: Decimal; at: Date }): TransactionDraft | null {
  return twoLegged(
    `wallet_transaction:${transaction.id}`,
    `Prepaid credit of wallet ${transaction.walletId} expired unspent`,
    transaction.currency,
    transaction.at,
    'prepaid',
    'breakage',
    transaction.paid,
  );
}

/**
 * A void: every entry the invoice's issue and customer-credit postings made goes back (`reversed`),
 * and so does what revenue recognition already moved for it out of deferred revenue (`recognised`:
 * revenue at list price, its discount). The invoice then leaves no receivable, revenue, deferred
 * revenue, discount or tax, and the credit it used is owed to the customer again. Wallet credit
 * is given back by its own posting (`invoice:<id>:wallet_restored`).
 */
export function invoiceVoided(
  invoice: { id: string; number: string; currency: string; at: Date },
  reversed: readonly EntryDraft[],
  recognised: { revenue: Decimal; discount: Decimal },
): TransactionDraft | null {
  // Signed as debit minus credit, one leg per account.
  const legs = new Map<AccountCode, Decimal>();
  const add = (account: AccountCode, signed: Decimal) => legs.set(account, (legs.get(account) ?? new Decimal(0)).plus(signed));
  for (const e of reversed) add(e.account, e.direction === 'debit' ? e.amount.negated() : e.amount);
  add('deferred_revenue', recognised.revenue.minus(recognised.discount).negated());
  add('discounts', recognised.discount.negated());
  add('revenue', recognised.revenue);
  return signedLegs(`invoice:${invoice.id}:voided`, `Invoice ${invoice.number} voided`, invoice.currency, invoice.at, [...legs]);
}
