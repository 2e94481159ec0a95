import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { BillingActivities } from '../activities';
import { periodAt, type Period } from '../domain/period';
import {
  cancelUpdate,
  getStateQuery,
  type CancelRequest,
  type SubscriptionState,
  type SubscriptionWorkflowInput,
  type UpcomingEvent,
} from './messages';
import { CustomerIdKey, NextBillingAtKey, PlanCodeKey, SubscriptionStatusKey } from './search-attributes';

// Billing must happen eventually, so retries never give up; errors the store marks non-retryable
// (a deleted subscription, say) fail the workflow visibly instead of retrying forever.
const billing = proxyActivities<BillingActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

const CANCEL_OPTIONS: readonly string[] = ['now', 'period_end'];

/** Patch: elapsed periods of a backdated subscription are billed in one run, not one run each. */
const CATCH_UP_IN_ONE_RUN = 'catch-up-elapsed-periods-in-one-run';
const MAX_PERIODS_PER_RUN = 100;

/**
 * Patch: usage is billed in arrears, so a subscription's end issues one last invoice for the usage
 * since its last period invoice, and ends usage so that later events are refused.
 */
const BILL_USAGE_AT_END = 'bill-usage-at-cancellation';

/**
 * The workflow's first version, frozen: runs that started on it replay through this code to their
 * next continue-as-new, which starts the lifecycle version (see subscription.ts). Do not change it.
 *
 * One subscription's timeline: wait for its start and trial, then for each period issue the invoice
 * in advance, sleep until the period ends, recognise its revenue, and continue as new for the next
 * period. Elapsed periods of a backdated subscription pass through the same steps without sleeping,
 * up to MAX_PERIODS_PER_RUN of them in one run.
 */
