import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { agingOf, type BucketAmounts, type CustomerAging } from '../../domain/ar-aging';

export interface CurrencyAging {
  currency: string;
  customers: CustomerAging[];
  totals: BucketAmounts;
  total: Decimal;
}

/**
 * Open receivables (amount due of open invoices issued by `asOf`) by customer in Stripe's buckets of
 * days past due at `asOf`. What is open is what is open now: `asOf` moves the clock the invoices
 * age by, it does not undo payments made since.
 */
export async function arAgingReport(em: EntityManager, request: { currency: string | null; asOf: Date }): Promise<CurrencyAging[]> {
  const rows = await em.execute<Array<{ customer_id: string; name: string; currency: string; amount_due: string; due_at: Date }>>(
    `select i.customer_id, c.name, i.currency, i.amount_due::text, i.due_at
       from invoices i join customers c on c.id = i.customer_id
      where i.status = 'open' and i.amount_due > 0 and i.issued_at <= ? and (?::text is null or i.currency = ?)`,
    [request.asOf, request.currency, request.currency],
  );
  const currencies = request.currency ? [request.currency] : [...new Set(rows.map((r) => r.currency.trim()))].sort();
  return currencies.map((currency) => ({
    currency,
    ...agingOf(
      rows
        .filter((r) => r.currency.trim() === currency)
        .map((r) => ({ customerId: r.customer_id, customerName: r.name, amountDue: new Decimal(r.amount_due), dueAt: new Date(r.due_at) })),
      request.asOf,
    ),
  }));
}
