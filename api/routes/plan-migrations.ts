import { Router } from 'express';
import { z } from 'zod';
import { Plan } from '../../db/entities/plan';
import { Subscription } from '../../db/entities/subscription';
import { computeInvoice } from '../../db/invoice-store';
import { forkEm } from '../../db/orm';
import { planSnapshot } from '../../db/plan-snapshot';
import { BillingError } from '../../domain/errors';
import { changePlanUpdate } from '../../workflows/messages';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { fromUpdateFailure } from '../errors';
import { draftInvoiceJson } from '../serializers';
import { liveState, nextPeriodOf } from '../subscription-state';
import { parse } from '../validation';

export const Migrate = z
  .object({
    to_version: z.number().int().min(1).optional(),
    subscription_ids: z.array(z.string().min(1)).min(1).max(1000).optional(),
    dry_run: z.boolean().optional(),
  })
  .strict();

/**
 * Moves subscriptions on older versions of a plan to a newer one at their next renewal (a plan
 * change at period end, without proration). A dry run changes nothing and lists, per subscription,
 * the next invoice on its current version and the same invoice on the new version (this period's
 * usage so far priced at the new version's prices, to show the difference).
 */
export function planMigrationsRouter({ orm, temporal }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/:code/migrations', allow('admin'), async (req, res) => {
    const body = parse(Migrate, req.body);
    const code = String(req.params.code);
    const versions = await em().find(Plan, { code }, { orderBy: { version: 'desc' } });
    if (versions.length === 0) throw new BillingError('not_found_error', 'resource_missing', `No such plan: '${code}'`, 'code');
    const target = body.to_version === undefined ? versions[0] : versions.find((v) => v.version === body.to_version);
    if (!target) throw new BillingError('invalid_request_error', 'resource_missing', `Plan ${code} has no version ${body.to_version}`, 'to_version');
    const older = versions.filter((v) => v.id !== target.id);
    const subscriptions = await em().find(
      Subscription,
      { planId: older.map((v) => v.id), status: { $ne: 'canceled' }, ...(body.subscription_ids ? { id: body.subscription_ids } : {}) },
      { orderBy: { createdAt: 'asc' } },
    );
    if (body.subscription_ids) {
      const missing = body.subscription_ids.find((id) => !subscriptions.some((s) => s.id === id));
      if (missing) throw new BillingError('invalid_request_error', 'resource_missing', `Subscription ${missing} is not on an older version of plan ${code} (or is canceled)`, 'subscription_ids');
    }
    const data = [];
    let done = 0;
    for (const subscription of subscriptions) {
      const from = versions.find((v) => v.id === subscription.planId)!;
      const entry = { subscription_id: subscription.id, from_version: from.version, to_version: target.version };
      if (body.dry_run) {
        const state = await liveState(temporal, subscription.workflowId);
        const next = state ? nextPeriodOf(state, from) : null;
        const now = new Date();
        const invoiceOn = async (version: Plan) =>
          draftInvoiceJson(
            (
              await computeInvoice(
                em(),
                subscription,
                {
                  fees: next ? [{ planId: version.id, period: next, from: next.start, to: next.end, credit: false }] : [],
                  usageWindow: { start: subscription.usageClosedUntil, end: now > subscription.usageClosedUntil ? now : subscription.usageClosedUntil },
                  usagePlanId: version.id,
                  wholePeriod: true,
                  withCoupons: true,
                },
                false,
              )
            ).draft,
          );
        data.push({ ...entry, status: 'would_migrate', at: next?.start.toISOString() ?? null, current_invoice: await invoiceOn(from), new_invoice: await invoiceOn(target) });
      } else {
        try {
          const state = await temporal.workflow
            .getHandle(subscription.workflowId)
            .executeUpdate(changePlanUpdate, { args: [{ plan: planSnapshot(target), at: 'period_end', proration: 'none' }] });
          data.push({ ...entry, status: 'scheduled', at: state.currentPeriod?.end ?? state.nextBillingAt });
        } catch (error) {
          const rejection = fromUpdateFailure(error);
          data.push({ ...entry, status: 'failed', error: { code: rejection?.code ?? 'update_failed', message: rejection?.message ?? String(error) } });
        }
      }
      if (++done % 100 === 0) console.log(`plan migration ${code} -> v${target.version}: ${done}/${subscriptions.length}`);
    }
    res.json({ object: 'plan_migration', plan_code: code, to_version: target.version, dry_run: body.dry_run ?? false, data });
  });

  return router;
}
