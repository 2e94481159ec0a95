import { Context } from '@temporalio/activity';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Plan } from '../db/entities/plan';
import { Subscription } from '../db/entities/subscription';
import { forkEm, type Orm } from '../db/orm';
import { findPage } from '../db/pagination';
import type { PlanMigrationBatch, PlanMigrationBatchRequest, PlanMigrationOutcome } from '../domain/plan-migration';
import type { PlanSnapshot } from '../domain/subscription';
import { changePlanUpdate, getStateQuery } from '../workflows/messages';

/**
 * Moves one subscription to `target` at its next renewal: a plan change at period end, without
 * proration, sent to its workflow as an update. A subscription already scheduled to move to
 * `target` is not sent it again (a retried batch, or the same migration run twice), so a
 * subscription is migrated once whatever is retried.
 */
async function migrateSubscription(temporal: Client, workflowId: string, target: PlanSnapshot): Promise<PlanMigrationOutcome> {
  const handle = temporal.workflow.getHandle(workflowId);
  try {
    const before = await handle.query(getStateQuery);
    const scheduled = (before.scheduledChanges ?? []).find((c) => c.kind === 'change_plan' && c.plan.id === target.id);
    if (scheduled) return { status: 'scheduled', at: scheduled.at };
    const state = await handle.executeUpdate(changePlanUpdate, { args: [{ plan: target, at: 'period_end', proration: 'none' }] });
    return { status: 'scheduled', at: state.currentPeriod?.end ?? state.nextBillingAt };
  } catch (error) {
    // A refusal is the subscription's answer (canceled, paused...), reported per subscription;
    // anything else (the server unreachable) fails the batch, which is retried.
    if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
      return { status: 'failed', error: { code: error.cause.type ?? 'update_rejected', message: error.cause.message } };
    }
    throw error;
  }
}

export function createPlanMigrationActivities({ orm }: { orm: Orm }) {
  const em = forkEm(orm);
  return {
    /** The next batch of subscriptions on older versions of the plan (oldest first), each moved to the target version. */
    async migrateSubscriptionsBatch(request: PlanMigrationBatchRequest): Promise<PlanMigrationBatch> {
      const db = em();
      const versions = await db.find(Plan, { code: request.planCode });
      const older = versions.filter((v) => v.id !== request.target.id);
      const where = { planId: { $in: older.map((v) => v.id) }, status: { $ne: 'canceled' as const }, ...(request.subscriptionIds ? { id: { $in: request.subscriptionIds } } : {}) };
      const page = await findPage(db, Subscription, where, { keys: ['createdAt', 'id'], direction: 'asc', noun: 'subscription' }, { limit: request.limit, startingAfter: request.after ?? undefined });
      const temporal = Context.current().client;
      const results = [];
      for (const subscription of page.data) {
        const from = versions.find((v) => v.id === subscription.planId)!;
        Context.current().heartbeat(subscription.id);
        results.push({ subscriptionId: subscription.id, fromVersion: from.version, toVersion: request.target.version, ...(await migrateSubscription(temporal, subscription.workflowId, request.target)) });
      }
      return { results, last: page.data.at(-1)?.id ?? null, more: page.hasMore };
    },
  };
}

export type PlanMigrationActivities = ReturnType<typeof createPlanMigrationActivities>;
