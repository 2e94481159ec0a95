import type { EntityManager } from '@mikro-orm/postgresql';
import type { SubscriptionState, SubscriptionStatus } from '../domain/subscription';
import { subscriptionChangeEvent } from '../domain/subscription-events';
import { subscriptionEvent } from './resource-events';

/**
 * Mirrors the workflow's state into the subscription row, for lists and reports. The version guard
 * makes the write idempotent and order-proof: a retried or late write of an older state changes nothing.
 */
export async function recordSubscriptionState(em: EntityManager, state: SubscriptionState): Promise<void> {
  const billingStart = state.schedule && (state.status === 'scheduled' || state.status === 'trialing') ? state.schedule.anchor : null;
  if (billingStart) {
    // The trial's end moved (ended early or extended): usage is billed from the new start, and
    // events before it are refused. Under the usage lock, so no event slips in between.
    await em.transactional(async (tx) => {
      await tx.execute('select pg_advisory_xact_lock(7301, usage_lock_bucket(?))', [state.subscriptionId]);
      await tx.execute(
        'update subscriptions set billing_anchor = ?, usage_closed_until = ? where id = ? and state_version < ? and billing_anchor <> ?',
        [billingStart, billingStart, state.subscriptionId, state.stateVersion, billingStart],
      );
    });
  }
  await em.fork().transactional(async (tx) => {
    const [before] = await tx.execute<MirroredRow[]>(`${MIRRORED} for update`, [state.subscriptionId]);
    // Retryable, like issuing: the workflow can start a moment before the row's transaction commits.
    if (!before) throw new Error(`subscription ${state.subscriptionId} is not in the database (yet)`);
    const result = await tx.execute<{ affectedRows: number }>(
      `update subscriptions
          set status = ?, current_period_start = ?, current_period_end = ?, cancel_at_period_end = ?,
              canceled_at = ?, state_version = ?, plan_id = coalesce(?, plan_id), trial_end = ?,
              scheduled_changes = coalesce(?::jsonb, scheduled_changes), paused_at = ?,
              quantity = coalesce(?, quantity), overrides = case when ? then ?::jsonb else overrides end
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
        state.quantity ?? null,
        // States published before contract prices carry none; those since always say (null: none).
        state.overrides !== undefined,
        state.overrides ? JSON.stringify(state.overrides) : null,
        state.subscriptionId,
        state.stateVersion,
      ],
      'run',
    );
    // An older state, arriving late: nothing changed, nothing to report.
    if (result.affectedRows === 0) return;
    const [after] = await tx.execute<MirroredRow[]>(MIRRORED, [state.subscriptionId]);
    const type = subscriptionChangeEvent(before.status, after.status, JSON.stringify(before) !== JSON.stringify(after));
    if (!type) return;
    // Canceled once; every other change is its own state version.
    const key = type === 'subscription.canceled' ? `${type}:${state.subscriptionId}` : `${type}:${state.subscriptionId}:${state.stateVersion}`;
    await subscriptionEvent(tx, type, key, state.subscriptionId, { live: state });
  });
}

/** What the subscription shows of its state, as the mirror stores it (compared before and after a write). */
const MIRRORED = `select status, current_period_start, current_period_end, cancel_at_period_end, canceled_at, plan_id, trial_end,
                        scheduled_changes::text as scheduled_changes, paused_at, quantity, overrides::text as overrides
                   from subscriptions where id = ?`;

interface MirroredRow {
  status: SubscriptionStatus;
  [column: string]: unknown;
}
