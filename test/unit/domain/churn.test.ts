import Decimal from 'decimal.js';
import { churnByMonth } from '../../../domain/churn';
import type { MrrMonth } from '../../../domain/mrr';

const d = (text: string): Decimal => new Decimal(text);

function month(fields: Partial<Record<'start' | 'new' | 'expansion' | 'contraction' | 'churn' | 'reactivation', string>> & { customersAtStart: number; churnedCustomers: number }): MrrMonth {
  const f = { start: '0', new: '0', expansion: '0', contraction: '0', churn: '0', reactivation: '0', ...fields };
  const end = d(f.start).plus(f.new).plus(f.expansion).plus(f.reactivation).minus(f.contraction).minus(f.churn);
  return {
    month: '2026-04',
    start: d(f.start),
    new: d(f.new),
    expansion: d(f.expansion),
    contraction: d(f.contraction),
    churn: d(f.churn),
    reactivation: d(f.reactivation),
    end,
    computedEnd: end,
    customersAtStart: fields.customersAtStart,
    customersAtEnd: fields.customersAtStart - fields.churnedCustomers,
    churnedCustomers: fields.churnedCustomers,
  };
}

describe('churn rates', () => {
  it('12 customers and 1,000.00 of MRR at the start; 1 leaves with 80.00, another drops 20.00, a third adds 50.00', () => {
    const [april] = churnByMonth([month({ start: '1000', churn: '80', contraction: '20', expansion: '50', new: '300', customersAtStart: 12, churnedCustomers: 1 })]);
    expect(april).toEqual({
      month: '2026-04',
      customersAtStart: 12,
      churnedCustomers: 1,
      startMrr: d('1000'),
      churnedMrr: d('80'),
      contractionMrr: d('20'),
      expansionMrr: d('50'),
      reactivationMrr: d('0'),
      // 1 / 12 = 0.08333… -> 0.0833
      logoChurnRate: '0.0833',
      // (80 + 20) / 1000
      grossRevenueChurnRate: '0.1000',
      // (80 + 20 - 50) / 1000; new customers' 300.00 do not count
      netRevenueChurnRate: '0.0500',
    });
  });

  it('net revenue churn is negative when existing customers grow more than others leave', () => {
    const [april] = churnByMonth([month({ start: '200', churn: '10', expansion: '30', reactivation: '5', customersAtStart: 3, churnedCustomers: 1 })]);
    // (10 - 30 - 5) / 200 = -0.125
    expect(april.netRevenueChurnRate).toBe('-0.1250');
  });

  it('a month starting with no customers has no rates', () => {
    const [april] = churnByMonth([month({ new: '50', customersAtStart: 0, churnedCustomers: 0 })]);
    expect([april.logoChurnRate, april.grossRevenueChurnRate, april.netRevenueChurnRate]).toEqual([null, null, null]);
  });
});
