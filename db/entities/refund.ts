import { EntitySchema } from '@mikro-orm/core';
import type Decimal from 'decimal.js';
import { DecimalType } from '../decimal-type';

/** Money given back out of one payment of an invoice: an immutable record; a second refund is a new row. */
export class Refund {
  id!: string;
  invoiceId!: string;
  paymentId!: string;
  amount!: Decimal;
  currency!: string;
  reason?: string | null;
  /** `${operation key}:${paymentId}`: a retried operation finds the rows it wrote. */
  idempotencyKey!: string;
  /** Stripe's refund of a card payment; null for a manual payment paid back by hand. */
  stripeRefundId?: string | null;
  /** requested through the API, or excess: money an invoice did not need, returned automatically. */
  kind: RefundKind = 'requested';
  /** pending while Stripe is asked (the amount is reserved); failed when Stripe refused it. */
  status: RefundStatus = 'succeeded';
  failureMessage?: string | null;
  completedAt?: Date | null;
  createdAt: Date = new Date();
}

export type RefundKind = 'requested' | 'excess';
export type RefundStatus = 'pending' | 'succeeded' | 'failed';

export const RefundSchema = new EntitySchema<Refund>({
  class: Refund,
  tableName: 'refunds',
  properties: {
    id: { type: 'string', primary: true },
    invoiceId: { type: 'string' },
    paymentId: { type: 'string' },
    amount: { type: DecimalType },
    currency: { type: 'string' },
    reason: { type: 'string', nullable: true },
    idempotencyKey: { type: 'string' },
    stripeRefundId: { type: 'string', nullable: true },
    kind: { type: 'string' },
    status: { type: 'string' },
    failureMessage: { type: 'string', nullable: true },
    completedAt: { type: 'Date', nullable: true },
    createdAt: { type: 'Date' },
  },
});

export type CreditNoteKind = 'reduce_due' | 'customer_balance';

/** Less asked on an open invoice (reduce_due), or credit for later invoices on a paid one (customer_balance). */
export class CreditNote {
  id!: string;
  /** CN-000001, gapless, from invoice_number_sequences series 'CN'. */
  number!: string;
  invoiceId!: string;
  customerId!: string;
  amount!: Decimal;
  currency!: string;
  kind!: CreditNoteKind;
  reason?: string | null;
  idempotencyKey!: string;
  createdAt: Date = new Date();
}

export const CreditNoteSchema = new EntitySchema<CreditNote>({
  class: CreditNote,
  tableName: 'credit_notes',
  properties: {
    id: { type: 'string', primary: true },
    number: { type: 'string' },
    invoiceId: { type: 'string' },
    customerId: { type: 'string' },
    amount: { type: DecimalType },
    currency: { type: 'string' },
    kind: { type: 'string' },
    reason: { type: 'string', nullable: true },
    idempotencyKey: { type: 'string' },
    createdAt: { type: 'Date' },
  },
});
