/**
 * Reporting months: UTC calendar months written YYYY-MM, as accounting periods are.
 */
export const MONTH_PATTERN = /^\d{4}-(0[1-9]|1[0-2])$/;

/** A report covers at most ten years of months. */
export const MAX_REPORT_MONTHS = 120;

const parts = (month: string): [number, number] => {
  if (!MONTH_PATTERN.test(month)) throw new RangeError(`"${month}" is not a month like 2026-11`);
  return [Number(month.slice(0, 4)), Number(month.slice(5, 7)) - 1];
};

/** The month `n` months after `month` (before, when n < 0). */
export function addMonths(month: string, n: number): string {
  const [year, index] = parts(month);
  const d = new Date(Date.UTC(year, index + n, 1));
  return d.toISOString().slice(0, 7);
}

export const isMonth = (text: string): boolean => MONTH_PATTERN.test(text);

/** The UTC month an instant falls in. */
export const monthOf = (instant: Date): string => instant.toISOString().slice(0, 7);

/** The first instant of the month. */
export function monthStart(month: string): Date {
  const [year, index] = parts(month);
  return new Date(Date.UTC(year, index, 1));
}

/** The first instant after the month: where the next one starts. */
export function nextMonthStart(month: string): Date {
  return monthStart(addMonths(month, 1));
}

/** The last instant of the month (a millisecond before the next one starts): where MRR is read. */
export function monthEnd(month: string): Date {
  return new Date(monthStart(addMonths(month, 1)).getTime() - 1);
}

/** How many months from `from` to `to`, both included (0 when `to` is before `from`). */
export function monthCount(from: string, to: string): number {
  const [fy, fm] = parts(from);
  const [ty, tm] = parts(to);
  return Math.max(0, (ty - fy) * 12 + (tm - fm) + 1);
}

/** Every month from `from` to `to`, both included. */
export function monthsBetween(from: string, to: string): string[] {
  return Array.from({ length: monthCount(from, to) }, (_, i) => addMonths(from, i));
}
