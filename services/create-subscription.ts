import type { EntityManager } from '@mikro-orm/postgresql';
import { WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import type { Plan } from '../db/entities/plan';
import { Subscription } from '../db/entities/subscription';
import { newId } from '../db/ids';
import { planSnapshot } from '../db/plan-snapshot';
import { subscriptionEvent } from '../db/resource-events';
import { BillingError } from '../domain/errors';
import { MAX_ELAPSED_PERIODS, positionAt, subscriptionTimeline } from '../domain/timeline';
import { SUBSCRIPTION_WORKFLOW, subscriptionWorkflowId, type SubscriptionWorkflow, type SubscriptionWorkflowInput } from '../workflows/messages';
import { CustomerIdKey, NextBillingAtKey, PlanCodeKey, SubscriptionStatusKey } from '../workflows/search-attributes';
import { contractOverrides, type OverridesInput } from './contract-overrides';
import { customerOf, planOf } from './lookups';
import type { PropertiesParser } from './plans';
import type { Phase } from './phases';

export interface NewSubscription {
  customerId: string;
  planCode: string;
  startAt?: Date;
  externalId?: string;
  billingAlignment?: 'anniversary' | 'calendar';
  /** Seats the recurring fee is priced on; 1 when not given. */
  quantity?: number;
  /** The customer's contract prices, checked against the plan with `parseProperties`. */
  overrides?: { input: OverridesInput; parseProperties: PropertiesParser };
}

/**
 * Stores a subscription on the newest version of its plan and starts its workflow, which owns its
 * timeline from then on. `render` is the answer recorded with the created row (a retry gets it).
 */
export async function createSubscription<J>(
  deps: { em: EntityManager; temporal: Client; taskQueue: string },
  input: NewSubscription,
  phase: Phase,
  render: (subscription: Subscription, plan: Plan) => J,
): Promise<J> {
  const { em, temporal, taskQueue } = deps;
  const customer = await customerOf(em, input.customerId, 'customer_id');
  const plan = await planOf(em, input.planCode, undefined, 'plan_code');
  if (plan.currency !== customer.currency) {
    throw new BillingError('invalid_request_error', 'currency_mismatch', `Plan ${plan.code} is billed in ${plan.currency} but customer ${customer.id} pays in ${customer.currency}`, 'plan_code');
  }
  const overrides = input.overrides ? await contractOverrides(em, plan, input.overrides.input, input.overrides.parseProperties) : null;
  const quantity = input.quantity ?? 1;
  // Chosen once per Idempotency-Key: a retry after a crash between the workflow's start and the
  // row's commit starts the same workflow id with the same clock, which USE_EXISTING then adopts.
  const reserved = await phase<{ id: string; now: string }>('subscription_reserved', (record) => record(null, { id: newId('sub'), now: new Date().toISOString() }));
  const now = new Date(reserved.now);
  const startAt = input.startAt ?? now;
  const timeline = subscriptionTimeline(startAt, plan.trialDays);
  const cadence = { interval: plan.interval, intervalCount: plan.intervalCount };
  const clock = { zone: customer.timezone, alignment: input.billingAlignment ?? ('anniversary' as const) };
  const position = positionAt(startAt, timeline, cadence, now, clock);
  if (position.elapsedPeriods > MAX_ELAPSED_PERIODS) {
    throw new BillingError(
      'invalid_request_error',
      'start_at_too_far_back',
      `start_at lies more than ${MAX_ELAPSED_PERIODS} ${plan.interval} periods in the past; at most ${MAX_ELAPSED_PERIODS} elapsed periods are billed at once`,
      'start_at',
    );
  }
  const id = reserved.id;
  const subscription = Object.assign(new Subscription(), {
    id,
    customerId: customer.id,
    planId: plan.id,
    status: position.status,
    startAt,
    trialEnd: timeline.trialEnd,
    billingAnchor: timeline.billingAnchor,
    currentPeriodStart: position.currentPeriodStart,
    currentPeriodEnd: position.currentPeriodEnd,
    workflowId: subscriptionWorkflowId(id),
    externalId: input.externalId ?? null,
    // Usage is billed from the first billing period on (after any trial).
    usageClosedUntil: timeline.billingAnchor,
    billingAlignment: clock.alignment,
    timezone: clock.zone,
    quantity,
    overrides,
  });
  const workflowInput: SubscriptionWorkflowInput = {
    subscriptionId: id,
    customerId: customer.id,
    planCode: plan.code,
    planName: plan.name,
    cadence,
    startAt: startAt.toISOString(),
    trialEnd: timeline.trialEnd?.toISOString() ?? null,
    billingAnchor: timeline.billingAnchor.toISOString(),
    periodIndex: 0,
    cancelAtPeriodEnd: false,
    stateVersion: 0,
    plan: planSnapshot(plan),
    zone: clock.zone,
    alignment: clock.alignment,
    // Only when they differ from the defaults, so a plain subscription starts as it always did.
    ...(quantity !== 1 ? { quantity } : {}),
    ...(overrides ? { overrides } : {}),
  };
  if (input.externalId && (await em.count(Subscription, { externalId: input.externalId, id: { $ne: id } })) > 0) {
    throw new BillingError('conflict_error', 'resource_already_exists', `A subscription with external_id "${input.externalId}" already exists`, 'external_id');
  }
  // The row commits only once its workflow has started: a failed start leaves no orphan row, and
  // USE_EXISTING makes a repeated start find the same workflow instead of a second one. If the
  // commit fails after the start, the workflow is terminated so it bills nothing, unless another
  // attempt with the same key took over (idempotency_key_in_use): that one owns the workflow now.
  let started = false;
  return phase<J>('subscription_created', (record) =>
    em.transactional(async (tx) => {
      tx.persist(subscription);
      await tx.flush();
      await subscriptionEvent(tx, 'subscription.created', `subscription.created:${id}`, id);
      started = true;
      await temporal.workflow.start<SubscriptionWorkflow>(SUBSCRIPTION_WORKFLOW, {
        workflowId: subscription.workflowId,
        taskQueue,
        args: [workflowInput],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        typedSearchAttributes: [
          { key: CustomerIdKey, value: customer.id },
          { key: SubscriptionStatusKey, value: position.status },
          { key: PlanCodeKey, value: plan.code },
          { key: NextBillingAtKey, value: timeline.billingAnchor },
        ],
        memo: { summary: `Subscription ${id} of customer ${customer.id} (${customer.name}) on plan ${plan.code}` },
      });
      await record(tx, render(subscription, plan));
    }),
  ).catch(async (error: unknown) => {
    if (started && !(error instanceof BillingError && error.code === 'idempotency_key_in_use')) {
      await temporal.workflow
        .getHandle(subscription.workflowId)
        .terminate('the subscription row was not stored')
        .catch(() => undefined); // never started, or already gone
    }
    throw error;
  });
}
