import { EntitySchema, type Opt } from '@mikro-orm/core';
import Decimal from 'decimal.js';
import type { LineKind } from '../../domain/invoice';
import type { DocumentTier } from '../../domain/invoice-document';
import type { Interval } from '../../domain/period';
import { DecimalType } from '../decimal-type';

/** A draft has no number, no ledger posting and no collection until it is finalised. */
export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';

/** Stripe's names for why an invoice was issued. */
export type BillingReason = 'subscription_cycle' | 'subscription_update' | 'subscription_pause' | 'subscription_cancel' | 'manual';

/** Stripe's names: charged to the customer's card, or left open for a payment by hand. */
export type CollectionMethod = 'charge_automatically' | 'send_invoice';

/** Stored as the API shows them: amounts as decimal strings. */
export interface InvoiceDiscountJson {
  applied_coupon_id: string;
  name: string;
  amount: string;
}

export interface InvoiceTaxJson {
  tax_rate_id: string;
  name: string;
  percentage: string;
  inclusive: boolean;
  base: string;
  amount: string;
}

/** A tier of a line as stored (decimal strings), the shape invoice documents print. */
export type TierPartJson = DocumentTier;

export class Invoice {
  id!: string;
  /** Null while a draft: the number is taken when the invoice is finalised. */
  sequence!: string | null;
  number!: string | null;
  customerId!: string;
  /** Null on an invoice of the customer alone (a one-off invoice, a wallet purchase). */
  subscriptionId!: string | null;
  /** Identifies an invoice issued outside a subscription's billing (a one-off invoice); unique. */
  oneOffKey?: string | null;
  collectionMethod: CollectionMethod = 'charge_automatically';
  /** The renewal cycle a period invoice bills; null for invoices between renewals. */
  periodIndex?: number | null;
  /** Identifies an invoice between renewals (a plan change, a pause, a cancellation); unique per subscription. */
  billingKey?: string | null;
  billingReason: BillingReason = 'subscription_cycle';
  /** Customer credit spent on this invoice. */
  creditApplied!: Decimal;
  /** Prepaid wallet credit spent on this invoice (db/wallet-store.ts consumeWallets). */
  walletApplied: Opt<Decimal> = new Decimal(0);
  amountRefunded!: Decimal;
  /** Taken off what the invoice asks by credit notes. */
  amountCredited!: Decimal;
  writtenOffAt?: Date | null;
  status!: InvoiceStatus;
  currency!: string;
  subtotal!: Decimal;
  discountTotal!: Decimal;
  taxTotal!: Decimal;
  discounts!: InvoiceDiscountJson[];
  taxes!: InvoiceTaxJson[];
  total!: Decimal;
  /** The fees, net of included tax and of their discounts, that waited in deferred revenue when the invoice was issued. */
  deferredAmount!: Decimal;
  amountPaid!: Decimal;
  amountDue!: Decimal;
  periodStart!: Date;
  periodEnd!: Date;
  issuedAt!: Date;
  /** The customer's net terms when issued, or as changed on the open invoice since. */
  daysUntilDue = 0;
  /** issuedAt + daysUntilDue days. */
  dueAt!: Date;
  paidAt?: Date | null;
  /** When it was numbered, posted and collected from (issuedAt, unless it waited as a draft). */
  finalizedAt?: Date | null;
  /** A draft's grace end: it is finalised then unless it was before. */
  autoFinalizesAt?: Date | null;
  voidedAt?: Date | null;
  createdAt: Date = new Date();
}

export const InvoiceSchema = new EntitySchema<Invoice>({
  class: Invoice,
  tableName: 'invoices',
  properties: {
    id: { type: 'string', primary: true },
    sequence: { type: 'bigint', nullable: true },
    number: { type: 'string', nullable: true },
    customerId: { type: 'string' },
    subscriptionId: { type: 'string', nullable: true },
    oneOffKey: { type: 'string', nullable: true },
    collectionMethod: { type: 'string' },
    periodIndex: { type: 'integer', nullable: true },
    billingKey: { type: 'string', nullable: true },
    billingReason: { type: 'string' },
    creditApplied: { type: DecimalType },
    walletApplied: { type: DecimalType },
    amountRefunded: { type: DecimalType },
    amountCredited: { type: DecimalType },
    writtenOffAt: { type: 'Date', nullable: true },
    status: { type: 'string' },
    currency: { type: 'string' },
    subtotal: { type: DecimalType },
    discountTotal: { type: DecimalType },
    taxTotal: { type: DecimalType },
    discounts: { type: 'json' },
    taxes: { type: 'json' },
    total: { type: DecimalType },
    deferredAmount: { type: DecimalType },
    amountPaid: { type: DecimalType },
    amountDue: { type: DecimalType },
    periodStart: { type: 'Date' },
    periodEnd: { type: 'Date' },
    issuedAt: { type: 'Date' },
    daysUntilDue: { type: 'integer' },
    dueAt: { type: 'Date' },
    paidAt: { type: 'Date', nullable: true },
    finalizedAt: { type: 'Date', nullable: true },
    autoFinalizesAt: { type: 'Date', nullable: true },
    voidedAt: { type: 'Date', nullable: true },
    createdAt: { type: 'Date' },
  },
});

export class InvoiceLine {
  id!: string;
  invoiceId!: string;
  position!: number;
  kind!: LineKind;
  description!: string;
  metricCode?: string | null;
  chargeModel?: string | null;
  quantity!: Decimal;
  unitAmount?: Decimal | null;
  amount!: Decimal;
  tiers?: TierPartJson[] | null;
  discountAmount!: Decimal;
  taxAmount!: Decimal;
  periodStart!: Date;
  periodEnd!: Date;
  /** A fee line's plan and that plan's full-period price (null on other lines, and on fee lines no plan was found for). */
  planId?: string | null;
  priceAmount?: Decimal | null;
  priceInterval?: Interval | null;
  priceIntervalCount?: number | null;
  /** The add-on the line bills (a recurring add-on's fee, a one-time add-on). */
  addOnId?: string | null;
}

export const InvoiceLineSchema = new EntitySchema<InvoiceLine>({
  class: InvoiceLine,
  tableName: 'invoice_lines',
  properties: {
    id: { type: 'string', primary: true },
    invoiceId: { type: 'string' },
    position: { type: 'integer' },
    kind: { type: 'string' },
    description: { type: 'string' },
    metricCode: { type: 'string', nullable: true },
    chargeModel: { type: 'string', nullable: true },
    quantity: { type: DecimalType },
    unitAmount: { type: DecimalType, nullable: true },
    amount: { type: DecimalType },
    tiers: { type: 'json', nullable: true },
    discountAmount: { type: DecimalType },
    taxAmount: { type: DecimalType },
    periodStart: { type: 'Date' },
    periodEnd: { type: 'Date' },
    planId: { type: 'string', nullable: true },
    priceAmount: { type: DecimalType, nullable: true },
    priceInterval: { type: 'string', nullable: true },
    priceIntervalCount: { type: 'integer', nullable: true },
    addOnId: { type: 'string', nullable: true },
  },
});

/** How messages and postings name an invoice: its number, or its id while it is a draft and has none. */
export function invoiceName(invoice: Pick<Invoice, 'id' | 'number'>): string {
  return invoice.number ?? invoice.id;
}
