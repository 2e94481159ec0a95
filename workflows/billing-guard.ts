import { ActivityFailure, ApplicationFailure, condition, log, patched, proxyActivities, proxyLocalActivities, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { BillingActivities } from '../activities';
import { iso, now, type SubscriptionRun } from './subscription-run';
import { CustomerIdKey, NextBillingAtKey, PlanCodeKey, SubscriptionStatusKey } from './search-attributes';

// Billing must happen eventually, so transient failures are retried without end; failures retrying
// cannot fix arrive non-retryable (activities/failures.ts) and stop billing visibly (billing_error).
const options = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes' },
} as const;
const activities = proxyActivities<BillingActivities>(options);

/**
 * Writing the state to Postgres is a short idempotent transaction (it skips an older stateVersion),
 * so it runs as a local activity: in the workflow task that asks for it, with no activity task and
 * no second workflow task through the server.
 */
const localActivities = proxyLocalActivities<BillingActivities>(options);

/** Patch: the state is recorded in Postgres by a local activity (before it: an activity). */
const LOCAL_STATE_RECORD = 'local-state-record';

/** Patch: a non-retryable activity failure stops billing as billing_error until `retryBilling`, instead of failing the run. */
const BILLING_ERROR_WAITS = 'billing-error-waits';

/**
 * Every activity through one guard: a non-retryable failure stops here, shows the subscription as
 * billing_error (status, search attribute, memo and the state the API reads, with the reason) and
 * waits for an operator's `retryBilling`; then the same step runs again. Nothing after it happens
 * meanwhile, so no later period is billed past a broken one.
 */
export function guardedActivities(run: SubscriptionRun, proxy: BillingActivities = activities): BillingActivities {
  return new Proxy(proxy, {
    get(target, name: string) {
      const activity = target[name as keyof BillingActivities] as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        for (;;) {
          try {
            return await activity(...args);
          } catch (error) {
            if (!(error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.nonRetryable)) throw error;
            if (!patched(BILLING_ERROR_WAITS)) throw error;
            run.billingError = { activity: name, code: error.cause.type ?? 'error', message: error.cause.message, at: iso(now()) };
            log.error('billing stopped', { subscriptionId: run.record.subscriptionId, ...run.billingError });
            run.retryRequested = false;
            await publishBillingError(run);
            await condition(() => run.retryRequested);
            run.billingError = null;
          }
        }
      };
    },
  }) as BillingActivities;
}

/** The state as the outside sees it, one version newer: search attributes, memo, the Postgres mirror. */
export async function publish(run: SubscriptionRun, billing: BillingActivities): Promise<void> {
  run.record.stateVersion += 1;
  const state = run.state();
  const updates: SearchAttributeUpdatePair[] = [
    { key: CustomerIdKey, value: state.customerId },
    { key: SubscriptionStatusKey, value: state.status },
    { key: PlanCodeKey, value: run.record.plan.code },
    { key: NextBillingAtKey, value: state.nextBillingAt ? new Date(state.nextBillingAt) : null },
  ];
  upsertSearchAttributes(updates);
  // billingError is null here (a stopped run publishes through publishBillingError): null clears the
  // reason that publishBillingError left in the memo, which would otherwise outlive the recovery.
  upsertMemo({ summary: run.summary(state), upcoming: state.upcoming, billingError: run.billingError });
  const record = patched(LOCAL_STATE_RECORD) ? guardedActivities(run, localActivities) : billing;
  await record.recordSubscriptionState(state);
}

async function publishBillingError(run: SubscriptionRun): Promise<void> {
  run.record.stateVersion += 1;
  const state = run.state();
  upsertSearchAttributes([{ key: SubscriptionStatusKey, value: state.status }]);
  upsertMemo({ summary: run.summary(state), billingError: run.billingError });
  try {
    await activities.recordSubscriptionState(state);
  } catch (error) {
    // The state write may be what failed; the workflow's own status and memo still say why.
    log.warn('billing_error not recorded in Postgres', { error: String(error) });
  }
}
