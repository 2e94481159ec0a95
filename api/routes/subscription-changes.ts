import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { Plan } from '../../db/entities/plan';
import type { Subscription } from '../../db/entities/subscription';
import { computeInvoice } from '../../db/invoice-store';
import { forkEm, type Orm } from '../../db/orm';
import { planSnapshot } from '../../db/plan-snapshot';
import { BillingError } from '../../domain/errors';
import { fullPeriodOf, periodOf } from '../../domain/period';
import { planChangeBilling, sameCadence } from '../../domain/plan-change';
import {
  cancelUpdate,
  changePlanUpdate,
  pauseUpdate,
  resumeUpdate,
  setTrialEndUpdate,
  unscheduleUpdate,
  type SubscriptionState,
} from '../../workflows/messages';
import { allow } from '../auth';
import { fromUpdateFailure } from '../errors';
import { draftInvoiceJson, subscriptionJson } from '../serializers';
import { liveState, loadSubscription, nextPeriodOf } from '../subscription-state';
import { isExactTimestamp, parse } from '../validation';
import { latestPlan } from './plans';

/** When a change happens: "now", at the end of the current period, or at a future instant (ISO 8601). */
const whenField = (allowPeriodEnd: boolean) =>
  z
    .string()
    .refine((s) => s === 'now' || (allowPeriodEnd && s === 'period_end') || isExactTimestamp(s), {
      message: `must be "now"${allowPeriodEnd ? ', "period_end"' : ''} or an ISO 8601 timestamp with a time zone`,
    })
    .transform((s) => (s === 'now' || s === 'period_end' ? s : new Date(s).toISOString()));

export const ChangePlan = z
  .object({
    plan_code: z.string().min(1),
    plan_version: z.number().int().min(1).optional(),
    at: whenField(true).default('now'),
    proration: z.enum(['prorate', 'none']).default('prorate'),
  })
  .strict();
export const Cancel = z.object({ at: whenField(true), prorate: z.boolean().optional() }).strict();
export const At = z.object({ at: whenField(false).default('now') }).strict();
export const ExtendTrial = z.object({ trial_end: whenField(false) }).strict();
export const Empty = z.object({}).strict();

/**
 * Support actions on a subscription. Each is a Workflow Update: the workflow's validator refuses
 * what makes no sense (leaving no trace in its history), and the answer is the subscription as the
 * change left it, with anything scheduled listed.
 */
