import Decimal from 'decimal.js';

/** Stripe's ageing buckets: not yet due, then by whole days past the due date. */
export const AGING_BUCKETS = ['not_yet_due', 'days_1_30', 'days_31_60', 'days_61_90', 'days_91_120', 'days_over_120'] as const;
export type AgingBucket = (typeof AGING_BUCKETS)[number];

const DAY_MS = 86_400_000;

/**
 * Days past due, counted as started days: due at noon and read at 13:00 the same day is 1 day past
 * due, exactly 30 days later is still 30, a millisecond more is 31. Not yet due: at or before due_at.
 */
export function daysPastDue(dueAt: Date, asOf: Date): number {
  return Math.max(0, Math.ceil((asOf.getTime() - dueAt.getTime()) / DAY_MS));
}

export function agingBucket(dueAt: Date, asOf: Date): AgingBucket {
  const days = daysPastDue(dueAt, asOf);
  if (days === 0) return 'not_yet_due';
  if (days <= 30) return 'days_1_30';
  if (days <= 60) return 'days_31_60';
  if (days <= 90) return 'days_61_90';
  if (days <= 120) return 'days_91_120';
  return 'days_over_120';
}

export interface Receivable {
  customerId: string;
  customerName: string;
  amountDue: Decimal;
  dueAt: Date;
}

export type BucketAmounts = Record<AgingBucket, Decimal>;

export interface CustomerAging {
  customerId: string;
  customerName: string;
  buckets: BucketAmounts;
  total: Decimal;
}

const emptyBuckets = (): BucketAmounts => Object.fromEntries(AGING_BUCKETS.map((b) => [b, new Decimal(0)])) as BucketAmounts;

/** Open receivables of one currency by customer and bucket, customers by name then id, with totals. */
export function agingOf(receivables: readonly Receivable[], asOf: Date): { customers: CustomerAging[]; totals: BucketAmounts; total: Decimal } {
  const byCustomer = new Map<string, CustomerAging>();
  const totals = emptyBuckets();
  for (const r of receivables) {
    const row = byCustomer.get(r.customerId) ?? { customerId: r.customerId, customerName: r.customerName, buckets: emptyBuckets(), total: new Decimal(0) };
    const bucket = agingBucket(r.dueAt, asOf);
    row.buckets[bucket] = row.buckets[bucket].plus(r.amountDue);
    row.total = row.total.plus(r.amountDue);
    totals[bucket] = totals[bucket].plus(r.amountDue);
    byCustomer.set(r.customerId, row);
  }
  const customers = [...byCustomer.values()].sort((a, b) => (a.customerName < b.customerName ? -1 : a.customerName > b.customerName ? 1 : a.customerId < b.customerId ? -1 : 1));
  return { customers, totals, total: AGING_BUCKETS.reduce((t, b) => t.plus(totals[b]), new Decimal(0)) };
}