export async function firstVersion(input: SubscriptionWorkflowInput): Promise<SubscriptionState> {
  const cadence = input.cadence;
  const anchor = new Date(input.billingAnchor);
  let period: Period = periodAt(anchor, cadence, input.periodIndex);
  const state: SubscriptionState = {
    subscriptionId: input.subscriptionId,
    customerId: input.customerId,
    planCode: input.planCode,
    status: input.periodIndex === 0 ? 'scheduled' : 'active',
    startAt: input.startAt,
    trialEnd: input.trialEnd,
    currentPeriod: null,
    cancelAtPeriodEnd: input.cancelAtPeriodEnd,
    canceledAt: null,
    nextBillingAt: period.start.toISOString(),
    upcoming: [],
    stateVersion: input.stateVersion,
  };
  let cancelNow = false;

  setHandler(getStateQuery, () => state);

  setHandler(
    cancelUpdate,
    async (request: CancelRequest): Promise<SubscriptionState> => {
      if (request.at === 'now') {
        cancelNow = true;
        await condition(() => state.status === 'canceled');
        return state;
      }
      state.cancelAtPeriodEnd = true;
      await publish();
      return state;
    },
    {
      validator: (request: CancelRequest): void => {
        if (!request || !CANCEL_OPTIONS.includes(request.at)) {
          throw ApplicationFailure.nonRetryable(
            `"at" must be one of ${CANCEL_OPTIONS.join(', ')}; got ${JSON.stringify(request?.at)}`,
            'invalid_cancel_option',
          );
        }
        if (state.status === 'canceled' || cancelNow) {
          throw ApplicationFailure.nonRetryable(`subscription ${state.subscriptionId} is already canceled`, 'subscription_canceled');
        }
        if (request.at === 'period_end' && state.cancelAtPeriodEnd) {
          throw ApplicationFailure.nonRetryable(
            `subscription ${state.subscriptionId} is already set to cancel at the end of its period`,
            'cancellation_already_scheduled',
          );
        }
      },
    },
  );

  async function publish(): Promise<void> {
    state.stateVersion += 1;
    state.upcoming = upcomingEvents();
    const updates: SearchAttributeUpdatePair[] = [
      { key: CustomerIdKey, value: state.customerId },
      { key: SubscriptionStatusKey, value: state.status },
      { key: PlanCodeKey, value: state.planCode },
      { key: NextBillingAtKey, value: state.nextBillingAt ? new Date(state.nextBillingAt) : null },
    ];
    upsertSearchAttributes(updates);
    upsertMemo({ summary: summary(), upcoming: state.upcoming });
    await billing.recordSubscriptionState({ ...state });
  }

  function upcomingEvents(): UpcomingEvent[] {
    if (state.status === 'canceled') return [];
    const events: UpcomingEvent[] = [];
    if (state.status === 'scheduled') events.push({ at: state.startAt, event: 'start' });
    if (state.trialEnd && (state.status === 'scheduled' || state.status === 'trialing')) {
      events.push({ at: state.trialEnd, event: 'trial_end' });
    }
    const boundary = state.currentPeriod?.end ?? (state.status === 'active' ? null : period.start.toISOString());
    if (boundary) events.push({ at: boundary, event: state.cancelAtPeriodEnd ? 'cancellation' : 'renewal' });
    return events;
  }

  function summary(): string {
    const next = state.upcoming[0];
    const what = `Subscription ${state.subscriptionId} of customer ${state.customerId} on plan ${state.planCode}: ${state.status}`;
    return next ? `${what}; next: ${next.event} at ${next.at}` : what;
  }

  /** Sleeps until `until` unless a cancel-now arrives; false when it was interrupted. */
  async function sleepUntil(until: Date): Promise<boolean> {
    const ms = until.getTime() - Date.now();
    if (ms <= 0) return !cancelNow;
    return !(await condition(() => cancelNow, ms));
  }

  /** `last`: the invoice index after the last one issued, and when the subscription's service ended. */
  async function finishCanceled(last: { periodIndex: number; endsAt: Date }): Promise<SubscriptionState> {
    if (patched(BILL_USAGE_AT_END)) {
      await billing.issueClosingInvoice({ subscriptionId: input.subscriptionId, periodIndex: last.periodIndex, endsAt: last.endsAt.toISOString() });
    }
    state.status = 'canceled';
    state.canceledAt = new Date(Date.now()).toISOString();
    state.nextBillingAt = null;
    await publish();
    await condition(allHandlersFinished);
    log.info('subscription canceled', { subscriptionId: state.subscriptionId });
    return state;
  }

  // Before this run's first invoice, the subscription ends now (a cancel before the start or in the
  // trial) or at this period's start (a cancellation at the end of the previous period).
  const beforeFirstInvoice = () => ({ periodIndex: input.periodIndex, endsAt: new Date(Math.min(Date.now(), period.start.getTime())) });
  if (input.periodIndex === 0) {
    await publish();
    if (!(await sleepUntil(new Date(input.startAt)))) return finishCanceled(beforeFirstInvoice());
    if (input.trialEnd) {
      state.status = 'trialing';
      await publish();
      if (!(await sleepUntil(new Date(input.trialEnd)))) return finishCanceled(beforeFirstInvoice());
    }
  }
  // A cancellation at period end (or trial end) takes effect here, before the next invoice.
  if (state.cancelAtPeriodEnd) return finishCanceled(beforeFirstInvoice());

  for (let billedThisRun = 1; ; billedThisRun++) {
    state.status = 'active';
    state.currentPeriod = { index: period.index, start: period.start.toISOString(), end: period.end.toISOString() };
    state.nextBillingAt = period.end.toISOString();
    const invoice = await billing.issuePeriodInvoice({
      subscriptionId: input.subscriptionId,
      periodIndex: period.index,
      periodStart: state.currentPeriod.start,
      periodEnd: state.currentPeriod.end,
    });
    await publish();

    const served = await sleepUntil(period.end);
    const servedUntil = new Date(Math.min(Date.now(), period.end.getTime()));
    await billing.recognizeRevenue({ invoiceId: invoice.invoiceId, at: servedUntil.toISOString() });
    const afterThisPeriod = { periodIndex: period.index + 1, endsAt: servedUntil };
    if (!served || state.cancelAtPeriodEnd) return finishCanceled(afterThisPeriod);

    // A cancel-now arriving here would wait for a cancellation that continue-as-new would never make.
    await condition(() => cancelNow || allHandlersFinished());
    if (cancelNow) return finishCanceled(afterThisPeriod);

    // The server holds back the first task of a continued run for about a second, so a backdated
    // subscription bills its elapsed periods within one run (bounded, to keep the history small).
    const next = periodAt(anchor, cadence, period.index + 1);
    const catchUp =
      next.end.getTime() <= Date.now() &&
      billedThisRun < MAX_PERIODS_PER_RUN &&
      !workflowInfo().continueAsNewSuggested &&
      patched(CATCH_UP_IN_ONE_RUN);
    if (!catchUp) {
      return continueAsNew<typeof firstVersion>({
        ...input,
        periodIndex: period.index + 1,
        cancelAtPeriodEnd: state.cancelAtPeriodEnd,
        stateVersion: state.stateVersion,
      });
    }
    period = next;
  }
}
