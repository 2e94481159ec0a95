import Decimal from 'decimal.js';
import fc from 'fast-check';
import { assertInvoiceConsistent, draftInvoice, InvoiceDraft, InvoiceLineDraft, recurringFeeInvoice } from '../../../domain/invoice';
import { fitsCurrency } from '../../../domain/money';
import type { Period } from '../../../domain/period';
import { currencyArb, decimalStringArb } from './arbitraries';
import { formatMinor, roundHalfUpToMinor } from './decimal-oracle';

const FEBRUARY: Period = {
  index: 0,
  start: new Date('2026-01-31T00:00:00.000Z'),
  end: new Date('2026-02-28T00:00:00.000Z'),
};

function lineOf(amount: string, description = 'Seat'): InvoiceLineDraft {
  return {
    description,
    quantity: new Decimal(1),
    unitAmount: new Decimal(amount),
    amount: new Decimal(amount),
    periodStart: FEBRUARY.start,
    periodEnd: FEBRUARY.end,
  };
}

describe('recurringFeeInvoice: one period of a flat plan', () => {
  it('a 49.00 USD monthly plan is invoiced as one line of quantity 1 at 49.00, and the invoice totals 49.00', () => {
    const invoice = recurringFeeInvoice({ name: 'Pro (monthly)', currency: 'USD', amount: '49.00' }, FEBRUARY);

    expect(invoice.currency).toBe('USD');
    expect(invoice.lines).toHaveLength(1);
    const [only] = invoice.lines;
    expect(only.description).toBe('Pro (monthly)');
    expect(only.quantity.equals(1)).toBe(true);
    expect(only.unitAmount.toFixed(2)).toBe('49.00');
    expect(only.amount.toFixed(2)).toBe('49.00');
    expect(invoice.subtotal.toFixed(2)).toBe('49.00');
    expect(invoice.total.toFixed(2)).toBe('49.00');
  });

  it('the line covers exactly the billed period (31 January to 28 February)', () => {
    const invoice = recurringFeeInvoice({ name: 'Pro (monthly)', currency: 'USD', amount: '49.00' }, FEBRUARY);
    expect(invoice.lines[0].periodStart.toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(invoice.lines[0].periodEnd.toISOString()).toBe('2026-02-28T00:00:00.000Z');
  });

  it('a plan priced at 9.995 USD is charged 10.00, rounded once at the line, and the invoice total is 10.00', () => {
    const invoice = recurringFeeInvoice({ name: 'Odd price', currency: 'USD', amount: '9.995' }, FEBRUARY);
    expect(invoice.lines[0].unitAmount.toFixed()).toBe('9.995');
    expect(invoice.lines[0].amount.toFixed(2)).toBe('10.00');
    expect(invoice.lines[0].amount.equals(new Decimal('10.00'))).toBe(true);
    expect(invoice.total.equals(new Decimal('10.00'))).toBe(true);
  });

  it('a plan priced at 9.994 USD is charged 9.99', () => {
    const invoice = recurringFeeInvoice({ name: 'Odd price', currency: 'USD', amount: '9.994' }, FEBRUARY);
    expect(invoice.total.toFixed(2)).toBe('9.99');
  });

  it('a 980.5 JPY plan is charged 981 yen and a 12.3455 KWD plan 12.346 dinar', () => {
    expect(recurringFeeInvoice({ name: 'Basic', currency: 'JPY', amount: '980.5' }, FEBRUARY).total.toFixed()).toBe('981');
    expect(recurringFeeInvoice({ name: 'Basic', currency: 'KWD', amount: '12.3455' }, FEBRUARY).total.toFixed(3)).toBe('12.346');
  });

  it('a plan amount given as a Decimal is invoiced the same as its string: 19.99 EUR', () => {
    const invoice = recurringFeeInvoice({ name: 'Team', currency: 'EUR', amount: new Decimal('19.99') }, FEBRUARY);
    expect(invoice.total.toFixed(2)).toBe('19.99');
  });

  it('a free plan yields an invoice of 0.00 with its one line still shown', () => {
    const invoice = recurringFeeInvoice({ name: 'Free', currency: 'USD', amount: '0' }, FEBRUARY);
    expect(invoice.lines).toHaveLength(1);
    expect(invoice.total.isZero()).toBe(true);
  });

  it('a plan in a currency that is not ISO 4217 is refused', () => {
    expect(() => recurringFeeInvoice({ name: 'Bad', currency: 'XXX', amount: '10' }, FEBRUARY)).toThrow(RangeError);
  });
});

describe('draftInvoice: totals are the sum of the lines shown', () => {
  it('three lines of 33.33, 33.33 and 33.34 USD total exactly 100.00', () => {
    const invoice = draftInvoice('USD', [lineOf('33.33'), lineOf('33.33'), lineOf('33.34')]);
    expect(invoice.subtotal.toFixed(2)).toBe('100.00');
    expect(invoice.total.toFixed(2)).toBe('100.00');
  });

  it('a credit line reduces the total: 49.00 and -10.50 USD total 38.50', () => {
    expect(draftInvoice('USD', [lineOf('49.00'), lineOf('-10.50', 'Credit')]).total.toFixed(2)).toBe('38.50');
  });

  it('an invoice with a line of 1.005 USD (a fraction of a cent) is refused', () => {
    expect(() => draftInvoice('USD', [lineOf('1.005', 'Sub-cent')])).toThrow(/more decimals than USD/);
  });
});

describe('assertInvoiceConsistent', () => {
  const consistent = (): InvoiceDraft => ({
    currency: 'USD',
    lines: [lineOf('49.00'), lineOf('1.00')],
    subtotal: new Decimal('50.00'),
    total: new Decimal('50.00'),
  });

  it('accepts an invoice whose subtotal and total equal the sum of its lines (49.00 + 1.00 = 50.00)', () => {
    expect(() => assertInvoiceConsistent(consistent())).not.toThrow();
  });

  it('rejects an invoice whose subtotal (50.01) is not the sum of its lines (50.00)', () => {
    const draft = { ...consistent(), subtotal: new Decimal('50.01'), total: new Decimal('50.01') };
    expect(() => assertInvoiceConsistent(draft)).toThrow(/does not add up/);
  });

  it('rejects an invoice whose total (49.99) differs from its subtotal (50.00)', () => {
    const draft = { ...consistent(), total: new Decimal('49.99') };
    expect(() => assertInvoiceConsistent(draft)).toThrow(/does not add up/);
  });

  it('rejects a line with more decimals than the currency: 1.5 JPY', () => {
    const draft: InvoiceDraft = {
      currency: 'JPY',
      lines: [lineOf('1.5', 'Half a yen')],
      subtotal: new Decimal('1.5'),
      total: new Decimal('1.5'),
    };
    expect(() => assertInvoiceConsistent(draft)).toThrow(/more decimals than JPY/);
  });
});

describe('invoice properties', () => {
  it('each line is the plan amount rounded half-up once, every line fits the currency, and the total is the sum of the lines', () => {
    fc.assert(
      fc.property(
        currencyArb,
        fc.array(decimalStringArb({ nonNegative: true }), { minLength: 1, maxLength: 5 }),
        ([currency, exponent], planAmounts) => {
          const lines = planAmounts.flatMap(
            (amount, i) => recurringFeeInvoice({ name: `Plan ${i}`, currency, amount }, FEBRUARY).lines,
          );
          const invoice = draftInvoice(currency, lines);

          let expectedMinor = 0n;
          invoice.lines.forEach((l, i) => {
            const lineMinor = roundHalfUpToMinor(planAmounts[i], exponent);
            expectedMinor += lineMinor;
            expect(l.amount.toFixed(exponent)).toBe(formatMinor(lineMinor, exponent));
            expect(fitsCurrency(l.amount, currency)).toBe(true);
          });
          expect(invoice.subtotal.toFixed(exponent)).toBe(formatMinor(expectedMinor, exponent));
          expect(invoice.total.toFixed(exponent)).toBe(formatMinor(expectedMinor, exponent));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a single-plan invoice always totals exactly its one line', () => {
    fc.assert(
      fc.property(currencyArb, decimalStringArb({ nonNegative: true }), ([currency], amount) => {
        const invoice = recurringFeeInvoice({ name: 'Plan', currency, amount }, FEBRUARY);
        expect(invoice.lines).toHaveLength(1);
        expect(invoice.total.equals(invoice.lines[0].amount)).toBe(true);
        expect(invoice.subtotal.equals(invoice.lines[0].amount)).toBe(true);
      }),
    );
  });
});
