import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  startChild,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair, UpdateDefinition } from '@temporalio/common';
import type { BillingActivities, BillingRequest } from '../activities';
import { fullPeriodOf, periodOf, type Cadence, type Period } from '../domain/period';
import { feeSpec, planChangeBilling, sameCadence } from '../domain/plan-change';
import type {
  BillingErrorInfo,
  CancelRequest,
  ChangePlanRequest,
  InvoiceSummary,
  PlanSnapshot,
  ScheduledChange,
  SubscriptionState,
  SubscriptionStatus,
  UpcomingEvent,
} from '../domain/subscription';
import {
  cancelUpdate,
  changePlanUpdate,
  getStateQuery,
  invoiceCollectionFailedSignal,
  invoiceOverdueSignal,
  invoiceSettledSignal,
  invoiceWorkflowId,
  pauseUpdate,
  resumeUpdate,
  retryBillingSignal,
  setTrialEndUpdate,
  unscheduleUpdate,
  type SubscriptionWorkflowInput,
} from './messages';
import { invoiceCollectionWorkflow } from './invoice-collection';
import { CustomerIdKey, NextBillingAtKey, PlanCodeKey, SubscriptionStatusKey } from './search-attributes';

// Billing must happen eventually, so transient failures are retried without end; failures retrying
// cannot fix arrive non-retryable (activities/failures.ts) and stop billing visibly (billing_error).
const activities = proxyActivities<BillingActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/** Patch: a non-retryable activity failure stops billing as billing_error until `retryBilling`, instead of failing the run. */
const BILLING_ERROR_WAITS = 'billing-error-waits';

/** Patch: each invoice that asks money is collected by its own child workflow, `invoice-<id>`. */
const COLLECT_INVOICES = 'collect-invoices';

/** A backdated subscription bills its elapsed periods in one run, up to this many, to keep histories small. */
const MAX_PERIODS_PER_RUN = 100;

const iso = (d: Date): string => d.toISOString();
const reject = (code: string, message: string): never => {
  throw ApplicationFailure.nonRetryable(message, code);
};

interface Action {
  run(): Promise<void>;
  done: boolean;
  failure?: unknown;
}

/**
 * The subscription lifecycle: one run per billing period. The main loop owns every change: update
 * handlers validate (a rejection leaves no trace in the history), queue their action and wait for
 * the loop to apply it, so two support staff changing one subscription are applied one after the
 * other, each answered with the state it produced. Changes for later are kept in `scheduled`, shown
 * to operators, and carried across continue-as-new.
 */
