import { EntitySchema } from '@mikro-orm/core';
import Decimal from 'decimal.js';
import { DecimalType } from '../decimal-type';

export class Payment {
  id!: string;
  invoiceId!: string;
  amount!: Decimal;
  currency!: string;
  method!: 'manual' | 'card';
  reference?: string | null;
  /** A card payment's PaymentIntent: unique, so a webhook and the charge activity record it once. */
  stripePaymentIntentId?: string | null;
  fee?: Decimal | null;
  /** The part of `amount` the invoice did not need (it was paid meanwhile): returned by an excess refund. */
  amountExcess: Decimal = new Decimal(0);
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
    stripePaymentIntentId: { type: 'string', nullable: true },
    fee: { type: DecimalType, nullable: true },
    amountExcess: { type: DecimalType },
    receivedAt: { type: 'Date' },
    createdAt: { type: 'Date' },
  },
});
