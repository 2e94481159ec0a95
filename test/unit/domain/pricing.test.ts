import Decimal from 'decimal.js';
import fc from 'fast-check';
import { BillingError } from '../../../domain/errors';
import { assertValidPrice, assertValidTiers, ChargePrice, minimumTrueUp, priceUsage, Tier } from '../../../domain/pricing';
import { currencyArb, decimalStringArb } from './arbitraries';

const d = (text: string): Decimal => new Decimal(text);

const tier = (upTo: string | null, unitAmount: string, flatAmount = '0'): Tier => ({
  upTo: upTo === null ? null : d(upTo),
  unitAmount: d(unitAmount),
  flatAmount: d(flatAmount),
});

/** The charge for `quantity` units of usage over `events` events, as the invoice would show it. */
function charge(price: ChargePrice, quantity: string, currency = 'USD', events = 1) {
  return priceUsage(price, { quantity: d(quantity), eventCount: events }, currency);
}

/** The error `fn` throws, so its code and param can be checked. */
function errorOf(fn: () => void): BillingError {
  try {
    fn();
  } catch (error) {
    if (error instanceof BillingError) return error;
    throw error;
  }
  throw new Error('expected a BillingError, nothing was thrown');
}

describe('standard: a price per unit, rounded once at the line', () => {
  const perCall: ChargePrice = { model: 'standard', unitAmount: d('0.0015') };

  it('1000 API calls at 0.0015 USD are 1.50 USD', () => {
    // 1000 x 0.0015 = 1.5
    const line = charge(perCall, '1000');
    expect(line.amount.toFixed(2)).toBe('1.50');
    expect(line.unitAmount?.toFixed()).toBe('0.0015');
    expect(line.quantity.toFixed()).toBe('1000');
    expect(line.tiers).toEqual([]);
  });

  it('the unit price is not rounded to a cent first: 1001 calls are 1.50 USD, not 0.00 (1001 x 0.00) nor 2.002', () => {
    // 1001 x 0.0015 = 1.5015 -> 1.50
    expect(charge(perCall, '1001').amount.toFixed(2)).toBe('1.50');
  });

  it('a half cent rounds away from zero: 30 calls are 0.045 -> 0.05 USD (half-even would give 0.04)', () => {
    // 30 x 0.0015 = 0.045
    expect(charge(perCall, '30').amount.toFixed(2)).toBe('0.05');
  });

  it('just under half a cent rounds down: 3 calls are 0.0045 -> 0.00 USD, and 333 calls 0.4995 -> 0.50 USD', () => {
    // 3 x 0.0015 = 0.0045; 333 x 0.0015 = 0.4995
    expect(charge(perCall, '3').amount.toFixed(2)).toBe('0.00');
    expect(charge(perCall, '333').amount.toFixed(2)).toBe('0.50');
  });

  it('the amount has exactly the currency decimals, nothing more', () => {
    // 7 x 0.0015 = 0.0105 -> 0.01
    expect(charge(perCall, '7').amount.toFixed()).toBe('0.01');
  });

  it('fractional quantities (gigabytes) are priced exactly: 2.5 GB at 0.09 USD is 0.225 -> 0.23 USD', () => {
    expect(charge({ model: 'standard', unitAmount: d('0.09') }, '2.5').amount.toFixed(2)).toBe('0.23');
  });

  it('JPY has no minor unit: 12345 calls at 0.5 JPY are 6172.5 -> 6173 JPY', () => {
    const amount = charge({ model: 'standard', unitAmount: d('0.5') }, '12345', 'JPY').amount;
    expect(amount.toFixed()).toBe('6173');
  });

  it('KWD keeps three decimals: 1234 calls at 0.0125 KWD are exactly 15.425 KWD', () => {
    // 1234 x 0.0125 = 15.425, already three decimals
    expect(charge({ model: 'standard', unitAmount: d('0.0125') }, '1234', 'KWD').amount.toFixed()).toBe('15.425');
  });

  it('KWD rounds at its third decimal: 1 call at 0.0005 KWD is 0.001 KWD', () => {
    expect(charge({ model: 'standard', unitAmount: d('0.0005') }, '1', 'KWD').amount.toFixed(3)).toBe('0.001');
  });

  it('no usage costs nothing', () => {
    expect(charge(perCall, '0').amount.isZero()).toBe(true);
  });

  it('a negative quantity is refused', () => {
    expect(() => charge(perCall, '-1')).toThrow(RangeError);
  });
});

