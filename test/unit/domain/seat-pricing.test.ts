import Decimal from 'decimal.js';
import fc from 'fast-check';
import { feeLine, type FlatFeePlan } from '../../../domain/invoice';
import { feeSpec, feePrice, quantityChangeBilling } from '../../../domain/plan-change';
import { seatFee } from '../../../domain/seat-pricing';

const d = (value: Decimal.Value): Decimal => new Decimal(value);
const DAY = 86_400_000;
const april = { start: new Date('2027-04-01T00:00:00Z'), end: new Date('2027-05-01T00:00:00Z') }; // 30 days
const dayOf = (days: number): Date => new Date(april.start.getTime() + days * DAY);
const seat: FlatFeePlan = { name: 'Team', currency: 'USD', amount: '30.00' };

/** The lines a change of seats bills, as the store prices them (domain/invoice.ts feeLine). */
function changeLines(plan: FlatFeePlan, from: number, to: number, at: Date) {
  const specs = quantityChangeBilling({ planId: 'plan_x', from: feePrice(from, null), to: feePrice(to, null), prorate: true, at, period: april, basis: april });
  return specs.map((f) =>
    feeLine(plan, { period: april, from: new Date(f.from), to: new Date(f.to), credit: f.credit, quantity: d(f.quantity ?? 1), unitAmount: f.unitAmount ? d(f.unitAmount) : null }),
  );
}

const sumOf = (lines: Array<{ amount: Decimal }>): Decimal => lines.reduce((t, l) => t.plus(l.amount), d(0));

describe('a fee priced on seats', () => {
  it('is the price per seat times the seats; a contract price replaces it', () => {
    expect(seatFee(seat, d(5)).amount.toFixed(2)).toBe('150.00');
    expect(seatFee(seat, d(5), d('22.50')).amount.toFixed(2)).toBe('112.50');
  });

  it('graduated tiers price each seat in its tier; volume tiers price every seat at the tier reached, plus its flat amount', () => {
    const tiers = [
      { up_to: '5', unit_amount: '10.00', flat_amount: '0' },
      { up_to: null, unit_amount: '8.00', flat_amount: '5.00' },
    ];
    // Graduated, 7 seats: 5 x 10.00 + (2 x 8.00 + 5.00) = 71.00. Volume, 7 seats: 7 x 8.00 + 5.00 = 61.00.
    expect(seatFee({ currency: 'USD', amount: '0', feeTiers: { mode: 'graduated', tiers } }, d(7)).amount.toFixed(2)).toBe('71.00');
    expect(seatFee({ currency: 'USD', amount: '0', feeTiers: { mode: 'volume', tiers } }, d(7)).amount.toFixed(2)).toBe('61.00');
    // Volume, 5 seats stay in the first tier: 5 x 10.00 = 50.00.
    expect(seatFee({ currency: 'USD', amount: '0', feeTiers: { mode: 'volume', tiers } }, d(5)).amount.toFixed(2)).toBe('50.00');
  });

  it('a contract price replaces the tiers too', () => {
    const tiers = [{ up_to: null, unit_amount: '8.00', flat_amount: '0' }];
    expect(seatFee({ currency: 'USD', amount: '0', feeTiers: { mode: 'volume', tiers } }, d(3), d('6.00')).amount.toFixed(2)).toBe('18.00');
  });

  it('refuses a quantity that is not a whole number of seats', () => {
    expect(() => seatFee(seat, d(0))).toThrow(RangeError);
    expect(() => seatFee(seat, d('1.5'))).toThrow(RangeError);
  });

  it('a line shows the seats and the price per seat; one seat at list price is shown as before seats', () => {
    const whole = feeLine(seat, { period: april, from: april.start, to: april.end, credit: false, quantity: d(4) });
    expect({ description: whole.description, quantity: whole.quantity.toFixed(), unit: whole.unitAmount?.toFixed(2), amount: whole.amount.toFixed(2), price: whole.price }).toEqual({
      description: 'Team × 4',
      quantity: '4',
      unit: '30.00',
      amount: '120.00',
      price: undefined,
    });
    const one = feeLine(seat, { period: april, from: april.start, to: april.end, credit: false });
    expect([one.description, one.quantity.toFixed(), one.unitAmount?.toFixed(2), one.amount.toFixed(2)]).toEqual(['Team', '1', '30.00', '30.00']);
    // 7 seats for 10 of 30 days of 10.00: 70.00 x 10/30 = 23.333... = 23.33, which 7 does not divide into cents: no unit amount.
    const odd = feeLine({ ...seat, amount: '10.00' }, { period: april, from: dayOf(20), to: april.end, credit: false, quantity: d(7) });
    expect([odd.amount.toFixed(2), odd.unitAmount]).toEqual(['23.33', null]);
  });

  it('worked example: 5 to 8 seats on day 10 of 30 at 30.00 is -100.00 + 160.00', () => {
    // Credit 5 x 30.00 x 20/30 = 100.00; charge 8 x 30.00 x 20/30 = 160.00.
    expect(changeLines(seat, 5, 8, dayOf(10)).map((l) => l.amount.toFixed(2))).toEqual(['-100.00', '160.00']);
  });
});

