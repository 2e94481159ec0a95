import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { BillingError } from '../domain/errors';
import { lineRevenue, type InvoiceDraft } from '../domain/invoice';
import { revenueRecognised } from '../domain/ledger';
import {
  completedPeriods,
  recognisedThrough,
  recognitionPeriodOf,
  type RecognitionMethod,
  type RecognitionPeriod,
} from '../domain/revenue-recognition';
import type { Invoice, InvoiceLine } from './entities/invoice';
import { RevenueObligation, RevenueRecognitionPeriod } from './entities/revenue';
import { newId } from './ids';
import { postTransaction } from './ledger-store';

/**
 * One obligation per fee line of a new invoice, in the invoice's transaction: the line's revenue
 * (net of included tax) and discount, to be recognised over its service period. A line of nothing
 * (a $0 plan) is recognised from the start.
 */
export function createObligations(tx: EntityManager, invoice: Invoice, lines: readonly InvoiceLine[], draft: Pick<InvoiceDraft, 'taxes'>): void {
  for (const line of lines) {
    if (line.kind !== 'fee') continue;
    const revenue = lineRevenue(draft, line);
    const nothing = revenue.isZero() && line.discountAmount.isZero();
    tx.create(RevenueObligation, {
      id: newId('rob'),
      invoiceLineId: line.id,
      invoiceId: invoice.id,
      customerId: invoice.customerId,
      currency: invoice.currency,
      serviceStart: line.periodStart,
      serviceEnd: line.periodEnd,
      issuedAt: invoice.issuedAt,
      revenue,
      discount: line.discountAmount,
      recognizedRevenue: new Decimal(0),
      recognizedDiscount: new Decimal(0),
      recognizedThrough: null,
      completedAt: nothing ? invoice.issuedAt : null,
      createdAt: new Date(),
    });
  }
}

/**
 * The recognition periods still to post, oldest first, up to `through` (completed periods only), at
 * most `limit`. They follow the last period posted; before any was posted, they start with the
 * period in which the earliest open obligation was issued.
 */
export async function periodsToRecognise(em: EntityManager, method: RecognitionMethod, through: Date, limit: number): Promise<RecognitionPeriod[]> {
  const [last] = await em.find(RevenueRecognitionPeriod, {}, { orderBy: { periodEnd: 'desc' }, limit: 1 });
  let from = last?.periodEnd ?? null;
  if (!from) {
    const [earliest] = await em.find(RevenueObligation, { completedAt: null, voidedAt: null }, { orderBy: { issuedAt: 'asc' }, limit: 1 });
    if (!earliest) return [];
    from = earliest.issuedAt;
  }
  return completedPeriods(method, from, through, limit);
}

export interface PeriodRecognition {
  period: string;
  /** The period had been posted before: nothing was done. */
  skipped: boolean;
  /** Open obligations looked at, and the ledger transactions posted (one per currency with something due). */
  obligations: number;
  transactions: number;
}

/** `due` moved no further from zero than `so far`: the period recognises nothing of it (see recognisePeriod). */
const behind = (due: Decimal, soFar: Decimal): boolean => due.abs().lt(soFar.abs());

/**
 * Posts one recognition period in one database transaction: the period is claimed (a concurrent or
 * repeated run of it finds it claimed and posts nothing), the open obligations issued before its end
 * are locked, each one's share due through the period's end less what was recognised is summed per
 * currency and posted as one balanced transaction per currency, and the obligations move on.
 * Obligations issued late (dated in a period already posted) catch up here, in full. An obligation
 * whose schedule is behind what it already recognised (the method was changed) recognises nothing
 * until its schedule catches up: revenue is never un-recognised.
 */
export async function recognisePeriod(em: EntityManager, method: RecognitionMethod, period: RecognitionPeriod): Promise<PeriodRecognition> {
  if (recognitionPeriodOf(method, period.start).key !== period.key) throw new RangeError(`${period.key} is not a ${method} recognition period`);
  return em.fork().transactional(async (tx) => {
    const claimed = await tx.execute<Array<{ period: string }>>(
      `insert into revenue_recognition_periods (period, method, period_start, period_end, obligations, transactions)
       values (?, ?, ?, ?, 0, 0) on conflict (period) do nothing returning period`,
      [period.key, method, period.start, period.end],
    );
    if (claimed.length === 0) return { period: period.key, skipped: true, obligations: 0, transactions: 0 };
    const open = await tx.find(
      RevenueObligation,
      { completedAt: null, voidedAt: null, issuedAt: { $lt: period.end } },
      { lockMode: LockMode.PESSIMISTIC_WRITE, orderBy: { id: 'asc' } },
    );
    const dueByCurrency = new Map<string, { revenue: Decimal; discount: Decimal }>();
    for (const o of open) {
      if (o.recognizedThrough && o.recognizedThrough >= period.end) continue;
      if (behind(o.revenue, o.recognizedRevenue) || behind(o.discount, o.recognizedDiscount)) {
        throw new BillingError('state_error', 'revenue_obligation_inconsistent', `revenue obligation ${o.id} (invoice ${o.invoiceId}) has recognised more than its amount: ${o.recognizedRevenue} of ${o.revenue}, discount ${o.recognizedDiscount} of ${o.discount}`);
      }
      const due = recognisedThrough(o, method, period.end);
      const revenue = behind(due.revenue, o.recognizedRevenue) ? o.recognizedRevenue : due.revenue;
      const discount = behind(due.discount, o.recognizedDiscount) ? o.recognizedDiscount : due.discount;
      const sums = dueByCurrency.get(o.currency) ?? { revenue: new Decimal(0), discount: new Decimal(0) };
      sums.revenue = sums.revenue.plus(revenue.minus(o.recognizedRevenue));
      sums.discount = sums.discount.plus(discount.minus(o.recognizedDiscount));
      dueByCurrency.set(o.currency, sums);
      o.recognizedRevenue = revenue;
      o.recognizedDiscount = discount;
      o.recognizedThrough = period.end;
      if (revenue.equals(o.revenue) && discount.equals(o.discount)) o.completedAt = period.end;
    }
    await tx.flush();
    let transactions = 0;
    for (const currency of [...dueByCurrency.keys()].sort()) {
      const posting = revenueRecognised(period, currency, dueByCurrency.get(currency)!);
      if (!posting) continue;
      await postTransaction(tx, posting);
      transactions += 1;
    }
    await tx.execute('update revenue_recognition_periods set obligations = ?, transactions = ? where period = ?', [open.length, transactions, period.key]);
    return { period: period.key, skipped: false, obligations: open.length, transactions };
  });
}
