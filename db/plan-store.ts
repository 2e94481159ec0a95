import type { EntityManager } from '@mikro-orm/postgresql';
import { Plan } from './entities/plan';
import { BillableMetric, PlanCharge } from './entities/usage';

export interface PlanWithCharges {
  plan: Plan;
  charges: Array<{ charge: PlanCharge; metric: BillableMetric }>;
}

/** The newest version of a plan code, which new subscriptions get. */
export async function latestPlan(em: EntityManager, code: string): Promise<Plan | null> {
  return em.findOne(Plan, { code }, { orderBy: { version: 'desc' } });
}

/** Each plan's charges, in their order, with the metric each one prices. */
export async function withCharges(em: EntityManager, plans: Plan[]): Promise<PlanWithCharges[]> {
  const charges = plans.length ? await em.find(PlanCharge, { planId: plans.map((p) => p.id) }, { orderBy: { position: 'asc' } }) : [];
  const metrics = new Map((charges.length ? await em.find(BillableMetric, { id: charges.map((c) => c.metricId) }) : []).map((m) => [m.id, m]));
  return plans.map((plan) => ({ plan, charges: charges.filter((c) => c.planId === plan.id).map((charge) => ({ charge, metric: metrics.get(charge.metricId)! })) }));
}
