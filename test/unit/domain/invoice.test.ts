import Decimal from 'decimal.js';
import fc from 'fast-check';
import type { CouponTerms } from '../../../domain/discounts';
import {
  assertInvoiceConsistent,
  buildInvoice,
  FlatFeePlan,
  InvoiceDraft,
  InvoiceLineDraft,
  InvoiceLineInput,
  LineKind,
  revenueSplit,
} from '../../../domain/invoice';
import { fitsCurrency } from '../../../domain/money';
import type { Period } from '../../../domain/period';
import { ChargePrice, minimumTrueUp, priceUsage } from '../../../domain/pricing';
import type { TaxRateTerms } from '../../../domain/tax';
import { currencyArb, decimalStringArb } from './arbitraries';
import { formatMinor, roundHalfUpToMinor } from './decimal-oracle';
import { renewalFee } from './renewal-fee';

const FEBRUARY: Period = {
  index: 0,
  start: new Date('2026-01-31T00:00:00.000Z'),
  end: new Date('2026-02-28T00:00:00.000Z'),
};

function lineOf(amount: string, description = 'Seat', kind: LineKind = 'fee'): InvoiceLineInput {
  return {
    kind,
    description,
    quantity: new Decimal(1),
    unitAmount: new Decimal(amount),
    amount: new Decimal(amount),
    periodStart: FEBRUARY.start,
    periodEnd: FEBRUARY.end,
  };
}

/** A flat plan's renewal invoice: the fee of one whole period, nothing else. */
const renewalInvoice = (plan: FlatFeePlan, period: Period): InvoiceDraft => buildInvoice(plan.currency, [renewalFee(plan.currency, plan.name, plan.amount, period)]);

