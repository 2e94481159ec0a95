import Decimal from 'decimal.js';
import { agingBucket, agingOf, daysPastDue } from '../../../domain/ar-aging';
import { dueOnTerms, isOverdue } from '../../../domain/payment-terms';

const at = (iso: string): Date => new Date(iso);
const d = (text: string): Decimal => new Decimal(text);

describe('payment terms', () => {
  it('net 30 on an invoice issued 15 January 10:00 UTC is due 14 February 10:00 UTC', () => {
    expect(dueOnTerms(at('2026-01-15T10:00:00Z'), 30).dueAt.toISOString()).toBe('2026-02-14T10:00:00.000Z');
  });

  it('refuses terms beyond a year or in fractions of a day', () => {
    expect(() => dueOnTerms(at('2026-01-15T10:00:00Z'), 366)).toThrow(RangeError);
    expect(() => dueOnTerms(at('2026-01-15T10:00:00Z'), 1.5)).toThrow(RangeError);
  });

  it('an invoice is overdue once open past its due instant with something to pay', () => {
    const invoice = { status: 'open', amountDue: d('10.00'), dueAt: at('2026-02-14T10:00:00Z') };
    expect(isOverdue(invoice, at('2026-02-14T10:00:00Z'))).toBe(false);
    expect(isOverdue(invoice, at('2026-02-14T10:00:00.001Z'))).toBe(true);
    expect(isOverdue({ ...invoice, status: 'paid' }, at('2026-03-01T00:00:00Z'))).toBe(false);
    expect(isOverdue({ ...invoice, amountDue: d('0') }, at('2026-03-01T00:00:00Z'))).toBe(false);
  });
});

describe('AR aging buckets', () => {
  const due = at('2026-02-14T10:00:00Z');
  it.each([
    ['2026-02-14T10:00:00Z', 0, 'not_yet_due'],
    ['2026-02-14T11:00:00Z', 1, 'days_1_30'],
    ['2026-03-16T10:00:00Z', 30, 'days_1_30'],
    ['2026-03-16T10:00:00.001Z', 31, 'days_31_60'],
    ['2026-04-15T10:00:00Z', 60, 'days_31_60'],
    ['2026-05-15T10:00:00Z', 90, 'days_61_90'],
    ['2026-06-14T10:00:00Z', 120, 'days_91_120'],
    ['2026-06-15T10:00:00Z', 121, 'days_over_120'],
  ])('read at %s: %i days past due, %s', (asOf, days, bucket) => {
    expect(daysPastDue(due, at(asOf))).toBe(days);
    expect(agingBucket(due, at(asOf))).toBe(bucket);
  });

  it('sums receivables per customer and bucket, with totals', () => {
    const asOf = at('2026-04-01T00:00:00Z');
    const report = agingOf(
      [
        { customerId: 'cus_b', customerName: 'Beta', amountDue: d('100.00'), dueAt: at('2026-04-10T00:00:00Z') },
        { customerId: 'cus_a', customerName: 'Acme', amountDue: d('40.00'), dueAt: at('2026-03-20T00:00:00Z') },
        { customerId: 'cus_a', customerName: 'Acme', amountDue: d('25.50'), dueAt: at('2026-01-15T00:00:00Z') },
        { customerId: 'cus_b', customerName: 'Beta', amountDue: d('9.99'), dueAt: at('2025-11-01T00:00:00Z') },
      ],
      asOf,
    );
    const text = (b: Record<string, Decimal>) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v.toFixed(2)]));
    // Acme: 40.00 is 12 days late, 25.50 is 76 days; Beta: 100.00 not yet due, 9.99 is 151 days.
    expect(report.customers.map((c) => ({ name: c.customerName, buckets: text(c.buckets), total: c.total.toFixed(2) }))).toEqual([
      { name: 'Acme', buckets: { not_yet_due: '0.00', days_1_30: '40.00', days_31_60: '0.00', days_61_90: '25.50', days_91_120: '0.00', days_over_120: '0.00' }, total: '65.50' },
      { name: 'Beta', buckets: { not_yet_due: '100.00', days_1_30: '0.00', days_31_60: '0.00', days_61_90: '0.00', days_91_120: '0.00', days_over_120: '9.99' }, total: '109.99' },
    ]);
    expect(text(report.totals)).toEqual({ not_yet_due: '100.00', days_1_30: '40.00', days_31_60: '0.00', days_61_90: '25.50', days_91_120: '0.00', days_over_120: '9.99' });
    expect(report.total.toFixed(2)).toBe('175.49');
  });
});
