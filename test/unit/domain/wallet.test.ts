import Decimal from 'decimal.js';
import fc from 'fast-check';
import { buildInvoice, revenueSplit } from '../../../domain/invoice';
import { invoiceIssued, walletApplied, walletCreditExpired, walletRestored } from '../../../domain/ledger';
import { creditsOf, creditsValue, crossedThreshold, drawFromWallets } from '../../../domain/wallet';

const d = (v: string) => new Decimal(v);
const entries = (tx: { entries: Array<{ account: string; direction: string; amount: Decimal }> } | null) =>
  tx?.entries.map((e) => `${e.direction} ${e.account} ${e.amount.toFixed(2)}`).sort() ?? null;

describe('drawing an invoice from wallets', () => {
  it('takes the first wallet (soonest to expire) before the next, granted credit before paid: 30.00 due from [5 granted + 10 paid, 50 paid]', () => {
    // 30.00 = 5.00 granted + 10.00 paid of the first, then 15.00 paid of the second
    expect(drawFromWallets(d('30'), [{ id: 'a', paid: d('10'), granted: d('5') }, { id: 'b', paid: d('50'), granted: d('0') }])).toEqual([
      { id: 'a', paid: d('10'), granted: d('5') },
      { id: 'b', paid: d('15'), granted: d('0') },
    ]);
  });

  it('takes no more than is due, and leaves out wallets that give nothing', () => {
    expect(drawFromWallets(d('4'), [{ id: 'empty', paid: d('0'), granted: d('0') }, { id: 'b', paid: d('50'), granted: d('3') }])).toEqual([{ id: 'b', paid: d('1'), granted: d('3') }]);
    expect(drawFromWallets(d('0'), [{ id: 'b', paid: d('50'), granted: d('3') }])).toEqual([]);
  });

  it('never takes more than a wallet holds nor more than is due, whatever the amounts', () => {
    const cents = fc.integer({ min: 0, max: 1_000_000 }).map((c) => new Decimal(c).dividedBy(100));
    fc.assert(
      fc.property(cents, fc.array(fc.record({ paid: cents, granted: cents }), { maxLength: 5 }), (due, funds) => {
        const wallets = funds.map((f, i) => ({ id: `w${i}`, ...f }));
        const draws = drawFromWallets(due, wallets);
        const taken = draws.reduce((t, x) => t.plus(x.paid).plus(x.granted), new Decimal(0));
        const held = wallets.reduce((t, w) => t.plus(w.paid).plus(w.granted), new Decimal(0));
        expect(taken.equals(Decimal.min(due, held))).toBe(true);
        for (const draw of draws) {
          const wallet = wallets.find((w) => w.id === draw.id)!;
          expect(draw.paid.lte(wallet.paid) && draw.granted.lte(wallet.granted) && !draw.paid.isNegative() && !draw.granted.isNegative()).toBe(true);
        }
      }),
    );
  });
});

describe('credits and money', () => {
  it('8 credits at 2.50 are worth 20.00; 10.00 is 4 credits; 10.00 at 3.00 a credit is 3.333333 credits', () => {
    expect(creditsValue('8', '2.50', 'USD')).toEqual(d('20'));
    expect(creditsOf('10', '2.50')).toEqual(d('4'));
    expect(creditsOf('10', '3')).toEqual(d('3.333333'));
  });

  it('a threshold fires once, when a consumption crosses it from at or above to below', () => {
    expect(crossedThreshold(d('10'), d('12'), d('9'))).toBe(true);
    expect(crossedThreshold(d('10'), d('10'), d('9.5'))).toBe(true);
    expect(crossedThreshold(d('10'), d('9'), d('5'))).toBe(false);
    expect(crossedThreshold(d('10'), d('20'), d('10'))).toBe(false);
    expect(crossedThreshold(null, d('20'), d('0'))).toBe(false);
  });
});

describe('wallet postings', () => {
  const invoice = { id: 'in_1', number: 'INV-000001', currency: 'USD' };
  const at = new Date('2027-02-01T00:00:00Z');

  it('credits bought are a prepayment: a 100.00 purchase debits the receivable and credits prepaid, untaxed and undiscounted', () => {
    const draft = buildInvoice('USD', [{ kind: 'prepaid_credit', description: '100 credits', quantity: d('100'), unitAmount: d('1'), amount: d('100'), periodStart: at, periodEnd: at }], {
      coupons: [{ id: 'ac_1', name: '10 % off', percentOff: d('10'), amountOff: null }],
      taxRates: [{ id: 'txr_1', name: 'VAT', percentage: d('20'), inclusive: false }],
    });
    expect(draft).toMatchObject({ total: d('100'), discountTotal: d('0'), taxTotal: d('0') });
    const posting = invoiceIssued({ ...invoice, issuedAt: at, total: draft.total, discountTotal: draft.discountTotal, taxTotal: draft.taxTotal, ...revenueSplit(draft) });
    expect(entries(posting)).toEqual(['credit prepaid 100.00', 'debit accounts_receivable 100.00']);
  });

  it('spending 15.00 paid and 5.00 granted debits prepaid 15.00 and discounts 5.00 against the receivable 20.00, keyed on the invoice; a void reverses it', () => {
    const applied = walletApplied(invoice, { paid: d('15'), granted: d('5') }, at)!;
    expect(applied.idempotencyKey).toBe('invoice:in_1:wallet_applied');
    expect(entries(applied)).toEqual(['credit accounts_receivable 20.00', 'debit discounts 5.00', 'debit prepaid 15.00']);
    const restored = walletRestored(invoice, { paid: d('15'), granted: d('5') }, at)!;
    expect(restored.idempotencyKey).toBe('invoice:in_1:wallet_restored');
    expect(entries(restored)).toEqual(['credit discounts 5.00', 'credit prepaid 15.00', 'debit accounts_receivable 20.00']);
    expect(walletApplied(invoice, { paid: d('0'), granted: d('0') }, at)).toBeNull();
  });

  it('paid credit that expires becomes breakage; granted credit that expires posts nothing', () => {
    const expired = walletCreditExpired({ id: 'wtx_1', walletId: 'wal_1', currency: 'USD', paid: d('12.50'), at })!;
    expect(expired.idempotencyKey).toBe('wallet_transaction:wtx_1');
    expect(entries(expired)).toEqual(['credit breakage 12.50', 'debit prepaid 12.50']);
    expect(walletCreditExpired({ id: 'wtx_2', walletId: 'wal_1', currency: 'USD', paid: d('0'), at })).toBeNull();
  });
});