export function subscriptionChangesRouter({ orm, temporal }: { orm: Orm; temporal: Client }): Router {
  const em = forkEm(orm);
  const router = Router();
  const support = allow('admin', 'support');

  async function update<A>(req: Request, definition: UpdateDefinition<SubscriptionState, [A]>, args: (s: Subscription, plan: Plan) => Promise<A> | A) {
    const { subscription, plan } = await loadSubscription(em(), String(req.params.id));
    if (subscription.status === 'canceled') throw new BillingError('state_error', 'subscription_canceled', `subscription ${subscription.id} is canceled`);
    const request = await args(subscription, plan);
    try {
      const state = await temporal.workflow.getHandle(subscription.workflowId).executeUpdate(definition, { args: [request] });
      await em().refresh(subscription).catch(() => undefined);
      return subscriptionJson(subscription, plan, state);
    } catch (error) {
      // A run on the workflow's first version has no handler for anything but cancel.
      if (error instanceof WorkflowUpdateFailedError && /No registered handler for update/.test(String(error.cause?.message))) {
        throw new BillingError(
          'state_error',
          'subscription_update_unavailable',
          `subscription ${subscription.id} still runs the workflow's first version, which only supports cancel; other changes are possible from its next renewal`,
        );
      }
      const rejection = fromUpdateFailure(error);
      if (rejection) throw rejection;
      if (error instanceof WorkflowNotFoundError) throw new BillingError('state_error', 'subscription_canceled', `subscription ${subscription.id} is canceled`);
      throw error;
    }
  }

  async function resolvePlan(code: string, version: number | undefined): Promise<Plan> {
    const plan = version === undefined ? await latestPlan(em(), code) : await em().findOne(Plan, { code, version });
    if (!plan) throw new BillingError('invalid_request_error', 'resource_missing', `No such plan: '${code}'${version ? ` version ${version}` : ''}`, version ? 'plan_version' : 'plan_code');
    return plan;
  }

  router.post('/:id/cancel', support, async (req, res) => {
    const body = parse(Cancel, req.body);
    res.json(await update(req, cancelUpdate, () => ({ at: body.at, prorate: body.prorate })));
  });

  router.post('/:id/change_plan', support, async (req, res) => {
    const body = parse(ChangePlan, req.body);
    const next = await resolvePlan(body.plan_code, body.plan_version);
    res.json(await update(req, changePlanUpdate, () => ({ plan: planSnapshot(next), at: body.at, proration: body.proration })));
  });

  /** The invoice a plan change would produce, computed as the workflow would; changes nothing. */
  router.post('/:id/change_plan/preview', async (req, res) => {
    const body = parse(ChangePlan, req.body);
    const next = await resolvePlan(body.plan_code, body.plan_version);
    const { subscription, plan } = await loadSubscription(em(), String(req.params.id));
    const state = await liveState(temporal, subscription.workflowId);
    if (!state) throw new BillingError('state_error', 'subscription_unavailable', `subscription ${subscription.id} cannot be read right now; retry`);
    const current = state.plan ?? planSnapshot(plan);
    if (state.status === 'canceled') throw new BillingError('state_error', 'subscription_canceled', `subscription ${subscription.id} is canceled`);
    if (next.currency !== current.currency) {
      throw new BillingError('invalid_request_error', 'currency_mismatch', `plan ${next.code} is billed in ${next.currency}, but this subscription is in ${current.currency}`, 'plan_code');
    }
    if (next.id === current.id) throw new BillingError('invalid_request_error', 'plan_unchanged', `subscription ${subscription.id} is already on plan ${next.code} version ${next.version}`, 'plan_code');
    const now = new Date();
    const at = body.at === 'now' ? now : body.at === 'period_end' ? null : new Date(body.at);
    if (at && at < now) throw new BillingError('invalid_request_error', 'date_in_past', `${body.at} is not in the future`, 'at');
    const answer = (invoice: ReturnType<typeof draftInvoiceJson> | null, effectiveAt: string | null) =>
      res.json({ object: 'plan_change_preview', subscription_id: subscription.id, plan_code: next.code, plan_version: next.version, at: effectiveAt, proration: body.proration, invoice });
    if (state.status !== 'active' || !state.currentPeriod || !state.periodBasis || !state.schedule) {
      // Before billing starts (or while paused) a change bills nothing; the next invoice is on the new plan.
      return answer(null, at?.toISOString() ?? null);
    }
    const period = { start: new Date(state.currentPeriod.start), end: new Date(state.currentPeriod.end) };
    const usageFrom = subscription.usageClosedUntil;
    if (!at) {
      // At the period's end: the renewal on the new plan, with this period's usage at the current prices.
      const cadence = { interval: next.interval, intervalCount: next.intervalCount };
      const restarted = { anchor: period.end, cadence, zone: state.schedule.zone, alignment: state.schedule.alignment };
      const renewal = sameCadence(current.cadence, cadence) ? nextPeriodOf(state, plan)! : periodOf(restarted, 0);
      const basis = sameCadence(current.cadence, cadence) ? renewal : fullPeriodOf(restarted, 0);
      const computed = await computeInvoice(
        em(),
        subscription,
        {
          fees: [{ planId: next.id, period: basis, from: renewal.start, to: renewal.end, credit: false }],
          usageWindow: { start: usageFrom, end: now > usageFrom ? now : usageFrom },
          usagePlanId: current.id,
          wholePeriod: true,
          withCoupons: true,
        },
        false,
      );
      return answer(draftInvoiceJson(computed.draft), period.end.toISOString());
    }
    const billing = planChangeBilling({
      current: { planId: current.id, cadence: current.cadence },
      next: { planId: next.id, cadence: { interval: next.interval, intervalCount: next.intervalCount } },
      prorate: body.proration === 'prorate',
      at,
      period,
      basis: { start: new Date(state.periodBasis.start), end: new Date(state.periodBasis.end) },
      zone: state.schedule.zone,
      alignment: state.schedule.alignment,
    });
    const computed = await computeInvoice(
      em(),
      subscription,
      {
        fees: billing.fees.map((f) => ({ ...f, period: { start: new Date(f.period.start), end: new Date(f.period.end) }, from: new Date(f.from), to: new Date(f.to) })),
        usageWindow: { start: usageFrom, end: at > usageFrom ? at : usageFrom },
        usagePlanId: current.id,
        wholePeriod: false,
        withCoupons: false,
      },
      false,
    );
    return answer(computed.draft.lines.length > 0 ? draftInvoiceJson(computed.draft) : null, at.toISOString());
  });

  router.post('/:id/pause', support, async (req, res) => {
    const body = parse(At, req.body);
    res.json(await update(req, pauseUpdate, () => ({ at: body.at })));
  });

  router.post('/:id/resume', support, async (req, res) => {
    const body = parse(At, req.body);
    res.json(await update(req, resumeUpdate, () => ({ at: body.at })));
  });

  router.post('/:id/end_trial', support, async (req, res) => {
    parse(Empty, req.body);
    res.json(await update(req, setTrialEndUpdate, () => ({ at: 'now' })));
  });

  router.post('/:id/extend_trial', support, async (req, res) => {
    const body = parse(ExtendTrial, req.body);
    res.json(await update(req, setTrialEndUpdate, () => ({ at: body.trial_end })));
  });

  /** Takes back a scheduled cancellation. */
  router.post('/:id/reactivate', support, async (req, res) => {
    parse(Empty, req.body);
    res.json(
      await update(req, unscheduleUpdate, (subscription) => {
        const scheduled = (subscription.scheduledChanges as Array<{ id: string; kind: string }>).find((c) => c.kind === 'cancel');
        if (!scheduled) throw new BillingError('state_error', 'cancellation_not_scheduled', `subscription ${subscription.id} has no scheduled cancellation`);
        return { changeId: scheduled.id };
      }),
    );
  });

  router.delete('/:id/scheduled_changes/:change_id', support, async (req, res) => {
    res.json(await update(req, unscheduleUpdate, () => ({ changeId: String(req.params.change_id) })));
  });

  return router;
}
