import { EntitySchema } from '@mikro-orm/core';
import type Decimal from 'decimal.js';
import { DecimalType } from '../decimal-type';

export type InvoiceStatus = 'open' | 'paid' | 'void';

export class Invoice {
  id!: string;
  sequence!: string;
  number!: string;
  customerId!: string;
  subscriptionId!: string;
  periodIndex!: number;
  status!: InvoiceStatus;
  currency!: string;
  subtotal!: Decimal;
  total!: Decimal;
  amountPaid!: Decimal;
  amountDue!: Decimal;
  periodStart!: Date;
  periodEnd!: Date;
  issuedAt!: Date;
  paidAt?: Date | null;
  revenueRecognizedAt?: Date | null;
  createdAt: Date = new Date();
}

export const InvoiceSchema = new EntitySchema<Invoice>({
  class: Invoice,
  tableName: 'invoices',
  properties: {
    id: { type: 'string', primary: true },
    sequence: { type: 'bigint' },
    number: { type: 'string' },
    customerId: { type: 'string' },
    subscriptionId: { type: 'string' },
    periodIndex: { type: 'integer' },
    status: { type: 'string' },
    currency: { type: 'string' },
    subtotal: { type: DecimalType },
    total: { type: DecimalType },
    amountPaid: { type: DecimalType },
    amountDue: { type: DecimalType },
    periodStart: { type: 'Date' },
    periodEnd: { type: 'Date' },
    issuedAt: { type: 'Date' },
    paidAt: { type: 'Date', nullable: true },
    revenueRecognizedAt: { type: 'Date', nullable: true },
    createdAt: { type: 'Date' },
  },
});

export class InvoiceLine {
  id!: string;
  invoiceId!: string;
  position!: number;
  description!: string;
  quantity!: Decimal;
  unitAmount!: Decimal;
  amount!: Decimal;
  periodStart!: Date;
  periodEnd!: Date;
}

export const InvoiceLineSchema = new EntitySchema<InvoiceLine>({
  class: InvoiceLine,
  tableName: 'invoice_lines',
  properties: {
    id: { type: 'string', primary: true },
    invoiceId: { type: 'string' },
    position: { type: 'integer' },
    description: { type: 'string' },
    quantity: { type: DecimalType },
    unitAmount: { type: DecimalType },
    amount: { type: DecimalType },
    periodStart: { type: 'Date' },
    periodEnd: { type: 'Date' },
  },
});
