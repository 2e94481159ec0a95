import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { BillingError } from '../domain/errors';
import { buildInvoice, type InvoiceDraft, type InvoiceLineInput } from '../domain/invoice';
import { roundToCurrency } from '../domain/money';
import { AppliedCoupon, Coupon } from './entities/adjustments';
import { Invoice, InvoiceLine, invoiceName } from './entities/invoice';
import { draftTotals, finaliseInvoice, newInvoiceLine, taxRatesFor } from './invoice-store';

export interface DraftOutcome {
  invoice: Invoice;
  lines: InvoiceLine[];
  /** Finalised by this call (false: it was final already, and is returned as it stands). */
  finalised: boolean;
}

async function lockedInvoice(tx: EntityManager, invoiceId: string): Promise<{ invoice: Invoice; lines: InvoiceLine[] }> {
  const invoice = await tx.findOne(Invoice, { id: invoiceId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  if (!invoice) throw new BillingError('not_found_error', 'resource_missing', `No such invoice: '${invoiceId}'`, 'id');
  const lines = await tx.find(InvoiceLine, { invoiceId }, { orderBy: { position: 'asc' } });
  return { invoice, lines };
}

/** The draft as stored: what finalising it posts (a draft is not priced again when it is finalised). */
function storedDraft(invoice: Invoice, lines: InvoiceLine[]): InvoiceDraft {
  return {
    currency: invoice.currency,
    lines: lines.map((l) => ({ ...lineInput(l), discountAmount: l.discountAmount, taxAmount: l.taxAmount })),
    subtotal: invoice.subtotal,
    discounts: invoice.discounts.map((d) => ({ couponId: d.applied_coupon_id, name: d.name, amount: new Decimal(d.amount) })),
    discountTotal: invoice.discountTotal,
    taxes: invoice.taxes.map((t) => ({
      rate: { id: t.tax_rate_id, name: t.name, percentage: new Decimal(t.percentage), inclusive: t.inclusive },
      base: new Decimal(t.base),
      amount: new Decimal(t.amount),
    })),
    taxTotal: invoice.taxTotal,
    total: invoice.total,
  };
}

function lineInput(l: InvoiceLine): InvoiceLineInput {
  return {
    kind: l.kind,
    description: l.description,
    quantity: l.quantity,
    unitAmount: l.unitAmount ?? null,
    amount: l.amount,
    periodStart: l.periodStart,
    periodEnd: l.periodEnd,
  };
}

/**
 * Prices the draft again from its lines: the coupons it carries (spent when it was created) and the
 * customer's tax rates as they are now, so its discounts, taxes and totals always add up.
 */
async function repriced(tx: EntityManager, invoice: Invoice, lines: InvoiceLine[]): Promise<InvoiceDraft> {
  const appliedIds = invoice.discounts.map((d) => d.applied_coupon_id);
  const applied = appliedIds.length > 0 ? await tx.find(AppliedCoupon, { id: appliedIds }) : [];
  const coupons = new Map((applied.length > 0 ? await tx.find(Coupon, { id: applied.map((a) => a.couponId) }) : []).map((c) => [c.id, c]));
  const terms = appliedIds
    .map((id) => applied.find((a) => a.id === id))
    .filter((a): a is AppliedCoupon => a !== undefined)
    .map((a) => {
      const coupon = coupons.get(a.couponId)!;
      return { id: a.id, name: coupon.name, percentOff: coupon.percentOff ?? null, amountOff: coupon.amountOff ?? null };
    });
  const rates = await taxRatesFor(tx, invoice.customerId);
  return buildInvoice(invoice.currency, lines.map(lineInput), {
    coupons: terms,
    taxRates: rates.map((r) => ({ id: r.id, name: r.name, percentage: r.percentage, inclusive: r.inclusive })),
  });
}

export interface DraftLine {
  description: string;
  quantity: Decimal;
  /** Negative: a credit line. */
  unitAmount: Decimal;
}

/**
 * Adds a one-off line to a draft (a negative unit amount credits the customer) and prices the draft
 * again, in one transaction with the invoice row locked, so a concurrent finalisation sees either
 * the draft before or after the line. `stored` runs inside the transaction (the request's record).
 */
export async function addDraftLine(
  em: EntityManager,
  invoiceId: string,
  line: DraftLine,
  stored: (tx: EntityManager, outcome: { invoice: Invoice; lines: InvoiceLine[] }) => Promise<void> = async () => undefined,
): Promise<void> {
  await em.fork().transactional(async (tx) => {
    const { invoice, lines } = await lockedInvoice(tx, invoiceId);
    if (invoice.status !== 'draft') {
      throw new BillingError('state_error', 'invoice_not_draft', `invoice ${invoiceName(invoice)} is ${invoice.status}; lines can be added to a draft only (issue a credit note to reduce a finalised invoice)`);
    }
    const amount = roundToCurrency(line.quantity.times(line.unitAmount), invoice.currency);
    const added = newInvoiceLine(tx, invoice.id, (lines.at(-1)?.position ?? -1) + 1, {
      kind: 'one_off',
      description: line.description,
      quantity: line.quantity,
      unitAmount: line.unitAmount,
      amount,
      periodStart: invoice.periodStart,
      periodEnd: invoice.periodEnd,
      discountAmount: new Decimal(0),
      taxAmount: new Decimal(0),
    });
    const all = [...lines, added];
    const draft = await repriced(tx, invoice, all);
    all.forEach((l, i) => {
      l.discountAmount = draft.lines[i].discountAmount;
      l.taxAmount = draft.lines[i].taxAmount;
    });
    Object.assign(invoice, draftTotals(draft));
    await tx.flush();
    await stored(tx, { invoice, lines: all });
  });
}

/**
 * Finalises a draft at `at` (numbered, posted, credit applied; db/invoice-store.ts finaliseInvoice).
 * Idempotent: an invoice finalised already is returned as it stands.
 */
export async function finaliseDraft(em: EntityManager, invoiceId: string, at: Date): Promise<DraftOutcome> {
  return em.fork().transactional(async (tx) => {
    const { invoice, lines } = await lockedInvoice(tx, invoiceId);
    if (invoice.status !== 'draft') return { invoice, lines, finalised: false };
    // Never dated before the draft itself.
    await finaliseInvoice(tx, invoice, lines, storedDraft(invoice, lines), at < invoice.issuedAt ? invoice.issuedAt : at);
    return { invoice, lines, finalised: true };
  });
}
