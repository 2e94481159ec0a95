import { EntitySchema } from '@mikro-orm/core';
import type Decimal from 'decimal.js';
import type { Interval } from '../../domain/period';
import { DecimalType } from '../decimal-type';

/** A priced item of the catalog: recurring when it has an interval, otherwise billed once. */
export class AddOn {
  id!: string;
  code!: string;
  name!: string;
  /** Per unit: for one period of a recurring add-on, or once. */
  amount!: Decimal;
  currency!: string;
  interval?: Interval | null;
  intervalCount?: number | null;
  createdAt: Date = new Date();
}

export const AddOnSchema = new EntitySchema<AddOn>({
  class: AddOn,
  tableName: 'add_ons',
  properties: {
    id: { type: 'string', primary: true },
    code: { type: 'string' },
    name: { type: 'string' },
    amount: { type: DecimalType },
    currency: { type: 'string' },
    interval: { type: 'string', nullable: true },
    intervalCount: { type: 'integer', nullable: true },
    createdAt: { type: 'Date' },
  },
});

/**
 * An add-on attached to a subscription. A recurring one bills with each renewal whose period starts
 * in [addedAt, removedAt); a one-time one is billed once, on the invoice `billedInvoiceId` names.
 */
export class SubscriptionAddOn {
  id!: string;
  subscriptionId!: string;
  addOnId!: string;
  quantity!: Decimal;
  addedAt!: Date;
  removedAt?: Date | null;
  billedInvoiceId?: string | null;
  createdAt: Date = new Date();
}

export const SubscriptionAddOnSchema = new EntitySchema<SubscriptionAddOn>({
  class: SubscriptionAddOn,
  tableName: 'subscription_add_ons',
  properties: {
    id: { type: 'string', primary: true },
    subscriptionId: { type: 'string' },
    addOnId: { type: 'string' },
    quantity: { type: DecimalType },
    addedAt: { type: 'Date' },
    removedAt: { type: 'Date', nullable: true },
    billedInvoiceId: { type: 'string', nullable: true },
    createdAt: { type: 'Date' },
  },
});