describe('graduated: each tier prices the units that fall in it, plus its flat amount once entered', () => {
  // 1-100 at 0.10 + 5.00 flat, 101-1000 at 0.08 + 2.00 flat, above 1000 at 0.05 + 1.00 flat.
  const price: ChargePrice = {
    model: 'graduated',
    tiers: [tier('100', '0.10', '5.00'), tier('1000', '0.08', '2.00'), tier(null, '0.05', '1.00')],
  };

  it('1500 units cross all three tiers: 15.00 + 74.00 + 26.00 = 115.00 USD', () => {
    // tier 1: 100 x 0.10 + 5.00 = 15.00
    // tier 2: 900 x 0.08 + 2.00 = 74.00
    // tier 3: 500 x 0.05 + 1.00 = 26.00
    const line = charge(price, '1500');
    expect(line.amount.toFixed(2)).toBe('115.00');
    expect(line.unitAmount).toBeNull();
    expect(line.tiers.map((t) => [t.from.toFixed(), t.upTo?.toFixed() ?? null, t.units.toFixed(), t.amount.toFixed(2)])).toEqual([
      ['0', '100', '100', '15.00'],
      ['100', '1000', '900', '74.00'],
      ['1000', null, '500', '26.00'],
    ]);
  });

  it('exactly 100 units stay in the first tier: 100 x 0.10 + 5.00 = 15.00 USD, the second flat fee is not charged', () => {
    const line = charge(price, '100');
    expect(line.amount.toFixed(2)).toBe('15.00');
    expect(line.tiers).toHaveLength(1);
  });

  it('the 101st unit enters the second tier and its flat fee: 15.00 + 1 x 0.08 + 2.00 = 17.08 USD', () => {
    expect(charge(price, '101').amount.toFixed(2)).toBe('17.08');
  });

  it('no usage enters no tier and costs nothing, not even the first flat fee', () => {
    const line = charge(price, '0');
    expect(line.amount.toFixed(2)).toBe('0.00');
    expect(line.tiers).toEqual([]);
  });

  it('the parts are exact and only the line is rounded: 3 units at 0.0015 then 0.001 are 0.0035 -> 0.00 USD', () => {
    const fine: ChargePrice = { model: 'graduated', tiers: [tier('2', '0.0015'), tier(null, '0.001')] };
    // 2 x 0.0015 + 1 x 0.001 = 0.004 -> 0.00; each part kept exact
    const line = charge(fine, '3');
    expect(line.tiers.map((t) => t.amount.toFixed())).toEqual(['0.003', '0.001']);
    expect(line.amount.toFixed(2)).toBe('0.00');
    // 4 units: 0.003 + 2 x 0.001 = 0.005 -> 0.01 (half away from zero)
    expect(charge(fine, '4').amount.toFixed(2)).toBe('0.01');
  });

  it('in JPY: 1500 units at 2 JPY for the first 1000 and 1.5 JPY above are 2000 + 750 = 2750 JPY', () => {
    const yen: ChargePrice = { model: 'graduated', tiers: [tier('1000', '2'), tier(null, '1.5')] };
    expect(charge(yen, '1500', 'JPY').amount.toFixed()).toBe('2750');
  });
});

describe('volume: the tier the whole quantity reaches prices every unit', () => {
  // up to 100 at 1.00, up to 1000 at 0.80 + 10.00 flat, above at 0.50 + 20.00 flat
  const price: ChargePrice = {
    model: 'volume',
    tiers: [tier('100', '1.00'), tier('1000', '0.80', '10.00'), tier(null, '0.50', '20.00')],
  };

  it('a quantity exactly at a bound belongs to the lower tier: 100 units are 100 x 1.00 = 100.00 USD', () => {
    const line = charge(price, '100');
    expect(line.amount.toFixed(2)).toBe('100.00');
    expect(line.unitAmount?.toFixed(2)).toBe('1.00');
  });

  it('one unit above the bound moves every unit to the next tier: 101 x 0.80 + 10.00 = 90.80 USD', () => {
    const line = charge(price, '101');
    expect(line.amount.toFixed(2)).toBe('90.80');
    expect(line.unitAmount?.toFixed(2)).toBe('0.80');
    expect(line.tiers.map((t) => [t.from.toFixed(), t.upTo?.toFixed(), t.units.toFixed()])).toEqual([['100', '1000', '101']]);
  });

  it('a fractional quantity just above a bound is in the upper tier: 100.5 x 0.80 + 10.00 = 90.40 USD', () => {
    expect(charge(price, '100.5').amount.toFixed(2)).toBe('90.40');
  });

  it('at the second bound and above it: 1000 x 0.80 + 10.00 = 810.00, 1001 x 0.50 + 20.00 = 520.50 USD', () => {
    expect(charge(price, '1000').amount.toFixed(2)).toBe('810.00');
    expect(charge(price, '1001').amount.toFixed(2)).toBe('520.50');
  });

  it('no usage costs nothing', () => {
    expect(charge(price, '0').amount.toFixed(2)).toBe('0.00');
  });
});

