import Decimal from 'decimal.js';
import { deferredMovementKind, deferredRevenueWaterfall } from '../../../domain/deferred-revenue';
import { reconcile } from '../../../domain/reconciliation';

const d = (v: string) => new Decimal(v);

describe('the deferred revenue waterfall', () => {
  it('opens each month at the last one’s closing: opening + billed - recognized + other = closing', () => {
    const months = deferredRevenueWaterfall({
      months: ['2026-01', '2026-02', '2026-03'],
      opening: d('100.00'),
      movements: [
        { month: '2026-01', kind: deferredMovementKind('invoice', 'issued'), net: d('1200.00') },
        { month: '2026-01', kind: deferredMovementKind('revenue_recognition', ''), net: d('-52.60') },
        { month: '2026-02', kind: deferredMovementKind('revenue_recognition', ''), net: d('-100.00') },
        { month: '2026-02', kind: deferredMovementKind('credit_note', ''), net: d('-30.00') },
        { month: '2026-02', kind: deferredMovementKind('refund', ''), net: d('-5.00') },
      ],
      ledgerClosing: new Map([
        ['2026-01', d('1247.40')],
        ['2026-02', d('1112.40')],
        ['2026-03', d('1112.40')],
      ]),
    });
    expect(months.map((m) => ({ ...m, opening: m.opening.toFixed(2), billed: m.billed.toFixed(2), recognized: m.recognized.toFixed(2), closing: m.closing.toFixed(2), ledgerClosing: m.ledgerClosing.toFixed(2), other: m.other.map((o) => `${o.source} ${o.amount.toFixed(2)}`) }))).toEqual([
      // 100 + 1200 - 52.60 = 1247.40
      { month: '2026-01', opening: '100.00', billed: '1200.00', recognized: '52.60', other: [], closing: '1247.40', ledgerClosing: '1247.40', balanced: true },
      // 1247.40 - 100 - 30 - 5 = 1112.40; other sources in name order
      { month: '2026-02', opening: '1247.40', billed: '0.00', recognized: '100.00', other: ['credit_note -30.00', 'refund -5.00'], closing: '1112.40', ledgerClosing: '1112.40', balanced: true },
      { month: '2026-03', opening: '1112.40', billed: '0.00', recognized: '0.00', other: [], closing: '1112.40', ledgerClosing: '1112.40', balanced: true },
    ]);
  });

  it('a month whose movements do not reach the ledger balance is not balanced', () => {
    const [month] = deferredRevenueWaterfall({ months: ['2026-01'], opening: d('0'), movements: [], ledgerClosing: new Map([['2026-01', d('10.00')]]) });
    expect(month.balanced).toBe(false);
  });

  it('an earlier version’s lump recognition of an invoice counts as recognized, its issue as billed', () => {
    expect(deferredMovementKind('invoice', 'recognized')).toEqual({ column: 'recognized' });
    expect(deferredMovementKind('invoice', 'issued')).toEqual({ column: 'billed' });
    expect(deferredMovementKind('write_off', '')).toEqual({ column: 'other', source: 'write_off' });
  });
});

describe('the reconciliation', () => {
  it('totals each record type, lists each record that differs, and holds only when the trial balance does too', () => {
    const report = reconcile(
      [
        { type: 'invoice', id: 'in_1', expected: d('10.00'), posted: d('10.00') },
        { type: 'invoice', id: 'in_2', expected: d('-4.00'), posted: d('-4.00') },
        { type: 'payment', id: 'py_1', expected: d('10.00'), posted: d('0') },
      ],
      [
        { account: 'accounts_receivable', debits: d('10.00'), credits: d('4.00') },
        { account: 'customer_credit', debits: d('4.00'), credits: d('10.00') },
      ],
    );
    const invoices = report.sections.find((s) => s.type === 'invoice')!;
    expect([invoices.records, invoices.expected.toFixed(2), invoices.posted.toFixed(2), invoices.difference.toFixed(2)]).toEqual([2, '6.00', '6.00', '0.00']);
    expect(report.differences.map((x) => [x.type, x.id, x.expected.toFixed(2), x.posted.toFixed(2), x.difference.toFixed(2)])).toEqual([['payment', 'py_1', '10.00', '0.00', '-10.00']]);
    expect(report.trialBalance.balanced).toBe(true);
    expect(report.balanced).toBe(false);
  });

  it('an unbalanced trial balance alone fails it', () => {
    const report = reconcile([], [{ account: 'cash', debits: d('1.00'), credits: d('0') }]);
    expect([report.differences.length, report.trialBalance.balanced, report.balanced]).toEqual([0, false, false]);
  });
});
