import Decimal from 'decimal.js';
import fc from 'fast-check';
import {
  AccountCode,
  ACCOUNTS,
  assertBalanced,
  EntryDraft,
  creditApplied,
  invoiceIssued,
  paymentReceived,
  revenueRecognised,
  TransactionDraft,
} from '../../../domain/ledger';
import { buildInvoice, InvoiceDraft, InvoiceLineInput, LineKind, revenueSplit } from '../../../domain/invoice';
import type { Period } from '../../../domain/period';
import { priceUsage } from '../../../domain/pricing';
import { currencyArb, decimalStringArb } from './arbitraries';
import { formatMinor } from './decimal-oracle';
import { renewalFee } from './renewal-fee';

const ISSUED_AT = new Date('2026-01-31T00:00:00.000Z');
/** The month the 49.00 fee of `invoice()` serves, as a recognition period. */
const FEBRUARY = { key: '2026-02', end: new Date('2026-03-01T00:00:00.000Z') };
const PAID_AT = new Date('2026-02-02T14:30:00.000Z');

/** A fee-only invoice with no coupon or tax: the whole total waits in deferred revenue. */
const invoice = (total: string) => ({
  id: 'in_123',
  number: 'PER-0001',
  currency: 'USD',
  issuedAt: ISSUED_AT,
  total: new Decimal(total),
  discountTotal: new Decimal(0),
  taxTotal: new Decimal(0),
  deferred: new Decimal(total),
  deferredDiscount: new Decimal(0),
  earned: new Decimal(0),
});

/** The amounts invoiceIssued posts for a built invoice, as the invoice store passes them. */
const issued = (draft: InvoiceDraft, id = 'in_200', number = 'PER-0200') => ({
  id,
  number,
  currency: draft.currency,
  issuedAt: ISSUED_AT,
  total: draft.total,
  discountTotal: draft.discountTotal,
  taxTotal: draft.taxTotal,
  ...revenueSplit(draft),
});

const MAY: Period = { index: 1, start: new Date('2026-05-01T00:00:00.000Z'), end: new Date('2026-06-01T00:00:00.000Z') };
const APRIL: Period = { index: 0, start: new Date('2026-04-01T00:00:00.000Z'), end: new Date('2026-05-01T00:00:00.000Z') };

/** calls API calls at 0.0015 a call, served in April. */
function apiCalls(calls: string, currency = 'USD', unitAmount = '0.0015'): InvoiceLineInput {
  const charged = priceUsage({ model: 'standard', unitAmount: new Decimal(unitAmount) }, { quantity: new Decimal(calls), eventCount: 1 }, currency);
  return { kind: 'usage', description: 'API calls', quantity: charged.quantity, unitAmount: charged.unitAmount, amount: charged.amount, periodStart: APRIL.start, periodEnd: APRIL.end };
}

/** 49.00 fee for May + 12000 calls x 0.0015 = 18.00, 10 % off, 8.875 % sales tax: see invoice.test.ts. */
const feeUsageCouponAndTax = (): InvoiceDraft =>
  buildInvoice('USD', [renewalFee('USD', 'Pro (monthly)', '49.00', MAY), apiCalls('12000')], {
    coupons: [{ id: 'cpa_10', name: 'Launch 10 %', percentOff: new Decimal('10'), amountOff: null }],
    taxRates: [{ id: 'txr_nyc', name: 'NYC sales tax', percentage: new Decimal('8.875'), inclusive: false }],
  });

/** 60.00 fee + 12000 calls x 0.002 = 24.00 EUR, 12.00 off, 20 % VAT included. */
const vatIncluded = (): InvoiceDraft =>
  buildInvoice('EUR', [renewalFee('EUR', 'Pro (monthly)', '60.00', MAY), apiCalls('12000', 'EUR', '0.002')], {
    coupons: [{ id: 'cpa_12', name: '12.00 off', percentOff: null, amountOff: new Decimal('12.00') }],
    taxRates: [{ id: 'txr_vat', name: 'VAT', percentage: new Decimal('20'), inclusive: true }],
  });

