import type { SubscriptionStatus } from './subscription';

/** What a subscription's published state reports when it moves from one mirrored state to the next. */
export type SubscriptionChangeEvent = 'subscription.updated' | 'subscription.paused' | 'subscription.resumed' | 'subscription.past_due' | 'subscription.canceled';

/**
 * The event a new state of a subscription reports, from its status before and after and whether
 * anything the subscription shows changed (null: nothing to report). One event per change: the one
 * naming the move when there is one, otherwise subscription.updated (a plan, seats, a scheduled
 * change, the next period, the trial ending, billing stopping or going again). Suspension and the
 * resume after it are not reported here: the workflow tells them itself (activities/collection.ts
 * notifyProvisioning), with the invoice behind them.
 */
export function subscriptionChangeEvent(before: SubscriptionStatus, after: SubscriptionStatus, changed: boolean): SubscriptionChangeEvent | null {
  if (!changed) return null;
  if (before === after) return 'subscription.updated';
  if (after === 'canceled') return 'subscription.canceled';
  if (after === 'suspended' || before === 'suspended') return null;
  if (after === 'paused') return 'subscription.paused';
  if (before === 'paused') return 'subscription.resumed';
  if (after === 'past_due') return 'subscription.past_due';
  return 'subscription.updated';
}

/** subscription.trial_will_end comes this long before the trial ends (as Stripe's does), or at once for a shorter trial. */
export const TRIAL_WILL_END_NOTICE_MS = 3 * 24 * 60 * 60 * 1000;

export const trialWillEndAt = (trialEnd: Date): Date => new Date(trialEnd.getTime() - TRIAL_WILL_END_NOTICE_MS);
