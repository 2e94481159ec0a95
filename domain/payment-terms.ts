import type Decimal from 'decimal.js';
import { addDays } from './period';

/** Net terms run from 0 (due on issue) to a year. */
export const MAX_NET_TERMS_DAYS = 365;

/** When an invoice issued at `issuedAt` on `days` days' terms is due: whole UTC days after issue. */
export function dueOnTerms(issuedAt: Date, days: number): { daysUntilDue: number; dueAt: Date } {
  if (!Number.isInteger(days) || days < 0 || days > MAX_NET_TERMS_DAYS) throw new RangeError(`net terms must be a whole number of days from 0 to ${MAX_NET_TERMS_DAYS}, got ${days}`);
  return { daysUntilDue: days, dueAt: addDays(issuedAt, days) };
}

/** Overdue: still open with something to pay, and its due instant has passed. */
export function isOverdue(invoice: { status: string; amountDue: Decimal; dueAt: Date }, now: Date): boolean {
  return invoice.status === 'open' && invoice.amountDue.gt(0) && now.getTime() > invoice.dueAt.getTime();
}
