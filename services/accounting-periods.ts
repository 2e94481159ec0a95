import type { EntityManager } from '@mikro-orm/postgresql';
import { closedPeriods, closePeriod, type ClosedPeriod } from '../db/accounting-period-store';
import { isMonth, monthOf, nextMonthStart } from '../domain/months';
import { BillingError } from '../domain/errors';

export interface AccountingPeriodView {
  period: string;
  status: 'open' | 'closed';
  closedAt: Date | null;
}

const view = (p: ClosedPeriod): AccountingPeriodView => ({ period: p.period, status: 'closed', closedAt: p.closedAt });

function checkedPeriod(period: string): string {
  if (!isMonth(period)) {
    throw new BillingError('invalid_request_error', 'parameter_invalid', `Invalid period: "${period}" is not a month written YYYY-MM, such as "2026-06"`, 'period');
  }
  return period;
}

/**
 * Closes a month that has ended; closing it again answers the first close. Nothing posts into it
 * afterwards: corrections dated in it post at the start of the first open month.
 */
export async function closeAccountingPeriod(em: EntityManager, period: string, by: { role: string; keyId: string }, now = new Date()): Promise<AccountingPeriodView> {
  checkedPeriod(period);
  if (nextMonthStart(period) > now) {
    throw new BillingError('invalid_request_error', 'period_not_ended', `Period ${period} has not ended yet (it ends ${nextMonthStart(period).toISOString()}); only a past month can be closed`, 'period');
  }
  return view(await closePeriod(em, period, by, now));
}

/** The closed months, oldest first, then the current month (open). */
export async function listAccountingPeriods(em: EntityManager, now = new Date()): Promise<AccountingPeriodView[]> {
  const closed = (await closedPeriods(em)).map(view);
  const current = monthOf(now);
  return closed.some((p) => p.period === current) ? closed : [...closed, { period: current, status: 'open', closedAt: null }];
}
