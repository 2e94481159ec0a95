import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { planSnapshot } from '../../db/plan-snapshot';
import { migrateSubscription, migrationScope, previewPlanMigration } from '../../services/plan-migrations';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { MigratePlanBody } from '../schemas/plans';
import { planMigrationPreviewJson } from '../serializers';
import { parse } from '../validation';

/**
 * Moves subscriptions on older versions of a plan to a newer one at their next renewal (a plan
 * change at period end, without proration). A dry run changes nothing and lists, per subscription,
 * the next invoice on its current version and the same invoice on the new version.
 */
export function planMigrationsRouter({ orm, temporal }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/:code/migrations', allow('admin'), async (req, res) => {
    const body = parse(MigratePlanBody, req.body);
    const request = { planCode: String(req.params.code), toVersion: body.to_version, subscriptionIds: body.subscription_ids };
    if (body.dry_run) {
      const preview = await previewPlanMigration(em(), temporal, request);
      return res.json(planMigrationPreviewJson(request.planCode, preview));
    }
    const { target, versions, subscriptions } = await migrationScope(em(), request);
    const data = [];
    for (const subscription of subscriptions) {
      const from = versions.find((v) => v.id === subscription.planId)!;
      const outcome = await migrateSubscription(temporal, subscription.workflowId, planSnapshot(target));
      data.push({ subscription_id: subscription.id, from_version: from.version, to_version: target.version, ...outcome });
    }
    res.json({ object: 'plan_migration', plan_code: request.planCode, to_version: target.version, dry_run: false, data });
  });

  return router;
}
