import Decimal from 'decimal.js';
import fc from 'fast-check';
import {
  AccountCode,
  ACCOUNTS,
  assertBalanced,
  EntryDraft,
  invoiceIssued,
  paymentReceived,
  revenueRecognized,
  TransactionDraft,
} from '../../../domain/ledger';
import { decimalStringArb } from './arbitraries';

const ISSUED_AT = new Date('2026-01-31T00:00:00.000Z');
const SERVED_AT = new Date('2026-02-28T00:00:00.000Z');
const PAID_AT = new Date('2026-02-02T14:30:00.000Z');

const invoice = (total: string) => ({
  id: 'in_123',
  number: 'PER-0001',
  currency: 'USD',
  total: new Decimal(total),
  issuedAt: ISSUED_AT,
});

const payment = (amount: string) => ({
  id: 'py_9',
  invoiceNumber: 'PER-0001',
  currency: 'USD',
  amount: new Decimal(amount),
  receivedAt: PAID_AT,
});

/** Entries as plain values so expectations read like a journal. */
const journal = (tx: TransactionDraft | null) =>
  tx?.entries.map((e) => ({ account: e.account, direction: e.direction, amount: e.amount.toFixed(2) }));

function transaction(entries: Array<[AccountCode, 'debit' | 'credit', string]>): TransactionDraft {
  return {
    idempotencyKey: 'test:tx',
    description: 'test',
    currency: 'USD',
    effectiveAt: ISSUED_AT,
    entries: entries.map(([account, direction, amount]): EntryDraft => ({ account, direction, amount: new Decimal(amount) })),
  };
}