export async function lifecycle(input: SubscriptionWorkflowInput): Promise<SubscriptionState> {
  const zone = input.zone ?? 'UTC';
  const alignment = input.alignment ?? 'anniversary';
  // Runs continued from the first version carry no plan snapshot: it is loaded before the main loop,
  // after the handlers are registered (an update in the first task must find its handler).
  let plan: PlanSnapshot = input.plan ?? { id: '', code: input.planCode, version: 0, name: input.planName, currency: '', amount: '0', cadence: input.cadence };
  let cadence: Cadence = input.plan?.cadence ?? input.cadence;
  let segment = { anchor: new Date(input.segment?.anchor ?? input.billingAnchor), firstCycle: input.segment?.firstCycle ?? 0 };
  let cycle = input.periodIndex;
  const startAt = new Date(input.startAt);
  let trialEnd = input.trialEnd ? new Date(input.trialEnd) : null;
  let scheduled: ScheduledChange[] = input.scheduled ?? [];
  let usagePlanId = input.usagePlanId ?? null;
  let usageCut = input.usageCut ?? false;
  let reopenUsage = input.reopenUsage ?? false;
  let pausedAt = input.pausedAt ? new Date(input.pausedAt) : null;
  let periodInvoiced = false;
  let toRecognize: string[] = [];
  let latestInvoice: InvoiceSummary | null = null;
  let changeCount = 0;
  // Invoices whose collection is behind: overdue (a charge failed) or failed (the schedule ran out).
  const unpaid: Record<string, 'overdue' | 'failed'> = { ...(input.unpaid ?? {}) };
  let suspendedFor: string | null = input.suspendedFor ?? null;
  let collectionChanged = false;
  let endedAtPeriodEnd = false;
  const queue: Action[] = [];

  const schedule = () => ({ anchor: segment.anchor, cadence, zone, alignment });
  const periodOfCycle = (c: number): Period => ({ ...periodOf(schedule(), c - segment.firstCycle), index: c });
  const fullPeriodOfCycle = (c: number): Period => fullPeriodOf(schedule(), c - segment.firstCycle);
  let period = periodOfCycle(cycle);

  let phase: SubscriptionStatus = pausedAt ? 'paused' : cycle === 0 ? 'scheduled' : 'active';
  if (input.cancelAtPeriodEnd && !scheduled.some((c) => c.kind === 'cancel')) {
    scheduled.push({ id: 'cancel-at-period-end', kind: 'cancel', at: iso(period.start), atPeriodEnd: true, prorate: false });
  }

  const state: SubscriptionState = {
    subscriptionId: input.subscriptionId,
    customerId: input.customerId,
    planCode: plan.code,
    status: phase,
    startAt: input.startAt,
    trialEnd: input.trialEnd,
    currentPeriod: null,
    cancelAtPeriodEnd: false,
    canceledAt: null,
    nextBillingAt: null,
    upcoming: [],
    stateVersion: input.stateVersion,
    plan,
    scheduledChanges: [],
    pausedAt: null,
    latestInvoice: null,
  };

  // ---- failures retrying cannot fix ---------------------------------------------------------------

  let billingError: BillingErrorInfo | null = null;
  let retryRequested = false;
  setHandler(retryBillingSignal, () => void (retryRequested = true));

  /**
   * Every activity through one guard: a non-retryable failure stops here, shows the subscription as
   * billing_error (status, search attribute, memo and the state the API reads, with the reason) and
   * waits for an operator's `retryBilling`; then the same step runs again. Nothing after it happens
   * meanwhile, so no later period is billed past a broken one.
   */
  const billing = new Proxy(activities, {
    get(target, name: string) {
      const activity = target[name as keyof BillingActivities] as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        for (;;) {
          try {
            return await activity(...args);
          } catch (error) {
            if (!(error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.nonRetryable)) throw error;
            if (!patched(BILLING_ERROR_WAITS)) throw error;
            billingError = { activity: name, code: error.cause.type ?? 'error', message: error.cause.message, at: iso(now()) };
            log.error('billing stopped', { subscriptionId: input.subscriptionId, ...billingError });
            retryRequested = false;
            await publishBillingError();
            await condition(() => retryRequested);
            billingError = null;
          }
        }
      };
    },
  }) as BillingActivities;

  async function publishBillingError(): Promise<void> {
    refresh();
    state.stateVersion += 1;
    upsertSearchAttributes([{ key: SubscriptionStatusKey, value: status() }]);
    upsertMemo({ summary: summary(), billingError });
    try {
      await activities.recordSubscriptionState({ ...state });
    } catch (error) {
      // The state write may be what failed; the workflow's own status and memo still say why.
      log.warn('billing_error not recorded in Postgres', { error: String(error) });
    }
  }

  const newChangeId = (kind: string): string => `${kind}-${workflowInfo().runId.slice(0, 8)}-${++changeCount}`;

  // ---- reading the state -------------------------------------------------------------------------

  /** A billing subscription is past due while an invoice is overdue, suspended once collection failed. */
  function status(): SubscriptionStatus {
    if (billingError) return 'billing_error';
    if (phase !== 'active') return phase;
    const behind = Object.values(unpaid);
    return behind.includes('failed') ? 'suspended' : behind.length > 0 ? 'past_due' : 'active';
  }

  function refresh(): void {
    state.status = status();
    state.plan = plan;
    state.planCode = plan.code;
    state.trialEnd = trialEnd ? iso(trialEnd) : null;
    state.currentPeriod = phase === 'active' ? { index: period.index, start: iso(period.start), end: iso(period.end) } : null;
    const basis = fullPeriodOfCycle(cycle);
    state.periodBasis = phase === 'active' ? { start: iso(basis.start), end: iso(basis.end) } : null;
    state.schedule = { anchor: iso(segment.anchor), firstCycle: segment.firstCycle, zone, alignment };
    state.scheduledChanges = [...scheduled].sort((a, b) => a.at.localeCompare(b.at));
    state.cancelAtPeriodEnd = endedAtPeriodEnd || scheduled.some((c) => c.kind === 'cancel' && c.atPeriodEnd);
    state.pausedAt = pausedAt ? iso(pausedAt) : null;
    state.latestInvoice = latestInvoice;
    state.billingError = billingError;
    state.nextBillingAt =
      phase === 'active' ? (renews() ? iso(period.end) : null) : phase === 'scheduled' || phase === 'trialing' ? iso(trialEnd && trialEnd > startAt ? trialEnd : startAt) : null;
    state.upcoming = upcomingEvents();
  }

  /** The current period renews unless a cancellation or a pause comes first. */
  const renews = (): boolean =>
    !scheduled.some((c) => (c.kind === 'cancel' || c.kind === 'pause') && (c.atPeriodEnd || new Date(c.at) <= period.end));

  function upcomingEvents(): UpcomingEvent[] {
    if (phase === 'canceled') return [];
    const events: UpcomingEvent[] = [];
    if (phase === 'scheduled') events.push({ at: iso(startAt), event: 'start' });
    if (trialEnd && (phase === 'scheduled' || phase === 'trialing')) events.push({ at: iso(trialEnd), event: 'trial_end' });
    if (phase === 'active' && renews()) events.push({ at: iso(period.end), event: 'renewal' });
    const names = { change_plan: 'plan_change', pause: 'pause', resume: 'resume', cancel: 'cancellation' } as const;
    for (const change of scheduled) events.push({ at: change.atPeriodEnd && phase === 'active' ? iso(period.end) : change.at, event: names[change.kind], changeId: change.id });
    return events.sort((a, b) => a.at.localeCompare(b.at));
  }

  function summary(): string {
    const next = state.upcoming[0];
    const what = `Subscription ${state.subscriptionId} of customer ${state.customerId} on plan ${plan.code} v${plan.version}: ${status()}${billingError ? ` (${billingError.activity} failed: ${billingError.code}: ${billingError.message}; fix the cause, then signal retryBilling)` : ''}`;
    return next ? `${what}; next: ${next.event} at ${next.at}` : what;
  }

  async function publish(): Promise<void> {
    refresh();
    state.stateVersion += 1;
    const updates: SearchAttributeUpdatePair[] = [
      { key: CustomerIdKey, value: state.customerId },
      { key: SubscriptionStatusKey, value: status() },
      { key: PlanCodeKey, value: plan.code },
      { key: NextBillingAtKey, value: state.nextBillingAt ? new Date(state.nextBillingAt) : null },
    ];
    upsertSearchAttributes(updates);
    // billingError is null here (a stopped run publishes through publishBillingError): null clears the
    // reason that publishBillingError left in the memo, which would otherwise outlive the recovery.
    upsertMemo({ summary: summary(), upcoming: state.upcoming, billingError });
    await billing.recordSubscriptionState({ ...state });
  }

  setHandler(getStateQuery, () => {
    refresh();
    return state;
  });

  // ---- billing -----------------------------------------------------------------------------------

  const fee = (p: PlanSnapshot, basis: Period, from: Date, to: Date, credit: boolean) => feeSpec(p.id, basis, from, to, credit);

  async function bill(request: Omit<BillingRequest, 'subscriptionId'>): Promise<InvoiceSummary | null> {
    const invoice = await billing.billSubscription({ subscriptionId: input.subscriptionId, ...request });
    if (invoice) latestInvoice = invoice;
    if (invoice?.amountDue && !/^0(\.0*)?$/.test(invoice.amountDue) && patched(COLLECT_INVOICES)) {
      // Abandoned on purpose: collection outlives this run (which continues as new every period).
      await startChild(invoiceCollectionWorkflow, {
        workflowId: invoiceWorkflowId(invoice.invoiceId),
        args: [{ invoiceId: invoice.invoiceId, subscriptionId: input.subscriptionId }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    }
    return invoice;
  }

  setHandler(invoiceOverdueSignal, ({ invoiceId }) => {
    if (!unpaid[invoiceId]) unpaid[invoiceId] = 'overdue';
    collectionChanged = true;
  });
  setHandler(invoiceCollectionFailedSignal, ({ invoiceId }) => {
    unpaid[invoiceId] = 'failed';
    collectionChanged = true;
  });
  setHandler(invoiceSettledSignal, ({ invoiceId }) => {
    delete unpaid[invoiceId];
    collectionChanged = true;
  });

  /** Tells the customer's service when the subscription becomes suspended, and when it is whole again. */
  async function reconcileCollection(): Promise<void> {
    if (!collectionChanged) return;
    collectionChanged = false;
    const failedInvoice = Object.keys(unpaid).find((id) => unpaid[id] === 'failed') ?? null;
    const at = iso(now());
    if (failedInvoice && !suspendedFor) {
      suspendedFor = failedInvoice;
      await billing.notifyProvisioning({ key: `suspend:${failedInvoice}`, subscriptionId: input.subscriptionId, invoiceId: failedInvoice, type: 'subscription.suspended', at });
    } else if (!failedInvoice && suspendedFor) {
      const settled = suspendedFor;
      suspendedFor = null;
      await billing.notifyProvisioning({ key: `resume:${settled}`, subscriptionId: input.subscriptionId, invoiceId: settled, type: 'subscription.resumed', at });
    }
    await publish();
  }

  async function recognize(at: Date): Promise<void> {
    for (const invoiceId of toRecognize) await billing.recognizeRevenue({ invoiceId, at: iso(at) });
    toRecognize = [];
  }

  /** The renewal: this period's fee in advance, the previous period's usage in arrears. */
  async function billRenewal(): Promise<void> {
    const startsUsage = cycle === 0 || reopenUsage;
    const invoice = await bill({
      periodIndex: cycle,
      billingKey: null,
      reason: 'subscription_cycle',
      fees: [fee(plan, fullPeriodOfCycle(cycle), period.start, period.end, false)],
      usage: startsUsage ? null : { until: iso(period.start), planId: usagePlanId ?? plan.id, wholePeriod: !usageCut, ends: false },
      reopenUsageAt: startsUsage ? iso(period.start) : null,
      issuedAt: iso(period.start),
    });
    if (invoice) toRecognize.push(invoice.invoiceId);
    usagePlanId = null;
    usageCut = false;
    reopenUsage = false;
    periodInvoiced = true;
  }

  /** Usage not billed yet, at the prices it accrued at, up to `at`. */
  const usageUntil = (at: Date, ends: boolean, wholePeriod = false) => ({ until: iso(at), planId: usagePlanId ?? plan.id, wholePeriod, ends });

  async function changePlan(change: { id: string; plan: PlanSnapshot; proration: 'prorate' | 'none' }, at: Date): Promise<void> {
    const next = change.plan;
    if (phase !== 'active') {
      // Before billing starts, or while paused, the plan simply is the new one from now on.
      plan = next;
      cadence = next.cadence;
      if (phase !== 'paused') period = periodOfCycle(cycle);
      return;
    }
    const billingOf = planChangeBilling({
      current: { planId: plan.id, cadence: plan.cadence },
      next: { planId: next.id, cadence: next.cadence },
      prorate: change.proration === 'prorate',
      at,
      period,
      basis: fullPeriodOfCycle(cycle),
      zone,
      alignment,
    });
    const usage = usageUntil(at, false);
    if (billingOf.restart) {
      // A new interval restarts the period at the change; the old period's revenue is served until now.
      await recognize(at);
      cadence = next.cadence;
      segment = { anchor: at, firstCycle: cycle + 1 };
      cycle += 1;
      period = periodOfCycle(cycle);
      periodInvoiced = true;
    }
    const invoice = await bill({
      periodIndex: billingOf.restart ? cycle : null,
      billingKey: billingOf.restart ? null : `change:${change.id}`,
      reason: 'subscription_update',
      fees: billingOf.fees,
      usage,
      reopenUsageAt: null,
      issuedAt: iso(at),
    });
    if (invoice) toRecognize.push(invoice.invoiceId);
    plan = next;
    usagePlanId = null;
    usageCut = !billingOf.restart;
  }

  async function pause(id: string, at: Date): Promise<void> {
    const fees = at < period.end ? [fee(plan, fullPeriodOfCycle(cycle), at, period.end, true)] : [];
    const invoice = await bill({ periodIndex: null, billingKey: `pause:${id}`, reason: 'subscription_pause', fees, usage: usageUntil(at, true), reopenUsageAt: null, issuedAt: iso(at) });
    if (invoice) toRecognize.push(invoice.invoiceId);
    await recognize(at);
    phase = 'paused';
    pausedAt = at;
    usagePlanId = null;
    usageCut = false;
  }

  function resume(at: Date): void {
    // Resuming starts a new period from the resume instant.
    segment = { anchor: at, firstCycle: cycle + 1 };
    cadence = plan.cadence;
    cycle += 1;
    period = periodOfCycle(cycle);
    phase = 'active';
    pausedAt = null;
    reopenUsage = true;
    periodInvoiced = false;
  }

  async function cancel(at: Date, prorate: boolean, atPeriodEnd: boolean): Promise<void> {
    if (phase === 'active') {
      const fees = prorate && at < period.end ? [fee(plan, fullPeriodOfCycle(cycle), at, period.end, true)] : [];
      const invoice = await bill({
        periodIndex: null,
        billingKey: 'cancel',
        reason: 'subscription_cancel',
        fees,
        usage: usageUntil(at, true, atPeriodEnd && !usageCut),
        reopenUsageAt: null,
        issuedAt: iso(at),
      });
      if (invoice) toRecognize.push(invoice.invoiceId);
      await recognize(at);
    } else if (phase !== 'paused') {
      // Nothing was billed; ending usage refuses any event from here on.
      await bill({ periodIndex: null, billingKey: 'cancel', reason: 'subscription_cancel', fees: [], usage: usageUntil(at, true), reopenUsageAt: null, issuedAt: iso(at) });
    }
    phase = 'canceled';
    state.canceledAt = iso(at);
    endedAtPeriodEnd = atPeriodEnd;
    scheduled = [];
  }

  // ---- changes: validated on arrival, applied by the main loop in arrival order --------------------

  const now = (): Date => new Date(Date.now());

  /** "now", "period_end" or a future ISO 8601 instant, resolved; anything else is refused. */
  function when(at: unknown, allowPeriodEnd: boolean): { at: Date; atPeriodEnd: boolean; immediate: boolean } {
    if (at === 'now') return { at: now(), atPeriodEnd: false, immediate: true };
    if (at === 'period_end') {
      if (!allowPeriodEnd) reject('invalid_date', '"period_end" is not possible here; use "now" or an ISO 8601 instant');
      const end = phase === 'active' ? period.end : phase === 'trialing' || phase === 'scheduled' ? (trialEnd ?? startAt) : null;
      if (!end) reject('invalid_date', `subscription ${input.subscriptionId} is ${phase}: it has no period end`);
      return { at: end!, atPeriodEnd: true, immediate: false };
    }
    const parsed = typeof at === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(at) ? new Date(at) : null;
    if (!parsed || Number.isNaN(parsed.getTime())) reject('invalid_date', `"at" must be "now"${allowPeriodEnd ? ', "period_end"' : ''} or an ISO 8601 instant; got ${JSON.stringify(at)}`);
    if (parsed!.getTime() <= Date.now()) reject('date_in_past', `${at} is not in the future (it is now ${iso(now())})`);
    return { at: parsed!, atPeriodEnd: false, immediate: false };
  }

  function assertNotEnding(): void {
    if (phase === 'canceled') reject('subscription_canceled', `subscription ${input.subscriptionId} is canceled`);
    if (queue.some((a) => !a.done && (a as Action & { cancelsNow?: boolean }).cancelsNow)) {
      reject('subscription_canceled', `subscription ${input.subscriptionId} is being canceled`);
    }
  }

  function registerChange<A>(update: UpdateDefinition<SubscriptionState, [A]>, validate: (request: A) => void, apply: (request: A) => Action & { cancelsNow?: boolean }): void {
    setHandler(
      update,
      async (request: A): Promise<SubscriptionState> => {
        const action = apply(request);
        queue.push(action);
        await condition(() => action.done);
        if (action.failure) throw action.failure;
        refresh();
        return { ...state };
      },
      {
        validator: (request: A): void => {
          if (request === null || typeof request !== 'object') reject('invalid_request', 'the update needs an argument object');
          if (plan.id === '') reject('subscription_busy', `subscription ${input.subscriptionId} is starting its next period; try again in a moment`);
          // The main loop is held at the failed step; a change accepted now would wait for retryBilling.
          if (billingError) {
            reject('subscription_billing_error', `billing of subscription ${input.subscriptionId} stopped (${billingError.activity}: ${billingError.message}); fix the cause and signal retryBilling first`);
          }
          assertNotEnding();
          validate(request);
        },
      },
    );
  }

  const action = (run: () => Promise<void>): Action => ({ run, done: false });

  function addScheduled(change: ScheduledChange): Action {
    return action(async () => {
      scheduled = [...scheduled.filter((c) => c.kind !== change.kind || change.kind === 'cancel'), change];
      await publish();
    });
  }

  registerChange<CancelRequest>(
    cancelUpdate,
    (request) => {
      if (!['now', 'period_end'].includes(request.at) && !/^\d{4}-\d{2}-\d{2}T/.test(String(request.at))) {
        reject('invalid_cancel_option', `"at" must be "now", "period_end" or an ISO 8601 instant; got ${JSON.stringify(request.at)}`);
      }
      if (request.prorate !== undefined && typeof request.prorate !== 'boolean') reject('invalid_proration', '"prorate" must be true or false');
      if (request.at !== 'now' && scheduled.some((c) => c.kind === 'cancel')) {
        reject('cancellation_already_scheduled', `subscription ${input.subscriptionId} is already set to cancel; reactivate it first to choose another date`);
      }
      when(request.at, true);
    },
    (request) => {
      const resolved = when(request.at, true);
      const prorate = request.prorate ?? false;
      if (resolved.immediate) return { ...action(() => cancel(now(), prorate, false)), cancelsNow: true };
      return addScheduled({ id: newChangeId('cancel'), kind: 'cancel', at: iso(resolved.at), atPeriodEnd: resolved.atPeriodEnd, prorate });
    },
  );

  registerChange<ChangePlanRequest>(
    changePlanUpdate,
    (request) => {
      const next = request.plan;
      if (!next || typeof next.id !== 'string') reject('invalid_plan', 'the new plan is missing');
      if (!['prorate', 'none'].includes(request.proration)) reject('invalid_proration', `"proration" must be "prorate" or "none"; got ${JSON.stringify(request.proration)}`);
      if (next.currency !== plan.currency) reject('currency_mismatch', `plan ${next.code} is billed in ${next.currency}, but this subscription is in ${plan.currency}`);
      if (phase === 'paused' && request.at === 'now') reject('subscription_paused', `subscription ${input.subscriptionId} is paused; resume it first, or schedule the change`);
      const pendingChange = scheduled.find((c) => c.kind === 'change_plan');
      if (next.id === plan.id && !pendingChange) reject('plan_unchanged', `subscription ${input.subscriptionId} is already on plan ${next.code} version ${next.version}`);
      when(request.at, true);
    },
    (request) => {
      const resolved = when(request.at, true);
      const change = { id: newChangeId('change'), plan: request.plan, proration: request.proration };
      if (resolved.immediate) {
        return action(async () => {
          if (change.plan.id === plan.id) reject('plan_unchanged', `subscription ${input.subscriptionId} is already on plan ${change.plan.code} version ${change.plan.version}`);
          // A change now replaces one scheduled for later.
          scheduled = scheduled.filter((c) => c.kind !== 'change_plan');
          await changePlan(change, now());
          await publish();
        });
      }
      return addScheduled({ ...change, kind: 'change_plan', at: iso(resolved.at), atPeriodEnd: resolved.atPeriodEnd });
    },
  );

  registerChange<{ at: string }>(
    pauseUpdate,
    (request) => {
      if (phase === 'paused') reject('subscription_paused', `subscription ${input.subscriptionId} is already paused`);
      if (scheduled.some((c) => c.kind === 'pause') || queue.some((a) => !a.done && (a as Action & { pauses?: boolean }).pauses)) {
        reject('pause_already_scheduled', `subscription ${input.subscriptionId} already has a pause scheduled; remove it first`);
      }
      const resolved = when(request.at, false);
      const startsBilling = trialEnd && trialEnd > startAt ? trialEnd : startAt;
      if (phase !== 'active' && (resolved.immediate || resolved.at < startsBilling)) {
        reject('subscription_not_active', `subscription ${input.subscriptionId} is ${phase}; only a billing subscription can be paused`);
      }
    },
    (request) => {
      const resolved = when(request.at, false);
      if (resolved.immediate) {
        return {
          ...action(async () => {
            if (phase !== 'active') reject(phase === 'paused' ? 'subscription_paused' : 'subscription_not_active', `subscription ${input.subscriptionId} is ${phase}`);
            await pause(newChangeId('pause'), now());
            await publish();
          }),
          pauses: true,
        };
      }
      return addScheduled({ id: newChangeId('pause'), kind: 'pause', at: iso(resolved.at), atPeriodEnd: false });
    },
  );

  registerChange<{ at: string }>(
    resumeUpdate,
    (request) => {
      const pauseAt = scheduled.find((c) => c.kind === 'pause');
      if (phase !== 'paused' && !pauseAt) reject('subscription_not_paused', `subscription ${input.subscriptionId} is not paused`);
      const resolved = when(request.at, false);
      if (phase !== 'paused' && (resolved.immediate || (pauseAt && resolved.at <= new Date(pauseAt.at)))) {
        reject('subscription_not_paused', `subscription ${input.subscriptionId} is not paused yet; a resume must come after its pause at ${pauseAt?.at}`);
      }
    },
    (request) => {
      const resolved = when(request.at, false);
      if (resolved.immediate) {
        return action(async () => {
          if (phase !== 'paused') reject('subscription_not_paused', `subscription ${input.subscriptionId} is not paused`);
          scheduled = scheduled.filter((c) => c.kind !== 'resume');
          resume(now());
          await publish();
        });
      }
      return addScheduled({ id: newChangeId('resume'), kind: 'resume', at: iso(resolved.at), atPeriodEnd: false });
    },
  );

  registerChange<{ at: string }>(
    setTrialEndUpdate,
    (request) => {
      if (phase !== 'trialing' && !(phase === 'scheduled' && trialEnd)) reject('subscription_not_trialing', `subscription ${input.subscriptionId} is ${phase}, not in a trial`);
      const resolved = when(request.at, false);
      if (resolved.at <= startAt && !resolved.immediate) reject('invalid_date', `the trial cannot end before the subscription starts (${iso(startAt)})`);
    },
    (request) => {
      const resolved = when(request.at, false);
      return action(async () => {
        // The billing anchor moves with the trial's end; before the start, ending it now means at the start.
        trialEnd = resolved.immediate && phase === 'scheduled' ? startAt : resolved.immediate ? now() : resolved.at;
        segment = { anchor: trialEnd, firstCycle: 0 };
        period = periodOfCycle(cycle);
        await publish();
      });
    },
  );

  registerChange<{ changeId: string }>(
    unscheduleUpdate,
    (request) => {
      if (!scheduled.some((c) => c.id === request.changeId)) {
        reject('scheduled_change_missing', `subscription ${input.subscriptionId} has no scheduled change ${JSON.stringify(request.changeId)}`);
      }
    },
    (request) =>
      action(async () => {
        scheduled = scheduled.filter((c) => c.id !== request.changeId);
        await publish();
      }),
  );

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      // The action stays queued while it runs, so validators of later updates see it in flight.
      const next = queue[0];
      try {
        if (phase === 'canceled') reject('subscription_canceled', `subscription ${input.subscriptionId} is canceled`);
        await next.run();
      } catch (error) {
        if (!(error instanceof ApplicationFailure)) throw error;
        next.failure = error;
      }
      next.done = true;
      queue.shift();
    }
  }

  /** Changes scheduled for an instant that has come (those at a period's end are the boundary's). */
  async function runDue(): Promise<void> {
    for (;;) {
      const due = scheduled.filter((c) => !c.atPeriodEnd && new Date(c.at).getTime() <= Date.now()).sort((a, b) => a.at.localeCompare(b.at))[0];
      if (!due || phase === 'canceled') return;
      scheduled = scheduled.filter((c) => c !== due);
      const at = new Date(due.at);
      if (due.kind === 'change_plan') await changePlan(due, at);
      else if (due.kind === 'pause' && phase === 'active') await pause(due.id, at);
      else if (due.kind === 'resume' && phase === 'paused') resume(at);
      else if (due.kind === 'cancel') await cancel(at, due.prorate, false);
      else log.warn('scheduled change no longer applies', { change: due, phase });
      await publish();
    }
  }

  /** Sleeps until `deadline` (null: indefinitely), waking early for any change to apply. */
  async function waitUntil(deadline: Date | null): Promise<void> {
    const wake = () => queue.length > 0 || collectionChanged || (phase === 'paused' && workflowInfo().continueAsNewSuggested);
    if (deadline === null) return void (await condition(wake));
    const ms = deadline.getTime() - Date.now();
    if (ms > 0) await condition(wake, ms);
  }

  const nextDue = (): Date | null => {
    const dated = scheduled.filter((c) => !c.atPeriodEnd).map((c) => new Date(c.at).getTime());
    return dated.length > 0 ? new Date(Math.min(...dated)) : null;
  };
  const earliest = (...dates: Array<Date | null>): Date | null => {
    const present = dates.filter((d): d is Date => d !== null);
    return present.length > 0 ? new Date(Math.min(...present.map((d) => d.getTime()))) : null;
  };

  async function finish(): Promise<SubscriptionState> {
    await publish();
    // Changes that arrived behind the cancellation are answered before the run ends.
    while (!allHandlersFinished()) {
      await drain();
      await condition(() => queue.length > 0 || allHandlersFinished());
    }
    log.info('subscription canceled', { subscriptionId: input.subscriptionId });
    refresh();
    return state;
  }

  async function continueAsNext(): Promise<never> {
    while (!allHandlersFinished() || queue.length > 0) {
      await drain();
      await condition(() => queue.length > 0 || allHandlersFinished());
    }
    return continueAsNew<typeof lifecycle>({
      ...input,
      planCode: plan.code,
      planName: plan.name,
      cadence,
      billingAnchor: iso(segment.anchor),
      trialEnd: trialEnd ? iso(trialEnd) : null,
      periodIndex: cycle,
      cancelAtPeriodEnd: false,
      stateVersion: state.stateVersion,
      plan,
      zone,
      alignment,
      segment: { anchor: iso(segment.anchor), firstCycle: segment.firstCycle },
      scheduled,
      usagePlanId,
      usageCut,
      pausedAt: pausedAt ? iso(pausedAt) : null,
      reopenUsage,
      unpaid,
      suspendedFor,
    });
  }

  // ---- the main loop -----------------------------------------------------------------------------

  const ended = (): boolean => phase === 'canceled';

  if (plan.id === '') plan = await billing.loadPlan({ subscriptionId: input.subscriptionId });
  await publish();
  let billedThisRun = 0;
  for (;;) {
    await drain();
    await reconcileCollection();
    // Phase is changed by the awaited steps, so it is read through a function, not narrowed.
    if (!ended()) await runDue();
    if (ended()) return finish();

    if (phase === 'scheduled' || phase === 'trialing') {
      const starts = phase === 'scheduled' ? startAt : trialEnd!;
      if (Date.now() < starts.getTime()) {
        await waitUntil(earliest(starts, nextDue()));
        continue;
      }
      phase = phase === 'scheduled' && trialEnd && trialEnd > startAt && Date.now() < trialEnd.getTime() ? 'trialing' : 'active';
      if (phase === 'active') {
        // What was scheduled for the end of the trial (or the start) happens before the first invoice.
        if (scheduled.some((c) => c.kind === 'cancel' && c.atPeriodEnd)) {
          phase = 'trialing';
          await cancel(starts, false, true);
          return finish();
        }
        const changeAtStart = scheduled.find((c): c is Extract<ScheduledChange, { kind: 'change_plan' }> => c.kind === 'change_plan' && c.atPeriodEnd);
        if (changeAtStart) {
          scheduled = scheduled.filter((c) => c !== changeAtStart);
          plan = changeAtStart.plan;
          cadence = plan.cadence;
        }
        segment = { anchor: trialEnd && trialEnd > startAt ? trialEnd : startAt, firstCycle: 0 };
        period = periodOfCycle(cycle);
      }
      await publish();
      continue;
    }

    if (phase === 'paused') {
      if (workflowInfo().continueAsNewSuggested) return continueAsNext();
      await waitUntil(nextDue());
      continue;
    }

    if (!periodInvoiced) {
      await billRenewal();
      billedThisRun += 1;
      await publish();
      continue;
    }

    if (Date.now() < period.end.getTime()) {
      await waitUntil(earliest(period.end, nextDue()));
      continue;
    }

    // The period has ended: its revenue is served, and what was scheduled for its end happens now.
    const end = period.end;
    await recognize(end);
    const cancelAtEnd = scheduled.find((c) => c.kind === 'cancel' && c.atPeriodEnd);
    if (cancelAtEnd) {
      await cancel(end, false, true);
      return finish();
    }
    const changeAtEnd = scheduled.find((c): c is Extract<ScheduledChange, { kind: 'change_plan' }> => c.kind === 'change_plan' && c.atPeriodEnd);
    if (changeAtEnd) {
      scheduled = scheduled.filter((c) => c !== changeAtEnd);
      // The ending period's usage is billed at the old plan's prices, on the next renewal.
      usagePlanId = plan.id;
      if (!sameCadence(plan.cadence, changeAtEnd.plan.cadence)) {
        cadence = changeAtEnd.plan.cadence;
        segment = { anchor: end, firstCycle: cycle + 1 };
      }
      plan = changeAtEnd.plan;
    }
    cycle += 1;
    period = periodOfCycle(cycle);
    periodInvoiced = false;
    const catchUp = period.end.getTime() <= Date.now() && billedThisRun < MAX_PERIODS_PER_RUN && !workflowInfo().continueAsNewSuggested && queue.length === 0;
    if (!catchUp) return continueAsNext();
  }
}
