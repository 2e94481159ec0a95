import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { createSubscription } from '../../services/create-subscription';
import { getSubscription, listSubscriptions, subscriptionUsage, type SubscriptionView } from '../../services/subscriptions';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { atomicPhase } from '../idempotency';
import { listUrl, pageOf } from '../lists';
import { CreateSubscriptionBody, ListSubscriptionsQuery } from '../schemas/subscriptions';
import { listJson, subscriptionJson, subscriptionUsageJson } from '../serializers';
import { parse } from '../validation';
import { parseProperties } from '../charge-properties';

const viewJson = (v: SubscriptionView) => subscriptionJson(v.subscription, v.plan, v.live, v.addOns);

export function subscriptionsRouter({ orm, temporal, taskQueue }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/', allow('admin', 'support'), async (req, res) => {
    const body = parse(CreateSubscriptionBody, req.body);
    const created = await createSubscription(
      { em: em(), temporal, taskQueue },
      {
        customerId: body.customer_id,
        planCode: body.plan_code,
        startAt: body.start_at,
        externalId: body.external_id,
        billingAlignment: body.billing_alignment,
        quantity: body.quantity,
        overrides: body.overrides && { input: body.overrides, parseProperties },
      },
      (point, effect) => atomicPhase(req, point, effect),
      (subscription, plan) => subscriptionJson(subscription, plan, null),
    );
    res.status(201).json(created);
  });

  /** Newest first, as last mirrored into the database (`state_source: "database"`); one subscription's GET asks its workflow. */
  router.get('/', async (req, res) => {
    const query = parse(ListSubscriptionsQuery, req.query);
    const page = await listSubscriptions(em(), { customerId: query.customer_id, status: query.status, planCode: query.plan_code }, pageOf(query));
    res.json(listJson(listUrl(req), page, viewJson));
  });

  router.get('/:id', async (req, res) => {
    res.json(viewJson(await getSubscription(em(), temporal, String(req.params.id))));
  });

  /**
   * The usage not billed yet, per charge, and the next invoice as it would be issued if the period
   * ended now (fee of the next period, usage so far, minimum, coupons, taxes). Changes nothing.
   */
  router.get('/:id/usage', async (req, res) => {
    res.json(subscriptionUsageJson(await subscriptionUsage(em(), temporal, String(req.params.id))));
  });

  return router;
}
