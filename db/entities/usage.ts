import { EntitySchema } from '@mikro-orm/core';
import type { ChargeModel } from '../../domain/pricing';
import type { Aggregation } from '../../domain/usage';

export class BillableMetric {
  id!: string;
  code!: string;
  name!: string;
  aggregation!: Aggregation;
  field?: string | null;
  createdAt: Date = new Date();
}

export const BillableMetricSchema = new EntitySchema<BillableMetric>({
  class: BillableMetric,
  tableName: 'billable_metrics',
  properties: {
    id: { type: 'string', primary: true },
    code: { type: 'string' },
    name: { type: 'string' },
    aggregation: { type: 'string' },
    field: { type: 'string', nullable: true },
    createdAt: { type: 'Date' },
  },
});

/** A usage charge of a plan; `properties` keeps the prices as the API received them (decimal strings). */
export class PlanCharge {
  id!: string;
  planId!: string;
  metricId!: string;
  position!: number;
  model!: ChargeModel;
  properties!: Record<string, unknown>;
}

export const PlanChargeSchema = new EntitySchema<PlanCharge>({
  class: PlanCharge,
  tableName: 'plan_charges',
  properties: {
    id: { type: 'string', primary: true },
    planId: { type: 'string' },
    metricId: { type: 'string' },
    position: { type: 'integer' },
    model: { type: 'string' },
    properties: { type: 'json' },
  },
});
