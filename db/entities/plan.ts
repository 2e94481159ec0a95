import { ArrayType, EntitySchema } from '@mikro-orm/core';
import type Decimal from 'decimal.js';
import type { Interval } from '../../domain/period';
import type { FeeTiersProperties } from '../../domain/seat-pricing';
import { DecimalType } from '../decimal-type';

export class Plan {
  id!: string;
  code!: string;
  /** A price change is a new version of the code; subscriptions keep theirs until migrated. */
  version = 1;
  name!: string;
  currency!: string;
  interval!: Interval;
  intervalCount!: number;
  trialDays!: number;
  amount!: Decimal;
  /** Usage charges of a period below this are trued up to it; null: no commitment. */
  minimumAmount?: Decimal | null;
  /** A per-seat fee in tiers, priced on the subscription's quantity; null: amount x quantity. */
  feeTiers?: FeeTiersProperties | null;
  /** Days after the first failed charge on which it is retried. */
  dunningSchedule: number[] = [1, 3, 5, 7];
  /** Billed once per subscription, on its first invoice that bills a fee; null: none. */
  setupFee?: Decimal | null;
  createdAt: Date = new Date();
}

export const PlanSchema = new EntitySchema<Plan>({
  class: Plan,
  tableName: 'plans',
  properties: {
    id: { type: 'string', primary: true },
    code: { type: 'string' },
    version: { type: 'integer' },
    name: { type: 'string' },
    currency: { type: 'string' },
    interval: { type: 'string' },
    intervalCount: { type: 'integer' },
    trialDays: { type: 'integer' },
    amount: { type: DecimalType },
    minimumAmount: { type: DecimalType, nullable: true },
    feeTiers: { type: 'json', nullable: true },
    dunningSchedule: { type: new ArrayType<number>((i: string) => Number(i)), columnType: 'integer[]' },
    setupFee: { type: DecimalType, nullable: true },
    createdAt: { type: 'Date' },
  },
});
