import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { churnByMonth, type ChurnMonth } from '../../domain/churn';
import { monthEnd } from '../../domain/months';
import { mrrByMonth, type MrrLine, type MrrMonth } from '../../domain/mrr';
import type { Interval } from '../../domain/period';

export interface ReportRange {
  /** Null: every currency, each reported on its own. */
  currency: string | null;
  from: string;
  to: string;
}

export interface CurrencyMrr {
  currency: string;
  months: MrrMonth[];
  /** Fee lines without a stored price (from before prices were stored, no plan matched): left out. */
  unpricedFeeLines: number;
}

interface FeeLineRow {
  customer_id: string;
  currency: string;
  period_start: Date;
  period_end: Date;
  canceled_at: Date | null;
  amount: string;
  tax_amount: string;
  discount_amount: string;
  price_amount: string;
  price_interval: Interval;
  price_interval_count: number;
  taxes: Array<{ inclusive: boolean }>;
  discounts: Array<{ applied_coupon_id: string; amount: string }>;
  discount_total: string;
}

/**
 * The fee lines of invoices neither void nor draft (a draft bills nothing yet), up to the range's last month end: all of them, since whether a
 * customer had MRR before the range decides new against reactivation.
 */
async function feeLines(em: EntityManager, range: ReportRange): Promise<Array<MrrLine & { currency: string }>> {
  const rows = await em.execute<FeeLineRow[]>(
    `select i.customer_id, i.currency, l.period_start, l.period_end, s.canceled_at, l.amount::text, l.tax_amount::text, l.discount_amount::text,
            l.price_amount::text, l.price_interval, l.price_interval_count, i.taxes, i.discounts, i.discount_total::text
       from invoice_lines l
       join invoices i on i.id = l.invoice_id
       left join subscriptions s on s.id = i.subscription_id
      where l.kind = 'fee' and l.price_amount is not null and i.status not in ('void', 'draft')
        and l.period_start <= ? and (?::text is null or i.currency = ?)`,
    [monthEnd(range.to), range.currency, range.currency],
  );
  const forever = await foreverCoupons(em, [...new Set(rows.flatMap((r) => r.discounts.map((d) => d.applied_coupon_id)))]);
  return rows.map((r) => {
    const discountTotal = new Decimal(r.discount_total);
    const foreverPart = r.discounts.filter((d) => forever.has(d.applied_coupon_id)).reduce((t, d) => t.plus(d.amount), new Decimal(0));
    // The invoice names each coupon's total, the line its total discount: a forever coupon's share of
    // the line's discount is its share of the invoice's.
    const foreverDiscount = discountTotal.isZero() ? new Decimal(0) : new Decimal(r.discount_amount).times(foreverPart).div(discountTotal);
    return {
      customerId: r.customer_id,
      currency: r.currency.trim(),
      periodStart: new Date(r.period_start),
      periodEnd: new Date(r.period_end),
      endsAt: r.canceled_at ? new Date(r.canceled_at) : null,
      amount: new Decimal(r.amount),
      price: { amount: new Decimal(r.price_amount), interval: r.price_interval, intervalCount: r.price_interval_count },
      includedTax: r.taxes.some((t) => t.inclusive) ? new Decimal(r.tax_amount) : new Decimal(0),
      foreverDiscount,
    };
  });
}

async function foreverCoupons(em: EntityManager, appliedCouponIds: string[]): Promise<Set<string>> {
  if (appliedCouponIds.length === 0) return new Set();
  const rows = await em.execute<Array<{ id: string }>>(
    `select a.id from applied_coupons a join coupons c on c.id = a.coupon_id where c.duration = 'forever' and a.id in (${appliedCouponIds.map(() => '?').join(', ')})`,
    appliedCouponIds,
  );
  return new Set(rows.map((r) => r.id));
}

async function unpricedFeeLines(em: EntityManager, range: ReportRange): Promise<Map<string, number>> {
  const rows = await em.execute<Array<{ currency: string; count: number }>>(
    `select i.currency, count(*)::int as count
       from invoice_lines l join invoices i on i.id = l.invoice_id
      where l.kind = 'fee' and l.price_amount is null and i.status not in ('void', 'draft')
        and l.period_start <= ? and (?::text is null or i.currency = ?)
      group by i.currency`,
    [monthEnd(range.to), range.currency, range.currency],
  );
  return new Map(rows.map((r) => [r.currency.trim(), r.count]));
}

/** MRR at each month end of the range and its movements, per currency (the one asked for, or each one billed). */
export async function mrrReport(em: EntityManager, range: ReportRange): Promise<CurrencyMrr[]> {
  const lines = await feeLines(em, range);
  const unpriced = await unpricedFeeLines(em, range);
  const currencies = range.currency ? [range.currency] : [...new Set([...lines.map((l) => l.currency), ...unpriced.keys()])].sort();
  return currencies.map((currency) => ({
    currency,
    months: mrrByMonth(
      lines.filter((l) => l.currency === currency),
      currency,
      range.from,
      range.to,
    ),
    unpricedFeeLines: unpriced.get(currency) ?? 0,
  }));
}

export interface CurrencyChurn {
  currency: string;
  months: ChurnMonth[];
}

/** Logo and revenue churn of each month of the range, per currency, from the same MRR movements. */
export async function churnReport(em: EntityManager, range: ReportRange): Promise<CurrencyChurn[]> {
  return (await mrrReport(em, range)).map((r) => ({ currency: r.currency, months: churnByMonth(r.months) }));
}