/** Debit-positive balance of every account after `txs`. */
function balances(txs: Array<TransactionDraft | null>): Map<AccountCode, Decimal> {
  const balance = new Map<AccountCode, Decimal>(ACCOUNTS.map((a) => [a.code, new Decimal(0)]));
  for (const tx of txs) {
    for (const e of tx?.entries ?? []) {
      const signed = e.direction === 'debit' ? e.amount : e.amount.negated();
      balance.set(e.account, balance.get(e.account)!.plus(signed));
    }
  }
  return balance;
}

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

  it('a negative total (a proration credit larger than the charges) is owed to the customer as credit', () => {
    // Unused time credited: 36.75 back out of deferred revenue; a 10.00 charge for the new plan goes in.
    // Net fees -26.75: the customer is owed 26.75.
    const tx = invoiceIssued({ ...invoice('-26.75'), deferred: new Decimal('-26.75'), earned: new Decimal(0) });
    expect(tx?.entries.map((e) => [e.account, e.direction, e.amount.toFixed(2)])).toEqual([
      ['customer_credit', 'credit', '26.75'],
      ['deferred_revenue', 'debit', '26.75'],
    ]);
  });

  it('a negative leg moves the other way and the transaction still balances', () => {
    // 5.00 owed = 10.00 of usage earned - 5.00 of fees credited back out of deferred revenue.
    const tx = invoiceIssued({ ...invoice('5.00'), deferred: new Decimal('-5.00'), earned: new Decimal('10.00') });
    expect(tx?.entries.map((e) => [e.account, e.direction, e.amount.toFixed(2)])).toEqual([
      ['accounts_receivable', 'debit', '5.00'],
      ['deferred_revenue', 'debit', '5.00'],
      ['revenue', 'credit', '10.00'],
    ]);
  });

  it('customer credit applied to an invoice moves from the credit liability to the receivable, once per invoice', () => {
    const tx = creditApplied(invoice('49.00'), new Decimal('26.75'));
    expect(tx?.idempotencyKey).toBe('invoice:in_123:credit_applied');
    expect(tx?.entries.map((e) => [e.account, e.direction, e.amount.toFixed(2)])).toEqual([
      ['customer_credit', 'debit', '26.75'],
      ['accounts_receivable', 'credit', '26.75'],
    ]);
    expect(creditApplied(invoice('49.00'), new Decimal(0))).toBeNull();
  });

  it('a fee, usage, a coupon and sales tax post five balanced legs: the fee deferred net of its discount, 65.65 + 1.80 = 44.10 + 18.00 + 5.35', () => {
    const draft = feeUsageCouponAndTax();
    const tx = invoiceIssued(issued(draft));
    expect(journal(tx)).toEqual([
      { account: 'accounts_receivable', direction: 'debit', amount: '65.65' }, // 67.00 - 6.70 + 5.35
      { account: 'discounts', direction: 'debit', amount: '1.80' }, // the usage's 10 %; the fee's 4.90 is recognised with it
      { account: 'deferred_revenue', direction: 'credit', amount: '44.10' }, // May's fee, not yet served: 49.00 - 4.90
      { account: 'revenue', direction: 'credit', amount: '18.00' }, // April's calls, served
      { account: 'tax_payable', direction: 'credit', amount: '5.35' }, // 60.30 x 8.875 %
    ]);
    expect(() => assertBalanced(tx!)).not.toThrow();
    expect(tx?.idempotencyKey).toBe('invoice:in_200:issued');
  });

  it('with 20 % VAT included, revenue is net of VAT: 72.00 = 40.00 + 20.00 + 12.00 (the 12.00 off is the fee\'s, deferred with it)', () => {
    const tx = invoiceIssued(issued(vatIncluded()));
    expect(journal(tx)).toEqual([
      { account: 'accounts_receivable', direction: 'debit', amount: '72.00' }, // 84.00 - 12.00, VAT inside
      { account: 'deferred_revenue', direction: 'credit', amount: '40.00' }, // 60.00 - 8.00 VAT - 12.00 off
      { account: 'revenue', direction: 'credit', amount: '20.00' }, // 24.00 - 4.00 VAT
      { account: 'tax_payable', direction: 'credit', amount: '12.00' }, // 72.00 x 20 / 120
    ]);
    expect(tx?.currency).toBe('EUR');
  });

  it('legs of zero are left out: a 120.00 fee with 20 % VAT included posts receivable, deferred 100.00 and VAT 20.00', () => {
    const draft = buildInvoice('EUR', [renewalFee('EUR', 'Pro', '120.00', MAY)], { taxRates: [{ id: 'txr_vat', name: 'VAT', percentage: new Decimal('20'), inclusive: true }] });
    expect(journal(invoiceIssued(issued(draft)))).toEqual([
      { account: 'accounts_receivable', direction: 'debit', amount: '120.00' },
      { account: 'deferred_revenue', direction: 'credit', amount: '100.00' },
      { account: 'tax_payable', direction: 'credit', amount: '20.00' },
    ]);
  });

  it('a usage-only invoice is revenue at once, nothing deferred: 18.00 receivable against 18.00 revenue', () => {
    expect(journal(invoiceIssued(issued(buildInvoice('USD', [apiCalls('12000')]))))).toEqual([
      { account: 'accounts_receivable', direction: 'debit', amount: '18.00' },
      { account: 'revenue', direction: 'credit', amount: '18.00' },
    ]);
  });

  it('a fee a 100 % coupon brings to 0.00 posts nothing at issue: its 49.00 and the 49.00 off are recognised together as May is served', () => {
    const draft = buildInvoice('USD', [renewalFee('USD', 'Pro', '49.00', MAY)], {
      coupons: [{ id: 'cpa_free', name: 'Free month', percentOff: new Decimal('100'), amountOff: null }],
    });
    expect(invoiceIssued(issued(draft))).toBeNull();
    expect(journal(revenueRecognised({ key: '2026-05', end: MAY.end }, 'USD', { revenue: new Decimal('49.00'), discount: new Decimal('49.00') }))).toEqual([
      { account: 'discounts', direction: 'debit', amount: '49.00' },
      { account: 'revenue', direction: 'credit', amount: '49.00' },
    ]);
  });

  it('amounts that do not balance are refused rather than posted', () => {
    expect(() => invoiceIssued({ ...issued(feeUsageCouponAndTax()), taxTotal: new Decimal('5.36') })).toThrow(/does not balance/);
  });
});

