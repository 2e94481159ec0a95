import Decimal from 'decimal.js';
import { creditApplied, invoiceIssued, invoiceVoided, revenueRecognised, type EntryDraft, type TransactionDraft } from '../../../domain/ledger';

const d = (v: string) => new Decimal(v);

/** Each account's balance (debit minus credit) over some postings, zero balances left out. */
function net(postings: Array<TransactionDraft | null>): Record<string, string> {
  const sums = new Map<string, Decimal>();
  for (const p of postings) for (const e of p?.entries ?? []) sums.set(e.account, (sums.get(e.account) ?? d('0')).plus(e.direction === 'debit' ? e.amount : e.amount.negated()));
  return Object.fromEntries([...sums].filter(([, v]) => !v.isZero()).map(([k, v]) => [k, v.toFixed(2)]));
}

describe('invoiceVoided', () => {
  /**
   * An invoice of a 100.00 fee with a 10.00 discount, 20.00 of usage and 11.00 tax (10% of 110.00):
   * total 121.00, of which 21.00 paid by customer credit. Issued: receivable 121.00, discounts
   * 0.00 (the fee's discount waits with it), deferred revenue 90.00 (100.00 - 10.00), revenue 20.00,
   * tax 11.00. Revenue recognition has since recognised 40% of the fee: revenue 40.00, discount 4.00,
   * so deferred revenue gave up 36.00.
   */
  const invoice = { id: 'in_1', number: 'INV-000007', currency: 'USD', issuedAt: new Date('2027-01-01T00:00:00Z') };
  const issued = invoiceIssued({ ...invoice, total: d('121'), discountTotal: d('10'), taxTotal: d('11'), deferred: d('100'), deferredDiscount: d('10'), earned: d('20') });
  const credit = creditApplied(invoice, d('21'));
  const recognised = revenueRecognised({ key: '2027-01-12', end: new Date('2027-01-13T00:00:00Z') }, 'USD', { revenue: d('40'), discount: d('4') });
  const entries: EntryDraft[] = [...issued!.entries, ...credit!.entries];
  const voided = invoiceVoided({ id: 'in_1', number: 'INV-000007', currency: 'USD', at: new Date('2027-01-13T10:00:00Z') }, entries, { revenue: d('40'), discount: d('4') });

  it('is keyed and described for the invoice', () => {
    expect(voided).toMatchObject({ idempotencyKey: 'invoice:in_1:voided', description: 'Invoice INV-000007 voided', currency: 'USD' });
  });

  it('takes back the receivable left, the credit used, the deferred revenue left, the revenue recognised or earned, and the tax', () => {
    // Receivable left: 121.00 - 21.00 = 100.00; credit 21.00 owed to the customer again; deferred left
    // 90.00 - 36.00 = 54.00; revenue 20.00 earned + 40.00 recognised = 60.00; discount recognised 4.00; tax 11.00.
    expect(net([voided])).toEqual({
      accounts_receivable: '-100.00',
      customer_credit: '-21.00',
      deferred_revenue: '54.00',
      revenue: '60.00',
      discounts: '-4.00',
      tax_payable: '11.00',
    });
  });

  it('leaves nothing of the invoice in any account, with what was recognised of it', () => {
    expect(net([issued, credit, recognised, voided])).toEqual({});
  });

  it('reverses an invoice nothing was recognised of exactly', () => {
    const plain = invoiceVoided({ id: 'in_2', number: 'INV-000008', currency: 'USD', at: invoice.issuedAt }, issued!.entries, { revenue: d('0'), discount: d('0') });
    expect(net([issued, plain])).toEqual({});
  });
});