describe('package: a price per started package of units, after free units', () => {
  // 5.00 USD per 100 units, the first 50 free
  const price: ChargePrice = { model: 'package', packageSize: d('100'), amount: d('5.00'), freeUnits: d('50') };

  it('1000 units: 950 billable make 9.5 packages, a started package is paid in full: 10 x 5.00 = 50.00 USD', () => {
    // ceil((1000 - 50) / 100) = ceil(9.5) = 10
    const line = charge(price, '1000');
    expect(line.amount.toFixed(2)).toBe('50.00');
    expect(line.unitAmount).toBeNull();
  });

  it('usage within the free units costs nothing: 50 units are 0.00 USD', () => {
    expect(charge(price, '50').amount.toFixed(2)).toBe('0.00');
    expect(charge(price, '0').amount.toFixed(2)).toBe('0.00');
  });

  it('the first unit past the free ones starts a package: 51 units are 5.00 USD', () => {
    expect(charge(price, '51').amount.toFixed(2)).toBe('5.00');
  });

  it('exactly one full package is one package, the next unit starts a second: 150 -> 5.00, 151 -> 10.00 USD', () => {
    // (150 - 50) / 100 = 1; ceil((151 - 50) / 100) = 2
    expect(charge(price, '150').amount.toFixed(2)).toBe('5.00');
    expect(charge(price, '151').amount.toFixed(2)).toBe('10.00');
  });

  it('a fractional quantity counts its started package: 50.01 units are 5.00 USD', () => {
    expect(charge(price, '50.01').amount.toFixed(2)).toBe('5.00');
  });
});

describe('percentage: a rate of the summed amount above free units, plus a fixed amount per event', () => {
  it('2.5 % of 1250.00 with 100.00 free, plus 0.30 on each of 10 events: 28.75 + 3.00 = 31.75 USD', () => {
    // (1250.00 - 100.00) x 2.5 / 100 = 28.75; 10 x 0.30 = 3.00
    const price: ChargePrice = { model: 'percentage', rate: d('2.5'), freeUnits: d('100'), fixedAmount: d('0.30') };
    const line = charge(price, '1250.00', 'USD', 10);
    expect(line.amount.toFixed(2)).toBe('31.75');
    expect(line.unitAmount).toBeNull();
  });

  it('usage inside the free amount still pays the per-event fee: 80.00 with 100.00 free over 4 events is 4 x 0.30 = 1.20 USD', () => {
    const price: ChargePrice = { model: 'percentage', rate: d('2.5'), freeUnits: d('100'), fixedAmount: d('0.30') };
    expect(charge(price, '80.00', 'USD', 4).amount.toFixed(2)).toBe('1.20');
  });

  it('the rate is applied exactly and rounded once: 1.9 % of 333.33 is 6.33327 -> 6.33 USD', () => {
    const price: ChargePrice = { model: 'percentage', rate: d('1.9'), freeUnits: d('0'), fixedAmount: d('0') };
    expect(charge(price, '333.33', 'USD', 3).amount.toFixed(2)).toBe('6.33');
  });

  it('half a cent rounds up: 2.5 % of 0.20 is 0.005 -> 0.01 USD', () => {
    const price: ChargePrice = { model: 'percentage', rate: d('2.5'), freeUnits: d('0'), fixedAmount: d('0') };
    expect(charge(price, '0.20').amount.toFixed(2)).toBe('0.01');
  });

  it('the per-event fee and the rate add before rounding: 1.5 % of 10.00 plus 3 x 0.001 is 0.153 -> 0.15 USD', () => {
    // 10.00 x 1.5 / 100 = 0.15; 3 x 0.001 = 0.003; 0.153 -> 0.15
    const price: ChargePrice = { model: 'percentage', rate: d('1.5'), freeUnits: d('0'), fixedAmount: d('0.001') };
    expect(charge(price, '10.00', 'USD', 3).amount.toFixed(2)).toBe('0.15');
  });

  it('in JPY: 3.6 % of 10,000 JPY plus 30 JPY on each of 2 events is 360 + 60 = 420 JPY', () => {
    const price: ChargePrice = { model: 'percentage', rate: d('3.6'), freeUnits: d('0'), fixedAmount: d('30') };
    expect(charge(price, '10000', 'JPY', 2).amount.toFixed()).toBe('420');
  });

  it('in KWD: 2.5 % of 12.345 KWD is 0.308625 -> 0.309 KWD', () => {
    const price: ChargePrice = { model: 'percentage', rate: d('2.5'), freeUnits: d('0'), fixedAmount: d('0') };
    expect(charge(price, '12.345', 'KWD').amount.toFixed()).toBe('0.309');
  });
});