describe('revenueRecognised', () => {
  const day = { key: '2026-05-01', end: new Date('2026-05-02T00:00:00.000Z') };

  it('a day\'s share moves from deferred revenue to revenue, keyed "revenue_recognition:<day>:<currency>" and dated in that day', () => {
    // May's 49.00 fee, 31 days: 49.00 x 1/31 = 1.58 by the end of 1 May.
    const tx = revenueRecognised(day, 'USD', { revenue: new Decimal('1.58'), discount: new Decimal(0) });
    expect(journal(tx)).toEqual([
      { account: 'deferred_revenue', direction: 'debit', amount: '1.58' },
      { account: 'revenue', direction: 'credit', amount: '1.58' },
    ]);
    expect(tx?.idempotencyKey).toBe('revenue_recognition:2026-05-01:USD');
    expect(tx?.effectiveAt.toISOString()).toBe('2026-05-01T23:59:59.999Z');
    expect(tx?.description).toBe('Revenue recognised for 2026-05-01');
  });

  it('revenue is credited at list price and the discount\'s share debited: 1.58 revenue, 0.16 discount, 1.42 out of deferred', () => {
    const tx = revenueRecognised(day, 'USD', { revenue: new Decimal('1.58'), discount: new Decimal('0.16') });
    expect(journal(tx)).toEqual([
      { account: 'deferred_revenue', direction: 'debit', amount: '1.42' },
      { account: 'discounts', direction: 'debit', amount: '0.16' },
      { account: 'revenue', direction: 'credit', amount: '1.58' },
    ]);
  });

  it('a day whose credit lines outweigh its charges moves the other way; a day with nothing due posts nothing', () => {
    expect(journal(revenueRecognised(day, 'USD', { revenue: new Decimal('-0.01'), discount: new Decimal(0) }))).toEqual([
      { account: 'deferred_revenue', direction: 'credit', amount: '0.01' },
      { account: 'revenue', direction: 'debit', amount: '0.01' },
    ]);
    expect(revenueRecognised(day, 'USD', { revenue: new Decimal('0.00'), discount: new Decimal(0) })).toBeNull();
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
    const txs = [invoiceIssued(invoice('49.00')), revenueRecognised(FEBRUARY, 'USD', { revenue: new Decimal('49.00'), discount: new Decimal(0) }), paymentReceived(payment('49.00'))];
    expect(txs.every((tx) => tx !== null)).toBe(true);
    const balance = balances(txs);
    // Debit-positive balances.
    expect(balance.get('accounts_receivable')!.toFixed(2)).toBe('0.00');
    expect(balance.get('deferred_revenue')!.toFixed(2)).toBe('0.00');
    expect(balance.get('cash')!.toFixed(2)).toBe('49.00');
    expect(balance.get('revenue')!.toFixed(2)).toBe('-49.00');
  });
});

