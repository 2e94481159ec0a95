import { EntitySchema } from '@mikro-orm/core';
import type Decimal from 'decimal.js';
import type { RecognitionMethod } from '../../domain/revenue-recognition';
import { DecimalType } from '../decimal-type';

/** A fee line's service, owed to the customer until recognised (migrations/...revenue_recognition.ts). */
export class RevenueObligation {
  id!: string;
  invoiceLineId!: string;
  invoiceId!: string;
  customerId!: string;
  currency!: string;
  serviceStart!: Date;
  serviceEnd!: Date;
  issuedAt!: Date;
  /** The line's amount net of included tax; negative for a credit line. */
  revenue!: Decimal;
  discount!: Decimal;
  recognizedRevenue!: Decimal;
  recognizedDiscount!: Decimal;
  /** The end of the last recognition period posted for it. */
  recognizedThrough?: Date | null;
  /** Set once all of it is recognised; open obligations are those without it. */
  completedAt?: Date | null;
  /** Its invoice was voided: it recognises nothing from then on (what it had recognised was reversed). */
  voidedAt?: Date | null;
  createdAt: Date = new Date();
}

export const RevenueObligationSchema = new EntitySchema<RevenueObligation>({
  class: RevenueObligation,
  tableName: 'revenue_obligations',
  properties: {
    id: { type: 'string', primary: true },
    invoiceLineId: { type: 'string' },
    invoiceId: { type: 'string' },
    customerId: { type: 'string' },
    currency: { type: 'string' },
    serviceStart: { type: 'Date' },
    serviceEnd: { type: 'Date' },
    issuedAt: { type: 'Date' },
    revenue: { type: DecimalType },
    discount: { type: DecimalType },
    recognizedRevenue: { type: DecimalType },
    recognizedDiscount: { type: DecimalType },
    recognizedThrough: { type: 'Date', nullable: true },
    completedAt: { type: 'Date', nullable: true },
    voidedAt: { type: 'Date', nullable: true },
    createdAt: { type: 'Date' },
  },
});

/** A day (or month) the recognition workflow has posted, whether or not it had anything to post. */
export class RevenueRecognitionPeriod {
  period!: string;
  method!: RecognitionMethod;
  periodStart!: Date;
  periodEnd!: Date;
  obligations!: number;
  transactions!: number;
  postedAt: Date = new Date();
}

export const RevenueRecognitionPeriodSchema = new EntitySchema<RevenueRecognitionPeriod>({
  class: RevenueRecognitionPeriod,
  tableName: 'revenue_recognition_periods',
  properties: {
    period: { type: 'string', primary: true },
    method: { type: 'string' },
    periodStart: { type: 'Date' },
    periodEnd: { type: 'Date' },
    obligations: { type: 'integer' },
    transactions: { type: 'integer' },
    postedAt: { type: 'Date' },
  },
});