describe('invoiceIssued', () => {
  it('issuing a 49.00 USD invoice debits accounts receivable and credits deferred revenue by 49.00', () => {
    const tx = invoiceIssued(invoice('49.00'));
    expect(journal(tx)).toEqual([
      { account: 'accounts_receivable', direction: 'debit', amount: '49.00' },
      { account: 'deferred_revenue', direction: 'credit', amount: '49.00' },
    ]);
  });

  it('is keyed "invoice:<id>:issued", dated at issue, in the invoice currency, described by invoice number', () => {
    const tx = invoiceIssued(invoice('49.00'));
    expect(tx?.idempotencyKey).toBe('invoice:in_123:issued');
    expect(tx?.effectiveAt.toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(tx?.currency).toBe('USD');
    expect(tx?.description).toBe('Invoice PER-0001 issued');
  });

  it('a retried issue of the same invoice produces the same idempotency key, so nothing is posted twice', () => {
    expect(invoiceIssued(invoice('49.00'))?.idempotencyKey).toBe(invoiceIssued(invoice('49.00'))?.idempotencyKey);
    expect(invoiceIssued({ ...invoice('49.00'), id: 'in_124' })?.idempotencyKey).toBe('invoice:in_124:issued');
  });

  it('a zero invoice (free plan) posts nothing', () => {
    expect(invoiceIssued(invoice('0'))).toBeNull();
    expect(invoiceIssued(invoice('0.00'))).toBeNull();
  });

  it('a negative invoice total is refused rather than posted with its signs reversed', () => {
    expect(() => invoiceIssued(invoice('-5.00'))).toThrow(/must be positive/);
  });
});

describe('revenueRecognized', () => {
  it('serving the period moves 49.00 from deferred revenue to revenue, keyed "invoice:<id>:recognized" and dated when served', () => {
    const tx = revenueRecognized(invoice('49.00'), SERVED_AT);
    expect(journal(tx)).toEqual([
      { account: 'deferred_revenue', direction: 'debit', amount: '49.00' },
      { account: 'revenue', direction: 'credit', amount: '49.00' },
    ]);
    expect(tx?.idempotencyKey).toBe('invoice:in_123:recognized');
    expect(tx?.effectiveAt.toISOString()).toBe('2026-02-28T00:00:00.000Z');
    expect(tx?.description).toBe('Revenue recognised for invoice PER-0001');
  });

  it('recognising a zero invoice posts nothing', () => {
    expect(revenueRecognized(invoice('0.00'), SERVED_AT)).toBeNull();
  });
});

describe('paymentReceived', () => {
  it('a 49.00 USD payment debits cash and credits accounts receivable, keyed "payment:<id>" and dated when received', () => {
    const tx = paymentReceived(payment('49.00'));
    expect(journal(tx)).toEqual([
      { account: 'cash', direction: 'debit', amount: '49.00' },
      { account: 'accounts_receivable', direction: 'credit', amount: '49.00' },
    ]);
    expect(tx?.idempotencyKey).toBe('payment:py_9');
    expect(tx?.effectiveAt.toISOString()).toBe('2026-02-02T14:30:00.000Z');
    expect(tx?.currency).toBe('USD');
    expect(tx?.description).toBe('Payment for invoice PER-0001');
  });

  it('a zero payment posts nothing', () => {
    expect(paymentReceived(payment('0'))).toBeNull();
  });
});

describe('the life of an invoice in the books', () => {
  it('after a 49.00 invoice is issued, served and paid in full, receivables and deferred revenue are back to 0 and cash = revenue = 49.00', () => {
    const txs = [invoiceIssued(invoice('49.00')), revenueRecognized(invoice('49.00'), SERVED_AT), paymentReceived(payment('49.00'))];
    const balance = new Map<AccountCode, Decimal>(ACCOUNTS.map((a) => [a.code, new Decimal(0)]));
    for (const tx of txs) {
      for (const e of tx!.entries) {
        const signed = e.direction === 'debit' ? e.amount : e.amount.negated();
        balance.set(e.account, balance.get(e.account)!.plus(signed));
      }
    }
    // Debit-positive balances.
    expect(balance.get('accounts_receivable')!.toFixed(2)).toBe('0.00');
    expect(balance.get('deferred_revenue')!.toFixed(2)).toBe('0.00');
    expect(balance.get('cash')!.toFixed(2)).toBe('49.00');
    expect(balance.get('revenue')!.toFixed(2)).toBe('-49.00');
  });
});

describe('assertBalanced', () => {
  it('accepts a transaction whose debits equal its credits, including a split: 100.00 = 60.00 + 40.00', () => {
    expect(() =>
      assertBalanced(transaction([
        ['accounts_receivable', 'debit', '100.00'],
        ['deferred_revenue', 'credit', '60.00'],
        ['revenue', 'credit', '40.00'],
      ])),
    ).not.toThrow();
  });

  it('balances exactly in decimal: debits 0.10 + 0.20 against a credit of 0.30', () => {
    expect(() =>
      assertBalanced(transaction([
        ['cash', 'debit', '0.10'],
        ['cash', 'debit', '0.20'],
        ['accounts_receivable', 'credit', '0.30'],
      ])),
    ).not.toThrow();
  });

  it('rejects a transaction that is off by a cent: debit 49.00, credit 48.99', () => {
    expect(() =>
      assertBalanced(transaction([
        ['accounts_receivable', 'debit', '49.00'],
        ['deferred_revenue', 'credit', '48.99'],
      ])),
    ).toThrow(/does not balance/);
  });

  it('rejects two debits with no credit', () => {
    expect(() =>
      assertBalanced(transaction([
        ['cash', 'debit', '10.00'],
        ['accounts_receivable', 'debit', '10.00'],
      ])),
    ).toThrow(/does not balance/);
  });

  it('rejects a transaction with a single entry, even though it has nothing to balance against', () => {
    expect(() => assertBalanced(transaction([['cash', 'debit', '10.00']]))).toThrow(/at least two entries/);
    expect(() => assertBalanced(transaction([]))).toThrow(/at least two entries/);
  });

  it.each(['0', '-0', '-10.00'])('rejects an entry amount of %s even when the transaction balances', (amount) => {
    expect(() =>
      assertBalanced(transaction([
        ['cash', 'debit', amount],
        ['accounts_receivable', 'credit', amount],
      ])),
    ).toThrow(/must be positive/);
  });
});

describe('ledger properties', () => {
  it('every posting of a positive amount is two balanced legs of that amount between two different known accounts', () => {
    const known = new Set(ACCOUNTS.map((a) => a.code));
    const positive = decimalStringArb({ nonNegative: true }).filter((s) => !new Decimal(s).isZero());
    fc.assert(
      fc.property(positive, (amount) => {
        const postings = [invoiceIssued(invoice(amount)), revenueRecognized(invoice(amount), SERVED_AT), paymentReceived(payment(amount))];
        for (const tx of postings) {
          expect(tx).not.toBeNull();
          expect(() => assertBalanced(tx!)).not.toThrow();
          const [debit, credit] = tx!.entries;
          expect(tx!.entries).toHaveLength(2);
          expect(debit.direction).toBe('debit');
          expect(credit.direction).toBe('credit');
          expect(debit.account).not.toBe(credit.account);
          expect(known.has(debit.account) && known.has(credit.account)).toBe(true);
          expect(debit.amount.equals(new Decimal(amount))).toBe(true);
          expect(credit.amount.equals(new Decimal(amount))).toBe(true);
        }
      }),
    );
  });
});