describe('the life of an invoice with usage, a coupon and sales tax', () => {
  it('once issued, served and paid 65.65: receivables and deferred revenue are 0, revenue 67.00 less 6.70 of discounts, 5.35 owed in tax', () => {
    const draft = feeUsageCouponAndTax();
    const amounts = issued(draft);
    const balance = balances([
      invoiceIssued(amounts),
      // May served: the fee's 49.00 and its 4.90 off.
      revenueRecognised({ key: '2026-05', end: MAY.end }, 'USD', { revenue: new Decimal('49.00'), discount: new Decimal('4.90') }),
      paymentReceived({ ...payment('65.65'), invoiceNumber: amounts.number }),
    ]);
    expect(balance.get('accounts_receivable')!.toFixed(2)).toBe('0.00');
    expect(balance.get('deferred_revenue')!.toFixed(2)).toBe('0.00');
    expect(balance.get('cash')!.toFixed(2)).toBe('65.65');
    expect(balance.get('revenue')!.toFixed(2)).toBe('-67.00'); // 49.00 + 18.00, at list price
    expect(balance.get('discounts')!.toFixed(2)).toBe('6.70');
    expect(balance.get('tax_payable')!.toFixed(2)).toBe('-5.35');
    // cash = revenue - discounts + tax: 67.00 - 6.70 + 5.35 = 65.65
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
        const postings = [invoiceIssued(invoice(amount)), revenueRecognised(FEBRUARY, 'USD', { revenue: new Decimal(amount), discount: new Decimal(0) }), paymentReceived(payment(amount))];
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
  it('every built invoice posts one balanced issue: receivable = total, usage discounts debited, fees net of their discounts deferred, earned + tax credited', () => {
    const caseArb = currencyArb.chain(([currency, exponent]) =>
      fc.record({
        currency: fc.constant(currency),
        exponent: fc.constant(exponent),
        lines: fc.array(fc.record({ kind: fc.constantFrom<LineKind>('fee', 'usage', 'minimum'), minor: fc.bigInt({ min: 0n, max: 10n ** 9n }) }), { minLength: 1, maxLength: 5 }),
        percentOff: fc.option(fc.integer({ min: 0, max: 100 })),
        amountOffMinor: fc.option(fc.bigInt({ min: 0n, max: 10n ** 9n })),
        rates: fc.array(fc.integer({ min: 0, max: 30_000 }), { maxLength: 2 }),
        inclusive: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(caseArb, ({ currency, exponent, lines, percentOff, amountOffMinor, rates, inclusive }) => {
        const inputs = lines.map(({ kind, minor }): InvoiceLineInput => ({
          kind,
          description: kind,
          quantity: new Decimal(1),
          unitAmount: null,
          amount: new Decimal(formatMinor(minor, exponent)),
          periodStart: kind === 'fee' ? MAY.start : APRIL.start,
          periodEnd: kind === 'fee' ? MAY.end : APRIL.end,
        }));
        const coupons = [
          ...(percentOff === null ? [] : [{ id: 'pct', name: 'pct', percentOff: new Decimal(percentOff), amountOff: null }]),
          ...(amountOffMinor === null ? [] : [{ id: 'fixed', name: 'fixed', percentOff: null, amountOff: new Decimal(formatMinor(amountOffMinor, exponent)) }]),
        ];
        const taxRates = rates.map((r, i) => ({ id: `txr_${i}`, name: `Rate ${i}`, percentage: new Decimal(formatMinor(BigInt(r), 3)), inclusive }));
        const draft = buildInvoice(currency, inputs, { coupons, taxRates });
        const tx = invoiceIssued(issued(draft));
        const fees = draft.lines.filter((l) => l.kind === 'fee');
        const feeRevenue = fees.reduce((acc, l) => acc.plus(l.amount).minus(inclusive ? l.taxAmount : 0), new Decimal(0));
        const feeDiscount = fees.reduce((acc, l) => acc.plus(l.discountAmount), new Decimal(0));
        const expected: Array<[AccountCode, Decimal]> = [
          ['accounts_receivable', draft.total],
          // Only the discounts of usage and minimums; the fees' wait with them in deferred revenue.
          ['discounts', draft.discountTotal.minus(feeDiscount)],
          ['deferred_revenue', feeRevenue.minus(feeDiscount)],
          ['tax_payable', draft.taxTotal],
        ];
        if (expected.every(([, amount]) => amount.isZero())) {
          expect(tx).toBeNull();
          return;
        }
        expect(tx).not.toBeNull();
        expect(() => assertBalanced(tx!)).not.toThrow();
        const leg = (account: AccountCode) => tx!.entries.find((e) => e.account === account)?.amount ?? new Decimal(0);
        for (const [account, amount] of expected) expect(leg(account).equals(amount)).toBe(true);
        // What the customer owes plus the usage's discounts is the fees' net, the usage's revenue and the tax.
        expect(leg('accounts_receivable').plus(leg('discounts')).equals(leg('deferred_revenue').plus(leg('revenue')).plus(leg('tax_payable')))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
