import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { planMigrationOf, previewPlanMigration, startPlanMigration } from '../../services/plan-migrations';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { atomicPhase } from '../idempotency';
import { MigratePlanBody, PreviewPlanMigrationBody } from '../schemas/plans';
import { planMigrationJson, planMigrationPreviewJson } from '../serializers';
import { parse } from '../validation';

/**
 * Moves subscriptions on older versions of a plan to a newer one at their next renewal (a plan
 * change at period end, without proration). The migration is a workflow of its own, batched: the
 * POST starts it (202) and its GET says how far it has got. The preview changes nothing and lists,
 * per subscription, the next invoice on its current version and the same invoice on the new one.
 */
export function planMigrationsRouter({ orm, temporal, taskQueue }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/:code/migrations', allow('admin'), async (req, res) => {
    const body = parse(MigratePlanBody, req.body);
    const progress = await startPlanMigration(
      { em: em(), temporal, taskQueue },
      { planCode: String(req.params.code), toVersion: body.to_version, subscriptionIds: body.subscription_ids },
      (point, effect) => atomicPhase(req, point, effect),
    );
    res.status(202).json(planMigrationJson(progress));
  });

  router.post('/:code/migrations/preview', allow('admin'), async (req, res) => {
    const body = parse(PreviewPlanMigrationBody, req.body);
    const request = { planCode: String(req.params.code), toVersion: body.to_version, subscriptionIds: body.subscription_ids };
    res.json(planMigrationPreviewJson(request.planCode, await previewPlanMigration(em(), temporal, request)));
  });

  router.get('/:code/migrations/:id', async (req, res) => {
    res.json(planMigrationJson(await planMigrationOf(temporal, String(req.params.code), String(req.params.id))));
  });

  return router;
}
