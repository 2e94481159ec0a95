import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import type { UpdateDefinition } from '@temporalio/common';
import { MAX_QUANTITY, type CancelRequest, type ChangePlanRequest, type ChangeQuantityRequest, type ScheduledChange, type SubscriptionState, type When } from '../domain/subscription';
import { currencyMismatch, dateInPast, planUnchanged, quantityUnchanged, type ChangeRefusal } from '../domain/plan-change';
import { cancel, changePlan, changeQuantity, pause, resume } from './billing-steps';
import { cancelUpdate, changePlanUpdate, changeQuantityUpdate, pauseUpdate, resumeUpdate, setTrialEndUpdate, unscheduleUpdate } from './messages';
import { iso, now, reject, type RunContext, type SubscriptionRun } from './subscription-run';

/**
 * Support actions on a running subscription. Each update is declared once below with its validator
 * (a rejection leaves no trace in the history) and its effect: an action queued for the main loop,
 * which applies queued actions one at a time between its own steps, so two support staff changing
 * one subscription are applied one after the other, each answered with the state it produced.
 */

/**
 * An accepted change waiting for the main loop. `cancel_now` and `pause_now` are told apart because
 * validators of later updates refuse what they would contradict while they are in flight.
 */
export interface Action {
  kind: 'cancel_now' | 'pause_now' | 'apply_now' | 'schedule';
  run(): Promise<void>;
  done: boolean;
  failure?: unknown;
}

const action = (kind: Action['kind'], run: () => Promise<void>): Action => ({ kind, run, done: false });

/** A refusal decided by domain/plan-change.ts, whose rules the API's preview applies too. */
const refuse = (refusal: ChangeRefusal | null): void => {
  if (refusal) reject(refusal.code, refusal.message);
};

/** A change for later replaces one of its kind (cancellations excepted: the earliest wins by date). */
function addScheduled({ run, publish }: RunContext, change: ScheduledChange): Action {
  return action('schedule', async () => {
    run.record.scheduled = [...run.record.scheduled.filter((c) => c.kind !== change.kind || change.kind === 'cancel'), change];
    await publish();
  });
}

/** "now", "period_end" or a future ISO 8601 instant, resolved; anything else is refused. */
function when(run: SubscriptionRun, at: unknown, allowPeriodEnd: boolean): { at: Date; atPeriodEnd: boolean; immediate: boolean } {
  if (at === 'now') return { at: now(), atPeriodEnd: false, immediate: true };
  const { phase } = run;
  if (at === 'period_end') {
    if (!allowPeriodEnd) reject('invalid_date', '"period_end" is not possible here; use "now" or an ISO 8601 instant');
    const end = phase === 'active' ? run.period().end : phase === 'trialing' || phase === 'scheduled' ? (run.trialEnd() ?? run.startAt()) : null;
    if (!end) reject('invalid_date', `subscription ${run.record.subscriptionId} is ${phase}: it has no period end`);
    return { at: end!, atPeriodEnd: true, immediate: false };
  }
  const parsed = typeof at === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(at) ? new Date(at) : null;
  if (!parsed || Number.isNaN(parsed.getTime())) reject('invalid_date', `"at" must be "now"${allowPeriodEnd ? ', "period_end"' : ''} or an ISO 8601 instant; got ${JSON.stringify(at)}`);
  refuse(dateInPast(String(at), parsed!, now()));
  return { at: parsed!, atPeriodEnd: false, immediate: false };
}

interface Change<A> {
  update: UpdateDefinition<SubscriptionState, [A]>;
  /** Checks the request against the state, changes in flight included; throws to refuse. */
  validate(run: SubscriptionRun, request: A): void;
  /** What the main loop will do; called once the update is accepted. */
  effect(context: RunContext, request: A): Action;
}

/** Registers a change's handler: every change is refused while the subscription cannot take it at all. */
function register<A>({ update, validate, effect }: Change<A>): (context: RunContext) => void {
  return (context) => {
    const { run } = context;
    setHandler(
      update,
      async (request: A): Promise<SubscriptionState> => {
        const queued = effect(context, request);
        run.queue.push(queued);
        await condition(() => queued.done);
        if (queued.failure) throw queued.failure;
        return run.state();
      },
      {
        validator: (request: A): void => {
          const id = run.record.subscriptionId;
          if (request === null || typeof request !== 'object') reject('invalid_request', 'the update needs an argument object');
          if (run.record.plan.id === '') reject('subscription_busy', `subscription ${id} is starting its next period; try again in a moment`);
          // The main loop is held at the failed step; a change accepted now would wait for retryBilling.
          if (run.billingError) {
            reject('subscription_billing_error', `billing of subscription ${id} stopped (${run.billingError.activity}: ${run.billingError.message}); fix the cause and signal retryBilling first`);
          }
          if (run.phase === 'canceled') reject('subscription_canceled', `subscription ${id} is canceled`);
          if (run.queue.some((a) => !a.done && a.kind === 'cancel_now')) reject('subscription_canceled', `subscription ${id} is being canceled`);
          validate(run, request);
        },
      },
    );
  };
}

