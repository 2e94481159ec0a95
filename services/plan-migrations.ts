import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { Plan } from '../db/entities/plan';
import { Subscription } from '../db/entities/subscription';
import { BillingError } from '../domain/errors';
import type { InvoiceDraft } from '../domain/invoice';
import { feeFor, invoiceScope, previewInvoice } from './preview-invoice';
import { liveState, nextPeriodOf } from './subscription-state';
import { fromUpdateFailure } from './subscriptions';
import type { PlanSnapshot } from '../domain/subscription';
import { changePlanUpdate } from '../workflows/messages';

export interface MigrationRequest {
  planCode: string;
  toVersion?: number;
  subscriptionIds?: string[];
}

/**
 * What a migration of `planCode` moves: the target version (default: the newest) and every
 * subscription on an older version that is not canceled (or those named, which must all be).
 */
export async function migrationScope(em: EntityManager, request: MigrationRequest) {
  const code = request.planCode;
  const versions = await em.find(Plan, { code }, { orderBy: { version: 'desc' } });
  if (versions.length === 0) throw new BillingError('not_found_error', 'resource_missing', `No such plan: '${code}'`, 'code');
  const target = request.toVersion === undefined ? versions[0] : versions.find((v) => v.version === request.toVersion);
  if (!target) throw new BillingError('invalid_request_error', 'resource_missing', `Plan ${code} has no version ${request.toVersion}`, 'to_version');
  const older = versions.filter((v) => v.id !== target.id);
  const subscriptions = await em.find(
    Subscription,
    { planId: older.map((v) => v.id), status: { $ne: 'canceled' }, ...(request.subscriptionIds ? { id: request.subscriptionIds } : {}) },
    { orderBy: { createdAt: 'asc', id: 'asc' } },
  );
  if (request.subscriptionIds) {
    const missing = request.subscriptionIds.find((id) => !subscriptions.some((s) => s.id === id));
    if (missing) throw new BillingError('invalid_request_error', 'resource_missing', `Subscription ${missing} is not on an older version of plan ${code} (or is canceled)`, 'subscription_ids');
  }
  return { target, versions, subscriptions };
}

export interface MigrationPreviewEntry {
  subscriptionId: string;
  fromVersion: number;
  toVersion: number;
  at: Date | null;
  currentInvoice: InvoiceDraft;
  newInvoice: InvoiceDraft;
}

/**
 * A dry run: per subscription, the next invoice on its current version and the same invoice on the
 * new version (this period's usage so far priced at the new version's prices, to show the
 * difference). Changes nothing.
 */
export async function previewPlanMigration(em: EntityManager, temporal: Client, request: MigrationRequest) {
  const { target, versions, subscriptions } = await migrationScope(em, request);
  const entries: MigrationPreviewEntry[] = [];
  for (const subscription of subscriptions) {
    const from = versions.find((v) => v.id === subscription.planId)!;
    const state = await liveState(temporal, subscription.workflowId);
    const next = state ? nextPeriodOf(state, from) : null;
    const now = new Date();
    const invoiceOn = (version: Plan) =>
      previewInvoice(
        em,
        subscription,
        invoiceScope({ fees: next ? [feeFor(version.id, next)] : [], usage: { planId: version.id, from: subscription.usageClosedUntil, until: now }, wholePeriod: true, withCoupons: true }),
      );
    entries.push({ subscriptionId: subscription.id, fromVersion: from.version, toVersion: target.version, at: next?.start ?? null, currentInvoice: await invoiceOn(from), newInvoice: await invoiceOn(target) });
  }
  return { target, entries };
}

export type MigrationOutcome = { status: 'scheduled'; at: string | null } | { status: 'failed'; error: { code: string; message: string } };

/** Moves one subscription to `target` at its next renewal (a plan change at period end, without proration). */
export async function migrateSubscription(temporal: Client, workflowId: string, target: PlanSnapshot): Promise<MigrationOutcome> {
  try {
    const state = await temporal.workflow.getHandle(workflowId).executeUpdate(changePlanUpdate, { args: [{ plan: target, at: 'period_end', proration: 'none' }] });
    return { status: 'scheduled', at: state.currentPeriod?.end ?? state.nextBillingAt };
  } catch (error) {
    const rejection = fromUpdateFailure(error);
    return { status: 'failed', error: { code: rejection?.code ?? 'update_failed', message: rejection?.message ?? String(error) } };
  }
}
