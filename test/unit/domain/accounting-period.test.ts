import { isAccountingPeriod, nextPeriod, periodEnd, periodOf, periodStart, placeInOpenPeriod } from '../../../domain/accounting-period';

describe('accounting periods', () => {
  it('are UTC calendar months', () => {
    expect(periodOf(new Date('2026-06-30T23:59:59.999Z'))).toBe('2026-06');
    expect(periodOf(new Date('2026-07-01T00:00:00.000Z'))).toBe('2026-07');
    expect(periodStart('2026-02')).toEqual(new Date('2026-02-01T00:00:00.000Z'));
    expect(periodEnd('2026-12')).toEqual(new Date('2027-01-01T00:00:00.000Z'));
    expect(nextPeriod('2026-12')).toBe('2027-01');
  });

  it('are named YYYY-MM only', () => {
    expect(isAccountingPeriod('2026-06')).toBe(true);
    for (const bad of ['2026-13', '2026-00', '2026-6', '26-06', '2026-06-01', ' 2026-06']) expect(isAccountingPeriod(bad)).toBe(false);
    expect(() => periodStart('2026-13')).toThrow('"2026-13" is not an accounting period (YYYY-MM)');
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