describe('minimumTrueUp: a minimum commitment completes usage that falls short of it', () => {
  it('usage of 62.50 against a 100.00 minimum adds a true-up of 100.00 - 62.50 = 37.50', () => {
    expect(minimumTrueUp(d('100.00'), d('62.50')).toFixed(2)).toBe('37.50');
  });

  it('no usage at all is trued up to the whole minimum', () => {
    expect(minimumTrueUp(d('100.00'), d('0')).toFixed(2)).toBe('100.00');
  });

  it('usage that reaches the minimum exactly adds nothing', () => {
    expect(minimumTrueUp(d('100.00'), d('100.00')).isZero()).toBe(true);
  });

  it('usage above the minimum adds nothing (no negative true-up)', () => {
    expect(minimumTrueUp(d('100.00'), d('130.25')).isZero()).toBe(true);
  });

  it('a charge without a minimum adds nothing', () => {
    expect(minimumTrueUp(null, d('12.00')).isZero()).toBe(true);
  });
});

describe('assertValidTiers: tiers cover every quantity exactly once', () => {
  it('accepts increasing bounds ending with an unbounded tier', () => {
    expect(() => assertValidTiers([tier('100', '1'), tier('1000', '0.8'), tier(null, '0.5')], 'tiers')).not.toThrow();
    expect(() => assertValidTiers([tier(null, '0.5')], 'tiers')).not.toThrow();
  });

  it('refuses no tiers at all', () => {
    expect(errorOf(() => assertValidTiers([], 'tiers'))).toMatchObject({ code: 'parameter_invalid', param: 'tiers' });
  });

  it('refuses a last tier with a bound, since quantities above it would have no price', () => {
    expect(errorOf(() => assertValidTiers([tier('100', '1'), tier('1000', '0.8')], 'tiers'))).toMatchObject({
      type: 'invalid_request_error',
      code: 'parameter_invalid',
      param: 'tiers.1.up_to',
    });
  });

  it('refuses an unbounded tier before the last one', () => {
    expect(errorOf(() => assertValidTiers([tier(null, '1'), tier(null, '0.8')], 'tiers')).param).toBe('tiers.0.up_to');
  });

  it('refuses a bound equal to the previous one (an empty tier) and a decreasing bound (an overlap)', () => {
    expect(errorOf(() => assertValidTiers([tier('100', '1'), tier('100', '0.8'), tier(null, '0.5')], 'tiers')).param).toBe('tiers.1.up_to');
    expect(errorOf(() => assertValidTiers([tier('100', '1'), tier('50', '0.8'), tier(null, '0.5')], 'tiers')).param).toBe('tiers.1.up_to');
  });

  it('refuses a first bound of zero, which would be a tier of no units', () => {
    expect(errorOf(() => assertValidTiers([tier('0', '1'), tier(null, '0.5')], 'tiers')).param).toBe('tiers.0.up_to');
  });
});

describe('assertValidPrice', () => {
  it('checks graduated and volume tiers under "<param>.tiers"', () => {
    const bad: ChargePrice = { model: 'volume', tiers: [tier('10', '1')] };
    expect(errorOf(() => assertValidPrice(bad, 'charges.0')).param).toBe('charges.0.tiers.0.up_to');
  });

  it.each(['0', '2.5', '-1'])('refuses a package size of %s units', (size) => {
    const price: ChargePrice = { model: 'package', packageSize: d(size), amount: d('5'), freeUnits: d('0') };
    expect(errorOf(() => assertValidPrice(price, 'charges.0')).param).toBe('charges.0.package_size');
  });

  it('accepts a package of one unit', () => {
    expect(() => assertValidPrice({ model: 'package', packageSize: d('1'), amount: d('5'), freeUnits: d('0') }, 'charges.0')).not.toThrow();
  });

  it.each(['100.01', '-0.5'])('refuses a percentage rate of %s, outside 0 to 100', (rate) => {
    const price: ChargePrice = { model: 'percentage', rate: d(rate), freeUnits: d('0'), fixedAmount: d('0') };
    expect(errorOf(() => assertValidPrice(price, 'charges.0')).param).toBe('charges.0.rate');
  });

  it.each(['0', '100', '2.5'])('accepts a percentage rate of %s', (rate) => {
    const price: ChargePrice = { model: 'percentage', rate: d(rate), freeUnits: d('0'), fixedAmount: d('0') };
    expect(() => assertValidPrice(price, 'charges.0')).not.toThrow();
  });
});

