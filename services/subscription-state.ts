import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { Plan } from '../db/entities/plan';
import { Subscription } from '../db/entities/subscription';
import { BillingError } from '../domain/errors';
import { periodOf, type Period } from '../domain/period';
import { positionAt } from '../domain/timeline';
import { getStateQuery, type SubscriptionState } from '../workflows/messages';
import { logger } from '../observability/logger';

/** How long a read waits for the workflow before answering from the database. */
const QUERY_DEADLINE_MS = 5_000;

export async function loadSubscription(em: EntityManager, id: string): Promise<{ subscription: Subscription; plan: Plan }> {
  const subscription = await em.findOne(Subscription, { id });
  if (!subscription) throw new BillingError('not_found_error', 'resource_missing', `No such subscription: '${id}'`, 'id');
  const plan = await em.findOneOrFail(Plan, { id: subscription.planId });
  return { subscription, plan };
}

/** The subscription as its workflow sees it now; null when the workflow cannot answer in time. */
export async function liveState(temporal: Client, workflowId: string): Promise<SubscriptionState | null> {
  try {
    return await temporal.connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => temporal.workflow.getHandle(workflowId).query(getStateQuery));
  } catch (error) {
    logger.warn({ workflowId, err: error }, 'query of the subscription workflow failed; answering from the database');
    return null;
  }
}

/**
 * The period after the current one, on the subscription's own schedule; null when it is not billing.
 * Without the workflow's state, the stored schedule is used (right unless the plan's interval changed).
 */
export function nextPeriodOf(state: SubscriptionState | null, plan: Plan, subscription?: Subscription): Period | null {
  if (!state) {
    if (!subscription) return null;
    const cadence = { interval: plan.interval, intervalCount: plan.intervalCount };
    const clock = { zone: subscription.timezone, alignment: subscription.billingAlignment };
    const timeline = { trialEnd: subscription.trialEnd ?? null, billingAnchor: subscription.billingAnchor };
    const position = positionAt(subscription.startAt, timeline, cadence, new Date(), clock);
    if (position.status !== 'active' || subscription.status === 'canceled' || subscription.status === 'paused') return null;
    return periodOf({ anchor: subscription.billingAnchor, cadence, ...clock }, position.elapsedPeriods + 1);
  }
  if (state.status !== 'active' || !state.currentPeriod || !state.schedule) return null;
  const { anchor, firstCycle, zone, alignment } = state.schedule;
  const cadence = state.plan?.cadence ?? { interval: plan.interval, intervalCount: plan.intervalCount };
  return periodOf({ anchor: new Date(anchor), cadence, zone, alignment }, state.currentPeriod.index + 1 - firstCycle);
}
