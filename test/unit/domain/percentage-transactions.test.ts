import Decimal from 'decimal.js';
import fc from 'fast-check';
import { priceTransactions, type PercentageTerms } from '../../../domain/percentage-transactions';
import { priceUsage, type ChargePrice } from '../../../domain/pricing';

const d = (v: Decimal.Value) => new Decimal(v);
const values = (...vs: string[]) => vs.map(d);
const terms = (t: Partial<Omit<PercentageTerms, 'rules'>> & { rules?: Partial<PercentageTerms['rules']> }): PercentageTerms => ({
  rate: t.rate ?? d('2'),
  fixedAmount: t.fixedAmount ?? d('0.30'),
  freeUnits: t.freeUnits ?? d('0'),
  rules: { freeEvents: null, min: null, max: null, ...t.rules },
});

describe('percentage charges priced event by event (Lago free events, per-transaction bounds)', () => {
  it('the first 3 events pay neither the rate nor the fixed fee; the other 2 pay both', () => {
    // Events 100, 200, 300 are free. 400 and 500 pay: 2 % x 900 = 18.00, plus 2 x 0.30 = 0.60: 18.60.
    const priced = priceTransactions(values('100', '200', '300', '400', '500'), terms({ rules: { freeEvents: 3 } }));
    expect(priced.payingEvents).toBe(2);
    expect(priced.fees.toFixed(2)).toBe('18.60');
  });

  it('with 3 free events and 500 free, the allowance ends at whichever comes first: here the amount', () => {
    // 200 (free, 200 used), 250 (free, 450 used), 100 crosses 500: pays 2 % x (100 - 50) = 1.00 + 0.30.
    // The 4th event is past the 3 free events: 2 % x 1000 = 20.00 + 0.30. Total 21.60.
    const priced = priceTransactions(values('200', '250', '100', '1000'), terms({ freeUnits: d('500'), rules: { freeEvents: 3 } }));
    expect(priced.payingEvents).toBe(2);
    expect(priced.fees.toFixed(2)).toBe('21.60');
  });

  it('with 2 free events and 500 free, the events run out first and the free amount left is not carried on', () => {
    // 100 and 100 are free (200 of 500 used); the 3rd pays on all of its 300: 6.00 + 0.30.
    const priced = priceTransactions(values('100', '100', '300'), terms({ freeUnits: d('500'), rules: { freeEvents: 2 } }));
    expect(priced.fees.toFixed(2)).toBe('6.30');
  });

  it('a per-transaction minimum and maximum bound each paying event\'s fee', () => {
    // 10.00: 0.20 + 0.30 = 0.50, raised to 1.00. 100.00: 2.00 + 0.30 = 2.30, kept. 1000.00: 20.30, lowered to 5.00.
    const priced = priceTransactions(values('10', '100', '1000'), terms({ rules: { min: d('1.00'), max: d('5.00') } }));
    expect(priced.payingEvents).toBe(3);
    expect(priced.fees.toFixed(2)).toBe('8.30');
  });

  it('free events pay nothing, not even the per-transaction minimum', () => {
    // The first event is free; the second pays max(0.02 + 0.30, 1.00) = 1.00.
    expect(priceTransactions(values('1', '1'), terms({ rules: { freeEvents: 1, min: d('1.00') } })).fees.toFixed(2)).toBe('1.00');
  });

  it('without free events, the free amount is spent in event order and every event pays the fixed fee', () => {
    // 100 free: 60 free, 80 has 40 free (pays on 40: 0.80 + 0.30), 50 pays 1.00 + 0.30; 60 pays 0.30 only.
    expect(priceTransactions(values('60', '80', '50'), terms({ freeUnits: d('100'), rules: { max: d('100') } })).fees.toFixed(2)).toBe('2.70');
  });

  it('unbounded and without free events, it is the model\'s usual rate x (sum - free) + fixed x events', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[0-9]{1,5}\.[0-9]{2}$/), { maxLength: 30 }), fc.stringMatching(/^[0-9]{1,4}$/), (vs, free) => {
        const events = vs.map(d);
        const total = events.reduce((t, v) => t.plus(v), d(0));
        const t = terms({ rate: d('2.9'), freeUnits: d(free), rules: { min: null, max: d('1e9') } });
        const usual = Decimal.max(0, total.minus(free)).times('2.9').dividedBy(100).plus(d('0.30').times(events.length));
        expect(priceTransactions(events, t).fees.toFixed()).toBe(usual.toFixed());
      }),
    );
  });

  it('a charge with transaction rules is priced on the events\' fees, rounded once', () => {
    const price: ChargePrice = { model: 'percentage', rate: d('2'), fixedAmount: d('0.30'), freeUnits: d('0'), transactionRules: { freeEvents: 3, min: null, max: null } };
    expect(priceUsage(price, { quantity: d('1500'), eventCount: 5, transactionFees: d('18.605') }, 'USD').amount.toFixed(2)).toBe('18.61');
    expect(() => priceUsage(price, { quantity: d('1500'), eventCount: 5 }, 'USD')).toThrow(/events' fees/);
  });
});