/**
 * The rounding: every fee line is the difference of two rounded "served by" amounts of the whole
 * period's fee for its seats (domain/proration.ts). Over a period, the renewal and the lines of k
 * changes of seats telescope to the exact seat-time price plus k pairs of roundings of half a minor
 * unit each: within k minor units. Several changes at one instant are exactly one change from the
 * first quantity to the last.
 */
describe('changes of seats, split any way, add up', () => {
  const seats = fc.integer({ min: 1, max: 500 });
  const price = fc.integer({ min: 1, max: 1_000_000 }).map((cents) => d(cents).dividedBy(100));
  const instant = fc.integer({ min: 1, max: 30 * DAY - 1 });

  it('a period billed with any changes of seats is within one cent per change of the exact seat-time price', () => {
    fc.assert(
      fc.property(price, seats, fc.array(fc.tuple(instant, seats), { minLength: 1, maxLength: 8 }), (amount, first, changes) => {
        const plan = { ...seat, amount: amount.toFixed(2) };
        const sorted = [...changes].sort((a, b) => a[0] - b[0]);
        let quantity = first;
        let billed = feeLine(plan, { period: april, from: april.start, to: april.end, credit: false, quantity: d(first) }).amount;
        // Exact: each quantity's share of the period at the price per seat.
        let exact = d(0);
        let since = 0;
        for (const [ms, next] of sorted) {
          exact = exact.plus(amount.times(quantity).times(ms - since).dividedBy(30 * DAY));
          since = ms;
          if (next !== quantity) billed = billed.plus(sumOf(changeLines(plan, quantity, next, new Date(april.start.getTime() + ms))));
          quantity = next;
        }
        exact = exact.plus(amount.times(quantity).times(30 * DAY - since).dividedBy(30 * DAY));
        expect(billed.minus(exact).abs().lte(d('0.01').times(sorted.length))).toBe(true);
      }),
    );
  });

  it('steps through other quantities at one instant bill exactly what one change to the last quantity bills', () => {
    fc.assert(
      fc.property(price, seats, fc.array(seats, { minLength: 2, maxLength: 6 }), instant, (amount, first, path, ms) => {
        const plan = { ...seat, amount: amount.toFixed(2) };
        const at = new Date(april.start.getTime() + ms);
        const last = path[path.length - 1];
        const direct = first === last ? d(0) : sumOf(changeLines(plan, first, last, at));
        let stepped = d(0);
        let from = first;
        for (const to of path) {
          if (to !== from) stepped = stepped.plus(sumOf(changeLines(plan, from, to, at)));
          from = to;
        }
        expect(stepped.toFixed(2)).toBe(direct.toFixed(2));
      }),
    );
  });

  it('the fee spec of one seat at list price carries no seat terms, as fee specs did before seats', () => {
    expect(feeSpec('plan_x', april, april.start, april.end, false, feePrice(1, null))).toEqual({
      planId: 'plan_x',
      period: { start: '2027-04-01T00:00:00.000Z', end: '2027-05-01T00:00:00.000Z' },
      from: '2027-04-01T00:00:00.000Z',
      to: '2027-05-01T00:00:00.000Z',
      credit: false,
    });
  });
});
