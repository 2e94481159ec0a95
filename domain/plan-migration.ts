import type { PlanSnapshot } from './subscription';

/**
 * A plan migration: subscriptions on older versions of a plan moved to one version at their next
 * renewal (a plan change at period end, without proration), in batches, by a workflow of its own.
 * These are the records it carries; the progress is what its query answers.
 */

/** What happened to one subscription: its change is scheduled (at its period end), or was refused. */
export type PlanMigrationOutcome = { status: 'scheduled'; at: string | null } | { status: 'failed'; error: { code: string; message: string } };

export type PlanMigrationResult = { subscriptionId: string; fromVersion: number; toVersion: number } & PlanMigrationOutcome;

export interface PlanMigrationInput {
  migrationId: string;
  planCode: string;
  target: PlanSnapshot;
  /** Only these subscriptions (each on an older version); absent: every one that is not canceled. */
  subscriptionIds: string[] | null;
  /** How many subscriptions the migration found when it started (subscriptions created since are not moved). */
  total: number;
  startedAt: string;
  /** Subscriptions per activity; default 100. */
  batchSize?: number;
}

export interface PlanMigrationProgress {
  migrationId: string;
  planCode: string;
  toVersion: number;
  status: 'running' | 'completed';
  total: number;
  /** Subscriptions handled so far, in the order the migration took them (oldest first). */
  results: PlanMigrationResult[];
  startedAt: string;
  completedAt: string | null;
}

/** A migration's progress before its first batch. */
export function startingProgress(input: PlanMigrationInput): PlanMigrationProgress {
  return {
    migrationId: input.migrationId,
    planCode: input.planCode,
    toVersion: input.target.version,
    status: 'running',
    total: input.total,
    results: [],
    startedAt: input.startedAt,
    completedAt: null,
  };
}

/** One batch: the subscriptions after `after` (a subscription id; null: from the oldest). */
export interface PlanMigrationBatchRequest {
  migrationId: string;
  planCode: string;
  target: PlanSnapshot;
  subscriptionIds: string[] | null;
  after: string | null;
  limit: number;
}

export interface PlanMigrationBatch {
  results: PlanMigrationResult[];
  /** The last subscription of the batch, where the next one starts; null when the batch was empty. */
  last: string | null;
  more: boolean;
}
