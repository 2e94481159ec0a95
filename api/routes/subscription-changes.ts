import type { Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { Router, type Request } from 'express';
import { forkEm, type Orm } from '../../db/orm';
import { planSnapshot } from '../../db/plan-snapshot';
import { planOf } from '../../services/lookups';
import { overridesOnChange, type OverridesInput } from '../../services/contract-overrides';
import { previewPlanChange } from '../../services/preview-plan-change';
import { previewQuantityChange } from '../../services/preview-quantity-change';
import { cancelSubscription, changeSubscription, reactivateSubscription, removeScheduledChange, type UpdateArgument } from '../../services/subscriptions';
import { changePlanUpdate, changeQuantityUpdate, pauseUpdate, resumeUpdate, setTrialEndUpdate, type SubscriptionState } from '../../workflows/messages';
import { allow } from '../auth';
import { AtBody, CancelBody, ChangePlanBody, ChangeQuantityBody, ExtendTrialBody } from '../schemas/subscriptions';
import { EmptyBody } from '../schemas/fields';
import { planChangePreviewJson, quantityChangePreviewJson, subscriptionJson } from '../serializers';
import { parse } from '../validation';
import { parseProperties } from '../charge-properties';

/**
 * Support actions on a subscription. Each is a Workflow Update: the workflow's validator refuses
 * what makes no sense (leaving no trace in its history), and the answer is the subscription as the
 * change left it, with anything scheduled listed.
 */
export function subscriptionChangesRouter({ orm, temporal }: { orm: Orm; temporal: Client }): Router {
  const em = forkEm(orm);
  const router = Router();
  const support = allow('admin', 'support');

  async function update<A>(req: Request, definition: UpdateDefinition<SubscriptionState, [A]>, args: UpdateArgument<A>) {
    const { subscription, plan, live, addOns } = await changeSubscription(em(), temporal, String(req.params.id), definition, args);
    return subscriptionJson(subscription, plan, live, addOns);
  }

  const resolvePlan = (code: string, version: number | undefined) => planOf(em(), code, version, 'plan_code');

  router.post('/:id/cancel', support, async (req, res) => {
    const body = parse(CancelBody, req.body);
    const details = body.cancellation_details ? { reason: body.cancellation_details.reason, comment: body.cancellation_details.comment || null } : null;
    const { subscription, plan, live, addOns } = await cancelSubscription(em(), temporal, String(req.params.id), { at: body.at, prorate: body.prorate, details });
    res.json(subscriptionJson(subscription, plan, live, addOns));
  });

  const overridesFor = (next: Parameters<typeof overridesOnChange>[1], given: OverridesInput | null | undefined) => overridesOnChange(em(), next, given, parseProperties);

  router.post('/:id/change_plan', support, async (req, res) => {
    const body = parse(ChangePlanBody, req.body);
    const next = await resolvePlan(body.plan_code, body.plan_version);
    const overrides = await overridesFor(next, body.overrides);
    res.json(await update(req, changePlanUpdate, () => ({ plan: planSnapshot(next), at: body.at, proration: body.proration, ...overrides })));
  });

  /** The invoice a plan change would produce, computed as the workflow would; changes nothing. */
  router.post('/:id/change_plan/preview', async (req, res) => {
    const body = parse(ChangePlanBody, req.body);
    const next = await resolvePlan(body.plan_code, body.plan_version);
    const overrides = await overridesFor(next, body.overrides);
    res.json(planChangePreviewJson(await previewPlanChange(em(), temporal, String(req.params.id), next, { at: body.at, proration: body.proration, ...overrides })));
  });

  /** New seats: now (prorated: the rest of the period credited at the old quantity, charged at the new), at period end or at an instant. */
  router.post('/:id/change_quantity', support, async (req, res) => {
    const body = parse(ChangeQuantityBody, req.body);
    res.json(await update(req, changeQuantityUpdate, () => ({ quantity: body.quantity, at: body.at, proration: body.proration })));
  });

  /** The invoice a change of seats would produce, computed as the workflow would; changes nothing. */
  router.post('/:id/change_quantity/preview', async (req, res) => {
    const body = parse(ChangeQuantityBody, req.body);
    res.json(quantityChangePreviewJson(await previewQuantityChange(em(), temporal, String(req.params.id), body)));
  });

  router.post('/:id/pause', support, async (req, res) => {
    const body = parse(AtBody, req.body);
    res.json(await update(req, pauseUpdate, () => ({ at: body.at })));
  });

  router.post('/:id/resume', support, async (req, res) => {
    const body = parse(AtBody, req.body);
    res.json(await update(req, resumeUpdate, () => ({ at: body.at })));
  });

  router.post('/:id/end_trial', support, async (req, res) => {
    parse(EmptyBody, req.body);
    res.json(await update(req, setTrialEndUpdate, () => ({ at: 'now' })));
  });

  router.post('/:id/extend_trial', support, async (req, res) => {
    const body = parse(ExtendTrialBody, req.body);
    res.json(await update(req, setTrialEndUpdate, () => ({ at: body.trial_end })));
  });

  /** Takes back a scheduled cancellation. */
  router.post('/:id/reactivate', support, async (req, res) => {
    parse(EmptyBody, req.body);
    const { subscription, plan, live, addOns } = await reactivateSubscription(em(), temporal, String(req.params.id));
    res.json(subscriptionJson(subscription, plan, live, addOns));
  });

  router.delete('/:id/scheduled_changes/:change_id', support, async (req, res) => {
    const { subscription, plan, live, addOns } = await removeScheduledChange(em(), temporal, String(req.params.id), String(req.params.change_id));
    res.json(subscriptionJson(subscription, plan, live, addOns));
  });

  return router;
}