/** Strictly increasing positive bounds, as decimal strings. */
const increasingBoundsArb = fc
  .uniqueArray(fc.bigInt({ min: 1n, max: 10n ** 9n }), { minLength: 1, maxLength: 6 })
  .chain((raw) => fc.record({ raw: fc.constant([...raw].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))), scale: fc.integer({ min: 0, max: 4 }) }))
  .map(({ raw, scale }) => raw.map((units) => new Decimal(units.toString()).dividedBy(new Decimal(10).pow(scale))));

const amountArb = decimalStringArb({ nonNegative: true, maxMagnitude: 10n ** 9n }).map(d);

const tiersFrom = (bounds: Array<Decimal | null>, amounts: Decimal[]): Tier[] =>
  bounds.map((upTo, i) => ({ upTo, unitAmount: amounts[i % amounts.length], flatAmount: amounts[(i + 1) % amounts.length] }));

describe('tier properties', () => {
  it('tiers made from any strictly increasing bounds, then an unbounded tier, are valid', () => {
    fc.assert(
      fc.property(increasingBoundsArb, fc.array(amountArb, { minLength: 1, maxLength: 7 }), (bounds, amounts) => {
        expect(() => assertValidTiers(tiersFrom([...bounds, null], amounts), 'tiers')).not.toThrow();
      }),
    );
  });

  it('the same bounds out of order are refused at the first bound that does not increase', () => {
    const outOfOrder = increasingBoundsArb
      .filter((bounds) => bounds.length >= 2)
      .chain((bounds) => fc.shuffledSubarray(bounds, { minLength: bounds.length, maxLength: bounds.length }))
      .filter((shuffled) => shuffled.some((b, i) => i > 0 && b.lte(shuffled[i - 1])));
    fc.assert(
      fc.property(outOfOrder, (shuffled) => {
        const firstBad = shuffled.findIndex((b, i) => i > 0 && b.lte(shuffled[i - 1]));
        expect(errorOf(() => assertValidTiers(tiersFrom([...shuffled, null], [d('1')]), 'tiers')).param).toBe(`tiers.${firstBad}.up_to`);
      }),
    );
  });

  it('a duplicated bound is refused at its copy', () => {
    const withCopy = increasingBoundsArb.chain((bounds) => fc.record({ bounds: fc.constant(bounds), at: fc.nat({ max: bounds.length - 1 }) }));
    fc.assert(
      fc.property(withCopy, ({ bounds, at }) => {
        const duplicated = [...bounds.slice(0, at + 1), bounds[at], ...bounds.slice(at + 1)];
        expect(errorOf(() => assertValidTiers(tiersFrom([...duplicated, null], [d('1')]), 'tiers')).param).toBe(`tiers.${at + 1}.up_to`);
      }),
    );
  });

  it('an unbounded tier anywhere but last is refused at that tier', () => {
    const withEarlyNull = increasingBoundsArb.chain((bounds) => fc.record({ bounds: fc.constant(bounds), at: fc.nat({ max: bounds.length - 1 }) }));
    fc.assert(
      fc.property(withEarlyNull, ({ bounds, at }) => {
        const tiers = tiersFrom([...bounds.map((b, i) => (i === at ? null : b)), null], [d('1')]);
        expect(errorOf(() => assertValidTiers(tiers, 'tiers')).param).toBe(`tiers.${at}.up_to`);
      }),
    );
  });

  it('graduated amounts never decrease as quantity grows, and the tier parts add up to the quantity', () => {
    const quantityArb = decimalStringArb({ nonNegative: true, maxMagnitude: 10n ** 13n }).map(d);
    fc.assert(
      fc.property(
        increasingBoundsArb,
        fc.array(amountArb, { minLength: 1, maxLength: 7 }),
        quantityArb,
        quantityArb,
        currencyArb,
        (bounds, amounts, a, b, [currency]) => {
          const price: ChargePrice = { model: 'graduated', tiers: tiersFrom([...bounds, null], amounts) };
          const [low, high] = a.lte(b) ? [a, b] : [b, a];
          const lower = priceUsage(price, { quantity: low, eventCount: 1 }, currency);
          const higher = priceUsage(price, { quantity: high, eventCount: 1 }, currency);
          expect(lower.amount.lte(higher.amount)).toBe(true);
          expect(higher.tiers.reduce((units, t) => units.plus(t.units), new Decimal(0)).equals(high)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