/** The table of support actions, registered in this order. */
export const CHANGES: ReadonlyArray<(context: RunContext) => void> = [
  register<CancelRequest>({
    update: cancelUpdate,
    validate(run, request) {
      if (!['now', 'period_end'].includes(request.at) && !/^\d{4}-\d{2}-\d{2}T/.test(String(request.at))) {
        reject('invalid_cancel_option', `"at" must be "now", "period_end" or an ISO 8601 instant; got ${JSON.stringify(request.at)}`);
      }
      if (request.prorate !== undefined && typeof request.prorate !== 'boolean') reject('invalid_proration', '"prorate" must be true or false');
      if (request.at !== 'now' && run.record.scheduled.some((c) => c.kind === 'cancel')) {
        reject('cancellation_already_scheduled', `subscription ${run.record.subscriptionId} is already set to cancel; reactivate it first to choose another date`);
      }
      when(run, request.at, true);
    },
    effect(context, request) {
      const { run } = context;
      const resolved = when(run, request.at, true);
      const prorate = request.prorate ?? false;
      // The run ends after it (the main loop publishes the cancellation and finishes).
      if (resolved.immediate) return action('cancel_now', () => cancel(context, now(), prorate, false));
      return addScheduled(context, { id: run.newChangeId('cancel'), kind: 'cancel', at: iso(resolved.at), atPeriodEnd: resolved.atPeriodEnd, prorate });
    },
  }),

  register<ChangePlanRequest>({
    update: changePlanUpdate,
    validate(run, request) {
      const id = run.record.subscriptionId;
      const { plan } = run.record;
      const next = request.plan;
      if (!next || typeof next.id !== 'string') reject('invalid_plan', 'the new plan is missing');
      if (!['prorate', 'none'].includes(request.proration)) reject('invalid_proration', `"proration" must be "prorate" or "none"; got ${JSON.stringify(request.proration)}`);
      refuse(currencyMismatch(next, plan.currency));
      if (run.phase === 'paused' && request.at === 'now') reject('subscription_paused', `subscription ${id} is paused; resume it first, or schedule the change`);
      const pendingChange = run.record.scheduled.find((c) => c.kind === 'change_plan');
      if (!pendingChange && request.overrides === undefined) refuse(planUnchanged(id, next, plan.id));
      if (request.overrides !== undefined && request.overrides !== null && typeof request.overrides !== 'object') reject('invalid_request', '"overrides" must be an object or null');
      when(run, request.at, true);
    },
    effect(context, request) {
      const { run, publish } = context;
      const resolved = when(run, request.at, true);
      const change = { id: run.newChangeId('change'), plan: request.plan, proration: request.proration, ...(request.overrides !== undefined ? { overrides: request.overrides } : {}) };
      if (resolved.immediate) {
        return action('apply_now', async () => {
          if (change.overrides === undefined) refuse(planUnchanged(run.record.subscriptionId, change.plan, run.record.plan.id));
          // A change now replaces one scheduled for later.
          run.record.scheduled = run.record.scheduled.filter((c) => c.kind !== 'change_plan');
          await changePlan(context, change, now());
          await publish();
        });
      }
      return addScheduled(context, { ...change, kind: 'change_plan', at: iso(resolved.at), atPeriodEnd: resolved.atPeriodEnd });
    },
  }),

  register<ChangeQuantityRequest>({
    update: changeQuantityUpdate,
    validate(run, request) {
      const id = run.record.subscriptionId;
      if (!Number.isInteger(request.quantity) || request.quantity < 1 || request.quantity > MAX_QUANTITY) {
        reject('invalid_quantity', `"quantity" must be a whole number from 1 to ${MAX_QUANTITY}; got ${JSON.stringify(request.quantity)}`);
      }
      if (!['prorate', 'none'].includes(request.proration)) reject('invalid_proration', `"proration" must be "prorate" or "none"; got ${JSON.stringify(request.proration)}`);
      if (run.phase === 'paused' && request.at === 'now') reject('subscription_paused', `subscription ${id} is paused; resume it first, or schedule the change`);
      // With a change pending, the current quantity may be asked for: it replaces the pending one.
      if (!run.record.scheduled.some((c) => c.kind === 'change_quantity')) refuse(quantityUnchanged(id, request.quantity, run.record.quantity));
      when(run, request.at, true);
    },
    effect(context, request) {
      const { run, publish } = context;
      const resolved = when(run, request.at, true);
      const change = { id: run.newChangeId('quantity'), quantity: request.quantity, proration: request.proration };
      if (resolved.immediate) {
        return action('apply_now', async () => {
          refuse(quantityUnchanged(run.record.subscriptionId, change.quantity, run.record.quantity));
          // A change now replaces one scheduled for later.
          run.record.scheduled = run.record.scheduled.filter((c) => c.kind !== 'change_quantity');
          await changeQuantity(context, change, now());
          await publish();
        });
      }
      return addScheduled(context, { ...change, kind: 'change_quantity', at: iso(resolved.at), atPeriodEnd: resolved.atPeriodEnd });
    },
  }),

  register<{ at: When }>({
    update: pauseUpdate,
    validate(run, request) {
      const id = run.record.subscriptionId;
      if (run.phase === 'paused') reject('subscription_paused', `subscription ${id} is already paused`);
      if (run.record.scheduled.some((c) => c.kind === 'pause') || run.queue.some((a) => !a.done && a.kind === 'pause_now')) {
        reject('pause_already_scheduled', `subscription ${id} already has a pause scheduled; remove it first`);
      }
      const resolved = when(run, request.at, false);
      if (run.phase !== 'active' && (resolved.immediate || resolved.at < run.billingStart())) {
        reject('subscription_not_active', `subscription ${id} is ${run.phase}; only a billing subscription can be paused`);
      }
    },
    effect(context, request) {
      const { run, publish } = context;
      const resolved = when(run, request.at, false);
      if (resolved.immediate) {
        return action('pause_now', async () => {
          if (run.phase !== 'active') reject(run.phase === 'paused' ? 'subscription_paused' : 'subscription_not_active', `subscription ${run.record.subscriptionId} is ${run.phase}`);
          await pause(context, run.newChangeId('pause'), now());
          await publish();
        });
      }
      return addScheduled(context, { id: run.newChangeId('pause'), kind: 'pause', at: iso(resolved.at), atPeriodEnd: false });
    },
  }),

  register<{ at: When }>({
    update: resumeUpdate,
    validate(run, request) {
      const id = run.record.subscriptionId;
      const pauseAt = run.record.scheduled.find((c) => c.kind === 'pause');
      if (run.phase !== 'paused' && !pauseAt) reject('subscription_not_paused', `subscription ${id} is not paused`);
      const resolved = when(run, request.at, false);
      if (run.phase !== 'paused' && (resolved.immediate || (pauseAt && resolved.at <= new Date(pauseAt.at)))) {
        reject('subscription_not_paused', `subscription ${id} is not paused yet; a resume must come after its pause at ${pauseAt?.at}`);
      }
    },
    effect(context, request) {
      const { run, publish } = context;
      const resolved = when(run, request.at, false);
      if (resolved.immediate) {
        return action('apply_now', async () => {
          if (run.phase !== 'paused') reject('subscription_not_paused', `subscription ${run.record.subscriptionId} is not paused`);
          run.record.scheduled = run.record.scheduled.filter((c) => c.kind !== 'resume');
          resume(run, now());
          await publish();
        });
      }
      return addScheduled(context, { id: run.newChangeId('resume'), kind: 'resume', at: iso(resolved.at), atPeriodEnd: false });
    },
  }),

  register<{ at: When }>({
    update: setTrialEndUpdate,
    validate(run, request) {
      if (run.phase !== 'trialing' && !(run.phase === 'scheduled' && run.trialEnd())) {
        reject('subscription_not_trialing', `subscription ${run.record.subscriptionId} is ${run.phase}, not in a trial`);
      }
      const resolved = when(run, request.at, false);
      if (resolved.at <= run.startAt() && !resolved.immediate) reject('invalid_date', `the trial cannot end before the subscription starts (${iso(run.startAt())})`);
    },
    effect(context, request) {
      const { run, publish } = context;
      const resolved = when(run, request.at, false);
      return action('apply_now', async () => {
        // The billing anchor moves with the trial's end; before the start, ending it now means at the start.
        const trialEnd = resolved.immediate && run.phase === 'scheduled' ? run.startAt() : resolved.immediate ? now() : resolved.at;
        run.record.trialEnd = iso(trialEnd);
        run.startSegment(trialEnd, 0);
        await publish();
      });
    },
  }),

  register<{ changeId: string }>({
    update: unscheduleUpdate,
    validate(run, request) {
      if (!run.record.scheduled.some((c) => c.id === request.changeId)) {
        reject('scheduled_change_missing', `subscription ${run.record.subscriptionId} has no scheduled change ${JSON.stringify(request.changeId)}`);
      }
    },
    effect(context, request) {
      const { run, publish } = context;
      return action('apply_now', async () => {
        run.record.scheduled = run.record.scheduled.filter((c) => c.id !== request.changeId);
        await publish();
      });
    },
  }),
];

/** Applies the queued changes in arrival order; a refusal found only now answers its update. */
export async function applyQueued({ run }: RunContext): Promise<void> {
  while (run.queue.length > 0) {
    // The action stays queued while it runs, so validators of later updates see it in flight.
    const next = run.queue[0];
    try {
      if (run.phase === 'canceled') reject('subscription_canceled', `subscription ${run.record.subscriptionId} is canceled`);
      await next.run();
    } catch (error) {
      if (!(error instanceof ApplicationFailure)) throw error;
      next.failure = error;
    }
    next.done = true;
    run.queue.shift();
  }
}
