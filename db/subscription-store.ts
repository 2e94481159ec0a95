import type { EntityManager } from '@mikro-orm/postgresql';
import type { SubscriptionState } from '../workflows/messages';

/**
 * Mirrors the workflow's state into the subscription row, for lists and reports. The version guard
 * makes the write idempotent and order-proof: a retried or late write of an older state changes nothing.
 */
export async function recordSubscriptionState(em: EntityManager, state: SubscriptionState): Promise<void> {
  const result = await em.execute<{ affectedRows: number }>(
    `update subscriptions
        set status = ?, current_period_start = ?, current_period_end = ?, cancel_at_period_end = ?,
            canceled_at = ?, state_version = ?, plan_id = coalesce(?, plan_id), trial_end = ?,
            scheduled_changes = coalesce(?::jsonb, scheduled_changes), paused_at = ?
      where id = ? and state_version < ?`,
    [
      state.status,
      state.currentPeriod?.start ?? null,
      state.currentPeriod?.end ?? null,
      state.cancelAtPeriodEnd,
      state.canceledAt,
      state.stateVersion,
      state.plan?.id ?? null,
      state.trialEnd,
      state.scheduledChanges ? JSON.stringify(state.scheduledChanges) : null,
      state.pausedAt ?? null,
      state.subscriptionId,
      state.stateVersion,
    ],
    'run',
  );
  if (result.affectedRows === 0) {
    const [row] = await em.execute<Array<{ id: string }>>('select id from subscriptions where id = ?', [state.subscriptionId]);
    // Retryable, like issuing: the workflow can start a moment before the row's transaction commits.
    if (!row) throw new Error(`subscription ${state.subscriptionId} is not in the database (yet)`);
  }
}
