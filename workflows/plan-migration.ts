import { proxyActivities, setHandler } from '@temporalio/workflow';
import type { PlanMigrationActivities } from '../activities/plan-migration';
import { startingProgress, type PlanMigrationBatch, type PlanMigrationInput, type PlanMigrationProgress } from '../domain/plan-migration';
import { planMigrationProgressQuery } from './messages';

/** Subscriptions per activity: a batch is retried as a whole, and each subscription's move is idempotent. */
export const PLAN_MIGRATION_BATCH = 100;

const migration = proxyActivities<PlanMigrationActivities>({
  // A batch sends up to 100 updates, one after the other.
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/**
 * Moves the subscriptions on older versions of a plan to `input.target` at their next renewal, a
 * batch at a time (oldest subscription first), answering its progress by query meanwhile. Its id is
 * `plan-migration-<migrationId>`: the API starts one per migration id, so a repeated start finds it.
 */
export async function planMigrationWorkflow(input: PlanMigrationInput): Promise<PlanMigrationProgress> {
  const progress: PlanMigrationProgress = startingProgress(input);
  setHandler(planMigrationProgressQuery, () => progress);
  let after: string | null = null;
  for (;;) {
    const batch: PlanMigrationBatch = await migration.migrateSubscriptionsBatch({
      migrationId: input.migrationId,
      planCode: input.planCode,
      target: input.target,
      subscriptionIds: input.subscriptionIds,
      after,
      limit: input.batchSize ?? PLAN_MIGRATION_BATCH,
    });
    progress.results.push(...batch.results);
    if (!batch.more || batch.last === null) break;
    after = batch.last;
  }
  progress.status = 'completed';
  // Workflow time: deterministic on replay.
  progress.completedAt = new Date(Date.now()).toISOString();
  return progress;
}
