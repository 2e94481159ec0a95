import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type Decimal from 'decimal.js';
import { oneOffLine } from '../domain/add-ons';
import type { FullPeriodPrice, InvoiceLineInput, LineKind } from '../domain/invoice';
import { Invoice, type BillingReason } from './entities/invoice';
import { priceLines, storeIssuedInvoice } from './invoice-store';

export interface OneOffLineRequest {
  kind: LineKind;
  description: string;
  quantity: Decimal;
  unitAmount: Decimal;
  addOnId?: string | null;
}

/**
 * A line already priced by the caller (a recurring add-on's prorated fee or credit, with its service
 * period and full-period price); lines of one-off invoices from the API are `OneOffLineRequest`s.
 */
export interface PricedLine extends InvoiceLineInput {
  price?: FullPeriodPrice;
}

export interface OneOffInvoiceRequest {
  /** Identifies the invoice: a retry with the same key returns the invoice issued, whatever else it says. */
  key: string;
  customerId: string;
  currency: string;
  lines: Array<OneOffLineRequest | PricedLine>;
  /** Charged to the customer's card by its collection workflow (the caller starts it), or left open for a payment by hand. */
  collect: boolean;
  issuedAt: Date;
  /** The subscription the invoice is for, if any (an add-on's invoice); its coupons then apply too. */
  subscriptionId?: string | null;
  /** Default `manual` (Stripe's reason for an invoice made by hand). */
  reason?: BillingReason;
  /** Default true; an add-on's proration shows list prices, as a plan change's does. */
  withCoupons?: boolean;
}

const priced = (line: OneOffLineRequest | PricedLine): line is PricedLine => 'amount' in line;

/**
 * Issues an invoice outside a subscription's billing cycle, in one transaction through the same code
 * as every invoice (db/invoice-store.ts storeIssuedInvoice): the customer's taxes and coupons, the
 * next number of the gapless sequence, the ledger's `invoice:<id>:issued`, customer credit spent
 * first. `tx`: the caller's transaction (its other writes commit with the invoice); otherwise one of
 * its own. Idempotent on `key` (unique): a retry, or a concurrent attempt that lost, returns the
 * invoice issued.
 */
export async function issueOneOffInvoice(em: EntityManager, request: OneOffInvoiceRequest, tx?: EntityManager): Promise<Invoice> {
  if (tx) return (await tx.findOne(Invoice, { oneOffKey: request.key })) ?? issueIn(tx, request);
  const existing = await em.fork().findOne(Invoice, { oneOffKey: request.key });
  if (existing) return existing;
  try {
    return await em.fork().transactional((inner) => issueIn(inner, request));
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) {
      const winner = await em.fork().findOne(Invoice, { oneOffKey: request.key });
      if (winner) return winner;
    }
    throw error;
  }
}

async function issueIn(tx: EntityManager, request: OneOffInvoiceRequest): Promise<Invoice> {
  if (request.lines.length === 0) throw new Error(`one-off invoice ${request.key} has no lines`);
  const lines = request.lines.map((l) => (priced(l) ? l : oneOffLine(l, request.currency, request.issuedAt)));
  const owner = { customerId: request.customerId, subscriptionId: request.subscriptionId ?? null };
  const { draft, appliedCoupons } = await priceLines(tx, owner, request.currency, lines, { withCoupons: request.withCoupons ?? true, lockCoupons: true });
  const starts = Math.min(...lines.map((l) => l.periodStart.getTime()));
  const ends = Math.max(...lines.map((l) => l.periodEnd.getTime()));
  const { invoice } = await storeIssuedInvoice(
    tx,
    {
      ...owner,
      periodIndex: null,
      billingKey: null,
      oneOffKey: request.key,
      reason: request.reason ?? 'manual',
      collectionMethod: request.collect ? 'charge_automatically' : 'send_invoice',
      periodStart: new Date(starts),
      periodEnd: new Date(ends),
      issuedAt: request.issuedAt,
    },
    { draft, appliedCoupons },
  );
  return invoice;
}
