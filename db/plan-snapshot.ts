import { decimalString } from '../domain/money';
import type { PlanSnapshot } from '../domain/subscription';
import type { Plan } from './entities/plan';

/** A plan version as the workflow carries it: what it needs to validate changes and to bill. */
export function planSnapshot(plan: Plan): PlanSnapshot {
  return {
    id: plan.id,
    code: plan.code,
    version: plan.version,
    name: plan.name,
    currency: plan.currency,
    amount: decimalString(plan.amount),
    cadence: { interval: plan.interval, intervalCount: plan.intervalCount },
  };
}
