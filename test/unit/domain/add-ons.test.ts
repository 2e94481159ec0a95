import Decimal from 'decimal.js';
import fc from 'fast-check';
import { addOnFeeLine, oneOffLine, sameCadenceAs, setupLine, type AddOnTerms } from '../../../domain/add-ons';

const storage: AddOnTerms = { id: 'addon_storage', name: 'Extra storage', amount: new Decimal('30.00'), currency: 'USD', interval: 'month', intervalCount: 1 };
const june = { start: new Date('2027-06-01T00:00:00Z'), end: new Date('2027-07-01T00:00:00Z') };
const day = (n: number) => new Date(june.start.getTime() + n * 86_400_000);

describe('add-on lines', () => {
  it('bills a whole period at quantity x unit price, with the full-period price MRR reads', () => {
    const line = addOnFeeLine(storage, new Decimal(2), { period: june, from: june.start, to: june.end, credit: false });
    // 2 x 30.00 = 60.00
    expect({ kind: line.kind, description: line.description, amount: line.amount.toFixed(2), unit: line.unitAmount?.toFixed(2), price: line.price?.amount.toFixed(2), addOn: line.addOnId }).toEqual({
      kind: 'fee',
      description: 'Extra storage',
      amount: '60.00',
      unit: '30.00',
      price: '60.00',
      addOn: 'addon_storage',
    });
  });

  it('credits the unused days of a removal as a negative line: 10 of June\'s 30 days of 60.00 is 20.00', () => {
    const credit = addOnFeeLine(storage, new Decimal(2), { period: june, from: day(20), to: june.end, credit: true });
    expect([credit.description, credit.amount.toFixed(2), credit.price?.amount.toFixed(2)]).toEqual(['Unused time on Extra storage from 2027-06-21 to 2027-07-01', '-20.00', '60.00']);
  });

  it('a prorated addition and a later removal leave exactly the days served, however the period is cut', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 29 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 9 }), (added, removedAfter, quantity) => {
        const removed = Math.min(30, added + removedAfter);
        const q = new Decimal(quantity);
        const charged = addOnFeeLine(storage, q, { period: june, from: day(added), to: june.end, credit: false }).amount;
        const credited = removed < 30 ? addOnFeeLine(storage, q, { period: june, from: day(removed), to: june.end, credit: true }).amount : new Decimal(0);
        const served = addOnFeeLine(storage, q, { period: june, from: day(added), to: day(removed), credit: false }).amount;
        expect(charged.plus(credited).toFixed(2)).toBe(served.toFixed(2));
      }),
    );
  });

  it('rounds a one-off line once: 3 x 33.335 USD is 100.005, so 100.01', () => {
    const line = oneOffLine({ description: 'Hours', quantity: new Decimal(3), unitAmount: new Decimal('33.335') }, 'USD', june.start);
    expect([line.kind, line.amount.toFixed(2), line.periodStart.getTime() === line.periodEnd.getTime()]).toEqual(['one_off', '100.01', true]);
  });

  it('a setup line is one unit of the setup fee', () => {
    const line = setupLine({ name: 'Onboarded', setupFee: new Decimal('200.00') }, june.start);
    expect([line.kind, line.description, line.amount.toFixed(2)]).toEqual(['setup', 'Setup fee (Onboarded)', '200.00']);
  });

  it('rides a plan only on the same cadence', () => {
    expect(sameCadenceAs(storage, { interval: 'month', intervalCount: 1 })).toBe(true);
    expect(sameCadenceAs(storage, { interval: 'month', intervalCount: 3 })).toBe(false);
    expect(sameCadenceAs(storage, { interval: 'year', intervalCount: 1 })).toBe(false);
  });
});
