import { placeInOpenPeriod } from '../../../domain/accounting-period';
import { addMonths, isMonth, monthOf, monthStart, nextMonthStart } from '../../../domain/months';

describe('accounting periods', () => {
  it('are UTC calendar months', () => {
    expect(monthOf(new Date('2026-06-30T23:59:59.999Z'))).toBe('2026-06');
    expect(monthOf(new Date('2026-07-01T00:00:00.000Z'))).toBe('2026-07');
    expect(monthStart('2026-02')).toEqual(new Date('2026-02-01T00:00:00.000Z'));
    expect(nextMonthStart('2026-12')).toEqual(new Date('2027-01-01T00:00:00.000Z'));
    expect(addMonths('2026-12', 1)).toBe('2027-01');
  });

  it('are named YYYY-MM only', () => {
    expect(isMonth('2026-06')).toBe(true);
    for (const bad of ['2026-13', '2026-00', '2026-6', '26-06', '2026-06-01', ' 2026-06']) expect(isMonth(bad)).toBe(false);
    expect(() => monthStart('2026-13')).toThrow('"2026-13" is not a month like 2026-11');
  });

  it('a posting dated in an open month posts as dated', () => {
    const at = new Date('2026-06-15T10:00:00Z');
    expect(placeInOpenPeriod(at, new Set(['2026-05', '2026-07']))).toEqual({ effectiveAt: at, datedAt: null, descriptionSuffix: '' });
  });

  it('a correction dated in a closed month posts at the start of the first open month after it, and says so', () => {
    const at = new Date('2026-05-20T08:30:00Z');
    expect(placeInOpenPeriod(at, new Set(['2026-05', '2026-06']))).toEqual({
      effectiveAt: new Date('2026-07-01T00:00:00.000Z'),
      datedAt: at,
      descriptionSuffix: ' (dated 2026-05-20, in closed period 2026-05)',
    });
  });
});
