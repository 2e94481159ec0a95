import { EntitySchema } from '@mikro-orm/core';
import type Decimal from 'decimal.js';
import type { CouponDuration } from '../../domain/discounts';
import { DecimalType } from '../decimal-type';

export class Coupon {
  id!: string;
  code!: string;
  name!: string;
  percentOff?: Decimal | null;
  amountOff?: Decimal | null;
  currency?: string | null;
  duration!: CouponDuration;
  durationPeriods?: number | null;
  createdAt: Date = new Date();
}

export const CouponSchema = new EntitySchema<Coupon>({
  class: Coupon,
  tableName: 'coupons',
  properties: {
    id: { type: 'string', primary: true },
    code: { type: 'string' },
    name: { type: 'string' },
    percentOff: { type: DecimalType, nullable: true },
    amountOff: { type: DecimalType, nullable: true },
    currency: { type: 'string', nullable: true },
    duration: { type: 'string' },
    durationPeriods: { type: 'integer', nullable: true },
    createdAt: { type: 'Date' },
  },
});

/** A coupon given to a customer (all its subscriptions) or to one subscription. */
export class AppliedCoupon {
  id!: string;
  couponId!: string;
  customerId!: string;
  subscriptionId?: string | null;
  /** Invoices it still applies to; null: forever. */
  periodsRemaining?: number | null;
  status!: 'active' | 'exhausted';
  createdAt: Date = new Date();
}

export const AppliedCouponSchema = new EntitySchema<AppliedCoupon>({
  class: AppliedCoupon,
  tableName: 'applied_coupons',
  properties: {
    id: { type: 'string', primary: true },
    couponId: { type: 'string' },
    customerId: { type: 'string' },
    subscriptionId: { type: 'string', nullable: true },
    periodsRemaining: { type: 'integer', nullable: true },
    status: { type: 'string' },
    createdAt: { type: 'Date' },
  },
});

export class TaxRate {
  id!: string;
  code!: string;
  name!: string;
  percentage!: Decimal;
  inclusive!: boolean;
  createdAt: Date = new Date();
}

export const TaxRateSchema = new EntitySchema<TaxRate>({
  class: TaxRate,
  tableName: 'tax_rates',
  properties: {
    id: { type: 'string', primary: true },
    code: { type: 'string' },
    name: { type: 'string' },
    percentage: { type: DecimalType },
    inclusive: { type: 'boolean' },
    createdAt: { type: 'Date' },
  },
});

export class CustomerTaxRate {
  customerId!: string;
  taxRateId!: string;
  position!: number;
}

export const CustomerTaxRateSchema = new EntitySchema<CustomerTaxRate>({
  class: CustomerTaxRate,
  tableName: 'customer_tax_rates',
  properties: {
    customerId: { type: 'string', primary: true },
    taxRateId: { type: 'string', primary: true },
    position: { type: 'integer' },
  },
});

/** Credit owed to a customer (positive) or spent on an invoice (negative); the balance is the sum. */
export class CustomerBalanceTransaction {
  id!: string;
  customerId!: string;
  currency!: string;
  amount!: Decimal;
  invoiceId!: string;
  kind!: 'proration_credit' | 'applied_to_invoice' | 'credit_note' | 'overpayment' | 'invoice_voided';
  createdAt: Date = new Date();
}

export const CustomerBalanceTransactionSchema = new EntitySchema<CustomerBalanceTransaction>({
  class: CustomerBalanceTransaction,
  tableName: 'customer_balance_transactions',
  properties: {
    id: { type: 'string', primary: true },
    customerId: { type: 'string' },
    currency: { type: 'string' },
    amount: { type: DecimalType },
    invoiceId: { type: 'string' },
    kind: { type: 'string' },
    createdAt: { type: 'Date' },
  },
});
