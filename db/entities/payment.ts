import { EntitySchema } from '@mikro-orm/core';
import type Decimal from 'decimal.js';
import { DecimalType } from '../decimal-type';

export class Payment {
  id!: string;
  invoiceId!: string;
  amount!: Decimal;
  currency!: string;
  method!: 'manual';
  reference?: string | null;
  receivedAt!: Date;
  createdAt: Date = new Date();
}

export const PaymentSchema = new EntitySchema<Payment>({
  class: Payment,
  tableName: 'payments',
  properties: {
    id: { type: 'string', primary: true },
    invoiceId: { type: 'string' },
    amount: { type: DecimalType },
    currency: { type: 'string' },
    method: { type: 'string' },
    reference: { type: 'string', nullable: true },
    receivedAt: { type: 'Date' },
    createdAt: { type: 'Date' },
  },
});
