import { allHandlersFinished, condition, continueAsNew, log, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import type { SubscriptionState } from '../domain/subscription';
import { trialWillEndAt } from '../domain/subscription-events';
import { applyDue, endPeriod, followCollection, renew, startBilling } from './billing-steps';
import { guardedActivities, publish } from './billing-guard';
import { applyQueued, CHANGES } from './changes';
import { getStateQuery, invoiceCollectionFailedSignal, invoiceOverdueSignal, invoiceSettledSignal, retryBillingSignal, type SubscriptionWorkflowInput } from './messages';
import { iso, SubscriptionRun, type RunContext } from './subscription-run';

/** Patch: a trial's subscription.trial_will_end event, three days before it ends (runs from before it wait for the end only). */
const TRIAL_WILL_END = 'trial-will-end-event';

/** A backdated subscription bills its elapsed periods in one run, up to this many, to keep histories small. */
const MAX_PERIODS_PER_RUN = 100;

const earliest = (...dates: Array<Date | null>): Date | null => {
  const present = dates.filter((d): d is Date => d !== null);
  return present.length > 0 ? new Date(Math.min(...present.map((d) => d.getTime()))) : null;
};

/**
 * The subscription lifecycle: one run per billing period. The run's state is one record
 * (subscription-run.ts) carried whole to the next run; support actions are validated on arrival and
 * queued (changes.ts); the main loop below applies them between its own steps (billing-steps.ts):
 * start, renewal, changes as they fall due, pause, and the end of the period or of the subscription.
 */
export async function lifecycle(input: SubscriptionWorkflowInput): Promise<SubscriptionState> {
  const run = new SubscriptionRun(input);
  const billing = guardedActivities(run);
  const context: RunContext = { run, billing, publish: () => publish(run, billing) };

  setHandler(retryBillingSignal, () => void (run.retryRequested = true));
  setHandler(getStateQuery, () => run.state());
  setHandler(invoiceOverdueSignal, ({ invoiceId }) => {
    if (!run.record.unpaid[invoiceId]) run.record.unpaid[invoiceId] = 'overdue';
    run.collectionChanged = true;
  });
  setHandler(invoiceCollectionFailedSignal, ({ invoiceId }) => {
    run.record.unpaid[invoiceId] = 'failed';
    run.collectionChanged = true;
  });
  setHandler(invoiceSettledSignal, ({ invoiceId }) => {
    delete run.record.unpaid[invoiceId];
    run.collectionChanged = true;
  });
  for (const register of CHANGES) register(context);

  /** Sleeps until `deadline` (null: indefinitely), waking early for any change to apply. */
  async function waitUntil(deadline: Date | null): Promise<void> {
    const wake = () => run.queue.length > 0 || run.collectionChanged || (run.phase === 'paused' && workflowInfo().continueAsNewSuggested);
    if (deadline === null) return void (await condition(wake));
    const ms = deadline.getTime() - Date.now();
    if (ms > 0) await condition(wake, ms);
  }

  /** Changes that arrived behind the last step are answered before the run ends. */
  async function settleHandlers(): Promise<void> {
    while (!allHandlersFinished() || run.queue.length > 0) {
      await applyQueued(context);
      await condition(() => run.queue.length > 0 || allHandlersFinished());
    }
  }

  async function finish(): Promise<SubscriptionState> {
    await context.publish();
    while (!allHandlersFinished()) {
      await applyQueued(context);
      await condition(() => run.queue.length > 0 || allHandlersFinished());
    }
    log.info('subscription canceled', { subscriptionId: run.record.subscriptionId });
    return run.state();
  }

  async function continueAsNext(): Promise<never> {
    await settleHandlers();
    return continueAsNew<typeof lifecycle>(run.record);
  }

  // ---- the timeline --------------------------------------------------------------------------------

  if (run.record.plan.id === '') run.setPlan(await billing.loadPlan({ subscriptionId: run.record.subscriptionId }));
  await context.publish();
  let billedThisRun = 0;
  /** The trial end whose coming end has been reported (a trial moved since is reported again). */
  let trialWarnedFor: string | null = null;
  for (;;) {
    await applyQueued(context); // support actions, in arrival order
    await followCollection(context); // suspended or active again, as the invoices' collection goes
    if (!run.ended()) await applyDue(context); // changes scheduled for an instant that has come
    if (run.ended()) return finish();

    // Before billing: wait for the start (and the trial's end), then begin.
    if (run.phase === 'scheduled' || run.phase === 'trialing') {
      const starts = run.phase === 'scheduled' ? run.startAt() : run.trialEnd()!;
      if (Date.now() < starts.getTime()) {
        let warnAt: Date | null = null;
        if (run.phase === 'trialing' && trialWarnedFor !== iso(starts) && patched(TRIAL_WILL_END)) {
          warnAt = trialWillEndAt(starts);
          if (Date.now() >= warnAt.getTime()) {
            await billing.reportTrialWillEnd({ subscriptionId: run.record.subscriptionId, trialEnd: iso(starts) });
            trialWarnedFor = iso(starts);
            warnAt = null;
          }
        }
        await waitUntil(earliest(starts, run.nextDue(), warnAt));
        continue;
      }
      if ((await startBilling(context, starts)) === 'canceled') return finish();
      await context.publish();
      continue;
    }

    // Paused: nothing is billed until a resume (scheduled or asked for).
    if (run.phase === 'paused') {
      if (workflowInfo().continueAsNewSuggested) return continueAsNext();
      await waitUntil(run.nextDue());
      continue;
    }

    // Renewal: the period's invoice, once.
    if (!run.periodInvoiced) {
      await renew(context);
      billedThisRun += 1;
      await context.publish();
      continue;
    }

    // The period runs: wake for its end, or for a change due before it.
    const end = run.period().end;
    if (Date.now() < end.getTime()) {
      await waitUntil(earliest(end, run.nextDue()));
      continue;
    }

    // The period ended: cancel at its end, or change plan and go on to the next one.
    if ((await endPeriod(context)) === 'canceled') return finish();
    // Elapsed periods of a backdated subscription are billed in this run; otherwise the next run renews.
    const catchUp = run.period().end.getTime() <= Date.now() && billedThisRun < MAX_PERIODS_PER_RUN && !workflowInfo().continueAsNewSuggested && run.queue.length === 0;
    if (!catchUp) return continueAsNext();
  }
}