describe('a renewal of a flat plan: the fee of one whole period', () => {
  it('a 49.00 USD monthly plan is invoiced as one line of quantity 1 at 49.00, and the invoice totals 49.00', () => {
    const invoice = renewalInvoice({ name: 'Pro (monthly)', currency: 'USD', amount: '49.00' }, FEBRUARY);

    expect(invoice.currency).toBe('USD');
    expect(invoice.lines).toHaveLength(1);
    const [only] = invoice.lines;
    expect(only.description).toBe('Pro (monthly)');
    expect(only.quantity.equals(1)).toBe(true);
    expect(only.kind).toBe('fee');
    expect(only.unitAmount?.toFixed(2)).toBe('49.00');
    expect(only.amount.toFixed(2)).toBe('49.00');
    expect(invoice.subtotal.toFixed(2)).toBe('49.00');
    expect(invoice.total.toFixed(2)).toBe('49.00');
  });

  it('the line covers exactly the billed period (31 January to 28 February)', () => {
    const invoice = renewalInvoice({ name: 'Pro (monthly)', currency: 'USD', amount: '49.00' }, FEBRUARY);
    expect(invoice.lines[0].periodStart.toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(invoice.lines[0].periodEnd.toISOString()).toBe('2026-02-28T00:00:00.000Z');
  });

  it('a plan priced at 9.995 USD is charged 10.00, rounded once at the line, and the invoice total is 10.00', () => {
    const invoice = renewalInvoice({ name: 'Odd price', currency: 'USD', amount: '9.995' }, FEBRUARY);
    expect(invoice.lines[0].unitAmount?.toFixed(2)).toBe('10.00');
    expect(invoice.lines[0].amount.toFixed(2)).toBe('10.00');
    expect(invoice.lines[0].amount.equals(new Decimal('10.00'))).toBe(true);
    expect(invoice.total.equals(new Decimal('10.00'))).toBe(true);
  });

  it('a plan priced at 9.994 USD is charged 9.99', () => {
    const invoice = renewalInvoice({ name: 'Odd price', currency: 'USD', amount: '9.994' }, FEBRUARY);
    expect(invoice.total.toFixed(2)).toBe('9.99');
  });

  it('a 980.5 JPY plan is charged 981 yen and a 12.3455 KWD plan 12.346 dinar', () => {
    expect(renewalInvoice({ name: 'Basic', currency: 'JPY', amount: '980.5' }, FEBRUARY).total.toFixed()).toBe('981');
    expect(renewalInvoice({ name: 'Basic', currency: 'KWD', amount: '12.3455' }, FEBRUARY).total.toFixed(3)).toBe('12.346');
  });

  it('a plan amount given as a Decimal is invoiced the same as its string: 19.99 EUR', () => {
    const invoice = renewalInvoice({ name: 'Team', currency: 'EUR', amount: new Decimal('19.99') }, FEBRUARY);
    expect(invoice.total.toFixed(2)).toBe('19.99');
  });

  it('a free plan yields an invoice of 0.00 with its one line still shown', () => {
    const invoice = renewalInvoice({ name: 'Free', currency: 'USD', amount: '0' }, FEBRUARY);
    expect(invoice.lines).toHaveLength(1);
    expect(invoice.total.isZero()).toBe(true);
  });

  it('a plan in a currency that is not ISO 4217 is refused', () => {
    expect(() => renewalInvoice({ name: 'Bad', currency: 'XXX', amount: '10' }, FEBRUARY)).toThrow(RangeError);
  });
});

describe('buildInvoice without coupons or taxes: totals are the sum of the lines shown', () => {
  it('three lines of 33.33, 33.33 and 33.34 USD total exactly 100.00', () => {
    const invoice = buildInvoice('USD', [lineOf('33.33'), lineOf('33.33'), lineOf('33.34')]);
    expect(invoice.subtotal.toFixed(2)).toBe('100.00');
    expect(invoice.total.toFixed(2)).toBe('100.00');
  });

  it('a credit line reduces the total: 49.00 and -10.50 USD total 38.50', () => {
    expect(buildInvoice('USD', [lineOf('49.00'), lineOf('-10.50', 'Credit')]).total.toFixed(2)).toBe('38.50');
  });

  it('an invoice with a line of 1.005 USD (a fraction of a cent) is refused', () => {
    expect(() => buildInvoice('USD', [lineOf('1.005', 'Sub-cent')])).toThrow(/more decimals than USD/);
  });
});

describe('assertInvoiceConsistent', () => {
  const drafted = (amount: string, discount = '0', tax = '0', description = 'Seat'): InvoiceLineDraft => ({
    ...lineOf(amount, description),
    discountAmount: new Decimal(discount),
    taxAmount: new Decimal(tax),
  });

  const noAdjustments = { discounts: [], discountTotal: new Decimal(0), taxes: [], taxTotal: new Decimal(0) };

  const consistent = (): InvoiceDraft => ({
    currency: 'USD',
    lines: [drafted('49.00'), drafted('1.00')],
    subtotal: new Decimal('50.00'),
    ...noAdjustments,
    total: new Decimal('50.00'),
  });

  /** 49.00 with 4.90 off, 1.00 with 0.10 off; 10 % exclusive tax on 45.00 = 4.50, shared 4.41 + 0.09. */
  const adjusted = (): InvoiceDraft => ({
    currency: 'USD',
    lines: [drafted('49.00', '4.90', '4.41'), drafted('1.00', '0.10', '0.09')],
    subtotal: new Decimal('50.00'),
    discounts: [{ couponId: 'coupon_1', name: '10 % off', amount: new Decimal('5.00') }],
    discountTotal: new Decimal('5.00'),
    taxes: [{ rate: { id: 'txr_1', name: 'Tax', percentage: new Decimal('10'), inclusive: false }, base: new Decimal('45.00'), amount: new Decimal('4.50') }],
    taxTotal: new Decimal('4.50'),
    // 50.00 - 5.00 + 4.50
    total: new Decimal('49.50'),
  });

  it('accepts an invoice whose subtotal and total equal the sum of its lines (49.00 + 1.00 = 50.00)', () => {
    expect(() => assertInvoiceConsistent(consistent())).not.toThrow();
  });

  it('accepts subtotal 50.00 - discounts 5.00 + exclusive tax 4.50 = total 49.50', () => {
    expect(() => assertInvoiceConsistent(adjusted())).not.toThrow();
  });

  it('rejects an invoice whose subtotal (50.01) is not the sum of its lines (50.00)', () => {
    const draft = { ...consistent(), subtotal: new Decimal('50.01'), total: new Decimal('50.01') };
    expect(() => assertInvoiceConsistent(draft)).toThrow(/does not add up/);
  });

  it('rejects an invoice whose total (49.99) differs from its subtotal (50.00)', () => {
    const draft = { ...consistent(), total: new Decimal('49.99') };
    expect(() => assertInvoiceConsistent(draft)).toThrow(/does not add up/);
  });

  it('rejects a discount total (5.01) that is not the sum of the line discounts (5.00)', () => {
    const draft = { ...adjusted(), discountTotal: new Decimal('5.01'), total: new Decimal('49.49') };
    expect(() => assertInvoiceConsistent(draft)).toThrow(/does not add up/);
  });

  it('rejects a tax total (4.51) that is not the sum of the line taxes (4.50)', () => {
    const draft = { ...adjusted(), taxTotal: new Decimal('4.51') };
    expect(() => assertInvoiceConsistent(draft)).toThrow(/does not add up/);
  });

  it('rejects a total that leaves out the exclusive tax (45.00 instead of 49.50)', () => {
    const draft = { ...adjusted(), total: new Decimal('45.00') };
    expect(() => assertInvoiceConsistent(draft)).toThrow(/does not add up/);
  });

  it('rejects a line discounted below zero: 2.00 off a 1.00 line', () => {
    const draft: InvoiceDraft = {
      ...consistent(),
      lines: [drafted('49.00'), drafted('1.00', '2.00')],
      discountTotal: new Decimal('2.00'),
      total: new Decimal('48.00'),
    };
    expect(() => assertInvoiceConsistent(draft)).toThrow(/discounted below zero/);
  });

  it('rejects a line with more decimals than the currency: 1.5 JPY', () => {
    const draft: InvoiceDraft = {
      currency: 'JPY',
      lines: [drafted('1.5', '0', '0', 'Half a yen')],
      subtotal: new Decimal('1.5'),
      ...noAdjustments,
      total: new Decimal('1.5'),
    };
    expect(() => assertInvoiceConsistent(draft)).toThrow(/more decimals than JPY/);
  });

  it('rejects a line tax of a fraction of a cent: 0.005 USD', () => {
    const draft: InvoiceDraft = {
      ...consistent(),
      lines: [drafted('49.00', '0', '0.005'), drafted('1.00')],
      taxes: [{ rate: { id: 'txr_1', name: 'Tax', percentage: new Decimal('0.01'), inclusive: false }, base: new Decimal('50.00'), amount: new Decimal('0.005') }],
      taxTotal: new Decimal('0.005'),
      total: new Decimal('50.005'),
    };
    expect(() => assertInvoiceConsistent(draft)).toThrow(/tax with more decimals than USD/);
  });
});

const APRIL_USAGE: Period = { index: 1, start: new Date('2026-04-01T00:00:00.000Z'), end: new Date('2026-05-01T00:00:00.000Z') };
const MAY: Period = { index: 2, start: new Date('2026-05-01T00:00:00.000Z'), end: new Date('2026-06-01T00:00:00.000Z') };

/** A usage line as the billing activity builds it: the charge priced, then shown on the invoice. */
function usageLine(description: string, price: ChargePrice, quantity: string, currency = 'USD', eventCount = 1): InvoiceLineInput {
  const charged = priceUsage(price, { quantity: new Decimal(quantity), eventCount }, currency);
  return {
    kind: 'usage',
    description,
    quantity: charged.quantity,
    unitAmount: charged.unitAmount,
    amount: charged.amount,
    periodStart: APRIL_USAGE.start,
    periodEnd: APRIL_USAGE.end,
    metricCode: 'api_calls',
    chargeModel: price.model,
    tiers: charged.tiers,
  };
}

const tenPercentOff: CouponTerms = { id: 'cpa_10', name: 'Launch 10 %', percentOff: new Decimal('10'), amountOff: null };
const twelveOff: CouponTerms = { id: 'cpa_12', name: '12.00 off', percentOff: null, amountOff: new Decimal('12.00') };
const nycSalesTax: TaxRateTerms = { id: 'txr_nyc', name: 'NYC sales tax', percentage: new Decimal('8.875'), inclusive: false };
const vat20: TaxRateTerms = { id: 'txr_vat', name: 'VAT', percentage: new Decimal('20'), inclusive: true };

const money = (amount: Decimal, decimals = 2) => amount.toFixed(decimals);

describe('buildInvoice: lines, then discounts, then taxes', () => {
  /** May's fee in advance and April's API calls in arrears: 49.00 + 12000 x 0.0015 = 49.00 + 18.00. */
  const lines = (): InvoiceLineInput[] => [
    renewalFee('USD', 'Pro (monthly)', '49.00', MAY),
    usageLine('API calls', { model: 'standard', unitAmount: new Decimal('0.0015') }, '12000'),
  ];

  it('a fee, a usage line, 10 % off and 8.875 % sales tax: 67.00 - 6.70 + 5.35 = 65.65 USD', () => {
    const invoice = buildInvoice('USD', lines(), { coupons: [tenPercentOff], taxRates: [nycSalesTax] });
    // discounts: 49.00 x 10 % = 4.90, 18.00 x 10 % = 1.80 -> 6.70
    // tax: (44.10 + 16.20) x 8.875 % = 60.30 x 0.08875 = 5.351625 -> 5.35
    // shared 44.10 : 16.20 -> 391.27 and 143.73 cents -> 3.91 and 1.44 (the larger remainder gets the cent)
    expect(invoice.lines.map((l) => [l.kind, money(l.amount), money(l.discountAmount), money(l.taxAmount)])).toEqual([
      ['fee', '49.00', '4.90', '3.91'],
      ['usage', '18.00', '1.80', '1.44'],
    ]);
    expect(money(invoice.subtotal)).toBe('67.00');
    expect(invoice.discounts.map((x) => [x.couponId, x.name, money(x.amount)])).toEqual([['cpa_10', 'Launch 10 %', '6.70']]);
    expect(money(invoice.discountTotal)).toBe('6.70');
    expect(invoice.taxes.map((t) => [t.rate.id, money(t.base), money(t.amount)])).toEqual([['txr_nyc', '60.30', '5.35']]);
    expect(money(invoice.taxTotal)).toBe('5.35');
    expect(money(invoice.total)).toBe('65.65');
  });

  it('the usage line keeps what the charge priced: quantity 12000, unit price 0.0015, April, the metric and model', () => {
    const [, usage] = buildInvoice('USD', lines()).lines;
    expect(usage.quantity.toFixed()).toBe('12000');
    expect(usage.unitAmount?.toFixed()).toBe('0.0015');
    expect(usage.periodStart.toISOString()).toBe('2026-04-01T00:00:00.000Z');
    expect(usage).toMatchObject({ kind: 'usage', metricCode: 'api_calls', chargeModel: 'standard' });
  });

  it('a graduated usage line has no single unit price and shows its tiers: 150 units are 100 x 0.10 + 50 x 0.05 = 12.50', () => {
    const graduated: ChargePrice = {
      model: 'graduated',
      tiers: [
        { upTo: new Decimal(100), unitAmount: new Decimal('0.10'), flatAmount: new Decimal(0) },
        { upTo: null, unitAmount: new Decimal('0.05'), flatAmount: new Decimal(0) },
      ],
    };
    const invoice = buildInvoice('USD', [usageLine('Storage', graduated, '150')]);
    expect(invoice.lines[0].unitAmount).toBeNull();
    expect(invoice.lines[0].tiers?.map((t) => [t.units.toFixed(), t.amount.toFixed(2)])).toEqual([['100', '10.00'], ['50', '2.50']]);
    expect(money(invoice.total)).toBe('12.50');
  });

  it('a minimum commitment of 100.00 with 62.50 of usage adds a 37.50 true-up line, so the invoice is 100.00', () => {
    const usage = usageLine('API calls', { model: 'standard', unitAmount: new Decimal('0.0025') }, '25000'); // 25000 x 0.0025 = 62.50
    const trueUp = minimumTrueUp(new Decimal('100.00'), usage.amount);
    const minimum: InvoiceLineInput = { ...usage, kind: 'minimum', description: 'Minimum commitment', quantity: new Decimal(1), unitAmount: null, amount: trueUp, tiers: [] };
    const invoice = buildInvoice('USD', [usage, minimum]);
    expect(invoice.lines.map((l) => [l.kind, money(l.amount)])).toEqual([['usage', '62.50'], ['minimum', '37.50']]);
    expect(money(invoice.total)).toBe('100.00');
  });

  it('a 12.00 coupon is spent on the lines in order: all 10.00 of the fee and 2.00 of the usage', () => {
    const invoice = buildInvoice('USD', [renewalFee('USD', 'Starter', '10.00', MAY), usageLine('API calls', { model: 'standard', unitAmount: new Decimal('0.0015') }, '12000')], {
      coupons: [twelveOff],
    });
    expect(invoice.lines.map((l) => money(l.discountAmount))).toEqual(['10.00', '2.00']);
    expect(money(invoice.total)).toBe('16.00'); // 10.00 + 18.00 - 12.00
  });

  it('a coupon larger than the invoice brings it to 0.00, never below', () => {
    const invoice = buildInvoice('USD', [renewalFee('USD', 'Starter', '9.00', MAY)], { coupons: [twelveOff] });
    expect(money(invoice.lines[0].discountAmount)).toBe('9.00');
    expect(money(invoice.discountTotal)).toBe('9.00');
    expect(money(invoice.total)).toBe('0.00');
  });

  it('a coupon that finds nothing left to take is not listed among the discounts', () => {
    const free: CouponTerms = { id: 'cpa_free', name: 'Free month', percentOff: new Decimal('100'), amountOff: null };
    const invoice = buildInvoice('USD', [renewalFee('USD', 'Pro', '49.00', MAY)], { coupons: [free, twelveOff] });
    expect(invoice.discounts.map((x) => [x.couponId, money(x.amount)])).toEqual([['cpa_free', '49.00']]);
    expect(money(invoice.total)).toBe('0.00');
  });

  it('20 % VAT included in a 60.00 fee and 24.00 of usage, with 12.00 off: the customer owes 72.00, of which 12.00 is VAT', () => {
    const invoice = buildInvoice(
      'EUR',
      [renewalFee('EUR', 'Pro', '60.00', MAY), usageLine('API calls', { model: 'standard', unitAmount: new Decimal('0.002') }, '12000', 'EUR')],
      { coupons: [twelveOff], taxRates: [vat20] },
    );
    // discount: 12.00 off the fee -> 48.00 + 24.00 = 72.00, VAT inside it 72.00 x 20 / 120 = 12.00
    // shared 48 : 24 -> 8.00 and 4.00; nothing is added to the total
    expect(invoice.lines.map((l) => [money(l.amount), money(l.discountAmount), money(l.taxAmount)])).toEqual([
      ['60.00', '12.00', '8.00'],
      ['24.00', '0.00', '4.00'],
    ]);
    expect(money(invoice.taxTotal)).toBe('12.00');
    expect(money(invoice.total)).toBe('72.00');
  });

  it('in JPY: a 980 JPY fee with 10 % consumption tax added is 980 + 98 = 1078 JPY', () => {
    const tax: TaxRateTerms = { id: 'txr_jp', name: 'Consumption tax', percentage: new Decimal('10'), inclusive: false };
    const invoice = buildInvoice('JPY', [renewalFee('JPY', 'Basic', '980', MAY)], { taxRates: [tax] });
    expect(invoice.total.toFixed()).toBe('1078');
  });

  it('refuses a mix of inclusive and exclusive tax rates', () => {
    expect(() => buildInvoice('USD', lines(), { taxRates: [nycSalesTax, vat20] })).toThrow(/both inclusive and exclusive/);
  });
});

describe('revenueSplit: what the ledger defers and what it earns', () => {
  it('without tax or with exclusive tax, the fee (49.00) is deferred and the usage (18.00) earned, at list price', () => {
    const invoice = buildInvoice('USD', [renewalFee('USD', 'Pro', '49.00', MAY), usageLine('API calls', { model: 'standard', unitAmount: new Decimal('0.0015') }, '12000')], {
      coupons: [tenPercentOff],
      taxRates: [nycSalesTax],
    });
    const split = revenueSplit(invoice);
    expect([money(split.deferred), money(split.earned)]).toEqual(['49.00', '18.00']);
    // The fee's 10 % (4.90) is deferred with it and recognised as May is served.
    expect(money(split.deferredDiscount)).toBe('4.90');
  });

  it('with VAT included, each line is net of its VAT: fee 60.00 - 8.00 = 52.00 deferred, usage 24.00 - 4.00 = 20.00 earned', () => {
    const invoice = buildInvoice(
      'EUR',
      [renewalFee('EUR', 'Pro', '60.00', MAY), usageLine('API calls', { model: 'standard', unitAmount: new Decimal('0.002') }, '12000', 'EUR')],
      { coupons: [twelveOff], taxRates: [vat20] },
    );
    const split = revenueSplit(invoice);
    expect([money(split.deferred), money(split.earned)]).toEqual(['52.00', '20.00']);
    expect(money(split.deferredDiscount)).toBe('12.00');
  });

  it('minimum true-ups are earned with the usage they complete', () => {
    const split = revenueSplit(buildInvoice('USD', [lineOf('10.00', 'Fee', 'fee'), lineOf('3.00', 'Usage', 'usage'), lineOf('7.00', 'Minimum', 'minimum')]));
    expect([money(split.deferred), money(split.earned)]).toEqual(['10.00', '10.00']);
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
            (amount, i) => renewalInvoice({ name: `Plan ${i}`, currency, amount }, FEBRUARY).lines,
          );
          const invoice = buildInvoice(currency, lines);

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
        const invoice = renewalInvoice({ name: 'Plan', currency, amount }, FEBRUARY);
        expect(invoice.lines).toHaveLength(1);
        expect(invoice.total.equals(invoice.lines[0].amount)).toBe(true);
        expect(invoice.subtotal.equals(invoice.lines[0].amount)).toBe(true);
      }),
    );
  });
  /** n / m rounded half away from zero, in integers: an oracle that shares no code with decimal.js. */
  function roundRatio(numerator: bigint, denominator: bigint): bigint {
    const negative = numerator < 0n;
    const magnitude = negative ? -numerator : numerator;
    const q = (2n * magnitude + denominator) / (2n * denominator);
    return negative ? -q : q;
  }

  const minorOf = (amount: Decimal, exponent: number): bigint => BigInt(amount.times(new Decimal(10).pow(exponent)).toFixed());

  const invoiceCaseArb = currencyArb.chain(([currency, exponent]) =>
    fc.record({
      currency: fc.constant(currency),
      exponent: fc.constant(exponent),
      lines: fc.array(
        fc.record({
          kind: fc.constantFrom<LineKind>('fee', 'usage', 'minimum'),
          // mostly charges, sometimes a credit
          minor: fc.oneof({ weight: 5, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 9n }) }, { weight: 1, arbitrary: fc.bigInt({ min: -(10n ** 7n), max: -1n }) }),
        }),
        { minLength: 1, maxLength: 6 },
      ),
      coupons: fc.array(
        fc.oneof(
          fc.integer({ min: 0, max: 100_000 }).map((p): CouponTerms => ({ id: 'pct', name: 'percent', percentOff: new Decimal(formatMinor(BigInt(p), 3)), amountOff: null })),
          fc.bigInt({ min: 0n, max: 10n ** 9n }).map((m): CouponTerms => ({ id: 'fixed', name: 'fixed', percentOff: null, amountOff: new Decimal(formatMinor(m, exponent)) })),
        ),
        { maxLength: 2 },
      ),
      // thousandths of a percent, 0 to 30 %
      rates: fc.array(fc.integer({ min: 0, max: 30_000 }), { maxLength: 3 }),
      inclusive: fc.boolean(),
    }),
  );

  it('total = lines - discounts + exclusive taxes, every tax is rounded once on the discounted lines, and line taxes add up to the invoice tax', () => {
    fc.assert(
      fc.property(invoiceCaseArb, ({ currency, exponent, lines, coupons, rates, inclusive }) => {
        const inputs = lines.map(({ kind, minor }, i) => lineOf(formatMinor(minor, exponent), `Line ${i}`, kind));
        const taxRates = rates.map((r, i): TaxRateTerms => ({ id: `txr_${i}`, name: `Rate ${i}`, percentage: new Decimal(formatMinor(BigInt(r), 3)), inclusive }));
        const invoice = buildInvoice(currency, inputs, { coupons, taxRates });

        const subtotal = lines.reduce((acc, l) => acc + l.minor, 0n);
        const lineDiscounts = invoice.lines.map((l) => minorOf(l.discountAmount, exponent));
        lineDiscounts.forEach((discount, i) => {
          expect(discount >= 0n && discount <= (lines[i].minor > 0n ? lines[i].minor : 0n)).toBe(true);
        });
        const discounts = lineDiscounts.reduce((a, b) => a + b, 0n);
        expect(invoice.discounts.reduce((acc, x) => acc + minorOf(x.amount, exponent), 0n)).toBe(discounts);

        // Each rate on the discounted base, rounded half-up once: base x p / 100, or base x p / (100 + sum p) if included.
        const base = subtotal - discounts;
        const ratesSum = rates.reduce((a, b) => a + BigInt(b), 0n);
        const expectedTaxes = rates.map((r) => roundRatio(base * BigInt(r), inclusive ? 100_000n + ratesSum : 100_000n));
        expect(invoice.taxes.map((t) => minorOf(t.amount, exponent))).toEqual(expectedTaxes);
        const taxTotal = expectedTaxes.reduce((a, b) => a + b, 0n);
        const exclusiveTaxes = inclusive ? 0n : taxTotal;

        expect(minorOf(invoice.subtotal, exponent)).toBe(subtotal);
        expect(minorOf(invoice.discountTotal, exponent)).toBe(discounts);
        expect(minorOf(invoice.taxTotal, exponent)).toBe(taxTotal);
        expect(invoice.lines.reduce((acc, l) => acc + minorOf(l.taxAmount, exponent), 0n)).toBe(taxTotal);
        expect(minorOf(invoice.total, exponent)).toBe(subtotal - discounts + exclusiveTaxes);

        // What the ledger splits is the lines net of the tax included in them.
        const split = revenueSplit(invoice);
        expect(minorOf(split.deferred.plus(split.earned), exponent)).toBe(subtotal - (inclusive ? taxTotal : 0n));
      }),
      { numRuns: 500 },
    );
  });
});
